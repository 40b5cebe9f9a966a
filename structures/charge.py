"""Formal charge bookkeeping of a neutral defect supercell: which ions change valence.

lrox computes neutral supercells only. A defect that changes the formal charge of the lattice
(an O vacancy removes O²⁻ and leaves two electrons behind; Al³⁺ on a Mn⁴⁺ site leaves a hole)
therefore does not make the cell charged: the electrons or holes stay and change the valence of
other ions. What this module reports is the formal bookkeeping of that change:

* ``charge_change``: the sum over defects of (new − old) formal oxidation states. Positive means
  excess electrons (the lattice must be reduced), negative means holes (it must be oxidised).
* ``compensation``: which ions can take them, from a table of the redox couples of oxide
  cathode chemistry (:data:`REDOX_STATES`). Holes that no cation can take go to lattice oxygen
  (O²⁻ → O⁻, the anionic redox of Li-rich oxides), which is a compensating change too.
* ``uncompensated``: electrons (or holes) that no ion of the cell can take; only these are
  flagged, since only they would leave the neutral supercell without a formal valence picture.

The bookkeeping is formal (it does not say *where* the electrons localise; the relaxed
structure and Bader charges do), but it is what a chemist writes next to a defect.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

__all__ = ["REDOX_STATES", "ChargeBookkeeping", "charge_bookkeeping"]

# Formal oxidation states each cation takes in oxides (the couples of cathode chemistry). An
# element not listed, or listed with one state (Li, Na, Mg, Al, Zr, ...), does not change valence.
REDOX_STATES: dict[str, tuple[int, ...]] = {
    "Ti": (3, 4),
    "V": (3, 4, 5),
    "Cr": (3, 4, 6),
    "Mn": (2, 3, 4),
    "Fe": (2, 3, 4),
    "Co": (2, 3, 4),
    "Ni": (2, 3, 4),
    "Cu": (1, 2, 3),
    "Nb": (4, 5),
    "Mo": (4, 5, 6),
    "Ru": (3, 4, 5),
    "Sn": (2, 4),
    "Sb": (3, 5),
    "Ta": (4, 5),
    "W": (5, 6),
    "Ce": (3, 4),
}


@dataclass(frozen=True)
class ChargeBookkeeping:
    charge_change: float  # Σ(new − old formal charge) over the defects; >0: electrons, <0: holes
    compensation: str  # e.g. "2 e⁻ → Mn⁴⁺→Mn³⁺ (any of 31 Mn)", "none needed"
    uncompensated: float  # carriers no ion can take (0 when fully compensated)

    @property
    def needs_compensation(self) -> bool:
        """True only when some carrier has no ion to go to: a real problem of the model."""
        return abs(self.uncompensated) > 1e-6

    def as_dict(self) -> dict:
        return {**asdict(self), "needs_compensation": self.needs_compensation}


_SUPERSCRIPT = str.maketrans("0123456789+-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻")


def _ion(element: str, state: int) -> str:
    """``Mn⁴⁺``, ``O²⁻``, ``Li⁺``."""
    magnitude = f"{abs(state)}" if abs(state) != 1 else ""
    return element + magnitude.translate(_SUPERSCRIPT) + ("⁺" if state > 0 else "⁻")


def _step(element: str, state: int, direction: int) -> int | None:
    """The neighbouring redox state (direction −1: reduced, +1: oxidised), or None."""
    states = REDOX_STATES.get(element, ())
    if state not in states:
        return None
    k = states.index(state) + direction
    return states[k] if 0 <= k < len(states) else None


def charge_bookkeeping(cations: list[tuple[str, float | None]], has_oxygen: bool, charge_change: float | None) -> ChargeBookkeeping | None:
    """The bookkeeping for a cell whose remaining cations are ``(element, formal state)``.

    ``charge_change`` is the defects' total formal charge change (None when a state is unknown,
    which gives None). Each ion takes carriers up to its neighbouring redox state.
    """
    if charge_change is None:
        return None
    n = round(float(charge_change), 6)
    if abs(n) < 1e-6:
        return ChargeBookkeeping(0.0, "none needed", 0.0)
    direction = -1 if n > 0 else +1  # electrons reduce, holes oxidise
    carriers = abs(n)
    couples = Counter()
    capacity = Counter()
    for element, state in cations:
        if state is None or abs(state - round(state)) > 1e-6:
            continue
        target = _step(element, int(round(state)), direction)
        if target is not None:
            couples[(element, int(round(state)), target)] += 1
            capacity[(element, int(round(state)), target)] += abs(target - int(round(state)))
    word = "e⁻" if n > 0 else "h⁺"
    parts = [
        f"{_ion(el, old)}→{_ion(el, new)} (any of {count})"
        for (el, old, new), count in sorted(couples.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    available = sum(capacity.values())
    remaining = max(carriers - available, 0.0)
    if n < 0 and remaining > 0 and has_oxygen:  # anionic redox: what Li-rich oxides do
        parts.append("O²⁻→O⁻ (lattice oxygen holes)")
        remaining = 0.0
    carriers_text = f"{carriers:g} {word}"
    if not parts:
        return ChargeBookkeeping(float(n), f"{carriers_text}: no ion of the cell can take them", float(n))
    text = f"{carriers_text} → " + " or ".join(parts)
    if remaining > 0:
        text += f"; {remaining:g} {word} left over"
    return ChargeBookkeeping(float(n), text, float(remaining if n > 0 else -remaining) + 0.0)
