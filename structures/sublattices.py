"""Named sublattices of a labelled host, and the parsing of dopant / vacancy specifications."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from monty.json import MSONable
from pymatgen.core import Element, Structure

from structures.errors import LroxInputError
from structures.labels import ANIONS, LI_LAYER, TM_LAYER

__all__ = ["Sublattice", "DefectKind", "DefectSpec", "sublattice_sites", "resolve_sites", "parse_dopant", "parse_vacancy"]


class Sublattice(str, Enum):
    """Where a dopant or vacancy goes, in a layered-oxide chemist's words."""

    LI_LAYER = "li-layer"  # Li in the Li layer (2c/4h in Li2MnO3, 3b in LiCoO2)
    TM_LAYER_LI = "tm-layer-li"  # Li in the TM layer (honeycomb 2b in Li2MnO3)
    LI = "li"  # every Li site
    TM = "tm"  # transition-metal (any non-Li cation) sites
    O = "o"  # oxygen (anion) sites
    INTERSTITIAL = "interstitial"  # empty tetrahedral sites of the O lattice


class DefectKind(str, Enum):
    SUBSTITUTION = "substitution"
    VACANCY = "vacancy"
    INTERSTITIAL = "interstitial"


def sublattice_sites(structure: Structure) -> dict[str, list[int]]:
    """Indices of each named sublattice present in a labelled structure (interstitials not included)."""
    out: dict[str, list[int]] = {s.value: [] for s in Sublattice if s is not Sublattice.INTERSTITIAL}
    for i, site in enumerate(structure):
        el = site.specie.symbol
        layer = site.properties.get("layer")
        if el in ANIONS:
            if el == "O":
                out[Sublattice.O.value].append(i)
        elif el == "Li":
            out[Sublattice.LI.value].append(i)
            if layer == LI_LAYER:
                out[Sublattice.LI_LAYER.value].append(i)
            elif layer == TM_LAYER:
                out[Sublattice.TM_LAYER_LI.value].append(i)
        else:
            out[Sublattice.TM.value].append(i)
    return {k: v for k, v in out.items() if v}


def resolve_sites(structure: Structure, selector: str) -> list[int]:
    """Site indices for a sublattice name, an element symbol, a Wyckoff position or a full site label.

    Examples: ``"tm"``, ``"li-layer"``, ``"Mn"``, ``"4h"``, ``"Li(2b, TM layer)"``.
    """
    text = selector.strip()
    named = sublattice_sites(structure)
    key = text.lower().replace("_", "-")
    if key in {s.value for s in Sublattice}:
        if key not in named:
            raise LroxInputError(f"the host has no '{text}' sublattice (it has: {', '.join(sorted(named))})")
        return named[key]
    by_element = [i for i, s in enumerate(structure) if s.specie.symbol == text]
    if by_element:
        return by_element
    by_wyckoff = [i for i, s in enumerate(structure) if s.properties.get("wyckoff") == text]
    if by_wyckoff:
        return by_wyckoff
    by_label = [i for i, s in enumerate(structure) if s.properties.get("label") == text]
    if by_label:
        return by_label
    labels = sorted(set(structure.site_properties.get("label", [])))
    raise LroxInputError(
        f"unknown sublattice '{text}': use one of {', '.join(sorted(named) + ['interstitial'])}, "
        f"an element of the host, a Wyckoff position or a site label ({'; '.join(labels)})"
    )


@dataclass(frozen=True)
class DefectSpec(MSONable):
    """One kind of point defect: a dopant element on a sublattice, or a vacancy on one."""

    kind: DefectKind
    sublattice: str
    species: str | None = None
    oxidation_state: int | None = None

    @property
    def is_dopant(self) -> bool:
        return self.kind is not DefectKind.VACANCY

    def __str__(self) -> str:
        charge = "" if self.oxidation_state is None else f"{abs(self.oxidation_state)}{'+' if self.oxidation_state >= 0 else '-'}"
        if self.kind is DefectKind.VACANCY:
            return f"vacancy:{self.sublattice}"
        return f"{self.species}{charge}:{self.sublattice}"


_SPECIES = re.compile(r"^([A-Z][a-z]?)(?:(\d*)([+-]))?$")


def _parse_species(text: str, context: str) -> tuple[str, int | None]:
    match = _SPECIES.match(text.strip())
    if not match:
        raise LroxInputError(f"unknown element '{text}' in {context}")
    symbol, magnitude, sign = match.groups()
    if not Element.is_valid_symbol(symbol):
        raise LroxInputError(f"unknown element '{symbol}' in {context}")
    oxi = None
    if sign:
        if len(magnitude) > 1:
            raise LroxInputError(f"{text.strip()}: {symbol} has no {magnitude}{sign} state (in {context})")
        oxi = int(magnitude or 1) * (1 if sign == "+" else -1)
        if oxi not in Element(symbol).oxidation_states:
            known = ", ".join(f"{abs(o)}{'+' if o > 0 else '-'}" for o in Element(symbol).oxidation_states) or "none"
            raise LroxInputError(f"{text.strip()}: {symbol} has no {abs(oxi)}{sign} state (known: {known}; in {context})")
    return symbol, oxi


def parse_dopant(text: str) -> DefectSpec:
    """``"Al:tm"``, ``"Ti4+:tm"``, ``"Na:li-layer"``, ``"F:o"``, ``"Mg:interstitial"``, ``"Co:Mn"``."""
    if ":" not in str(text):
        raise LroxInputError(f"bad dopant '{text}': expected ELEMENT:SUBLATTICE, e.g. Al:tm or Na:li-layer")
    species, sublattice = (part.strip() for part in str(text).split(":", 1))
    symbol, oxi = _parse_species(species, f"--dopant {text}")
    if not sublattice:
        raise LroxInputError(f"bad dopant '{text}': no sublattice after ':'")
    kind = DefectKind.INTERSTITIAL if sublattice.lower() == Sublattice.INTERSTITIAL.value else DefectKind.SUBSTITUTION
    return DefectSpec(kind=kind, sublattice=sublattice, species=symbol, oxidation_state=oxi)


def parse_vacancy(text: str) -> DefectSpec:
    """``"O"``, ``"Li"``, ``"TM"``, ``"Mn"`` or ``"Li:tm-layer-li"`` (element restricted to a sublattice)."""
    raw = str(text).strip()
    if not raw:
        raise LroxInputError("empty --vacancy: name an element (O, Li, Mn ...) or TM")
    if raw.upper() == "TM":
        return DefectSpec(kind=DefectKind.VACANCY, sublattice=Sublattice.TM.value)
    element, _, sublattice = raw.partition(":")
    symbol, _ = _parse_species(element, f"--vacancy {raw}")
    if sublattice.strip().lower() == Sublattice.INTERSTITIAL.value:
        raise LroxInputError(f"bad vacancy '{raw}': interstitial sites are empty already")
    return DefectSpec(kind=DefectKind.VACANCY, sublattice=sublattice.strip() or symbol, species=symbol)
