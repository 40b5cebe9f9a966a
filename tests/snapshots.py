"""Row-for-row snapshots of the databases the tests build, to compare two revisions of lrox.

A change that claims to change no number (a redesign, a refactor) is checked by building the same
databases with both revisions, in the same folder, and comparing every row:

    python -m tests.snapshots OUT.json [--work DIR]

builds, in ``DIR`` (default ``/tmp/lrox-snapshots``; both revisions must use the same one, since
ingested rows name their source paths):

* ``mock``: ``lrox run examples/mock_quick.yaml`` (the mock screen);
* ``mock_vasp``: ``lrox run examples/mock_vasp_quick.yaml`` (atomate2's VASP jobs, VASP emulated);
* ``vasp_folders``: ``lrox ingest`` of a tree of the shared real VASP outputs (relaxation, DOS,
  Bader and NEB folders, and damaged copies);
* ``report``: ``lrox report`` of the committed design-rules example, its date line removed;

and writes every row of each database (ingestion and wall-clock times left out: they differ
between any two runs) and the report's text to ``OUT.json``. Two such files are compared with
``python -m tests.snapshots --compare A.json B.json``, which prints each difference and exits 1 on
any.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _shared() -> Path:
    for candidate in (os.environ.get("LROX_SHARED"), ROOT.parent / "shared", "/work/shared"):
        if candidate and (Path(candidate) / "vasp-reference").is_dir():
            return Path(candidate)
    raise SystemExit("the shared VASP reference pack is not present")


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in ("wall_time", "endpoint_time", "ingested_at")}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _rows(url: str) -> dict:
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    out = {}
    with engine.connect() as connection:
        for table in sorted(inspect(engine).get_table_names()):
            rows = [dict(r._mapping) for r in connection.execute(text(f"SELECT * FROM {table}"))]
            for row in rows:
                if table == "descriptors":
                    row.pop("id", None)  # an autoincrement number: insertion order, not content
                for key, value in list(row.items()):
                    if isinstance(value, str) and value[:1] in "[{":
                        try:
                            row[key] = json.loads(value)
                        except ValueError:
                            pass
            rows = _without_timings(json.loads(json.dumps(rows, default=str)))
            out[table] = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))
    engine.dispose()
    return out


def _lrox(*args: str, cwd: Path) -> None:
    import subprocess

    done = subprocess.run([sys.executable, "-m", "launch.cli", *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode != 0:
        raise SystemExit(f"lrox {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def _vasp_tree(root: Path) -> Path:
    """The shared VASP outputs as run folders, with damaged copies (as the ingest test builds them)."""
    ref = _shared() / "vasp-reference"
    runs = root / "runs"
    shutil.copytree(ref / "neb", runs / "neb")
    shutil.copytree(ref / "bader/pyiron_H2O_bader", runs / "h2o")
    for name in ("pymatgen_LiFeO2_pbesol_relax_pdos", "pymatgen_LiFe4P4O16_relax_pdos", "pymatgen_LiFePO4_GGAU_relax_pdos"):
        folder = runs / "dos" / name
        folder.mkdir(parents=True)
        for file in (ref / "dos" / name).iterdir():
            target = "vasprun.xml.gz" if file.name.startswith("vasprun") and file.name.endswith(".gz") else file.name
            shutil.copy(file, folder / target)
    shutil.copytree(ref / "relax/pymatgen_LiNi2O4_relax", runs / "relax")
    truncated = runs / "truncated"
    truncated.mkdir()
    text = gzip.open(ref / "dos/pymatgen_LiFeO2_pbesol_relax_pdos/vasprun.pbesol.xml.gz", "rt").read()
    (truncated / "vasprun.xml").write_text(text[: len(text) // 3])
    cut = runs / "cut_outcar"
    cut.mkdir()
    outcar = gzip.open(ref / "relax/pymatgen_LiNi2O4_relax/OUTCAR.gz", "rt").read()
    (cut / "OUTCAR").write_text(outcar[: len(outcar) // 2])
    (cut / "CONTCAR").write_text("")
    return runs


def build(out: Path, work: Path) -> dict:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    snapshot = {}
    for name, spec in (("mock", "mock_quick.yaml"), ("mock_vasp", "mock_vasp_quick.yaml")):
        folder = work / name
        folder.mkdir()
        url = f"sqlite:///{folder / 'lrox.db'}"
        _lrox("run", str(ROOT / "examples" / spec), "--db", url, cwd=folder)
        snapshot[name] = _rows(url)
    runs = _vasp_tree(work / "vasp")
    url = f"sqlite:///{work / 'vasp' / 'lrox.db'}"
    _lrox("ingest", str(runs), "--db", url, cwd=work / "vasp")
    snapshot["vasp_folders"] = _rows(url)
    example = work / "example.db"
    shutil.copy(ROOT / "examples" / "li2mno3_design_rules.db", example)
    _lrox("report", str(work / "report.html"), "--db", f"sqlite:///{example}", cwd=work)
    html = (work / "report.html").read_text()
    snapshot["report"] = re.sub(r"written \d{4}-\d\d-\d\d \d\d:\d\d UTC", "written <date>", html)
    out.write_text(json.dumps(snapshot, sort_keys=True, indent=0))
    return snapshot


def compare(a: dict, b: dict) -> list[str]:
    differences = []
    for key in sorted(set(a) | set(b)):
        if key not in a or key not in b:
            differences.append(f"{key}: only in {'second' if key not in a else 'first'}")
            continue
        if key == "report":
            if a[key] != b[key]:
                differences.append("report: the HTML differs beyond its date")
            continue
        for table in sorted(set(a[key]) | set(b[key])):
            rows_a, rows_b = a[key].get(table, []), b[key].get(table, [])
            if rows_a != rows_b:
                only_a = [r for r in rows_a if r not in rows_b]
                only_b = [r for r in rows_b if r not in rows_a]
                differences.append(f"{key}.{table}: {len(rows_a)} against {len(rows_b)} rows; {len(only_a)} only in the first, {len(only_b)} only in the second")
                for row in (only_a + only_b)[:3]:
                    differences.append("    " + json.dumps(row, sort_keys=True)[:400])
    return differences


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/lrox-snapshots"))
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"))
    args = parser.parse_args(argv)
    if args.compare:
        differences = compare(*(json.loads(p.read_text()) for p in args.compare))
        print("\n".join(differences) if differences else "identical: every row of every database, and the report")
        return 1 if differences else 0
    if args.out is None:
        parser.error("give OUT.json or --compare A B")
    snapshot = build(args.out.resolve(), args.work)
    print(f"{args.out}: " + ", ".join(f"{k}: {sum(len(v) for v in t.values())} rows" for k, t in snapshot.items() if k != "report"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
