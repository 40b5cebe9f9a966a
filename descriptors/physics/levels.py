"""What each level of theory is, and what its energies include: the one registry of energy references.

Physics, not machinery: a number's meaning depends on it. Each ML model is its own level of theory
(CHGNet energies carry Materials Project-style corrections, about 0.6 eV/atom below SevenNet's raw
ones), so an energy difference only ever mixes numbers from one model; what a level's energies
include decides the O2 reference of μ_O (:class:`O2Correction`); and each level's barriers carry
that level's validation error (:func:`expected_error`). The calculators that produce the numbers
(:mod:`workflows.calculators`) read the models from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from structures.errors import LroxInputError

__all__ = [
    "DEFAULT_MODEL",
    "MP_U",
    "MlModel",
    "ML_MODELS",
    "O2Correction",
    "committee_members",
    "level_of_theory",
    "gpaw_level",
    "SINGLE_POINTS",
    "expected_error",
    "o2_correction",
]

# Materials Project (MP2020) U values, eV, Dudarev on the d shell: the set the VASP backend uses,
# and GPAW's PBE+U
MP_U = {"Co": 3.32, "Cr": 3.7, "Fe": 5.3, "Mn": 3.9, "Mo": 4.38, "Ni": 6.2, "V": 3.25, "W": 6.2}


class O2Correction(str, Enum):
    """What a level of theory's energies already include, for the O2 reference of μ_O.

    * ``included``: the model was trained on MP2020-corrected energies (CHGNet 0.3.0): its
      energies already carry the fitted oxide correction; nothing is added.
    * ``mp2020``: raw GGA/GGA+U energies with Materials Project settings (VASP, SevenNet trained
      on raw MPtrj, GPAW PBE+U): GGA overbinds O2, so μ_O gets MP2020's fitted oxide correction.
    * ``none``: raw energies of a functional for which no fitted O2 correction is defined (r2SCAN):
      the O2 molecule is used as it is.
    """

    INCLUDED = "included"
    MP2020 = "mp2020"
    NONE = "none"


@dataclass(frozen=True)
class MlModel:
    """An ML potential whose weights ship in its pip wheel, with what its energies mean."""

    name: str
    package: str
    description: str
    functional: str  # the DFT the model learned
    o2_correction: O2Correction  # what its energies include (see O2Correction)
    checkpoint: str = ""  # package-internal weights name
    modal: str | None = None  # fidelity of a multi-modal model


ML_MODELS = {
    m.name: m
    for m in (
        MlModel("chgnet", "chgnet", "CHGNet 0.3.0 (MPtrj, trained on MP2020-corrected GGA/GGA+U energies)",
                "PBE/PBE+U (MP)", O2Correction.INCLUDED, checkpoint="0.3.0"),
        MlModel("chgnet-r2scan", "chgnet", "CHGNet fine-tuned on MP r2SCAN (raw r2SCAN energies)",
                "r2SCAN", O2Correction.NONE, checkpoint="r2scan"),
        MlModel("7net-0", "sevenn", "SevenNet-0 (MPtrj, raw GGA/GGA+U energies)",
                "PBE/PBE+U (MP)", O2Correction.MP2020, checkpoint="7net-0"),
        MlModel("7net-l3i5", "sevenn", "SevenNet-l3i5 (MPtrj, raw GGA/GGA+U energies; lmax 3, 5 layers)",
                "PBE/PBE+U (MP)", O2Correction.MP2020, checkpoint="7net-l3i5"),
        MlModel("7net-mf-0", "sevenn", "SevenNet-MF-0, PBE modal (MPtrj, raw GGA/GGA+U energies)",
                "PBE/PBE+U (MP)", O2Correction.MP2020, checkpoint="7net-mf-0", modal="PBE"),
        MlModel("7net-mf-0-r2scan", "sevenn", "SevenNet-MF-0, r2SCAN modal (MP r2SCAN, raw energies)",
                "r2SCAN", O2Correction.NONE, checkpoint="7net-mf-0", modal="R2SCAN"),
    )
}
DEFAULT_MODEL = "7net-0"  # chosen by measurement: see workflows/calculators.py
def committee_members(settings: dict) -> list[str]:
    """The models of an ``mlip`` settings dict: one, or the members of a committee (in the spec's order)."""
    model = settings.get("model", DEFAULT_MODEL)
    return [str(m).lower() for m in model] if isinstance(model, list | tuple) else [str(model).lower()]


def level_of_theory(backend: str, settings: dict) -> str:
    """A short, stored name for where a number came from.

    ``settings`` may name the smaller cell a number was computed in (``cell``: ``lrox check``
    rebuilds a screen's hops there) and, for GPAW, the ML level its geometry or its band's seed came
    from (``geometry_from``, ``seeded_from``) and whether its barrier is a CI-NEB or single points
    along the ML band (``route``): each a level of its own, never mixed with the plain one.
    """
    cell = settings.get("cell")
    in_cell = f", {cell} cell" if cell else ""
    if backend == "mlip":
        members = committee_members(settings)
        if len(members) > 1:
            return f"MLIP committee({', '.join(members)}){in_cell}"
        model = ML_MODELS.get(members[0])
        return (f"MLIP {model.name}" if model else f"MLIP {settings.get('model')}") + in_cell
    if backend == "vasp":
        return "VASP PBE+U (MP-compatible)"
    if backend == "gpaw":
        text = gpaw_level(settings)
        seeded = settings.get("seeded_from")
        if seeded and settings.get("route") == SINGLE_POINTS:
            return f"{text} single points on the {seeded} band{in_cell}"
        if seeded:
            return f"{text} // seeded from {seeded}{in_cell}"
        geometry = settings.get("geometry_from")
        if geometry and settings.get("supercell"):
            return f"{text} // {geometry} geometry, {settings['supercell']} cell"
        return f"{text} // {geometry} geometry{in_cell}" if geometry else text + in_cell
    if settings.get("emulate") == "vasp":
        return "mock VASP emulation (atomate2 jobs; toy ionic energies, model DOS: not physics)"
    return "mock (toy ionic potential, not physics)"


SINGLE_POINTS = "single-points"  # a GPAW 'route': DFT energies along the ML band, no CI-NEB


def gpaw_level(settings: dict) -> str:
    """GPAW's Hamiltonian and basis, the part of its level every GPAW number shares:
    'GPAW PBE+U (MP U values; PW 400 eV)' or 'GPAW PBE+U (MP U values; LCAO dzp)' (a static has
    no mode: plane waves). The k-point spacing and SCF criteria are settings (in the settings hash)."""
    hubbard = settings.get("hubbard_u")
    hubbard = MP_U if hubbard is None else hubbard
    u = "MP U values" if hubbard == MP_U else ", ".join(f"{el} {v:g}" for el, v in sorted(hubbard.items())) or "no U"
    mode = str(getattr(settings.get("mode"), "value", settings.get("mode") or "pw")).lower()
    basis = f"LCAO {settings.get('basis') or 'dzp'}" if mode == "lcao" else f"PW {settings.get('ecut', 400):g} eV"
    spin = settings.get("spin_polarized", True) and settings.get("magnetic_order", "ferromagnetic") == "ferromagnetic"
    return f"GPAW {settings.get('xc', 'PBE')}+U ({u}; {basis}{'' if spin else ', non-spin-polarised'})"


# Validation MAE (eV) of each level's Li barriers against the shared DFT set
# (benchmarks/model_accuracy.py; table and date in benchmarks/RESULTS.md). A barrier carries the
# MAE of the level that produced it as its expected_error. GPAW's relaxations and CI-NEB (PBE+U,
# MP U values) are DFT: their error against other DFT has not been measured (None), and a
# database's own ML-against-GPAW error is descriptors.query.validation's, never entered here.
VALIDATION_MAE: dict[str, float] = {
    "MLIP 7net-0": 0.125,
    "MLIP chgnet": 0.162,
    "MLIP committee(chgnet, 7net-0)": 0.144,
    "MLIP committee(7net-0, chgnet)": 0.144,
}


def expected_error(level: str) -> float | None:
    """The validation MAE of a level of theory's barriers (eV), or None where it was not measured."""
    return VALIDATION_MAE.get(level)


def o2_correction(backend: str, settings: dict) -> O2Correction | None:
    """The one registry of what a level of theory's energies include (see :class:`O2Correction`).

    None for a committee: its energies are never differenced, only its members' are, each with its own.
    """
    if backend == "mlip":
        if len(committee_members(settings)) > 1:
            return None
        model = ML_MODELS.get(committee_members(settings)[0])
        if model is None:
            raise LroxInputError(f"unknown ML model '{settings.get('model')}'")
        return model.o2_correction
    if backend in ("vasp", "gpaw"):
        return O2Correction.MP2020  # raw PBE+U with MP U values, as MP2020 was fitted on
    return O2Correction.NONE  # mock: no physics, no correction


