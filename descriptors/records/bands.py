"""A converged NEB band as plain data, kept with its calculation to seed the same hop at another level.

A band is stored with its NEB calculation (``data["band"]``): the lattice, the species in site order
and each image's fractional coordinates. :func:`descriptors.query.bands.converged_bands` reads back
the band of each hop from a screen already in the database; :func:`structures.hops.seeded_band`
maps it onto another level's end points.
"""

from __future__ import annotations

__all__ = ["compact_band", "band_structures"]


def compact_band(images) -> dict:
    """A band as plain data: lattice of the first image, species, fractional coordinates per image."""
    return {
        "lattice": images[0].lattice.matrix.tolist(),
        "species": [site.species_string for site in images[0]],
        "frac": [image.frac_coords.round(8).tolist() for image in images],
    }


def band_structures(band: dict) -> list:
    from pymatgen.core import Lattice, Structure

    lattice = Lattice(band["lattice"])
    return [Structure(lattice, band["species"], frac) for frac in band["frac"]]
