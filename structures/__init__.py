"""lrox.structures: hosts, supercells, symmetry-distinct defect configurations and Li hops.

Structure code never touches a database or launches jobs; everything here is
pure functions over pymatgen objects.
"""

from structures.errors import LroxInputError

# The names below are imported when first used (PEP 562): ``import structures.doors.text`` (every
# command's output door) then costs no pymatgen or scipy, and ``lrox query`` on a database of 10,000
# configurations starts in half the time (benchmarks/RESULTS.md, issue 32).
_LAZY = {
    "Configuration": "configurations", "DefectSite": "configurations", "PairKind": "configurations",
    "enumerate_configurations": "configurations", "enumerate_pairs": "configurations", "enumerate_singles": "configurations",
    "DefectFramework": "framework",
    "HopMechanism": "hops", "HopMirror": "hops", "LiHop": "hops", "enumerate_hops": "hops", "hop_endpoints": "hops",
    "hop_mirror": "hops", "interpolate_hop": "hops",
    "Host": "hosts", "builtin_host_names": "hosts", "load_host": "hosts",
    "DefectKind": "sublattices", "DefectSpec": "sublattices", "Sublattice": "sublattices", "parse_dopant": "sublattices",
    "parse_vacancy": "sublattices",
    "choose_supercell": "supercell", "min_image_distance": "supercell", "parse_supercell": "supercell",
}


def __getattr__(name: str):
    import importlib

    if name in _LAZY:
        value = getattr(importlib.import_module(f"structures.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'structures' has no attribute {name!r}")


__all__ = [
    "Configuration",
    "DefectFramework",
    "DefectKind",
    "DefectSite",
    "DefectSpec",
    "Host",
    "HopMechanism",
    "HopMirror",
    "LiHop",
    "LroxInputError",
    "PairKind",
    "Sublattice",
    "builtin_host_names",
    "choose_supercell",
    "enumerate_configurations",
    "enumerate_hops",
    "enumerate_pairs",
    "enumerate_singles",
    "hop_endpoints",
    "hop_mirror",
    "interpolate_hop",
    "load_host",
    "min_image_distance",
    "parse_dopant",
    "parse_supercell",
    "parse_vacancy",
]
