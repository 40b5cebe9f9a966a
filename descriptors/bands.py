"""Converged NEB bands kept in the database, to seed the same hop at another level of theory.

A band is stored with its NEB calculation (``data["band"]``): the lattice, the species in site
order and each image's fractional coordinates. :func:`converged_bands` reads back the band of each
hop from an ML screen already in the database; :func:`structures.hops.seeded_band` maps it onto
another level's end points.
"""

from __future__ import annotations

__all__ = ["compact_band", "band_structures", "converged_bands"]


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


def converged_bands(db, hop_ids, level_prefix: tuple[str, ...] = ("MLIP", "mock")) -> dict:
    """hop id → (level of theory, band as plain data) of the converged NEBs of those hops at an ML
    level (the level with the lowest validation MAE where several have the hop; a mock band, which
    seeds only the plumbing tests' emulated VASP, comes last)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from descriptors.database import CalculationRow
    from workflows.calculators import expected_error

    wanted = set(hop_ids)
    found: dict[str, list] = {}
    with Session(db.engine) as session:
        rows = session.execute(
            select(CalculationRow.hop_id, CalculationRow.level_of_theory, CalculationRow.data).where(
                CalculationRow.kind == "neb", CalculationRow.status == "success"
            )
        )
        for hop_id, level, data in rows:
            if hop_id in wanted and level.startswith(level_prefix) and (data or {}).get("band") and (data or {}).get("converged"):
                found.setdefault(hop_id, []).append((level, data["band"]))
    out = {}
    for hop_id, candidates in found.items():
        level, band = min(candidates, key=lambda c: (c[0].startswith("mock"), expected_error(c[0]) if expected_error(c[0]) is not None else 9.0, c[0]))
        out[hop_id] = (level, band)
    return out
