"""Which mechanism a converged band actually took: where the moving Li passed.

Pure geometry over the band's images and the hop's saddle geometry (:attr:`structures.hops.LiHop.saddle_geometry`:
the shared O–O edge, the tetrahedral sites sharing faces with both octahedra, a vacant edge O).
"""

from __future__ import annotations

import numpy as np

from structures.hops import HopMechanism, mic_vectors

__all__ = ["observed_mechanism"]


def observed_mechanism(images: list[Structure], energies: list[float], geometry: dict) -> dict:
    """The mechanism the converged band took, read off its climbing (highest interior) image.

    ODH or TSH: whichever the moving Li is nearer, the midpoint of the shared O–O edge or the
    centre of a tetrahedral site sharing faces with both octahedra (both from the O positions of
    that image). For a ``V_O-edge`` hop the edge has lost an O: what is recorded instead is the
    moving Li's closest approach to the vacant O site over the whole band.
    """
    if len(images) < 3 or len(energies) != len(images):
        raise ValueError("a band needs at least three images, one energy each")
    saddle = 1 + int(np.argmax(np.asarray(energies, dtype=float)[1:-1]))
    li_index = geometry.get("moving_li", len(images[0]) - 1)
    out: dict = {"saddle_image": saddle}
    if geometry.get("vacant_edge_frac"):
        vacant = np.asarray(geometry["vacant_edge_frac"], dtype=float)
        closest = min(float(np.linalg.norm(mic_vectors(img, img[li_index].frac_coords, vacant), axis=1).min()) for img in images)
        return {**out, "mechanism": HopMechanism.VO_EDGE.value, "closest_to_vacant_o": closest}
    image = images[saddle]
    li = image[li_index].frac_coords
    d_edge = d_tet = None
    if len(geometry.get("edge", [])) >= 2:
        vectors = mic_vectors(image, li, image.frac_coords[geometry["edge"]])
        d_edge = float(np.linalg.norm(vectors.mean(axis=0)))
    tets = geometry.get("tetrahedra", [])
    best = None
    for k, vertices in enumerate(tets):
        d = float(np.linalg.norm(mic_vectors(image, li, image.frac_coords[vertices]).mean(axis=0)))
        if best is None or d < best[0]:
            best = (d, k)
    if best is not None:
        d_tet = best[0]
    if d_edge is None and d_tet is None:
        return {**out, "mechanism": None}
    mechanism = HopMechanism.TSH if d_edge is None or (d_tet is not None and d_tet < d_edge) else HopMechanism.ODH
    result = {**out, "mechanism": mechanism.value, "distance_to_edge_midpoint": d_edge, "distance_to_tetrahedron": d_tet}
    if best is not None:
        result["tetrahedron"] = (geometry.get("tetrahedra_labels") or [None] * len(tets))[best[1]]
    return result
