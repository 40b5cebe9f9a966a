"""lrox.structures: hosts, supercells, symmetry-distinct defect configurations and Li hops.

Structure code never touches a database or launches jobs; everything here is
pure functions over pymatgen objects.
"""

from structures.configurations import (
    Configuration,
    DefectSite,
    PairKind,
    enumerate_configurations,
    enumerate_pairs,
    enumerate_singles,
)
from structures.errors import LroxInputError
from structures.framework import DefectFramework
from structures.hops import HopMechanism, HopMirror, LiHop, enumerate_hops, hop_endpoints, hop_mirror, interpolate_hop
from structures.hosts import Host, builtin_host_names, load_host
from structures.sublattices import DefectKind, DefectSpec, Sublattice, parse_dopant, parse_vacancy
from structures.supercell import choose_supercell, min_image_distance, parse_supercell

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
