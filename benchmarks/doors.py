"""What the doors cost, and what each hostile input of issue 31 costs before the door refuses it.

Run: ``PYTHONPATH=. python benchmarks/doors.py`` (prints one line per case: seconds, and the peak
resident memory of the process so far). The old quadratic redaction is timed beside the door's
linear one on the same text. Results: benchmarks/RESULTS.md ("Doors").
"""

from __future__ import annotations

import os
import re
import resource
import tempfile
import time
import zlib
from pathlib import Path

from structures.errors import LroxInputError


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, call) -> None:
    started = time.perf_counter()
    try:
        call()
        outcome = "read"
    except LroxInputError as exc:
        outcome = f"refused: {str(exc)[:70]}"
    print(f"{label:<46} {time.perf_counter() - started:8.3f} s  peak {_peak_mib():6.0f} MiB  {outcome}")


def _old_redact(text: str) -> str:  # the redaction before the doors (quadratic in a run of letters)
    text = re.sub(r"(?i)([a-z][a-z0-9+.\-]*://[^\s:/@'\"]*):([^\s@'\"]*)@", r"\1:***@", text)
    return re.sub(r"(?i)\b((?:password|passwd|secret|token|apikey|api_key)\w*['\"]?\s*[=:]\s*['\"]?)([^\s&;,'\"}]+)", r"\1***", text)


def main() -> None:
    from structures.doors.data import load_yaml
    from structures.doors.files import MAX_RESULTS_BYTES, read_file_bytes, regular_file
    from structures.doors.structures_in import load_structure, structure_from_cif_text
    from structures.doors.text import redact

    print(f"load: {os.getloadavg()[0]:.2f} (1-min average), {os.cpu_count()} cores")
    for n in (16_000, 130_000):
        text = "z" * n
        if n <= 16_000:
            timed(f"old redact, {n} letters", lambda: _old_redact(text))
        timed(f"door redact, {n} letters", lambda: redact(text))
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        with open(folder / "results.json.gz", "wb") as out:
            for _ in range(128):
                out.write(packer.compress(b" " * 2**24))
            out.write(packer.flush())
        size = (folder / "results.json.gz").stat().st_size / 2**20
        timed(f"gzip bomb, {size:.1f} MB -> 2 GiB", lambda: read_file_bytes(folder / "results.json.gz", "results", MAX_RESULTS_BYTES))
        os.mkfifo(folder / "OUTCAR")
        timed("FIFO OUTCAR", lambda: regular_file(folder / "OUTCAR", "OUTCAR", MAX_RESULTS_BYTES))
        (folder / "zero").symlink_to("/dev/zero")
        timed("link to /dev/zero", lambda: read_file_bytes(folder / "zero", "OUTCAR", MAX_RESULTS_BYTES))
        bomb = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "\n".join(
            f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 9)}]" for k in range(1, 12))
        timed("YAML alias bomb (9^12)", lambda: load_yaml(bomb, "host"))
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from test_doors import _cif

        for sites, group in ((3000, "F m -3 m"), (26, "F m -3 m"), (2000, "P 1")):
            text = _cif(sites, group, a="60.0").replace("_cell_length_b 20.0", "_cell_length_b 60.0").replace("_cell_length_c 20.0", "_cell_length_c 60.0")
            timed(f"CIF, {sites} sites in {group} ({len(text) // 1000} kB)", lambda: structure_from_cif_text(text, "cif"))
        from structures.hosts import load_host

        structure = load_host("li2mno3").structure * (6, 4, 6)
        (folder / "big.yaml").write_text(structure.to(fmt="yaml"))
        (folder / "big.json").write_text(structure.to(fmt="json"))
        for name in ("big.yaml", "big.json"):
            size = (folder / name).stat().st_size / 2**20
            timed(f"host {name}, {len(structure)} atoms ({size:.1f} MiB)", lambda: load_structure(folder / name))


if __name__ == "__main__":
    main()
