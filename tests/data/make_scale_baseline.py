"""Writes tests/data/scale_baseline_62b8212.json.xz: what lrox wrote before the scale work (issue 32),
for tests/test_scale.py to hold the faster code to.

Run it with the code of commit 62b8212 (ASE's neighbour list, pymatgen's POSCAR writer, atomate2's
input writer) on the path, from an empty folder:

    git worktree add /tmp/lrox-62b8212 62b8212
    cd "$(mktemp -d)" && PYTHONPATH=/tmp/lrox-62b8212 python /path/to/tests/data/make_scale_baseline.py OUT.json.xz

It records (1) the IDPP images of three hops (the 240-atom Li-rich host, a user's P1 cell, a hop
with an O vacancy on its edge), with their end points, and (2) INCAR, KPOINTS, POTCAR.spec and
POSCAR of every calculation of a small VASP screen's dry run (SMALL_SCREEN).
"""

from __future__ import annotations

import json
import lzma
import sys
from pathlib import Path

import numpy as np

SMALL_SCREEN = {
    "name": "small_vasp_screen",
    "host": "li2mno3",
    "supercell": "1x1x1",
    "dopants": ["Ti:Mn"],
    "vacancies": ["O", "Li"],
    "pair_cutoff": 2.0,
    "pair_kinds": ["dopant-vacancy"],
    "hops": {"per_configuration": 1},
    "backend": "vasp",
}
INPUT_FILES = ("INCAR", "KPOINTS", "POTCAR.spec", "POSCAR")


def p1_host(folder: Path):
    """Li2MnO3 with every atom moved at random by up to 0.08 Å (seeded): no symmetry left."""
    from structures.hosts import load_host

    structure = load_host("li2mno3").structure.copy()
    for key in list(structure.site_properties):
        structure.remove_site_property(key)
    rng = np.random.default_rng(32)
    moves = rng.normal(size=(len(structure), 3))
    moves *= (0.08 * rng.random(len(structure)) / np.linalg.norm(moves, axis=1))[:, None]
    for k, move in enumerate(moves):
        structure.translate_sites([k], move, frac_coords=False, to_unit_cell=True)
    path = folder / "POSCAR_p1"
    structure.to(filename=str(path), fmt="poscar")
    return load_host(path)


def hop_cases(folder: Path) -> list[tuple]:
    from structures.configurations import enumerate_singles
    from structures.framework import DefectFramework, framework_for_host
    from structures.hops import enumerate_hops, hop_endpoints
    from structures.hosts import load_host
    from structures.sublattices import parse_vacancy

    lirich = framework_for_host(load_host("lirich"), supercell=None, min_distance=9, max_atoms=250)
    vacancy = enumerate_singles(lirich, parse_vacancy("O"))[0]
    on_edge = next(h for h in enumerate_hops(lirich, vacancy, max_defect_distance=4.0) if h.vacant_edge_points)
    p1 = DefectFramework.from_host(p1_host(folder), (2, 1, 1))
    return [
        ("lirich pristine hop", hop_endpoints(lirich, None, enumerate_hops(lirich)[0])),
        ("P1 cell hop", hop_endpoints(p1, None, enumerate_hops(p1)[0])),
        ("lirich hop with an O vacancy on its edge", hop_endpoints(lirich, vacancy, on_edge)),
    ]


def main(out: str) -> None:
    from structures.hops import interpolate_hop
    from workflows.dryrun import dry_run
    from workflows.spec import spec_from_dict

    folder = Path.cwd()
    bands = []
    for name, (initial, final) in hop_cases(folder):
        images = interpolate_hop(initial, final, n_images=5)
        bands.append({
            "case": name,
            "lattice": initial.lattice.matrix.tolist(),
            "species": [site.species_string for site in initial],
            "initial": initial.frac_coords.tolist(),
            "final": final.frac_coords.tolist(),
            "images": [image.frac_coords.tolist() for image in images],
        })
    tree = folder / "dry"
    dry_run(spec_from_dict(SMALL_SCREEN), tree)
    files = {str(p.relative_to(tree)): p.read_text() for p in sorted(tree.rglob("*")) if p.name in INPUT_FILES}
    payload = {"commit": "62b8212", "small_screen": SMALL_SCREEN, "bands": bands, "dry_run_files": files}
    Path(out).write_bytes(lzma.compress(json.dumps(payload).encode(), preset=9))


if __name__ == "__main__":
    main(sys.argv[1])
