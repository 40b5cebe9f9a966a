"""Defect energetics: vacancy formation energies with an explicit chemical potential.

E_f(V_O) = E(defect) − E(parent) + μ_O,  μ_O = ½E(O2) + c + Δμ_O(T, pO2)

* E(parent): the same configuration without the vacancy, found by id (the enumerator's
  ``parent_ids``), never by site label.
* ½E(O2): the O2 molecule at the *same* level of theory as the cells (a CHGNet O2 for a
  CHGNet screen, a GGA O2 for VASP); never mixed across models.
* c: what the level of theory's energies lack, from the one registry
  (:func:`workflows.calculators.o2_correction`): +0.687 eV per O (MP2020's fitted oxide
  correction, ``MaterialsProject2020Compatibility``) for raw GGA/GGA+U energies (VASP, GPAW,
  SevenNet trained on raw MPtrj); 0 for a model trained on MP2020-corrected energies (CHGNet
  0.3.0), whose energies carry it already; 0 for r2SCAN, for which no fitted correction exists.
* Δμ_O(T, p): O-rich is Δμ_O = 0. Otherwise Δμ_O(T, p) = ½[ΔH − TS](O2, T) + ½ k_B T ln(p/p°),
  from the JANAF O2 table (H − H(0 K) and S at p° = 1 bar, 0–2000 K), the construction of
  Reuter & Scheffler, Phys. Rev. B 65, 035406 (2001), Table I, which it reproduces to 0.01 eV
  (their table prints two decimals).

E_f is linear in μ_O, so a stored value is re-evaluated at any (T, p) without rerunning:
:func:`reevaluate`. Every value carries the chemical potential it was computed with.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "JANAF_O2",
    "ChemicalPotential",
    "delta_mu_oxygen",
    "mp2020_oxygen_correction",
    "oxygen_chemical_potential",
    "vacancy_formation_energy",
    "reevaluate",
]

K_B = 8.617333262e-5  # eV/K
KJ_PER_MOL = 96.48533212  # kJ/mol per eV

# JANAF Thermochemical Tables (4th ed., Chase 1998), O2 ideal gas at p° = 1 bar:
# T (K), S° (J/mol/K), H°(T) − H°(298.15 K) (kJ/mol); H°(0) − H°(298.15) = −8.683 kJ/mol.
JANAF_O2 = (
    (0.0, 0.0, -8.683),
    (100.0, 173.307, -5.779),
    (200.0, 193.485, -2.868),
    (298.15, 205.147, 0.0),
    (300.0, 205.329, 0.054),
    (400.0, 213.871, 3.025),
    (500.0, 220.693, 6.084),
    (600.0, 226.451, 9.244),
    (700.0, 231.466, 12.499),
    (800.0, 235.921, 15.835),
    (900.0, 239.931, 19.241),
    (1000.0, 243.578, 22.703),
    (1100.0, 246.922, 26.212),
    (1200.0, 250.010, 29.761),
    (1300.0, 252.878, 33.344),
    (1400.0, 255.556, 36.957),
    (1500.0, 258.068, 40.599),
    (1600.0, 260.434, 44.266),
    (1700.0, 262.672, 47.958),
    (1800.0, 264.796, 51.673),
    (1900.0, 266.818, 55.413),
    (2000.0, 268.748, 59.175),
)


@dataclass(frozen=True)
class ChemicalPotential:
    """μ of one element, every part of it stored: value = reference + correction + delta."""

    element: str
    reference: float  # eV/atom at the level of theory (½E(O2), or the elemental solid)
    reference_source: str  # e.g. "O2 molecule, MLIP chgnet"
    correction: float  # fitted correction (eV/atom), 0 when none applies
    correction_source: str
    delta: float  # Δμ (eV/atom); 0 is the element-rich limit
    temperature: float | None = None  # K, when Δμ came from (T, p)
    pressure: float | None = None  # atm
    level_of_theory: str = ""

    @property
    def value(self) -> float:
        return self.reference + self.correction + self.delta

    @property
    def condition(self) -> str:
        if self.temperature is None:
            return f"{self.element}-rich" if self.delta == 0 else f"Δμ_{self.element} = {self.delta:+.3f} eV"
        return f"T = {self.temperature:g} K, p = {self.pressure:g} atm"

    def as_dict(self) -> dict:
        return {**asdict(self), "value": self.value, "condition": self.condition}


def delta_mu_oxygen(temperature: float, pressure: float = 1.0) -> float:
    """Δμ_O(T, p) in eV per O atom relative to ½E(O2) at 0 K; T in K (0–2000), p in atm (> 0).

    ½[(H(T) − H(0)) − T S(T)] of O2 at the tabulated temperatures (JANAF), interpolated linearly
    in between (the tabulated points are 100 K apart; the curve is smooth to a few meV there),
    plus ½ k_B T ln(p/p°).
    """
    if not np.isfinite(temperature) or not 0.0 <= temperature <= JANAF_O2[-1][0]:
        raise ValueError(f"temperature {temperature} K is outside the tabulated range 0–{JANAF_O2[-1][0]:g} K")
    if not np.isfinite(pressure) or not pressure > 0:
        raise ValueError(f"O2 partial pressure must be a positive number, not {pressure}")
    t, entropy, enthalpy = np.array(JANAF_O2).T
    g = ((enthalpy - JANAF_O2[0][2]) - t * entropy / 1000.0) / KJ_PER_MOL / 2.0  # eV per O atom
    p_standard = 1.0 / 1.01325  # p° = 1 bar, in atm
    return float(np.interp(temperature, t, g) + 0.5 * K_B * temperature * np.log(pressure / p_standard))


def mp2020_oxygen_correction() -> float:
    """The shift of μ_O equivalent to MP2020's fitted oxide correction (eV per O atom, positive)."""
    from pymatgen.entries.compatibility import MaterialsProject2020Compatibility

    return -float(MaterialsProject2020Compatibility().comp_correction["oxide"])


def oxygen_chemical_potential(
    half_e_o2: float,
    level_of_theory: str,
    o2_correction: str,
    temperature: float | None = None,
    pressure: float = 1.0,
    delta: float | None = None,
) -> ChemicalPotential:
    """μ_O for a level of theory: O-rich by default, or at (T, pO2), or at an explicit Δμ_O.

    ``o2_correction`` is what the level's energies include (``included``, ``mp2020`` or
    ``none``; :class:`workflows.calculators.O2Correction`).
    """
    if not np.isfinite(half_e_o2):
        raise ValueError("the O2 reference energy is not a finite number")
    kind = str(getattr(o2_correction, "value", o2_correction))
    if kind == "mp2020":
        correction, source = mp2020_oxygen_correction(), "MP2020 fitted oxide correction (pymatgen MaterialsProject2020Compatibility): raw GGA/GGA+U energies"
    elif kind == "included":
        correction, source = 0.0, "none added: the model's energies carry MP2020's corrections (trained on corrected energies)"
    elif kind == "none":
        correction, source = 0.0, "none: no fitted O2 correction is defined for this functional"
    else:
        raise ValueError(f"unknown O2 correction scheme '{o2_correction}'")
    if temperature is not None and delta is not None:
        raise ValueError("give either (temperature, pressure) or delta, not both")
    d = delta_mu_oxygen(temperature, pressure) if temperature is not None else float(delta or 0.0)
    return ChemicalPotential(
        element="O",
        reference=float(half_e_o2),
        reference_source=f"½ E(O2 molecule), {level_of_theory}",
        correction=correction,
        correction_source=source,
        delta=d,
        temperature=temperature,
        pressure=pressure if temperature is not None else None,
        level_of_theory=level_of_theory,
    )


def vacancy_formation_energy(e_defect: float, e_host: float, mu: ChemicalPotential, n_removed: int = 1) -> float:
    """E_f = E(defect) − E(parent) + n μ (neutral vacancy; both cells at the same level of theory)."""
    for name, value in (("defect", e_defect), ("host", e_host)):
        if value is None or not np.isfinite(value):
            raise ValueError(f"the {name} energy is missing or not finite")
    return float(e_defect - e_host + n_removed * mu.value)


def reevaluate(e_f: float, mu: dict, temperature: float | None = None, pressure: float = 1.0, delta: float | None = None) -> float:
    """A stored E_f(V_O) at other oxygen conditions: E_f is linear in μ_O, so only Δμ_O changes.

    ``mu`` is the stored chemical potential (``ChemicalPotential.as_dict()``); give (T, p) or Δμ_O.
    """
    if temperature is not None and delta is not None:
        raise ValueError("give either (temperature, pressure) or delta, not both")
    new = delta_mu_oxygen(temperature, pressure) if temperature is not None else float(delta or 0.0)
    return float(e_f - float(mu["delta"]) + new)
