"""Brute-force reference: build every raw placement and group with pymatgen's StructureMatcher.

Slow by design (it compares whole structures); used by the tests and the
benchmark to check the group-theoretical enumeration, never by the workflow.
"""

from __future__ import annotations

from pymatgen.analysis.structure_matcher import StructureMatcher

from structures.configurations import build_structure, _defect_site, sites_for_spec
from structures.framework import DefectFramework
from structures.sublattices import DefectSpec

__all__ = ["raw_single_structures", "raw_pair_structures", "count_distinct"]


def _bare(structure):
    s = structure.copy()
    for key in list(s.site_properties):
        s.remove_site_property(key)
    return s


def raw_single_structures(framework: DefectFramework, spec: DefectSpec) -> list:
    return [_bare(build_structure(framework, [_defect_site(framework, p, spec)])) for p in sites_for_spec(framework, spec)]


def raw_pair_structures(framework: DefectFramework, first: DefectSpec, second: DefectSpec, cutoff: float) -> list:
    """Every ordered placement (i, j) with i ≠ j within the cutoff (duplicates included: that is the point)."""
    structures = []
    sites_b = sites_for_spec(framework, second)
    for i in sites_for_spec(framework, first):
        d = framework.distances_from(i, sites_b)
        for j, dist in zip(sites_b, d):
            if j != i and dist <= cutoff + 1e-6:
                defects = [_defect_site(framework, i, first), _defect_site(framework, j, second)]
                structures.append(_bare(build_structure(framework, defects)))
    return structures


def count_distinct(structures: list) -> int:
    """Number of groups StructureMatcher finds (same supercell: no primitive reduction, no scaling)."""
    matcher = StructureMatcher(primitive_cell=False, scale=False, attempt_supercell=False)
    return len(matcher.group_structures(structures))

