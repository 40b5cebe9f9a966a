"""Mock VASP: atomate2's VASP jobs run end to end without VASP, for dry runs and tests.

This follows atomate2's own mock-VASP approach (``atomate2.utils.testing.vasp``): the call to
``run_vasp`` is replaced, the inputs each job wrote are checked, and output files appear in the
run folder, which atomate2 then parses with emmet exactly as on a cluster. atomate2 copies
*reference outputs of a real run of the same inputs* into the folder; lrox screens generate new
configurations every time, so no reference run can exist for them. Instead the emulator writes
VASP-format outputs (vasprun.xml, OUTCAR, CONTCAR, OSZICAR; NEB image folders) for the structure
it was given, from lrox's mock calculator (a toy ionic potential) and a model density of states.

Nothing here is physics: the files say so in their generator field ("lrox mock VASP") and the
screen's provenance names the mock backend. What it tests is plumbing: the atomate2 makers and
input sets lrox configures, the inputs they write, emmet's parsing of the outputs, the dynamic NEB
hand-over, lrox's collector, and the descriptor code that reads the run folders.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
from pymatgen.core import Element, Structure

__all__ = ["MockVaspInputError", "VaspRun", "emulate_vasp", "check_inputs", "mock_vasp", "GENERATOR"]

GENERATOR = "lrox mock VASP (toy ionic potential, model DOS: not physics)"

# valence electrons of the PAW potentials the Materials Project input sets choose (POTCAR ZVAL);
# other elements fall back to the electrons outside their noble-gas core
_ZVAL = {
    "Li_sv": 3, "Na_pv": 7, "K_sv": 9, "Mg_pv": 8, "Ca_sv": 10, "Al": 3, "B": 3, "Ga_d": 13, "Ge_d": 14,
    "Sc_sv": 11, "Ti_pv": 10, "V_pv": 11, "Cr_pv": 12, "Mn_pv": 13, "Fe_pv": 14, "Co": 9, "Ni_pv": 16,
    "Cu_pv": 17, "Zn": 12, "Y_sv": 11, "Zr_sv": 12, "Nb_pv": 11, "Mo_pv": 12, "Ru_pv": 14, "Sn_d": 14,
    "Sb": 5, "Ta_pv": 11, "W_pv": 12, "La": 11, "Ce": 12, "O": 6, "F": 7, "S": 6, "P": 5, "N": 5, "C": 4, "H": 1,
}
_NOBLE_Z = (0, 2, 10, 18, 36, 54, 86)
_ORBITALS = ("s", "py", "pz", "px", "dxy", "dyz", "dz2", "dxz", "x2-y2")


class MockVaspInputError(ValueError):
    """A job wrote VASP inputs that contradict what lrox configured (atomate2's fake_run_vasp check)."""


def valence(potcar_symbol: str) -> int:
    """Valence electrons of a POTCAR symbol (``Mn_pv`` → 13)."""
    if potcar_symbol in _ZVAL:
        return _ZVAL[potcar_symbol]
    z = Element(potcar_symbol.split("_")[0]).Z
    return z - max(n for n in _NOBLE_Z if n < z)


def electron_count(structure: Structure, potcar_symbols: list[str]) -> float:
    """NELECT of a neutral cell: the POTCAR valences summed over its sites."""
    return float(sum(valence(symbol) * structure.composition[symbol.split("_")[0]] for symbol in potcar_symbols))


# ----- reading what a job wrote ------------------------------------------------------------------
@dataclass
class VaspRun:
    """The inputs atomate2 wrote into one run folder."""

    folder: Path
    incar: dict
    kpoints: object | None
    potcar_symbols: list[str]
    structures: list[Structure]  # one, or the NEB frames 00..NN
    job_name: str = ""

    @classmethod
    def from_folder(cls, folder: Path, job_name: str = "") -> VaspRun:
        from structures.doors.files import MAX_SPEC_BYTES, exists, read_file_text
        from structures.doors.vasp import read_incar, read_kpoints, read_poscar

        folder = Path(folder)
        incar = read_incar(folder / "INCAR")
        kpoints = read_kpoints(folder / "KPOINTS") if exists(folder / "KPOINTS", "KPOINTS") else None
        spec = folder / "POTCAR.spec"
        if not exists(spec, "POTCAR.spec"):
            raise MockVaspInputError(f"{folder.name}: no POTCAR.spec written")
        symbols = read_file_text(spec, "POTCAR.spec", MAX_SPEC_BYTES).split()
        frames = sorted(folder.glob("[0-9][0-9]"))
        if incar.get("IMAGES"):
            structures = [read_poscar(f / "POSCAR") for f in frames]
        else:
            structures = [read_poscar(folder / "POSCAR")]
        return cls(folder, incar, kpoints, symbols, structures, job_name)

    @property
    def kind(self) -> str:
        if self.incar.get("IMAGES"):
            return "neb"
        if int(self.incar.get("NSW", 0)) > 0 and int(self.incar.get("IBRION", -1)) in (1, 2, 3):
            return "relax"
        return "static"


def check_inputs(run: VaspRun, settings: dict | None = None) -> None:
    """What lrox configures for each kind of job (the science of ``workflows/vasp.py``), checked on the written files.

    Raises :class:`MockVaspInputError` naming the file and key, as atomate2's fake_run_vasp does.
    """
    settings = settings or {}
    incar, where = run.incar, run.folder.name

    def need(key, expected):
        value = incar.get(key)
        if value != expected:
            raise MockVaspInputError(f"{where} ({run.job_name or run.kind}): INCAR {key} = {value!r}, expected {expected!r}")

    species = [sp.symbol for sp in run.structures[0].composition.elements]
    potcar_elements = [s.split("_")[0] for s in run.potcar_symbols]
    # the POSCAR's species blocks in order (an element appears again where lrox's site order has it
    # again: VASP reads one POTCAR per block)
    symbols = [site.specie.symbol for site in run.structures[0]]
    poscar_order = [el for k, el in enumerate(symbols) if k == 0 or symbols[k - 1] != el]
    if potcar_elements != poscar_order:
        raise MockVaspInputError(f"{where}: POTCAR.spec {run.potcar_symbols} does not follow the POSCAR species {poscar_order}")
    if run.kpoints is None and "KSPACING" not in incar:
        raise MockVaspInputError(f"{where}: neither KPOINTS nor KSPACING")
    if run.kpoints is not None and "gamma" not in str(run.kpoints.style).lower():
        raise MockVaspInputError(f"{where}: KPOINTS style {run.kpoints.style}, expected Gamma-centred (force_gamma)")
    need("ISPIN", 2)
    if float(incar.get("ENCUT", 0)) < 520:
        raise MockVaspInputError(f"{where}: ENCUT {incar.get('ENCUT')} below the Materials Project 520 eV")
    # GGA+U exactly where the Materials Project applies it: a U-element beside O or F
    u_elements = {"Co", "Cr", "Fe", "Mn", "Mo", "Ni", "V", "W"}
    wants_u = bool(u_elements & set(species)) and bool({"O", "F"} & set(species))
    if bool(incar.get("LDAU", False)) != wants_u:
        raise MockVaspInputError(f"{where}: LDAU {incar.get('LDAU')} for {sorted(species)} (MP GGA+U: {wants_u})")
    for key, value in settings.get("user_incar_settings", {}).items():
        need(key, value)
    if run.kind == "static":
        need("LORBIT", 11)
        need("NEDOS", settings.get("nedos", 3001))
        need("LAECHG", True)
        need("LCHARG", True)
        need("NSW", 0)
    elif run.kind == "relax":
        need("IBRION", 2)
        # defect cells relax at fixed cell on the relaxed host lattice; the host relaxes its cell
        if "host" in run.job_name or "relax pristine" in run.job_name or "reference Li" in run.job_name:
            need("ISIF", 3)
        elif run.job_name:
            need("ISIF", 2)
    else:
        need("IMAGES", len(run.structures) - 2)
        need("LCLIMB", True)
        need("IBRION", 3)
        need("POTIM", 0)
        need("IOPT", 1)
        need("SPRING", -5)
        if incar.get("ICHAIN", 0) != 0:  # VTST: 0 (or unset) is the nudged elastic band
            raise MockVaspInputError(f"{where}: INCAR ICHAIN = {incar['ICHAIN']!r}, expected 0 (NEB)")
        need("ISIF", 2)
        if len({len(s) for s in run.structures}) != 1:
            raise MockVaspInputError(f"{where}: NEB images differ in atom count")


# ----- emulating the run -------------------------------------------------------------------------
def _mock_ionic_steps(structure: Structure, relax: bool, max_steps: int) -> list[dict]:
    """Energies, forces and stress along a (fixed-cell) BFGS run of the mock calculator."""
    from ase import units
    from ase.optimize import BFGS
    from ase.stress import voigt_6_to_full_3x3_stress
    from pymatgen.io.ase import AseAtomsAdaptor

    from workflows.calculators import mock_calculator

    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = mock_calculator()
    steps = []

    def record():
        # VASP prints the stress in kB with pressure positive: the opposite sign of ASE's eV/Å^3
        stress = -voigt_6_to_full_3x3_stress(atoms.get_stress()) / units.GPa * 10.0
        steps.append(
            {
                "structure": AseAtomsAdaptor.get_structure(atoms),
                "energy": float(atoms.get_potential_energy()),
                "forces": atoms.get_forces().copy(),
                "stress": stress,
            }
        )

    if not relax:
        record()
        return steps
    # BFGS's irun yields once before the first step and once after each step
    for _ in BFGS(atoms, logfile=None).irun(fmax=0.05, steps=max_steps - 1):
        record()
    return steps


def _model_dos(structure: Structure, n_points: int, ispin: int) -> tuple[float, np.ndarray, dict]:
    """A model projected DOS: O 2p valence band, cation d states at its top, a 2 eV gap.

    Gaussians cut to a valence window (up to a VBM at -0.2 eV) and a conduction window (from a
    CBM at 1.8 eV), so the gap is empty as in an insulator. Plumbing only: the descriptor code
    reads it like a real DOS, and the backend says 'mock'.
    """
    energies = np.linspace(-20.0, 10.0, n_points)
    efermi, vbm, cbm = 0.0, -0.2, 1.8

    def band(center, width, weight, lo, hi):
        inside = (energies >= lo) & (energies <= hi)
        return inside * weight * np.exp(-0.5 * ((energies - center) / width) ** 2) / (width * np.sqrt(2 * np.pi))

    def valence(center, width, weight):
        return band(center, width, weight, -20.0, vbm)

    def conduction(center, width, weight):
        return band(center, width, weight, cbm, 10.0)

    pdos = {}
    for index, site in enumerate(structure):
        symbol = site.specie.symbol
        columns = np.zeros((len(_ORBITALS), n_points))
        if symbol == "O":
            columns[0] = valence(-18.0, 0.5, 2.0 / ispin)
            for k in (1, 2, 3):  # O 2p: 6 electrons over both spins, a little weight above the gap
                columns[k] = valence(-3.5, 1.0, 2.0 / ispin) + conduction(3.5, 0.8, 0.1)
        elif symbol == "Li":
            columns[0] = valence(-3.5, 1.0, 0.05) + conduction(5.0, 1.5, 0.2)
        else:
            for k in range(4, 9):
                columns[k] = valence(-1.2, 0.4, 0.5) + conduction(3.0, 0.5, 0.3)
        pdos[index] = columns
    return efermi, energies, pdos


def model_ionic_charges(structure: Structure) -> list[float]:
    """The net charges the model density gives each site: Li +1, O -2, the other cations sharing the rest equally."""
    n_li = sum(site.specie.symbol == "Li" for site in structure)
    n_o = sum(site.specie.symbol == "O" for site in structure)
    others = len(structure) - n_li - n_o
    share = (2.0 * n_o - n_li) / others if others else 0.0
    return [1.0 if site.specie.symbol == "Li" else -2.0 if site.specie.symbol == "O" else share for site in structure]


def _write_densities(folder: Path, structure: Structure, potcar_symbols: list[str], ispin: int, spacing: float = 0.12) -> None:
    """CHGCAR, AECCAR0 and AECCAR2 of a model valence density: one Gaussian per atom holding its
    valence electrons minus its model ionic charge (:func:`model_ionic_charges`), so a Bader
    analysis of the files must give those charges back."""
    from pymatgen.io.vasp import Chgcar, Poscar

    lattice = structure.lattice
    grid = [max(8, int(np.ceil(length / spacing))) for length in lattice.abc]
    frac = np.stack(np.meshgrid(*[np.arange(n) / n for n in grid], indexing="ij"), axis=-1).reshape(-1, 3)
    zval = {sym.split("_")[0]: valence(sym) for sym in potcar_symbols}
    rho = np.zeros(len(frac))
    for site, charge in zip(structure, model_ionic_charges(structure)):
        delta = frac - site.frac_coords
        delta -= np.round(delta)
        r2 = np.sum((delta @ lattice.matrix) ** 2, axis=1)
        width = 0.35  # Å: well inside half of any cation-anion distance
        rho += (zval[site.specie.symbol] - charge) * np.exp(-0.5 * r2 / width**2) / ((2 * np.pi) ** 1.5 * width**3)
    # CHGCAR holds rho * V on the grid; renormalise the sampled Gaussians to the exact electron count
    total = rho.reshape(grid) * lattice.volume
    total *= sum(zval[site.specie.symbol] for site in structure) / (total.sum() / total.size)
    poscar = Poscar(structure)
    data = {"total": total} if ispin == 1 else {"total": total, "diff": np.zeros_like(total)}
    Chgcar(poscar, data).write_file(str(folder / "CHGCAR"))
    Chgcar(poscar, {"total": total}).write_file(str(folder / "AECCAR2"))
    Chgcar(poscar, {"total": np.zeros_like(total)}).write_file(str(folder / "AECCAR0"))


def _fmt_v(rows) -> str:
    return "\n".join("    <v>" + " ".join(f"{x:16.8f}" for x in row) + " </v>" for row in rows)


def _structure_xml(structure: Structure, name: str | None = None) -> str:
    attr = f' name="{name}"' if name else ""
    lattice = structure.lattice
    return (
        f"  <structure{attr}>\n   <crystal>\n   <varray name=\"basis\">\n{_fmt_v(lattice.matrix)}\n   </varray>\n"
        f"   <i name=\"volume\">{lattice.volume:16.8f} </i>\n   <varray name=\"rec_basis\">\n"
        f"{_fmt_v(lattice.reciprocal_lattice_crystallographic.matrix)}\n   </varray>\n   </crystal>\n"
        f"   <varray name=\"positions\">\n{_fmt_v(structure.frac_coords)}\n   </varray>\n  </structure>\n"
    )


def _incar_item(key: str, value) -> str:
    if isinstance(value, bool):
        return f'  <i type="logical" name="{key}"> {"T" if value else "F"} </i>'
    if isinstance(value, int):
        return f'  <i type="int" name="{key}">{value}</i>'
    if isinstance(value, float):
        return f'  <i name="{key}">{value:.8f}</i>'
    if isinstance(value, list):
        kind = ' type="int"' if all(isinstance(x, int) for x in value) else ""
        return f'  <v{kind} name="{key}">' + " ".join(str(x) for x in value) + "</v>"
    return f'  <i type="string" name="{key}">{escape(str(value))}</i>'


def write_vasprun(path: Path, run: VaspRun, structure: Structure, steps: list[dict], nelect: float, dos: bool) -> int:
    """A vasprun.xml that pymatgen's ``Vasprun`` and emmet read like VASP's own; returns NBANDS."""
    incar = run.incar
    ispin = int(incar.get("ISPIN", 1))
    nelm = int(incar.get("NELM", 60))
    nbands = int(incar.get("NBANDS", max(int(np.ceil(nelect / 2 + len(structure) / 2)), 8)))
    parameters = {
        "NELECT": float(nelect), "NBANDS": nbands, "ISPIN": ispin, "NELM": nelm, "NSW": int(incar.get("NSW", 0)),
        "IBRION": int(incar.get("IBRION", -1)), "ISIF": int(incar.get("ISIF", 2)), "EDIFF": float(incar.get("EDIFF", 1e-4)),
        "EDIFFG": float(incar.get("EDIFFG", 10 * float(incar.get("EDIFF", 1e-4)))), "ENCUT": float(incar.get("ENCUT", 520)),
        "ISMEAR": int(incar.get("ISMEAR", 1)), "SIGMA": float(incar.get("SIGMA", 0.2)), "LORBIT": int(incar.get("LORBIT", 0)),
        "NEDOS": int(incar.get("NEDOS", 301)), "GGA": "--", "METAGGA": "--", "LHFCALC": False, "LUSE_VDW": False,
        "LDAU": bool(incar.get("LDAU", False)), "LEPSILON": False, "LOPTICS": False, "LCALCEPS": False, "IMAGES": int(incar.get("IMAGES", 0)),
        "MAGMOM": [float(m) for m in incar.get("MAGMOM", [0.0] * len(structure))],
    }
    # VASP lists every INCAR tag among its parameters too (with its own defaults for the rest)
    parameters = {**{k: v for k, v in incar.items() if not isinstance(v, dict)}, **parameters}
    # atom types are the POSCAR's species blocks, as in VASP (an element again where the site order has it again)
    symbols = [site.specie.symbol for site in structure]
    block_of, species, counts = [], [], []
    for k, el in enumerate(symbols):
        if k == 0 or symbols[k - 1] != el:
            species.append(el)
            counts.append(0)
        counts[-1] += 1
        block_of.append(len(species))
    lines = ['<?xml version="1.0" encoding="ISO-8859-1"?>', "<modeling>", " <generator>",
             '  <i name="program" type="string">vasp </i>', '  <i name="version" type="string">6.4.2 </i>',
             f'  <i name="subversion" type="string">{escape(GENERATOR)} </i>', '  <i name="platform" type="string">mock </i>',
             f'  <i name="date" type="string">{time.strftime("%Y %m %d")} </i>', f'  <i name="time" type="string">{time.strftime("%H:%M:%S")} </i>',
             " </generator>", " <incar>"]
    lines += [_incar_item(k, v) for k, v in incar.items() if not isinstance(v, dict)]
    lines += [" </incar>", " <kpoints>"]
    divisions = list(run.kpoints.kpts[0]) if run.kpoints is not None and run.kpoints.kpts else [1, 1, 1]
    lines += ['  <generation param="Gamma">', '   <v type="int" name="divisions">' + " ".join(str(int(d)) for d in divisions) + " </v>",
              '   <v name="usershift">0 0 0 </v>', "  </generation>", '  <varray name="kpointlist">', "   <v> 0.0 0.0 0.0 </v>",
              "  </varray>", '  <varray name="weights">', "   <v> 1.0 </v>", "  </varray>", " </kpoints>", " <parameters>",
              '  <separator name="mock">']
    lines += ["  " + _incar_item(k, v) for k, v in parameters.items()]
    lines += ["  </separator>", " </parameters>", " <atominfo>", f"  <atoms>{len(structure)}</atoms>", f"  <types>{len(species)}</types>",
              '  <array name="atoms">', '   <dimension dim="1">ion</dimension>', '   <field type="string">element</field>',
              '   <field type="int">atomtype</field>', "   <set>"]
    lines += [f"    <rc><c>{site.specie.symbol}</c><c>{block}</c></rc>" for site, block in zip(structure, block_of)]
    lines += ["   </set>", "  </array>", '  <array name="atomtypes">', '   <dimension dim="1">type</dimension>',
              '   <field type="int">atomspertype</field>', '   <field type="string">element</field>', "   <field>mass</field>",
              "   <field>valence</field>", '   <field type="string">pseudopotential</field>', "   <set>"]
    for sp, n, symbol in zip(species, counts, run.potcar_symbols):
        lines.append(f"    <rc><c>{n}</c><c>{sp}</c><c>{float(Element(sp).atomic_mass):.8f}</c><c>{valence(symbol):.8f}</c><c>PAW_PBE {symbol} mock</c></rc>")
    lines += ["   </set>", "  </array>", " </atominfo>", _structure_xml(steps[0]["structure"], "initialpos").rstrip("\n")]
    for step in steps:
        energy = step["energy"]
        lines.append(" <calculation>")
        for k in range(3):  # a few SCF steps, converged well inside NELM
            e = energy + 10.0 ** (-k - 1)
            lines.append(f'  <scstep>\n   <energy>\n    <i name="e_fr_energy">{e:16.8f} </i>\n    <i name="e_wo_entrp">{e:16.8f} </i>\n    <i name="e_0_energy">{e:16.8f} </i>\n   </energy>\n  </scstep>')
        lines.append(_structure_xml(step["structure"]).rstrip("\n"))
        lines.append('  <varray name="forces">\n' + _fmt_v(step["forces"]) + "\n  </varray>")
        lines.append('  <varray name="stress">\n' + _fmt_v(step["stress"]) + "\n  </varray>")
        lines.append(f'  <energy>\n   <i name="e_fr_energy">{energy:16.8f} </i>\n   <i name="e_wo_entrp">{energy:16.8f} </i>\n   <i name="e_0_energy">{energy:16.8f} </i>\n  </energy>')
        if step is steps[-1]:
            lines += _eigenvalues_xml(nbands, nelect, ispin)
            # VASP always writes the total DOS; the projected one with LORBIT
            lines += _dos_xml(structure, parameters["NEDOS"], ispin, projected=dos and parameters["LORBIT"] >= 10)
        lines.append(" </calculation>")
    lines += [_structure_xml(steps[-1]["structure"], "finalpos").rstrip("\n"), "</modeling>", ""]
    path.write_text("\n".join(lines))
    return nbands


def _eigenvalues_xml(nbands: int, nelect: float, ispin: int) -> list[str]:
    """Γ-point levels: occupied ones below E_F = 0 up to a VBM at -0.2 eV, a 2 eV gap above."""
    occupied = round(nelect / 2)  # bands per spin channel; VASP writes occupations in [0, 1] either way
    lines = ["  <eigenvalues>", "   <array>", '    <dimension dim="1">band</dimension>', '    <dimension dim="2">kpoint</dimension>',
             '    <dimension dim="3">spin</dimension>', "    <field>eigene</field>", "    <field>occ</field>", "    <set>"]
    for spin in range(ispin):
        lines.append(f'     <set comment="spin {spin + 1}">')
        lines.append('      <set comment="kpoint 1">')
        for band in range(nbands):
            if band < occupied:
                e, occ = -0.2 - 8.0 * (occupied - 1 - band) / max(occupied - 1, 1), 1.0
            else:
                e, occ = 1.8 + 0.1 * (band - occupied), 0.0
            lines.append(f"       <r>{e:10.4f} {occ:8.4f} </r>")
        lines += ["      </set>", "     </set>"]
    lines += ["    </set>", "   </array>", "  </eigenvalues>"]
    return lines


def _dos_xml(structure: Structure, n_points: int, ispin: int, projected: bool) -> list[str]:
    efermi, energies, pdos = _model_dos(structure, n_points, ispin)
    total = sum(p.sum(axis=0) for p in pdos.values())
    integrated = np.cumsum(total) * (energies[1] - energies[0])
    lines = ["  <dos>", f'   <i name="efermi">{efermi:12.8f} </i>', "   <total>", "    <array>", '     <dimension dim="1">gridpoints</dimension>',
             '     <dimension dim="2">spin</dimension>', "     <field>energy</field>", "     <field>total</field>", "     <field>integrated</field>", "     <set>"]
    for spin in range(ispin):
        lines.append(f'      <set comment="spin {spin + 1}">')
        lines += [f"       <r>{e:10.4f} {t:12.4f} {i:12.4f} </r>" for e, t, i in zip(energies, total, integrated)]
        lines.append("      </set>")
    lines += ["     </set>", "    </array>", "   </total>"]
    if not projected:
        return [*lines, "  </dos>"]
    lines += ["   <partial>", "    <array>", '     <dimension dim="1">gridpoints</dimension>',
              '     <dimension dim="2">spin</dimension>', '     <dimension dim="3">ion</dimension>', "     <field>energy</field>"]
    lines += [f"     <field>{orb}</field>" for orb in _ORBITALS]
    lines.append("     <set>")
    for index in range(len(structure)):
        lines.append(f'      <set comment="ion {index + 1}">')
        for spin in range(ispin):
            lines.append(f'       <set comment="spin {spin + 1}">')
            columns = pdos[index]
            lines += ["        <r>" + f"{e:10.4f}" + "".join(f"{c:10.4f}" for c in columns[:, k]) + " </r>" for k, e in enumerate(energies)]
            lines.append("       </set>")
        lines.append("      </set>")
    lines += ["     </set>", "    </array>", "   </partial>", "  </dos>"]
    return lines


def write_outcar(path: Path, steps: list[dict], nelect: float, magmoms: list[float], nbands: int, incar: dict) -> None:
    """An OUTCAR with what pymatgen's ``Outcar`` and emmet read: energies, E-fermi, electrons, drift, timing."""
    lines = [f" vasp.6.4.2 {GENERATOR}", " executed on             mock date " + time.strftime("%Y.%m.%d  %H:%M:%S"), " running on    1 total cores", "",
             f"   k-points           NKPTS =      1   k-points in BZ     NKDIM =      1   number of bands    NBANDS= {nbands:6d}",
             "   total plane-waves  NPLWV =   1000", f"   ISPIN  = {int(incar.get('ISPIN', 1)):6d}    spin polarized calculation?",
             f"   IBRION = {int(incar.get('IBRION', -1)):6d}    ionic relax: 0-MD 1-quasi-New 2-CG", ""]
    for step in steps:
        lines += [f" number of electron {nelect:15.7f} magnetization {sum(magmoms):15.7f}", " E-fermi :   0.0000     XC(G=0):  -1.0000     alpha+bet : -1.0000", "",
                  "  FREE ENERGIE OF THE ION-ELECTRON SYSTEM (eV)", "  ---------------------------------------------------",
                  f"  free  energy   TOTEN  = {step['energy']:18.8f} eV", "",
                  f"  energy  without entropy= {step['energy']:18.8f}  energy(sigma->0) = {step['energy']:18.8f}", "",
                  "    total drift:                                0.000000      0.000000      0.000000", ""]
    if magmoms:  # the moments stay at their initial values: the mock has no spin
        lines += [" magnetization (x)", "", "# of ion       s       p       d       tot", "------------------------------------------"]
        lines += [f"{k + 1:5d}        0.000   0.000   {m:6.3f}   {m:6.3f}" for k, m in enumerate(magmoms)]
        lines += ["--------------------------------------------------", f"tot          0.000   0.000   {sum(magmoms):6.3f}   {sum(magmoms):6.3f}", ""]
    lines += [" General timing and accounting informations for this job:", " ========================================================", "",
              "                  Total CPU time used (sec):        0.100", "                            User time (sec):        0.100",
              "                          System time (sec):        0.000", "                         Elapsed time (sec):        0.100", "",
              "                   Maximum memory used (kb):       1000.", "                   Average memory used (kb):          0.", ""]
    path.write_text("\n".join(lines))


def _run_folder(run: VaspRun, folder: Path, structure: Structure, relax: bool, dos: bool) -> float:
    nelect = electron_count(structure, run.potcar_symbols)
    steps = _mock_ionic_steps(structure, relax=relax, max_steps=min(int(run.incar.get("NSW", 1)) or 1, 20))
    magmoms = [float(m) for m in run.incar.get("MAGMOM", [])]
    magmom = sum(magmoms)
    nbands = write_vasprun(folder / "vasprun.xml", run, structure, steps, nelect, dos=dos)
    write_outcar(folder / "OUTCAR", steps, nelect, magmoms, nbands, run.incar)
    steps[-1]["structure"].to(filename=str(folder / "CONTCAR"), fmt="poscar")
    if dos and run.incar.get("LAECHG") and run.incar.get("LCHARG", True):
        _write_densities(folder, steps[-1]["structure"], run.potcar_symbols, int(run.incar.get("ISPIN", 1)))
    (folder / "OSZICAR").write_text(
        "".join(f"{k + 1:4d} F= {s['energy']:.8E} E0= {s['energy']:.8E}  d E =0.0  mag= {magmom:.4f}\n" for k, s in enumerate(steps))
    )
    return steps[-1]["energy"]


def emulate_vasp(folder: Path, job_name: str = "", settings: dict | None = None) -> VaspRun:
    """Check the inputs in ``folder`` and write mock outputs there (NEB: in each image folder)."""
    run = VaspRun.from_folder(folder, job_name)
    check_inputs(run, settings)
    if run.kind == "neb":
        frames = sorted(Path(folder).glob("[0-9][0-9]"))
        for frame, structure in zip(frames[1:-1], run.structures[1:-1]):
            _run_folder(run, frame, structure, relax=False, dos=False)
    else:
        _run_folder(run, Path(folder), run.structures[0], relax=run.kind == "relax", dos=run.kind == "static")
    return run


@contextlib.contextmanager
def mock_vasp(settings: dict | None = None, crash: list[str] | None = None, references: dict[str, str | Path] | None = None):
    """Inside this block atomate2's VASP jobs run the emulator instead of VASP (atomate2's monkeypatch_vasp way).

    Yields the list of emulated runs (inputs checked, kind, job name), so tests can see what ran.
    Jobs whose name contains a ``crash`` token die as a VASP run killed on a cluster does: no
    outputs, the job raises, the screen records it as failed and goes on. A job named in
    ``references`` (job name → folder with ``inputs/`` and ``outputs/``, atomate2's layout, e.g.
    from a real run of that job) goes through atomate2's own ``fake_run_vasp`` instead: its
    inputs are compared with the reference inputs and the reference outputs are copied in.
    POTCARs are written as POTCAR.spec (no POTCAR files are needed, or shipped) and the electron
    count comes from the potentials' valences.
    """
    import atomate2.vasp.jobs.base
    import atomate2.vasp.jobs.neb
    import atomate2.vasp.run
    from jobflow import CURRENT_JOB
    from pymatgen.io.vasp.sets import VaspInputSet

    runs: list[VaspRun] = []

    def fake_run_vasp(*_args, **_kwargs):
        name = CURRENT_JOB.job.name if CURRENT_JOB.job is not None else ""
        if any(token and token in name for token in crash or []):
            raise RuntimeError(f"mock VASP run '{name}' crashed (forced by the spec's mock.crash)")
        if references and name in references:
            from atomate2.utils.testing.vasp import fake_run_vasp as atomate2_fake_run_vasp

            atomate2_fake_run_vasp(Path(references[name]))
            runs.append(VaspRun(Path.cwd(), {}, None, [], [], name))
            return
        runs.append(emulate_vasp(Path.cwd(), name, settings))

    original_get_input_set = VaspInputSet.get_input_set

    def get_input_set_with_spec(self, *args, **kwargs):
        kwargs["potcar_spec"] = True
        return original_get_input_set(self, *args, **kwargs)

    def nelect(self) -> float:
        return electron_count(self.structure, self.potcar_symbols)

    patches = [
        (atomate2.vasp.run, "run_vasp", fake_run_vasp),
        (atomate2.vasp.jobs.base, "run_vasp", fake_run_vasp),
        (atomate2.vasp.jobs.neb, "run_vasp", fake_run_vasp),
        (VaspInputSet, "get_input_set", get_input_set_with_spec),
        (VaspInputSet, "nelect", property(nelect)),
    ]
    saved = [(owner, name, owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)) for owner, name, _ in patches]
    try:
        for owner, name, value in patches:
            setattr(owner, name, value)
        yield runs
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


