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
from functools import lru_cache
from pathlib import Path

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
    "is_single_points_level",
    "expected_error",
    "validation_error",
    "uncovered",
    "ValidationError",
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
            ends = " (ML end points)" if settings.get("endpoints") == "ml" else ""
            return f"{text} single points on the {seeded} band{ends}{in_cell}"
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


def is_single_points_level(level: str) -> bool:
    """Whether a level's barriers are DFT energies along another level's band (no CI-NEB of its own):
    the wording :func:`level_of_theory` gives the ``single-points`` route."""
    return " single points on the " in str(level)


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


# Each level's validation errors, measured against the shared DFT set and summarised by
# benchmarks/validation_summary.py from benchmarks/results_model_accuracy.jsonl (rows the code flags
# left out; MAE and signed mean per kind of quantity; what the set covers). Committed beside this
# module and installed with the package: nothing here reads benchmarks/ at run time. GPAW's
# relaxations and CI-NEB (PBE+U, MP U values) are DFT: their error against other DFT is not in it,
# and a database's own ML-against-GPAW error is measured from its rows, never entered here.
VALIDATION_FILE = Path(__file__).with_name("validation.json")
QUANTITIES = ("barrier", "e_kra", "e_kra_difference")


@dataclass(frozen=True)
class ValidationError:
    """A level's measured error on one kind of quantity against the DFT validation set (eV).

    ``signed_mean``: the mean signed error; where every error has one sign (``biased``) the level can
    rank hops but not give absolute barriers. ``covers``: hosts, elements and situations the
    validation set has examples of (see :func:`uncovered`). ``excluded``: rows the code flagged.
    """

    level: str
    quantity: str
    mae: float
    signed_mean: float
    max_abs: float
    n: int
    covers: dict
    excluded: tuple = ()

    @property
    def biased(self) -> bool:
        """Every validation error has the same sign (the mean signed error is as large as the MAE)."""
        return self.n > 1 and abs(abs(self.signed_mean) - self.mae) < 1e-9

    def text(self, with_level: bool = True) -> str:
        what = {"barrier": "barriers", "e_kra": "E_KRA", "e_kra_difference": "differences of E_KRA"}.get(self.quantity, self.quantity)
        bias = (f", every error of one sign, signed mean {self.signed_mean:+.3f} eV: it ranks, it does not give absolute numbers" if self.biased
                else f", signed mean {self.signed_mean:+.3f} eV")
        return f"{self.level + ': ' if with_level else ''}validation MAE on {what} {self.mae:.3f} eV (n = {self.n}{bias})"


@lru_cache(maxsize=1)
def _validation() -> dict:
    from structures.doors.data import load_json
    from structures.doors.files import package_text

    return load_json(package_text("descriptors.physics", VALIDATION_FILE.name), "lrox's validation table").get("levels", {})


def _validation_entry(level: str) -> dict | None:
    levels = _validation()
    if level in levels:
        return levels[level]
    if level.startswith("MLIP committee(") and level.endswith(")"):
        members = sorted(m.strip() for m in level[len("MLIP committee(") : -1].split(","))
        return levels.get(f"MLIP committee({', '.join(members)})")
    return None


def validation_error(level: str, quantity: str = "barrier") -> ValidationError | None:
    """A level's measured validation error on ``barrier``, ``e_kra`` or ``e_kra_difference``, or None
    where the validation set has no usable row of it at that level."""
    if quantity not in QUANTITIES:
        raise ValueError(f"unknown validated quantity '{quantity}' (one of {', '.join(QUANTITIES)})")
    entry = _validation_entry(level)
    summary = (entry or {}).get("quantities", {}).get(quantity)
    if not summary:
        return None
    return ValidationError(level, quantity, summary["mae"], summary["signed_mean"], summary["max_abs"], summary["n"],
                           entry.get("covers", {}), tuple(f"{e['row']} ({e['why']})" for e in entry.get("excluded", [])))


def expected_error(level: str) -> float | None:
    """The validation MAE of a level of theory's barriers (eV), or None where it was not measured."""
    error = validation_error(level, "barrier")
    return None if error is None else error.mae


def uncovered(level: str, elements=(), o_vacancy: bool = False, dopants=()) -> list[str]:
    """What of a situation the level's validation set has no example of: elements it never saw in a
    validated host, an O vacancy, dopants. Empty where everything is covered."""
    entry = _validation_entry(level)
    if entry is None:
        return ["this level was never validated"]
    covers = entry.get("covers", {})
    missing = []
    new = sorted(set(elements) - set(covers.get("elements", [])))
    if new:
        missing.append(f"no example with {', '.join(new)}")
    if o_vacancy and not covers.get("o_vacancy"):
        missing.append("no O vacancy")
    extra = sorted(set(dopants) - set(covers.get("dopants", [])))
    if extra:
        missing.append(f"no dopant ({', '.join(extra)})")
    return missing


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


