"""Which mechanism a converged band actually took: where the moving Li passed along the whole band.

Pure geometry over the band's images and the hop's saddle geometry (:attr:`structures.hops.LiHop.saddle_geometry`:
the shared O–O edge, the tetrahedral sites sharing faces with both octahedra, a vacant edge O).

Why the whole band and not the climbing image: a TSH band through a tetrahedral site often has a
shallow minimum there and two maxima, one on each octahedron–tetrahedron face. Its climbing image
then sits near a face, about as far from the tetrahedral centre as from the O–O edge midpoint
(0.68–0.75 Å and 0.66–0.91 Å on the divacancy hops of the design-rules example), so a label read off
that image alone turns on a few hundredths of an ångström, and two bands with one saddle could get
two labels. The moving Li's path is followed instead: the vector from it to each candidate point
(each tetrahedral centre, the edge midpoint) is a cubic spline through the images, and its closest
approach is read off the spline.

**The threshold, from the geometry.** A tetrahedral site is the polyhedron of its four O. The
distance from its centre (the centroid of the four O) to its nearest face, ``r_in``, is the radius of
the largest sphere about the centre that lies inside it: a Li closer to the centre than that has
certainly entered the tetrahedron. Measured in the band's own end points on Li2MnO3 (SevenNet-0,
96 atoms) ``r_in`` is 0.57–0.65 Å; the centre-to-face distance of a regular O tetrahedron of edge
2.8 Å is 0.57 Å. An ODH path crosses the O–O edge, which is an edge of both tetrahedra: it passes
1.05–1.10 Å from their centres and never enters them. On that example the divacancy bands come within
0.24–0.49 Å of the centre and the single-vacancy paths that bent into a 0-TM tetrahedron within
0.35–0.52 Å, all inside ``r_in``; the nearest ODH band (beside Mg) stays 0.60 Å away (``r_in`` 0.57 Å)
and comes within 0.48 Å of the edge midpoint.

**The label.** TSH when the path enters a tetrahedral site (closest approach below its ``r_in``), or
when the band has an intermediate minimum with the Li inside a tetrahedron; otherwise ODH when the
path comes closer to the O–O edge midpoint than to any tetrahedral centre; otherwise none (a path
that passes neither is stored with its distances and no label). For a ``V_O-edge`` hop (the edge
lost an O) the label stays ``V_O-edge`` and the closest approach to the vacant O site is recorded.
"""

from __future__ import annotations

import numpy as np

from descriptors.physics.barriers import profile_extrema
from structures.hops import HopMechanism, mic_vectors

__all__ = ["SAMPLES_PER_INTERVAL", "observed_mechanism", "tetrahedron_inradius", "closest_approach"]

SAMPLES_PER_INTERVAL = 50  # spline samples between two images: 0.01 Å steps for a 0.5 Å image spacing


def tetrahedron_inradius(vertices: np.ndarray) -> float:
    """Distance (Å) from the centroid of four points to the nearest plane through three of them."""
    vertices = np.asarray(vertices, dtype=float)
    centre = vertices.mean(axis=0)
    distances = []
    for k in range(4):
        a, b, c = (vertices[j] for j in range(4) if j != k)
        normal = np.cross(b - a, c - a)
        length = np.linalg.norm(normal)
        if length < 1e-9:
            return 0.0
        distances.append(abs(float(np.dot(centre - a, normal / length))))
    return min(distances)


def _inside(vertices: np.ndarray, point: np.ndarray) -> bool:
    """Whether ``point`` lies inside the tetrahedron of four vertices (all barycentric weights > 0)."""
    t = np.column_stack([vertices[1] - vertices[0], vertices[2] - vertices[0], vertices[3] - vertices[0]])
    try:
        w = np.linalg.solve(t, point - vertices[0])
    except np.linalg.LinAlgError:
        return False
    return bool(np.all(w > 0) and w.sum() < 1)


def _vectors_to(images, li_index: int, indices) -> np.ndarray:
    """(images, len(indices), 3): Cartesian vectors from the moving Li to each site, per image, each
    to the periodic image nearest the Li."""
    return np.array([mic_vectors(img, img[li_index].frac_coords, img.frac_coords[list(indices)]) for img in images])


def closest_approach(vectors: np.ndarray) -> tuple[float, float]:
    """(closest distance, band coordinate in image units) of the moving Li to a point, from the
    vectors Li → point at each image (shape (images, 3)), along a cubic spline through them."""
    from scipy.interpolate import CubicSpline

    n = len(vectors)
    t = np.arange(n, dtype=float)
    fine = np.linspace(0.0, n - 1.0, SAMPLES_PER_INTERVAL * (n - 1) + 1)
    spline = CubicSpline(t, vectors, axis=0)
    distance = np.linalg.norm(spline(fine), axis=1)
    k = int(np.argmin(distance))
    return float(distance[k]), float(fine[k])


def observed_mechanism(images: list, energies: list[float], geometry: dict) -> dict:
    """The mechanism the converged band took, and the evidence for it (see the module docstring).

    Returns ``mechanism`` (``ODH``, ``TSH``, ``V_O-edge`` or None) with:

    * ``closest_to_tetrahedron`` (Å, along the band), ``tetrahedron`` (its label),
      ``tetrahedron_inradius`` (its centre-to-face distance, the threshold), ``closest_to_edge_midpoint``,
      ``closest_at`` (band coordinate in image units);
    * ``saddle_image`` (the climbing image), ``distance_to_edge_midpoint`` and
      ``distance_to_tetrahedron`` of the Li there: the saddle's position;
    * ``saddles``: every maximum of the profile beyond the energy resolution, highest first, as
      ``{"image", "energy"}``; ``intermediate_minimum``: ``{"image", "energy", "at_tetrahedral_site",
      "distance_to_tetrahedron"}`` of a minimum between two maxima, or None.
    """
    if len(images) < 3 or len(energies) != len(images):
        raise ValueError("a band needs at least three images, one energy each")
    e = np.asarray(energies, dtype=float)
    saddle = 1 + int(np.argmax(e[1:-1]))
    maxima, minima = profile_extrema(e)
    li_index = geometry.get("moving_li", len(images[0]) - 1)
    out: dict = {
        "basis": "whole band (cubic spline of the moving Li's path through the images)",
        "saddle_image": saddle,
        "saddles": [{"image": k, "energy": float(e[k])} for k in sorted(maxima, key=lambda k: -e[k])],
        "intermediate_minimum": None,
    }
    minimum = min(minima, key=lambda k: e[k]) if minima else None

    if geometry.get("vacant_edge_frac"):
        vacant = np.asarray(geometry["vacant_edge_frac"], dtype=float)
        per_site = np.array([mic_vectors(img, img[li_index].frac_coords, vacant) for img in images])  # (images, sites, 3)
        closest = min(closest_approach(per_site[:, j])[0] for j in range(per_site.shape[1]))
        if minimum is not None:
            out["intermediate_minimum"] = {"image": minimum, "energy": float(e[minimum]), "at_tetrahedral_site": False, "distance_to_tetrahedron": None}
        return {**out, "mechanism": HopMechanism.VO_EDGE.value, "closest_to_vacant_o": closest}

    edge = list(geometry.get("edge", []))
    tets = [list(v) for v in geometry.get("tetrahedra", [])]
    labels = geometry.get("tetrahedra_labels") or [None] * len(tets)
    edge_vectors = _vectors_to(images, li_index, edge).mean(axis=1) if len(edge) >= 2 else None
    tet_vertices = [_vectors_to(images, li_index, v) for v in tets]  # each (images, 4, 3), from the Li
    if edge_vectors is None and not tet_vertices:
        return {**out, "mechanism": None}

    result = dict(out)
    if edge_vectors is not None:
        result["closest_to_edge_midpoint"], edge_at = closest_approach(edge_vectors)
        result["distance_to_edge_midpoint"] = float(np.linalg.norm(edge_vectors[saddle]))
    entered, nearest = [], None
    for k, vertices in enumerate(tet_vertices):
        centres = vertices.mean(axis=1)
        distance, at = closest_approach(centres)
        inradius = 0.5 * (tetrahedron_inradius(vertices[0]) + tetrahedron_inradius(vertices[-1]))
        if nearest is None or distance < nearest[0]:
            nearest = (distance, at, k, inradius)
        if distance < inradius:
            entered.append(k)
    if nearest is not None:
        distance, at, k, inradius = nearest
        result.update(
            closest_to_tetrahedron=distance,
            closest_at=at,
            tetrahedron=labels[k],
            tetrahedron_inradius=inradius,
            distance_to_tetrahedron=float(np.linalg.norm(tet_vertices[k][saddle].mean(axis=0))),
        )
    elif edge_vectors is not None:
        result["closest_at"] = edge_at
    minimum_in_tet = False
    if minimum is not None:
        inside = [k for k, vertices in enumerate(tet_vertices) if _inside(vertices[minimum], np.zeros(3))]
        to_centre = min((float(np.linalg.norm(tet_vertices[k][minimum].mean(axis=0))) for k in inside), default=None)
        to_edge = float(np.linalg.norm(edge_vectors[minimum])) if edge_vectors is not None else np.inf
        minimum_in_tet = to_centre is not None and to_centre < to_edge
        nearest_centre = min((float(np.linalg.norm(v[minimum].mean(axis=0))) for v in tet_vertices), default=None)
        result["intermediate_minimum"] = {
            "image": minimum,
            "energy": float(e[minimum]),
            "at_tetrahedral_site": bool(minimum_in_tet),
            "distance_to_tetrahedron": nearest_centre,
        }
    if entered or minimum_in_tet:
        mechanism = HopMechanism.TSH.value
    elif edge_vectors is not None and (nearest is None or result["closest_to_edge_midpoint"] <= nearest[0]):
        mechanism = HopMechanism.ODH.value
    else:
        mechanism = None  # a path that passes neither site: its distances say where it went
    return {**result, "mechanism": mechanism}
