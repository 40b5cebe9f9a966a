"""Benchmark: symmetry-permutation enumeration vs brute-force StructureMatcher deduplication.

All Al(Mn-site)–O-vacancy pairs within 4 and 6 Å in Li2MnO3 supercells. The
lrox time covers everything from the host to the list of configurations
(supercell, symmetry, orbits, canonical ids, defect structures); the brute
force time covers building every raw placement and grouping them with
pymatgen's StructureMatcher. Prints both counts and both times.

Usage: python benchmarks/enumeration_vs_structurematcher.py [--skip-large-bruteforce]
"""

from __future__ import annotations

import argparse
import statistics
import time

from structures.bruteforce import count_distinct, raw_pair_structures
from structures.configurations import enumerate_pairs
from structures.framework import DefectFramework
from structures.hosts import load_host
from structures.sublattices import parse_dopant, parse_vacancy

CASES = [((2, 1, 2), 4.0), ((2, 1, 2), 6.0), ((2, 2, 2), 4.0), ((2, 2, 2), 6.0)]


def lrox_enumeration(dims, cutoff, repeats=5):
    dopant, vacancy = parse_dopant("Al:tm"), parse_vacancy("O")
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        framework = DefectFramework.from_host(load_host("li2mno3"), dims)
        result = enumerate_pairs(framework, dopant, vacancy, cutoff)
        times.append(time.perf_counter() - start)
    return result, statistics.median(times), len(framework.structure)


def brute_force(dims, cutoff):
    dopant, vacancy = parse_dopant("Al:tm"), parse_vacancy("O")
    start = time.perf_counter()
    framework = DefectFramework.from_host(load_host("li2mno3"), dims)
    raw = raw_pair_structures(framework, dopant, vacancy, cutoff)
    count = count_distinct(raw)
    return count, len(raw), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-large-bruteforce", action="store_true", help="skip StructureMatcher on the 192-atom cell")
    args = parser.parse_args()
    load_host("li2mno3")  # warm the built-in host cache for both sides
    print(f"{'supercell':>9} {'atoms':>5} {'cutoff':>6} | {'lrox n':>6} {'lrox s':>8} | {'raw':>5} {'SM n':>5} {'SM s':>8} | {'speed-up':>8} match")
    for dims, cutoff in CASES:
        configs, t_lrox, n_atoms = lrox_enumeration(dims, cutoff)
        label = "x".join(map(str, dims))
        if args.skip_large_bruteforce and n_atoms > 100:
            print(f"{label:>9} {n_atoms:>5} {cutoff:>6.1f} | {len(configs):>6} {t_lrox:>8.3f} | {'-':>5} {'-':>5} {'skipped':>8} |")
            continue
        n_sm, n_raw, t_sm = brute_force(dims, cutoff)
        same = "yes" if n_sm == len(configs) else "NO"
        print(
            f"{label:>9} {n_atoms:>5} {cutoff:>6.1f} | {len(configs):>6} {t_lrox:>8.3f} | {n_raw:>5} {n_sm:>5} {t_sm:>8.1f} |"
            f" {t_sm / t_lrox:>7.0f}x {same}",
            flush=True,
        )


if __name__ == "__main__":
    main()
