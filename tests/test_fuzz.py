"""Random input into every command, in-process: one error line, exit 2, no traceback, nothing written.

Random bytes stand in for every file lrox reads, random YAML for specs, random numbers (NaN,
infinities, huge and negative values) for every numeric option. A random spec that happens to be
valid is run only as a dry run. Example counts are capped so the whole file stays well under two
minutes.
"""

from __future__ import annotations

import contextlib
import io
import math
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from launch.cli import main

FAST = settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def call(args: list[str], folder: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), contextlib.chdir(folder):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def check_refused_or_fine(code: int, out: str, err: str, folder: Path, before: set) -> None:
    assert "Traceback" not in out + err
    assert code in (0, 2), (code, err)
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("lrox: error: "), err
        assert {str(p) for p in folder.rglob("*")} == before  # a refusal writes nothing


FILE_COMMANDS = [
    ("structure.vasp", ["enumerate", "{file}"]),
    ("structure.cif", ["hops", "{file}"]),
    ("configuration.json", ["hops", "{file}"]),
    ("spec.yaml", ["run", "{file}", "--dry-run", "dry"]),
    ("results.json", ["ingest", "{file}", "--db", "sqlite:///{folder}/fuzz.db"]),
    ("launchpad.yaml", ["status", "--engine", "fireworks", "--launchpad", "{file}"]),
]


@FAST
@given(data=st.binary(max_size=3000), which=st.integers(min_value=0, max_value=len(FILE_COMMANDS) - 1))
def test_random_bytes_as_any_file(data, which):
    name, args = FILE_COMMANDS[which]
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        (folder / name).write_bytes(data)
        before = {str(p) for p in folder.rglob("*")}
        code, out, err = call([a.format(file=folder / name, folder=folder) for a in args], folder)
        check_refused_or_fine(code, out, err, folder, before)
        assert code == 2  # random bytes are never a valid input


SPEC_KEYS = ["name", "host", "supercell", "min_image_distance", "max_atoms", "dopants", "vacancies", "pair_cutoff", "pair_kinds",
             "hops", "backend", "mlip", "vasp", "mock", "oxygen", "gpaw", "static_backend", "output", "database", "bogus"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**20, max_value=10**20), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=20), st.sampled_from(["li2mno3", "licoo2", "mock", "vasp", "mlip", "1x1x1", "Al:tm", "O", "chgnet"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)


@FAST
@given(spec=st.dictionaries(st.sampled_from(SPEC_KEYS), values, max_size=8))
def test_random_yaml_specs(spec):
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        (folder / "spec.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True))
        before = {str(p) for p in folder.rglob("*")}
        code, out, err = call(["run", str(folder / "spec.yaml"), "--dry-run", str(folder / "dry")], folder)
        check_refused_or_fine(code, out, err, folder, before)


numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-10**30, max_value=10**30))
NUMBER_COMMANDS = [
    ["enumerate", "li2mno3", "--min-image-distance", "{n}"],
    ["enumerate", "li2mno3", "--dopant", "Al:tm", "--supercell", "1x1x1", "--pair-cutoff", "{n}"],
    ["enumerate", "li2mno3", "--max-atoms", "{n}"],
    ["hops", "li2mno3", "--supercell", "1x1x1", "--cutoff", "{n}"],
    ["hops", "li2mno3", "--supercell", "1x1x1", "--near-defect", "{n}"],
    ["enumerate", "li2mno3", "--supercell", "{n}x1x1"],
    ["query", "--oxygen", "{n},0.21", "--db", "sqlite:///{folder}/none.db"],
]


@FAST
@given(number=numbers, which=st.integers(min_value=0, max_value=len(NUMBER_COMMANDS) - 1))
def test_random_numbers_in_every_numeric_option(number, which):
    text = repr(number) if isinstance(number, float) and not math.isfinite(number) else str(number)
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        before = {str(p) for p in folder.rglob("*")}
        args = [a.format(n=text, folder=folder) for a in NUMBER_COMMANDS[which]]
        code, out, err = call(args, folder)
        check_refused_or_fine(code, out, err, folder, before)


@FAST
@given(number=numbers, key=st.sampled_from(["min_image_distance", "pair_cutoff", "max_atoms", "hops.cutoff", "hops.per_configuration",
                                            "hops.max_defect_distance", "mlip.neb_fmax", "mlip.n_images", "mlip.threads", "vasp.nedos",
                                            "vasp.cores_per_job", "mock.neb_steps", "oxygen.temperature", "oxygen.pressure", "gpaw.kspacing"]))
def test_random_numbers_in_every_numeric_spec_key(number, key):
    spec = {"name": "f", "host": "li2mno3", "supercell": "1x1x1", "backend": "mock", "hops": {"per_configuration": 0}}
    if "." in key:
        section, field = key.split(".")
        spec.setdefault(section, {})[field] = number
    else:
        spec[key] = number
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
        before = {str(p) for p in folder.rglob("*")}
        code, out, err = call(["run", str(folder / "spec.yaml"), "--dry-run", str(folder / "dry")], folder)
        check_refused_or_fine(code, out, err, folder, before)
