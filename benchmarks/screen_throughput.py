"""P4: a whole screen end to end from ``lrox run``, with the wall time of each stage.

Runs ``examples/li2mno3_ten_dopants.yaml`` (or another spec) into a fresh output folder and
database, as ``lrox run`` does, and prints the total wall time, the time summed over jobs for each
stage (relaxations, NEB end points, NEB bands; with two worker processes the stages overlap and sum
to more than the wall time), the number of NEBs and their force calls, and the status counts.

Usage: python benchmarks/screen_throughput.py [SPEC.yaml] [--model NAME] [--processes N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default=str(ROOT / "examples" / "li2mno3_ten_dopants.yaml"))
    parser.add_argument("--model", help="override mlip.model (default: the spec's, else lrox's default)")
    parser.add_argument("--processes", type=int, help="override mlip.processes")
    parser.add_argument("--keep", help="output folder to keep (default: a temporary one)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from descriptors.ingest import result_rows
    from structures.safety import load_yaml, read_text
    from workflows.run import run_screen, summarise
    from workflows.spec import spec_from_dict

    data = load_yaml(read_text(Path(args.spec), "spec", 1 << 20), args.spec)
    out = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="lrox-throughput-"))
    data["output"] = str(out)
    data["database"] = f"sqlite:///{out / 'lrox.db'}"
    mlip = dict(data.get("mlip") or {})
    if args.model:
        mlip["model"] = args.model
    if args.processes:
        mlip["processes"] = args.processes
    data["mlip"] = mlip
    spec = spec_from_dict(data, base_dir=Path(args.spec).parent)
    start = time.perf_counter()
    result = run_screen(spec, echo=lambda line: print(line, file=sys.stderr))
    wall = time.perf_counter() - start
    summary = summarise(result, result_rows(result)[2])
    docs = [d if isinstance(d, dict) else d.as_dict() for d in result["documents"]]
    nebs = [d for d in docs if d.get("kind") == "neb"]
    print(f"\nscreen: {spec.name}; {summary['level_of_theory']}; {spec.processes()} worker processes; cpu count {os.cpu_count()}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"configurations: {len(summary['configurations'])}; NEBs: {len(nebs)}; jobs by status: {summary['status_counts']}")
    if nebs:
        calls = [d.get("force_calls") or 0 for d in nebs]
        print(f"NEB force calls: total {sum(calls)}, mean {sum(calls) / len(calls):.0f} per hop")
        routes = [r for d in nebs for r in d.get("routes") or [] if "skipped" not in r]
        mirrored = [r for r in routes if r.get("mirrored_calls")]
        print(f"bands run on half their images (symmetric hops, neb_mirror): {len(mirrored)} of {len(routes)}, "
              f"{sum(r['mirrored_calls'] for r in mirrored)} image evaluations taken from the mirror")
    print("time by stage, summed over jobs (s):")
    for stage, seconds in summary["stage_times"].items():
        print(f"  {stage:>12}: {seconds:8.1f}")
    print(f"total wall time: {wall:.1f} s ({wall / 60:.1f} min); target ≤ 30 min")
    print(f"output: {out}")


if __name__ == "__main__":
    main()
