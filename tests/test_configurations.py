"""Symmetry-distinct configurations: exact against brute-force StructureMatcher, stable ids, charges."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from structures.bruteforce import count_distinct, raw_pair_structures, raw_single_structures
from structures.configurations import (
    PairKind,
    configuration_from_defects,
    enumerate_configurations,
    enumerate_pairs,
    enumerate_singles,
    sites_for_spec,
)
from structures.errors import LroxInputError
from structures.framework import DefectFramework
from structures.hosts import load_host
from structures.sublattices import parse_dopant, parse_vacancy
from tests.conftest import framework


def spec(text):
    return parse_dopant(text) if ":" in text and not text.startswith(("O:", "Li:")) else parse_vacancy(text)


# ----- brute force agreement ----------------------------------------------------------------------
SINGLE_CASES = [
    ("li2mno3", (1, 1, 1), "Al:tm"),
    ("li2mno3", (1, 1, 1), "Na:li"),
    ("li2mno3", (1, 1, 1), "O"),
    ("li2mno3", (1, 1, 1), "Mg:interstitial"),
    ("li2mno3", (2, 1, 1), "F:o"),
    ("licoo2", (2, 2, 1), "Mg:interstitial"),
    ("li1.2ni0.2mn0.6o2", (1, 1, 1), "Al:tm"),
    ("li1.2ni0.2mn0.6o2", (1, 1, 1), "Li"),
]


@pytest.mark.parametrize(("host", "dims", "text"), SINGLE_CASES)
def test_single_defects_match_structurematcher(host, dims, text):
    fw = framework(host, dims)
    s = spec(text)
    distinct = enumerate_singles(fw, s)
    assert len(distinct) == count_distinct(raw_single_structures(fw, s))
    # orbit-stabiliser: the multiplicities add up to every site of the sublattice
    assert sum(c.multiplicity for c in distinct) == len(sites_for_spec(fw, s))


PAIR_CASES = [
    ("li2mno3", (1, 1, 1), "Al:tm", "O", 4.0),
    ("li2mno3", (1, 1, 1), "Mg:li", "Mg:li", 3.2),
    ("li2mno3", (1, 1, 1), "Ti:tm", "Li", 3.5),
    ("li2mno3", (2, 1, 1), "Al:tm", "O", 3.6),
    ("li2mno3", (2, 1, 1), "Li", "Li", 3.0),
    ("licoo2", (2, 2, 1), "Al:tm", "O", 4.0),
    ("licoo2", (2, 2, 1), "Mg:interstitial", "Li", 2.2),
    ("li1.2ni0.2mn0.6o2", (1, 1, 1), "Al:tm", "O", 2.5),
]


@pytest.mark.slow
@pytest.mark.parametrize(("host", "dims", "first", "second", "cutoff"), PAIR_CASES)
def test_pairs_match_structurematcher(host, dims, first, second, cutoff):
    fw = framework(host, dims)
    a, b = spec(first), spec(second)
    distinct = enumerate_pairs(fw, a, b, cutoff)
    raw = raw_pair_structures(fw, a, b, cutoff)
    assert len(distinct) == count_distinct(raw)
    assert len(distinct) > 1
    # orbit sizes add up to the number of raw placements (unordered when both defects are alike)
    same_kind = (a.species, a.kind) == (b.species, b.kind)
    assert sum(c.multiplicity for c in distinct) == (len(raw) // 2 if same_kind else len(raw))
    assert all(c.pair_distance <= cutoff + 1e-6 for c in distinct)


# ----- ids -----------------------------------------------------------------------------------------
def test_symmetry_equivalent_placements_share_an_id(li2mno3_96):
    fw = li2mno3_96
    al = parse_dopant("Al:tm")
    mn_sites = sites_for_spec(fw, al)
    ids = {configuration_from_defects(fw, [(p, al)]).id for p in mn_sites}
    assert len(ids) == 1  # one Mn orbit in Li2MnO3
    o = parse_vacancy("O")
    o_ids = {configuration_from_defects(fw, [(p, o)]).id for p in sites_for_spec(fw, o)}
    assert len(o_ids) == 2  # O(4i) and O(8j)


def test_ids_are_unique_and_stable_across_runs(li2mno3_96):
    configs = enumerate_configurations(li2mno3_96, [parse_dopant("Al:tm")], [parse_vacancy("O")], pair_cutoff=4.0)
    ids = [c.id for c in configs]
    assert len(set(ids)) == len(ids)
    # a fresh interpreter (new hash seeds, new object ids) gives the same ids
    code = (
        "import json; from structures.hosts import load_host; from structures.framework import DefectFramework;"
        "from structures.configurations import enumerate_configurations;"
        "from structures.sublattices import parse_dopant, parse_vacancy;"
        "fw = DefectFramework.from_host(load_host('li2mno3'), (2, 1, 2));"
        "print(json.dumps([c.id for c in enumerate_configurations(fw, [parse_dopant('Al:tm')], [parse_vacancy('O')], pair_cutoff=4.0)]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == ids


def test_ids_do_not_depend_on_site_order_of_the_input_file(tmp_path):
    reference = load_host("li2mno3")
    shuffled = reference.structure.copy()
    order = np.random.default_rng(7).permutation(len(shuffled))
    shuffled = shuffled.__class__.from_sites([shuffled[i] for i in order])
    path = tmp_path / "li2mno3.vasp"
    shuffled.to(filename=str(path), fmt="poscar")
    from_file = DefectFramework.from_host(load_host(path), (2, 1, 1))
    builtin = framework("li2mno3", (2, 1, 1))
    specs = [parse_dopant("Al:tm")], [parse_vacancy("O")]
    digest = lambda c: c.id.rsplit("-", 1)[1]  # noqa: E731 - host names differ, contents do not
    a = sorted(digest(c) for c in enumerate_configurations(from_file, *specs, pair_cutoff=3.0))
    b = sorted(digest(c) for c in enumerate_configurations(builtin, *specs, pair_cutoff=3.0))
    assert a == b


# ----- what a configuration reports ----------------------------------------------------------------
def test_configuration_fields(li2mno3_96):
    configs = enumerate_configurations(li2mno3_96, [parse_dopant("Al:tm")], [parse_vacancy("O")], pair_cutoff=3.0)
    pristine, *rest = configs
    assert pristine.name == "pristine" and pristine.n_atoms == 96 and pristine.charge_change == 0
    al = next(c for c in rest if c.name == "Al on Mn(4g, TM layer)")
    assert al.formula == "Li32Mn15Al1O48" and al.multiplicity == 16
    # Al3+ on a Mn4+ site leaves a hole; Mn4+ cannot be oxidised further, lattice O takes it
    assert al.charge_change == -1 and al.charge["compensation"] == "1 h⁺ → O²⁻→O⁻ (lattice oxygen holes)"
    assert not al.needs_compensation
    vo = [c for c in rest if c.name.startswith("V_O(")]
    assert len(vo) == 2 and {c.n_atoms for c in vo} == {95}
    for c in vo:  # a neutral cell keeps the vacancy's two electrons: two Mn4+ become Mn3+
        assert c.charge_change == 2 and c.charge["compensation"] == "2 e⁻ → Mn⁴⁺→Mn³⁺ (any of 16)"
        assert not c.needs_compensation
    al_vo = [c for c in rest if c.pair_distance is not None and {d.kind for d in c.defects} == {"substitution", "vacancy"}]
    assert al_vo and all(c.charge_change == 1 and c.n_atoms == 95 for c in al_vo)  # -1 + 2
    assert all(c.charge["compensation"] == "1 e⁻ → Mn⁴⁺→Mn³⁺ (any of 15)" for c in al_vo)
    assert [c.pair_distance for c in al_vo] == sorted(c.pair_distance for c in al_vo)  # nearest first
    al_al = [c for c in rest if c.pair_distance is not None and {d.kind for d in c.defects} == {"substitution"}]
    assert al_al and all(c.charge_change == -2 and c.structure.composition["Al"] == 2 for c in al_al)
    summary = al.summary()
    assert summary["defects"][0]["site"] == "Mn(4g, TM layer)" and summary["defects"][0]["species"] == "Al"
    assert summary["defects"][0]["host_species"] == "Mn"


def test_vacancies_are_named_kroger_vink_style(li2mno3_96):
    names = {c.name for c in enumerate_configurations(li2mno3_96, [], [parse_vacancy("O"), parse_vacancy("Li")])}
    assert {"V_O(4i)", "V_O(8j)", "V_Li(2b, TM layer)", "V_Li(2c, Li layer)", "V_Li(4h, Li layer)"} <= names
    assert not any(name.startswith("V on") for name in names)  # which any chemist reads as vanadium


def test_only_carriers_no_ion_can_take_need_compensation():
    # Mg2+ on a Li+ site in LiAlO2-like chemistry has no reducible cation: the electron is flagged
    from structures.charge import charge_bookkeeping

    flagged = charge_bookkeeping([("Al", 3), ("Li", 1)], True, 1)
    assert flagged.needs_compensation and flagged.uncompensated == 1 and "no ion" in flagged.compensation
    ni = charge_bookkeeping([("Ni", 2)] * 3 + [("Mn", 4)] * 15, True, -1)  # Li-rich: Ni2+ takes the hole
    assert not ni.needs_compensation and ni.compensation == "1 h⁺ → Ni²⁺→Ni³⁺ (any of 3)"


def test_charge_neutral_codoping_is_reported_neutral(li2mno3_96):
    # Ti4+ on Mn4+ is isovalent; Mg2+ on a Li+ site plus Al3+ on Mn4+ compensate each other
    ti = enumerate_singles(li2mno3_96, parse_dopant("Ti:tm"))[0]
    assert ti.charge_change == 0 and not ti.needs_compensation and ti.charge["compensation"] == "none needed"
    pairs = enumerate_pairs(li2mno3_96, parse_dopant("Mg:li-layer"), parse_dopant("Al:tm"), 3.0)
    assert pairs and all(c.charge_change == 0 for c in pairs)


def test_explicit_oxidation_state_is_used(li2mno3_96):
    co2 = enumerate_singles(li2mno3_96, parse_dopant("Co2+:tm"))[0]
    co3 = enumerate_singles(li2mno3_96, parse_dopant("Co:tm"))[0]
    assert co2.charge_change == -2 and co3.charge_change == -1  # Co3+ is Co's common state nearest Mn4+


def test_pair_kinds_select_what_is_paired(li2mno3_cell):
    al, vo = parse_dopant("Al:tm"), parse_vacancy("O")
    only_dv = enumerate_configurations(li2mno3_cell, [al], [vo], pair_cutoff=3.0, pair_kinds=(PairKind.DOPANT_VACANCY,))
    kinds = {tuple(sorted(d.kind for d in c.defects)) for c in only_dv if len(c.defects) == 2}
    assert kinds == {("substitution", "vacancy")}
    with_vv = enumerate_configurations(li2mno3_cell, [al], [vo], pair_cutoff=3.0, pair_kinds=(PairKind.VACANCY_VACANCY,))
    assert {tuple(sorted(d.kind for d in c.defects)) for c in with_vv if len(c.defects) == 2} == {("vacancy", "vacancy")}


# ----- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("host", "text", "message"),
    [
        ("licoo2", "Al:tm-layer-li", "no 'tm-layer-li' sublattice"),
        ("li2mno3", "Al:9z", "unknown sublattice '9z'"),
        ("li2mno3", "Mn:tm", "already holds Mn"),
    ],
)
def test_bad_dopant_sublattices(host, text, message):
    fw = framework(host, (1, 1, 1))
    with pytest.raises(LroxInputError, match=message):
        enumerate_configurations(fw, [parse_dopant(text)], [])


@pytest.mark.parametrize("text", ["Xx:tm", "Al", "al:tm", "Al:"])
def test_bad_dopant_strings(text):
    with pytest.raises(LroxInputError):
        parse_dopant(text)


def test_vacancy_of_an_absent_element(li2mno3_cell):
    with pytest.raises(LroxInputError, match="no Co"):
        enumerate_configurations(li2mno3_cell, [], [parse_vacancy("Co")])


def test_negative_pair_cutoff(li2mno3_cell):
    with pytest.raises(LroxInputError, match="must be positive"):
        enumerate_configurations(li2mno3_cell, [parse_dopant("Al:tm")], [], pair_cutoff=-1)
