"""Defect energetics: O-vacancy formation energies with an explicit O chemical potential, substitution energies.

E_f(V_O) = E(defect) − E(host) + μ_O,  μ_O = ½E(O2) + c + Δμ_O(T, pO2)

* ½E(O2): the O2 molecule at the *same* level of theory as the cells (a CHGNet O2 for a
  CHGNet screen, a GGA O2 for VASP); never mixed across models.
* c: the level of theory's fitted O2 correction. VASP GGA(+U) with Materials-Project inputs
  uses the MP2020 fitted oxide correction (``MaterialsProject2020Compatibility``, −0.687 eV per
  O atom applied to oxides): correcting the two cells and taking the difference is the same as
  c = +0.687 eV on μ_O. ML potentials trained on MP data already carry these corrections in
  their energies, so c = 0 there.
* Δμ_O(T, p): O-rich is Δμ_O = 0. Otherwise Δμ_O(T, p) = Δμ_O(T, p°) + ½ k_B T ln(p/p°), with
  Δμ_O(T, p°) interpolated in the JANAF-based table of Reuter & Scheffler, Phys. Rev. B 65,
  035406 (2001), Table I (p° = 1 atm).

Every value carries the chemical potential it was computed with, so a number is never
separated from its reference.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "O2_TABLE",
    "ChemicalPotential",
    "delta_mu_oxygen",
    "mp2020_oxygen_correction",
    "oxygen_chemical_potential",
    "vacancy_formation_energy",
    "substitution_energy",
]

K_B = 8.617333262e-5  # eV/K

# Reuter & Scheffler, PRB 65, 035406 (2001), Table I: Δμ_O(T, p° = 1 atm) in eV per O atom.
O2_TABLE = (
    (0.0, 0.0),
    (100.0, -0.08),
    (200.0, -0.17),
    (300.0, -0.27),
    (400.0, -0.38),
    (500.0, -0.50),
    (600.0, -0.61),
    (700.0, -0.73),
    (800.0, -0.85),
    (900.0, -0.98),
    (1000.0, -1.10),
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
    """Δμ_O(T, p) in eV per O atom; T in K (0–1000, the table's range), p in atm (> 0)."""
    if not 0.0 <= temperature <= O2_TABLE[-1][0]:
        raise ValueError(f"temperature {temperature} K is outside the tabulated range 0–{O2_TABLE[-1][0]:g} K")
    if not pressure > 0:
        raise ValueError(f"O2 partial pressure must be positive, not {pressure}")
    t, mu = np.array(O2_TABLE).T
    return float(np.interp(temperature, t, mu) + 0.5 * K_B * temperature * np.log(pressure))


def mp2020_oxygen_correction() -> float:
    """The shift of μ_O equivalent to MP2020's fitted oxide correction (eV per O atom, positive)."""
    from pymatgen.entries.compatibility import MaterialsProject2020Compatibility

    return -float(MaterialsProject2020Compatibility().comp_correction["oxide"])


def oxygen_chemical_potential(
    half_e_o2: float,
    level_of_theory: str,
    temperature: float | None = None,
    pressure: float = 1.0,
    delta: float | None = None,
) -> ChemicalPotential:
    """μ_O for a level of theory: O-rich by default, or at (T, pO2), or at an explicit Δμ_O."""
    if not np.isfinite(half_e_o2):
        raise ValueError("the O2 reference energy is not a finite number")
    if level_of_theory.upper().startswith("VASP") or level_of_theory.upper().startswith("GGA"):
        correction, source = mp2020_oxygen_correction(), "MP2020 fitted oxide correction (pymatgen MaterialsProject2020Compatibility)"
    else:
        correction, source = 0.0, "none (energies of this level of theory already carry their fitted corrections)"
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
    """E_f = E(defect) − E(host) + n μ (neutral vacancy; both cells at the same level of theory)."""
    for name, value in (("defect", e_defect), ("host", e_host)):
        if value is None or not np.isfinite(value):
            raise ValueError(f"the {name} energy is missing or not finite")
    return float(e_defect - e_host + n_removed * mu.value)


def substitution_energy(e_doped: float, e_host: float, removed: list[ChemicalPotential], added: list[ChemicalPotential]) -> float:
    """E_sub = E(doped) − E(host) + Σ μ(removed atoms) − Σ μ(added atoms)."""
    for name, value in (("doped", e_doped), ("host", e_host)):
        if value is None or not np.isfinite(value):
            raise ValueError(f"the {name} energy is missing or not finite")
    return float(e_doped - e_host + sum(m.value for m in removed) - sum(m.value for m in added))
