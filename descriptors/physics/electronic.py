"""Electronic-structure descriptors from a projected DOS: O 2p band centre, widths, TM d centre, covalency.

Every number here is computed by pymatgen's :class:`CompleteDos` moments
(``get_band_center``/``get_band_width``, first and second moments of the
projected DOS, both spins summed) so that it equals pymatgen's own value for the
same window; this module chooses the windows, the references and what is stored
beside each value.

References (``reference`` in the results):

* ``E_F``: energies relative to the Fermi level the code reports (pymatgen's convention).
* ``VBM``: relative to the valence-band maximum. Codes place E_F differently in
  an insulator (VASP near the VBM, GPAW mid-gap), so only this one compares
  across codes; in a metal the VBM is E_F.

The VBM, the CBM and the gap come from the Kohn–Sham **eigenvalues and occupations**
(:func:`band_edges`), not from a broadened DOS: on the shared LiFe4(PO4)4 vasprun the DOS puts the
VBM 0.26 eV too high and the gap at 2.07 eV, the eigenvalues at 2.54 eV (pymatgen's
``Vasprun.eigenvalue_band_properties``). The DOS-based edges are a fallback, named as such, only
where no eigenvalues exist.

**Defect levels.** In a defect cell, occupied in-gap states (the Mn³⁺ next to an O vacancy)
would become the highest occupied level. The rule, applied to defect cells only (a pristine
host's VBM is its highest occupied level, whatever its top band is made of): among the occupied levels within 3 eV of the
highest one, find the widest gap between successive levels (all k-points and spins pooled); if it
is at least 0.3 eV wide and at most 4 bands per k-point (spins summed) lie above it, those bands
are defect levels and the VBM is the top of the band below the gap, the host-like valence-band
edge. Empty in-gap levels below the conduction band are found the same way. The defect levels,
with their occupations, are reported separately (``defect_levels``).

Windows (``window`` in the results, always stored with the number, relative to E_F):

* ``occupied``: E_F − 10 eV to E_F (default): the occupied O 2p manifold of a layered oxide.
* ``full``: the whole energy range of the DOS as computed; it depends on the number of
  bands and NEDOS, which is why its bounds are stored with it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "OCCUPIED_WINDOW",
    "BandEdges",
    "band_edges",
    "band_edges_from_vasprun",
    "BandCentre",
    "ElectronicDescriptors",
    "band_centre",
    "electronic_descriptors",
    "tm_o_covalency",
    "valence_band_maximum",
    "load_complete_dos",
]

OCCUPIED_WINDOW = (-10.0, 0.0)  # eV relative to E_F
TRANSITION_METALS = frozenset("Sc Ti V Cr Mn Fe Co Ni Cu Zn Y Zr Nb Mo Ru Rh Pd Ag W".split())


@dataclass(frozen=True)
class BandCentre:
    """One band centre with the window it was taken over (eV relative to E_F) and both references."""

    orbital: str  # e.g. "O 2p", "TM d"
    window: str  # "occupied" | "full" | "custom"
    emin: float
    emax: float
    centre_vs_ef: float
    centre_vs_vbm: float
    width: float  # square root of the second moment about the centre (eV)


@dataclass(frozen=True)
class ElectronicDescriptors:
    efermi: float
    vbm: float
    gap: float
    o2p: BandCentre  # occupied window
    o2p_full: BandCentre
    tm_d: BandCentre | None  # occupied window, all transition metals together
    covalency: float | None  # see tm_o_covalency
    dp_separation: float | None  # ε_d − ε_O2p over the occupied window (eV)
    edge_source: str = "eigenvalues"  # where the VBM came from
    defect_levels: list = ()  # split-off in-gap levels (see band_edges)

    def as_dict(self) -> dict:
        return asdict(self)


def load_complete_dos(source):
    """A CompleteDos from a vasprun.xml(.gz), a ``CompleteDos.as_dict()`` JSON (.gz), a dict, or a CompleteDos."""
    from pymatgen.electronic_structure.dos import CompleteDos

    if isinstance(source, CompleteDos):
        return source
    if isinstance(source, dict):
        return CompleteDos.from_dict(source)
    name = str(source)
    if ".json" in name:
        from monty.serialization import loadfn

        data = loadfn(name)
        return data if isinstance(data, CompleteDos) else CompleteDos.from_dict(data)
    from pymatgen.io.vasp import Vasprun

    run = Vasprun(name, parse_potcar_file=False, parse_eigen=False)
    if not run.complete_dos.pdos:
        raise ValueError(f"{name}: no projected DOS (was LORBIT set?)")
    return run.complete_dos


@dataclass(frozen=True)
class BandEdges:
    """Host-like band edges (absolute eV) from eigenvalues, and the defect levels set apart."""

    vbm: float
    cbm: float
    gap: float
    highest_occupied: float  # the HOMO, defect level or not
    lowest_unoccupied: float
    defect_levels: list  # [{"energy": eV (mean over k), "occupation": electrons per k-point, "spin": 0|1, "band": n}]
    source: str = "eigenvalues"

    def as_dict(self) -> dict:
        return asdict(self)


DEFECT_GAP = 0.3  # eV: a split-off level must sit at least this far from its band
DEFECT_WINDOW = 3.0  # eV below the HOMO (above the LUMO) searched for split-off levels
MAX_DEFECT_BANDS = 4  # bands per k-point, spins summed


def _split_off(levels: np.ndarray, per_kpoint: int) -> tuple[float | None, int]:
    """The widest gap ≥ DEFECT_GAP in sorted ``levels`` (descending: from the edge inward) whose
    outer side holds at most MAX_DEFECT_BANDS bands per k-point; returns (inner edge, n outside)."""
    if len(levels) < 2:
        return None, 0
    gaps = levels[:-1] - levels[1:]
    best = None
    for k in np.argsort(-gaps):
        if gaps[k] < DEFECT_GAP:
            break
        outside = k + 1
        if outside <= MAX_DEFECT_BANDS * per_kpoint:
            best = (float(levels[k + 1]), outside)
            break
    return best if best is not None else (None, 0)


def band_edges(eigenvalues, occupations, occupied_above: float = 1e-8, defect_cell: bool = False) -> BandEdges:
    """VBM, CBM and gap from eigenvalues (spin, k, band) and occupations normalised to [0, 1].

    A state counts as occupied when its occupation exceeds ``occupied_above`` (pymatgen's
    ``occu_tol`` for VASP, so that a host gives exactly ``eigenvalue_band_properties``'s edges).
    In a ``defect_cell``, split-off defect levels are set apart by the rule in the module docstring.
    """
    eig = np.asarray(eigenvalues, dtype=float)
    occ = np.asarray(occupations, dtype=float)
    if eig.ndim != 3 or eig.shape != occ.shape:
        raise ValueError("eigenvalues and occupations must both be (spin, k-point, band) arrays")
    filled = occ > occupied_above
    if not filled.any() or filled.all():
        raise ValueError("no gap can be read: every state is occupied, or none")
    homo, lumo = float(eig[filled].max()), float(eig[~filled].min())
    n_spin, n_k, _ = eig.shape
    per_kpoint = n_k  # levels pooled over k (and spins): bands per k-point, spins summed
    occupied = np.sort(eig[filled & (eig >= homo - DEFECT_WINDOW)])[::-1]
    empty = np.sort(eig[~filled & (eig <= lumo + DEFECT_WINDOW)])
    vbm = cbm = None
    if defect_cell:
        vbm, _ = _split_off(occupied, per_kpoint)
        cbm, _ = _split_off(-empty, per_kpoint)
        cbm = None if cbm is None else -cbm
    vbm = homo if vbm is None else vbm
    cbm = lumo if cbm is None else cbm
    if homo >= lumo - 1e-6:  # a metal: no gap, no split-off levels
        return BandEdges(homo, lumo, 0.0, homo, lumo, [])
    levels = []
    for spin in range(n_spin):
        for band in range(eig.shape[2]):
            e = eig[spin, :, band]
            if (e > vbm + 1e-9).all() and (e < cbm - 1e-9).all():
                levels.append({"energy": float(e.mean()), "occupation": float(occ[spin, :, band].mean()), "spin": spin, "band": band})
    return BandEdges(vbm=vbm, cbm=cbm, gap=max(cbm - vbm, 0.0), highest_occupied=homo, lowest_unoccupied=lumo, defect_levels=levels)


def band_edges_from_vasprun(run, defect_cell: bool = False) -> BandEdges:
    """:func:`band_edges` from a pymatgen ``Vasprun`` parsed with its eigenvalues."""
    from pymatgen.electronic_structure.core import Spin

    spins = [s for s in (Spin.up, Spin.down) if s in run.eigenvalues]
    eig = np.array([run.eigenvalues[s][:, :, 0] for s in spins])
    occ = np.array([run.eigenvalues[s][:, :, 1] for s in spins])
    return band_edges(eig, occ, occupied_above=run.occu_tol, defect_cell=defect_cell)


def valence_band_maximum(dos) -> tuple[float, float]:
    """(VBM, gap) from the broadened total DOS (pymatgen's ``get_cbm_vbm``): the fallback where no
    eigenvalues exist; a metal gives (E_F, 0)."""
    cbm, vbm = dos.get_cbm_vbm()
    gap = max(cbm - vbm, 0.0)
    if gap < 1e-6 or not (vbm <= dos.efermi + 1e-6 <= cbm + 1e-6):
        return float(dos.efermi), 0.0
    return float(vbm), float(gap)


def _window(dos, window) -> tuple[str, tuple[float, float]]:
    if window == "occupied":
        return "occupied", OCCUPIED_WINDOW
    if window == "full":
        energies = np.asarray(dos.energies) - dos.efermi
        return "full", (float(energies.min()), float(energies.max()))
    lo, hi = window
    if not lo < hi:
        raise ValueError(f"window {window}: the lower bound must be below the upper one")
    return "custom", (float(lo), float(hi))


def band_centre(dos, elements, orbital: str = "p", window="occupied", vbm: float | None = None) -> BandCentre:
    """First moment (and width) of the elements' ``orbital`` projected DOS over a window, both spins."""
    from pymatgen.core import Element
    from pymatgen.electronic_structure.core import OrbitalType

    band = OrbitalType[orbital]
    name, (lo, hi) = _window(dos, window)
    elements = [Element(e) for e in elements]
    present = {site.specie.symbol for site in dos.structure}
    if not any(e.symbol in present for e in elements):
        raise ValueError(f"no {'/'.join(e.symbol for e in elements)} in this DOS")
    elements = [e for e in elements if e.symbol in present]
    erange = None if name == "full" else (lo, hi)
    centre = float(dos.get_band_center(band=band, elements=elements, erange=erange))
    width = float(dos.get_band_width(band=band, elements=elements, erange=erange))
    if vbm is None:
        vbm = valence_band_maximum(dos)[0]
    label = "O 2p" if [e.symbol for e in elements] == ["O"] and orbital == "p" else f"{'/'.join(e.symbol for e in elements)} {orbital}"
    return BandCentre(
        orbital=label,
        window=name,
        emin=lo,
        emax=hi,
        centre_vs_ef=centre,
        centre_vs_vbm=centre + float(dos.efermi) - vbm,
        width=width,
    )


def tm_o_covalency(dos, tm_elements, window=OCCUPIED_WINDOW) -> float:
    """TM d – O 2p covalency: the overlap of the two normalised projected DOS over the window.

    C = ∫ min(ρ̂_d(E), ρ̂_p(E)) dE, with each PDOS (both spins) normalised to unit area in the
    window (the histogram-intersection overlap of two distributions). C = 0 when TM d and O 2p
    states never share an energy (ionic limit), C = 1 when their distributions coincide (fully
    mixed). It is stored beside the d–p band-centre separation ε_d − ε_O2p (``dp_separation``),
    the PDOS proxy of the charge-transfer energy used as a metal–oxygen covalency descriptor by
    Hong et al., Energy Environ. Sci. 8, 1404 (2015): a smaller separation and a larger overlap
    both mean a more covalent TM–O bond.
    """
    from pymatgen.core import Element
    from pymatgen.electronic_structure.core import OrbitalType

    energies = np.asarray(dos.energies) - dos.efermi
    mask = (energies >= window[0]) & (energies <= window[1])
    if mask.sum() < 2:
        raise ValueError("the covalency window holds fewer than two DOS points")

    def normalised(element_list, band):
        total = None
        for element in element_list:
            d = dos.get_element_spd_dos(Element(element))[band].get_densities()
            total = d if total is None else total + d
        rho = np.asarray(total)[mask]
        area = np.trapezoid(rho, energies[mask])
        if area <= 0:
            raise ValueError(f"no {'/'.join(element_list)} {band.name} states in the window")
        return rho / area

    rho_d = normalised(list(tm_elements), OrbitalType.d)
    rho_p = normalised(["O"], OrbitalType.p)
    return float(np.trapezoid(np.minimum(rho_d, rho_p), energies[mask]))


def electronic_descriptors(source, edges: BandEdges | None = None) -> ElectronicDescriptors:
    """O 2p band centre (occupied and full windows, vs E_F and VBM), O 2p width, TM d centre, covalency.

    ``edges``: band edges from the eigenvalues (:func:`band_edges`); without them the VBM comes
    from the DOS, and ``edge_source`` says so.
    """
    dos = load_complete_dos(source)
    if edges is not None:
        vbm, gap, edge_source, levels = edges.vbm, edges.gap, edges.source, edges.defect_levels
    else:
        (vbm, gap), edge_source, levels = valence_band_maximum(dos), "broadened DOS (no eigenvalues)", []
    o2p = band_centre(dos, ["O"], "p", "occupied", vbm)
    o2p_full = band_centre(dos, ["O"], "p", "full", vbm)
    tms = sorted({site.specie.symbol for site in dos.structure} & TRANSITION_METALS)
    tm_d = covalency = separation = None
    if tms:
        tm_d = band_centre(dos, tms, "d", "occupied", vbm)
        tm_d = BandCentre(**{**asdict(tm_d), "orbital": "TM d"})
        covalency = tm_o_covalency(dos, tms)
        separation = tm_d.centre_vs_ef - o2p.centre_vs_ef
    return ElectronicDescriptors(
        efermi=float(dos.efermi),
        vbm=vbm,
        gap=gap,
        edge_source=edge_source,
        defect_levels=levels,
        o2p=o2p,
        o2p_full=o2p_full,
        tm_d=tm_d,
        covalency=covalency,
        dp_separation=separation,
    )
