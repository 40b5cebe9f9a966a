"""Every command the README and its reference pages show runs as written.

Each ```bash block of README.md and of docs/*.md is run line by line, in-process, in a fresh folder that sees the
project's examples. Placeholders are filled from the runs themselves (a configuration folder the
enumerate line wrote, a relaxed cell and an NEB calculation of the main job). The main job itself
(``make demo``: SevenNet-0 and GPAW, about 27 minutes) runs here on the mock backend; ``make test`` is
this suite.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


DOCS = ("structures", "screens", "database", "clusters", "errors", "benchmarks", "development")  # in reading order


def readme_commands() -> list[str]:
    """Every line of every bash block of the README and of the reference pages it links (docs/)."""
    lines = []
    for page in [ROOT / "README.md", *(ROOT / "docs" / f"{name}.md" for name in DOCS)]:
        for block in re.findall(r"```bash\n(.*?)```", page.read_text(), flags=re.S):
            lines += [line for line in block.splitlines() if line.strip()]
    return lines


def test_the_readme_links_every_reference_page():
    text = (ROOT / "README.md").read_text()
    assert sorted(p.stem for p in (ROOT / "docs").glob("*.md")) == sorted(DOCS)
    assert all(f"(docs/{name}.md)" in text for name in DOCS)


def test_every_readme_command_runs_as_written(tmp_path, monkeypatch):
    from launch.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.delenv("LROX_DB", raising=False)
    # a mock run of the main job first: the relaxed cell and NEB id the README's placeholders name
    assert main(["run", "examples/li2mno3_quick.yaml", "--backend", "mock"]) == 0
    _placeholders_from_the_main_job(tmp_path)
    ran, skipped = [], []
    for line in readme_commands():
        args = shlex.split(line, comments=True)
        if args[:2] in (["make", "demo"], ["make", "test"]):
            skipped.append(line)  # make test is this suite; make demo's job runs below on the mock backend
            continue
        assert args[0] == "lrox", f"README shows a command lrox cannot run here: {line}"
        args = args[1:]
        if args == ["run", "examples/li2mno3_quick.yaml"]:
            args = [*args, "--backend", "mock"]  # the main job's graph, minutes of CHGNet and GPAW left out
        args = [_fill(a, tmp_path) for a in args]
        code = main(args)
        assert code == 0, f"README command failed: {line}"
        ran.append(line)
    assert len(ran) >= 20 and len(skipped) == 2
    assert (tmp_path / "report.html").stat().st_size > 10000 and (tmp_path / "neb.png").exists()


def _fill(arg: str, folder: Path) -> str:
    if "<id>" in arg:
        configs = sorted(p.name for p in (folder / "runs").iterdir())
        return arg.replace("<id>", configs[-1])
    if arg == "HOP_OR_CALC_ID":
        return (folder / "neb_calculation_id").read_text()
    return arg


def _placeholders_from_the_main_job(folder: Path) -> None:
    """A relaxed cell to read back (my_relaxed_cell.vasp) and an NEB calculation id (for plot neb)."""
    from pymatgen.core import Structure

    from descriptors.store.database import DescriptorDatabase
    from descriptors.query.hops import query_hops

    result = json.loads((folder / "lrox-out" / "li2mno3_quick" / "results.json").read_text())
    relaxed = next(d for d in result["documents"] if d["kind"] == "relax" and d["status"] == "success")
    Structure.from_dict(relaxed["structure"]).to(filename=str(folder / "my_relaxed_cell.vasp"), fmt="poscar")
    hop = next(h for h in query_hops(DescriptorDatabase("sqlite:///lrox-out/lrox.db", read_only=True)) if h["calculation_id"])
    (folder / "neb_calculation_id").write_text(hop["calculation_id"])


def test_readme_opens_with_the_two_newcomer_commands():
    first = readme_commands()[:2]
    assert [shlex.split(line, comments=True) for line in first] == [["make", "demo"], ["make", "test"]]
    makefile = (ROOT / "Makefile").read_text()
    assert "demo: setup" in makefile and "test: setup" in makefile and "system-packages" in makefile
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci  # CI runs the README's test command
