"""Verdicts a referee would accept (issue 29): each finding of the issue built into a small database the
way lrox writes one, and the behaviour that answers it.

1. the mechanism is read from the whole band: two bands with one saddle get one label;
2. twin hops are one point, bands sharing a leg's saddle are dependent, folds keep twins together;
3. rule 2 compares like with like: against the parent by id, on the same route, through and beside apart;
4. four verdicts: three values give no interval, no evidence is inconclusive, a rank over 0.06 Å is not read;
5. the level's error from the measured validation rows, beside every effect;
6. rule 3 tests the sign against the dopant's valence;
7. the baseline model against trivial predictors;
8. flags on float32 energies at the model's resolution;
9. the report says all of it (tests/test_report.py: in a real browser).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from descriptors.ingest import IngestBatch, write_batch
from descriptors.query.configurations import long_table
from descriptors.query.hops import query_hops
from descriptors.records.extractor import records_from_result
from descriptors.report.rules import evaluate_rules
from descriptors.store.database import DescriptorDatabase
from descriptors.store.tables import ConfigurationRow

LEVEL = "MLIP 7net-0"
PROVENANCE = {"backend": "mlip", "level_of_theory": LEVEL, "settings_hash": "s7", "settings": {"model": "7net-0"}, "code_versions": {}}
ULP = float(np.spacing(np.float32(586.0)))  # 6.1e-5 eV: one float32 step at a 96-atom cell's energy


class Screen:
    """A screen result written the way a run writes one: configurations with their lineage ids, and
    NEB documents with their hop, image energies and observed mechanism; ingested by the extractor."""

    def __init__(self):
        self.configs, self.docs = {}, []

    def config(self, cid, name, defects=(), parents=(), singles=(), charge_change=None, formula="Li31Mn16O48", n_atoms=95):
        self.configs[cid] = {"id": cid, "name": name, "host": "li2mno3", "supercell": "2x1x2", "n_atoms": n_atoms, "formula": formula,
                             "defects": [dict(d) for d in defects], "parent_ids": list(parents), "defect_ids": list(singles),
                             "charge_change": charge_change}
        return cid

    def hop(self, cid, hop_id, energies, *, start="Li(2c, Li layer)", end="Li(4h, Li layer)", expected="ODH", observed=None,
            reference=None, nearest=None, distance=None, twin_key=None, n_tm=0, flags=None):
        energies = [float(np.float32(e)) for e in energies]  # what a float32 model returns
        hop = {"id": hop_id, "configuration_id": cid, "start": start, "end": end, "mechanism": expected, "n_tm": n_tm, "length": 2.9,
               "distance_to_defect": distance, "nearest_defect": nearest, "reference_hop_id": reference or hop_id, "layers": "Li layer"}
        if twin_key:
            hop["twin_key"] = twin_key
        observed = observed or expected
        data = {"energies": energies, "converged": True, "hop": hop, "mechanism_observed": {"mechanism": observed}}
        self.docs.append({"kind": "neb", "status": "success", "label": f"neb {hop_id}", "configuration_id": cid, "hop_id": hop_id, "hop": hop,
                          "energies": energies, "converged": True, "provenance": PROVENANCE, "data": data})

    def value(self, cid, name, value):
        """A relaxation-level descriptor (E_vac(O), slab spacing): through a stored row of the same level."""
        self.docs.append({"kind": "relax", "status": "success", "label": f"relax {cid} {name}", "configuration_id": cid, "provenance": PROVENANCE,
                          "data": {"energy": -500.0}, "_value": (name, value)})

    def database(self, path) -> DescriptorDatabase:
        from descriptors.records.rows import descriptor_row

        result = {"screen": "verdicts", "configurations": list(self.configs.values()), "documents": [d for d in self.docs], "provenance": PROVENANCE}
        configs, calcs, rows = records_from_result(result)
        by_label = {c["label"]: c for c in calcs}
        for d in self.docs:
            if "_value" in d:
                name, value = d["_value"]
                rows.append(descriptor_row(d["configuration_id"], name, value, by_label[d["label"]]))
        db = DescriptorDatabase(f"sqlite:///{path}")
        write_batch(IngestBatch(configs, calcs, rows), db)
        return db


def profile(saddle, ends=(-586.9, -586.9), n=7):
    """An ODH-like profile: the ends, a single maximum at the middle image."""
    e0, e1 = ends
    middle = n // 2
    return [e0 + (saddle - e0) * (1 - abs(k - middle) / middle) if k < middle else e1 + (saddle - e1) * (1 - abs(k - middle) / middle) for k in range(n)]


def rules_of(db):
    return {r.number: r for r in evaluate_rules(query_hops(db), long_table(db), db.rows(ConfigurationRow))}


VO_8J = {"kind": "vacancy", "species": None, "host_species": "O", "site": "O(8j)", "name": "V_O(8j)", "frac_coords": [0.127, 0.321, 0.112]}
AL = {"kind": "substitution", "species": "Al", "host_species": "Mn", "site": "Mn(4g, TM layer)", "name": "Al on Mn(4g, TM layer)", "frac_coords": [0.0, 0.167, 0.0], "oxidation_state": 3}
V_LI = {"kind": "vacancy", "species": None, "host_species": "Li", "site": "Li(2c, Li layer)", "name": "V_Li(2c, Li layer)", "frac_coords": [0.0, 0.5, 0.5]}


# ----- 1. the mechanism from the whole band ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def divacancy_band(li2mno3_96):
    """A divacancy hop of Li2MnO3 (96 atoms) and a band through its tetrahedral site: the moving Li
    at the tet centre on the middle of 7 images."""
    from structures.configurations import enumerate_singles
    from structures.hops import HopMechanism, enumerate_hops, hop_endpoints, interpolate_hop, tetrahedral_band
    from structures.sublattices import parse_vacancy

    vacancy = enumerate_singles(li2mno3_96, parse_vacancy("Li:li-layer"))[0]
    hop = next(h for h in enumerate_hops(li2mno3_96, vacancy, max_defect_distance=3.0) if h.mechanism is HopMechanism.TSH)
    images = interpolate_hop(*hop_endpoints(li2mno3_96, vacancy, hop), n_images=5, method="linear")
    return vacancy, hop, tetrahedral_band(images, hop.saddle_geometry)


def _points(image, geometry):
    """Cartesian tet centre and O–O edge midpoint beside the moving Li of an image."""
    from structures.hops import mic_vectors

    li = image[geometry["moving_li"]]
    tet = li.coords + mic_vectors(image, li.frac_coords, image.frac_coords[geometry["tetrahedra"][0]]).mean(axis=0)
    edge = li.coords + mic_vectors(image, li.frac_coords, image.frac_coords[geometry["edge"]]).mean(axis=0)
    return tet, edge


def _climbing_image_between(band, geometry, shift):
    """The band with its climbing image (image 2) halfway between the tet centre and the edge midpoint,
    moved ``shift`` Å towards the tet centre: where the old climbing-image rule changes its mind."""
    out = [image.copy() for image in band]
    tet, edge = _points(out[2], geometry)
    towards = (tet - edge) / np.linalg.norm(tet - edge)
    li = geometry["moving_li"]
    out[2].replace(li, "Li", coords=(tet + edge) / 2 + shift * towards, coords_are_cartesian=True)
    return out


TSH_PROFILE = [-586.90, -586.75, -586.69, -586.85, -586.70, -586.76, -586.90]  # two maxima (2 and 4), a minimum at the tet site (3)


def test_two_bands_with_one_saddle_get_one_label(divacancy_band):
    """Finding 1: the climbing images of two bands differ by 0.02 Å across the point where they are as
    near the tet centre as the edge midpoint; both bands pass through the tetrahedral site (image 3)
    and have their minimum there. Read off the climbing image the labels differed; along the whole
    band they are one."""
    from descriptors.physics.mechanism import observed_mechanism

    _, hop, band = divacancy_band
    geometry = hop.saddle_geometry
    a = observed_mechanism(_climbing_image_between(band, geometry, +0.01), TSH_PROFILE, geometry)
    b = observed_mechanism(_climbing_image_between(band, geometry, -0.01), TSH_PROFILE, geometry)
    assert a["saddle_image"] == b["saddle_image"] == 2
    assert abs(a["distance_to_tetrahedron"] - a["distance_to_edge_midpoint"]) < 0.03  # the saddle's position: on the old boundary
    assert a["mechanism"] == b["mechanism"] == "TSH"
    for observed in (a, b):
        assert observed["closest_to_tetrahedron"] < 0.05 < observed["tetrahedron_inradius"]  # through the centre, inside the tetrahedron
        assert observed["intermediate_minimum"]["image"] == 3 and observed["intermediate_minimum"]["at_tetrahedral_site"]
        assert [s["image"] for s in observed["saddles"]] == [2, 4]  # two saddles, the higher first


def test_the_tetrahedron_threshold_is_its_centre_to_face_distance(divacancy_band):
    """A regular tetrahedron of edge a has its faces a/(2√6) from its centre; on the Li2MnO3 host the
    O tetrahedra beside a hop measure 0.5-0.7 Å, and the O–O edge midpoint lies outside them."""
    from descriptors.physics.mechanism import observed_mechanism, tetrahedron_inradius

    a = 2.8
    regular = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) * a / (2 * np.sqrt(2))
    assert tetrahedron_inradius(regular) == pytest.approx(a / (2 * np.sqrt(6)))
    _, hop, band = divacancy_band
    geometry = hop.saddle_geometry
    tet, edge = _points(band[0], geometry)
    through_edge = [image.copy() for image in band]
    for k in range(1, len(band) - 1):  # the same end points, the Li straight through the edge midpoint
        start, end = band[0][-1].coords, band[-1][-1].coords
        through_edge[k].replace(geometry["moving_li"], "Li", coords=start + (end - start) * k / (len(band) - 1), coords_are_cartesian=True)
    observed = observed_mechanism(through_edge, profile(-586.3), geometry)
    assert 0.5 < observed["tetrahedron_inradius"] < 0.75
    assert observed["mechanism"] == "ODH" and observed["closest_to_tetrahedron"] > observed["tetrahedron_inradius"]
    assert observed["intermediate_minimum"] is None and len(observed["saddles"]) == 1


def test_a_tsh_band_stores_its_evidence_and_both_saddles(tmp_path, divacancy_band):
    """Through the extractor into the hop table: the label with its evidence, E_KRA from the higher
    saddle, and both saddles' energies."""
    vacancy, hop, band = divacancy_band
    summary = vacancy.summary()
    doc = {"kind": "neb", "status": "success", "label": "neb", "configuration_id": vacancy.id, "hop_id": hop.id, "hop": hop.summary(),
           "energies": TSH_PROFILE, "images": band, "converged": True, "provenance": PROVENANCE}
    configs, calcs, rows = records_from_result({"screen": "t", "configurations": [summary], "documents": [doc], "provenance": PROVENANCE})
    barrier = next(r for r in rows if r["name"] == "e_kra")
    assert barrier["value"] == pytest.approx(-586.69 + 586.90)  # the higher saddle
    assert barrier["details"]["saddle_energies"] == pytest.approx([-586.69, -586.70])
    assert barrier["details"]["observed"]["mechanism"] == "TSH" and barrier["details"]["mechanism_observed"] == "TSH"
    db = DescriptorDatabase(f"sqlite:///{tmp_path / 'band.db'}")
    write_batch(IngestBatch(configs, calcs, rows), db)
    (row,) = query_hops(db)
    assert row["mechanism_observed"] == "TSH" and row["closest_to_tetrahedron"] < row["tetrahedron_inradius"]
    assert row["saddle_image"] == 2 and row["minimum_at_tetrahedral_site"]
    assert row["intermediate_minimum"] == pytest.approx(-586.85 + 586.90, abs=1e-4)
    assert row["e_kra_second_saddle"] == pytest.approx(0.20, abs=1e-4) and row["e_kra"] == pytest.approx(0.21, abs=1e-4)


# ----- 2. distinct hops -----------------------------------------------------------------------------------------
def _twin_screen() -> Screen:
    """The pristine host's hop and the Li-vacancy configuration's hop that ends in its own vacancy: one
    physical hop. Saddles 2 ulps apart, end states relaxed from two starting points 1.6 meV apart (as in
    the design-rules example), no twin key stored (an older database)."""
    s = Screen()
    s.config("p", "pristine", n_atoms=96, formula="Li32Mn16O48")
    s.config("v", "V_Li(2c, Li layer)", [V_LI], parents=["p"], singles=["v"], charge_change=-1)
    s.hop("p", "p-hop-a", profile(-586.4396, (-586.8959, -586.8881)), reference="p-hop-a")
    s.hop("v", "v-hop-a", profile(-586.4396 + 2 * ULP, (-586.8881, -586.8943)), start="Li(4h, Li layer)", end="vacant Li(2c, Li layer)",
          reference="p-hop-a", nearest="V_Li(2c, Li layer)", distance=1.41)
    s.hop("p", "p-hop-b", profile(-586.2779), start="Li(4h, Li layer)", end="Li(4h, Li layer)", reference="p-hop-b")
    return s


def test_twin_hops_are_one_point(tmp_path):
    """Finding 2: the two rows of one physical hop are one twin group, counted once; the twin's ΔE_a
    against its own reference is zero by identity and named so, never an effect."""
    db = _twin_screen().database(tmp_path / "twins.db")
    rows = {r["hop_id"]: r for r in query_hops(db)}
    assert rows["p-hop-a"]["twin_group"] == rows["v-hop-a"]["twin_group"] == "p-hop-a"  # named by the pristine host's hop
    assert rows["v-hop-a"]["n_twins"] == 2 and "no twin key" in rows["v-hop-a"]["twin_basis"]  # an older database: said so
    assert rows["p-hop-b"]["n_twins"] == 1 and rows["p-hop-b"]["twin_group"] == "p-hop-b"
    assert "twin" in rows["v-hop-a"]["delta_e_a_comparison"] and "twin_of_reference" in rows["v-hop-a"]["delta_e_a_flags"]
    rule = rules_of(db)[1]
    assert rule.figure["groups"]["ODH, single vacancy"] == pytest.approx([(0.4524 + 0.4517) / 2, 0.6221], abs=2e-3)  # 2 distinct hops, not 3


def test_a_twin_key_decides_and_the_energies_confirm(tmp_path):
    s = Screen()
    s.config("p", "pristine", n_atoms=96)
    s.config("v", "V_Li", [V_LI], parents=["p"], singles=["v"])
    s.config("w", "V_Li 2", [V_LI], parents=["p"], singles=["w"])
    s.hop("p", "p1", profile(-586.30), twin_key="K1")
    s.hop("v", "v1", profile(-586.30 + ULP), twin_key="K1", reference="p1", nearest="V_Li(2c, Li layer)", distance=1.4)  # the same hop
    s.hop("w", "w1", profile(-586.30), twin_key="K2", reference="p1", nearest="V_Li(2c, Li layer)", distance=1.4)  # same energies, another hop
    s.hop("w", "w2", profile(-586.25), twin_key="K1", reference="p1", nearest="V_Li(2c, Li layer)", distance=2.4)  # key agrees, saddle 50 meV off
    rows = {r["hop_id"]: r for r in query_hops(s.database(tmp_path / "keys.db"))}
    assert rows["v1"]["twin_group"] == "p1" and rows["v1"]["twin_basis"] == "twin key, energies agree"
    assert rows["w1"]["twin_group"] == "w1" and rows["w2"]["twin_group"] == "w2"


def test_bands_sharing_one_leg_saddle_are_dependent(tmp_path):
    """Two divacancy bands of two configurations through one tetrahedral intermediate: one leg's saddle
    is common (within the resolution), the other leg and the end states differ. Two hops, not
    independent: each names the other."""
    s = Screen()
    s.config("a", "V_Li(4h, Li layer)", [V_LI])
    s.config("b", "V_Li(2b, TM layer)", [V_LI])
    s.hop("a", "a1", [-581.2286, -581.12, -581.0267, -581.10, -580.9526, -581.00, -581.0624], expected="TSH", start="Li(2b, TM layer)")
    s.hop("b", "b1", [-581.0609, -580.99, -580.9525, -581.06, -580.9637, -581.00, -581.0612], expected="TSH", start="Li(4h, Li layer)")
    rows = {r["hop_id"]: r for r in query_hops(s.database(tmp_path / "legs.db"))}
    assert rows["a1"]["twin_group"] != rows["b1"]["twin_group"]
    assert rows["a1"]["dependent_on"] == "b1" and rows["b1"]["dependent_on"] == "a1"
    assert rows["a1"]["second_saddle_energy"] == pytest.approx(-581.0267, abs=1e-4)  # both saddles stored


def test_cross_validation_keeps_twins_in_one_fold():
    from descriptors.report.features import fold_groups

    rows = [{"configuration_id": "p", "twin_group": "h1"}, {"configuration_id": "p", "twin_group": "h2"},
            {"configuration_id": "v", "twin_group": "h1"}, {"configuration_id": "v", "twin_group": "h3"},
            {"configuration_id": "w", "twin_group": "h4"}]
    groups = fold_groups(rows)
    assert groups[0] == groups[1] == groups[2] == groups[3] != groups[4]  # v joins p through their twin


# ----- 3. rule 2: like with like ------------------------------------------------------------------------------------
def _pair_screen(reference_route="ODH") -> Screen:
    """Al + V_O(8j) next to each other, its Al-only parent and the pristine host, the same hop in all
    three (E_KRA 0.40 with the vacancy, 0.60 beside Al alone, 0.50 in the host)."""
    s = Screen()
    s.config("p", "pristine", n_atoms=96, formula="Li32Mn16O48")
    s.config("al", "Al on Mn(4g, TM layer)", [AL], parents=["p"], singles=["al"], charge_change=-1, n_atoms=96, formula="Li32Mn15AlO48")
    s.config("vo", "V_O(8j)", [VO_8J], parents=["p"], singles=["vo"], charge_change=2)
    s.config("pair", "Al + V_O(8j)", [AL, VO_8J], parents=["vo", "al"], singles=["al", "vo"], charge_change=1, formula="Li32Mn15AlO47")
    s.hop("p", "p-h", profile(-586.40), reference="p-h", observed=reference_route)
    s.hop("al", "al-h", profile(-586.30), reference="p-h", nearest="Al on Mn(4g, TM layer)", distance=3.2, observed=reference_route)
    s.hop("pair", "pair-h", profile(-586.50), expected="V_O-edge", reference="p-h", nearest="V_O(8j)", distance=1.51)
    return s


def test_a_vacancy_pair_is_compared_with_its_dopant_only_parent(tmp_path):
    """Finding 3: ΔE_a of a hop beside Al + V_O is measured against the Al-only configuration (the one
    lacking only the vacancy, by lineage id), not against the pristine host."""
    db = _pair_screen().database(tmp_path / "pair.db")
    pair = next(r for r in query_hops(db) if r["hop_id"] == "pair-h")
    assert pair["reference_configuration_id"] == "al" and pair["delta_e_a"] == pytest.approx(0.40 - 0.60, abs=1e-4)
    assert pair["delta_e_a_comparison"] == "like with like"


def test_a_vacancy_that_removes_the_reference_route_is_shown_apart(tmp_path):
    """The parent's hop bent through a tetrahedral site that contains the missing O: the vacancy
    removes that route, so ΔE_a is another comparison, named and kept out of the statistic."""
    db = _pair_screen(reference_route="TSH").database(tmp_path / "route.db")
    pair = next(r for r in query_hops(db) if r["hop_id"] == "pair-h")
    assert pair["reference_mechanism"] == "TSH" and pair["delta_e_a"] is not None
    assert pair["delta_e_a_comparison"] == "the reference took the tetrahedral route, which this vacancy removes"
    rule = rules_of(db)[2]
    assert rule.verdict == "not enough data" and not rule.statistics
    assert [a["why"] for a in rule.apart] == ["the reference took the tetrahedral route, which this vacancy removes"]


def _vacancy_screen(through: list[float], beside: list[list[float]]) -> Screen:
    """O vacancies each with one hop through its own edge (ΔE_a ``through[k]``) and hops beside it, edge
    intact (ΔE_a ``beside[k]``), all against the pristine host's same hops (E_KRA 0.50)."""
    s = Screen()
    s.config("p", "pristine", n_atoms=96, formula="Li32Mn16O48")
    for k in range(max(len(through), len(beside))):
        s.hop("p", f"p{k}", profile(-586.40 + 0.01 * k), reference=f"p{k}")
        s.hop("p", f"q{k}", profile(-586.40 + 0.01 * k + 0.003), reference=f"q{k}", start="Li(4h, Li layer)", end="Li(4h, Li layer)")
    for k in range(max(len(through), len(beside))):
        vo = s.config(f"vo{k}", f"V_O(8j) #{k}", [VO_8J], parents=["p"], singles=[f"vo{k}"], charge_change=2)
        if k < len(through):
            s.hop(vo, f"vo{k}-t", profile(-586.40 + 0.01 * k + through[k]), expected="V_O-edge", reference=f"p{k}", nearest="V_O(8j)", distance=1.5)
        for j, delta in enumerate(beside[k] if k < len(beside) else []):
            s.hop(vo, f"vo{k}-b{j}", profile(-586.40 + 0.01 * k + 0.003 + delta), start="Li(4h, Li layer)", end="Li(4h, Li layer)",
                  reference=f"q{k}", nearest="V_O(8j)", distance=2.5 + 0.5 * j)
    return s


def test_rule_two_judges_hops_through_and_beside_the_vacancy_apart(tmp_path):
    """Hops through the vacant O's edge lower the barrier by 0.3 eV around four vacancies; hops beside
    them do not move. Two claims, each with its own verdict; several hops around one vacancy count once."""
    through = [-0.30, -0.28, -0.33, -0.31]
    beside = [[0.01, -0.02, 0.005], [-0.01, 0.02], [0.0, 0.015], [-0.005, 0.01]]
    rule = rules_of(_vacancy_screen(through, beside).database(tmp_path / "vo.db"))[2]
    verdicts = {p["part"].split(" ")[0]: (p["verdict"], p["n"]) for p in rule.parts}
    assert verdicts == {"through": ("supported", 4), "beside": ("inconclusive", 4)}  # 4 vacancies each, not 9 hops
    assert rule.verdict == "inconclusive" and "through the vacant O's edge" in rule.reason and "beside" in rule.reason
    assert "O vacancies" in rule.unit and rule.n == 8
    assert "would need about" in rule.power and "0.30 eV" in rule.power  # the literature's size, at the observed spread


def test_two_vacancies_give_no_verdict_but_their_numbers(tmp_path):
    """Li2MnO3 has two O sites: hops beside both vacancies are two units of replication, too few for
    an interval. No verdict, but the reason gives each vacancy's mean ΔE_a and its hop count, so the
    reader sees the numbers the figure shows."""
    rule = rules_of(_vacancy_screen([], [[0.10, 0.125, 0.085], [0.05, 0.07]]).database(tmp_path / "two.db"))[2]
    (beside,) = [p for p in rule.parts if p["part"].startswith("beside")]
    assert beside["verdict"] == "not enough data" and beside["n"] == 2 and rule.verdict == "not enough data"
    assert beside["why"].startswith("hops beside a vacancy (2-4 Å, edge intact): 2 O vacancies")
    assert "mean ΔE_a per vacancy V_O(8j) #0 +0.103 eV (3 hops), V_O(8j) #1 +0.060 eV (2 hops)" in beside["why"]
    assert "4 vacancies are needed for an interval" in beside["why"] and not rule.statistics


# ----- 4. four verdicts ------------------------------------------------------------------------------------------------
def test_three_values_give_no_interval_and_no_verdict():
    """Finding 5: three values have no honest 95 % interval (a percentile bootstrap gives their range)."""
    from descriptors.report.stats import difference_interval, mean_interval, verdict_of

    three = mean_interval([-0.351, -0.337, -0.338])
    assert three.low is None and three.high is None and verdict_of(three, -1) == "not enough data"
    assert "no interval" in three.text()
    four = mean_interval([-0.351, -0.337, -0.338, -0.340])
    assert four.low < four.value < four.high < 0 and verdict_of(four, -1) == "supported" and verdict_of(four, +1) == "contradicted"
    # Student's t at 3 degrees of freedom (3.182), not a resampled range
    assert four.high - four.low == pytest.approx(2 * 3.1824463 * np.std([-0.351, -0.337, -0.338, -0.340], ddof=1) / 2, rel=1e-6)
    assert verdict_of(difference_interval([0.1, 0.2, 0.15], [0.5, 0.6, 0.55, 0.52]), -1) == "not enough data"


def test_no_evidence_is_inconclusive_not_contradicted():
    """Finding 4: an interval that contains zero says nothing either way."""
    from descriptors.report.stats import mean_interval, spearman, verdict_of

    assert verdict_of(mean_interval([0.05, -0.04, 0.02, -0.01, 0.03]), -1) == "inconclusive"
    rho = spearman(np.arange(12), [0.3, 0.1, 0.5, 0.2, 0.4, 0.3, 0.1, 0.5, 0.2, 0.4, 0.35, 0.15])
    assert rho.low < 0 < rho.high and verdict_of(rho, -1) == "inconclusive"


def _slab_screen(spacings, barriers) -> Screen:
    s = Screen()
    for k, (x, e) in enumerate(zip(spacings, barriers)):
        cid = s.config(f"d{k}", f"Mg on Li #{k}", [{"kind": "substitution", "species": "Mg", "site": "Li(2c, Li layer)", "name": "Mg on Li", "frac_coords": [0, 0, 0]}])
        s.value(cid, "li_slab_spacing_near", x)
        s.hop(cid, f"d{k}-h", profile(-586.90 + e), nearest="Mg on Li", distance=2.5)
    return s


def test_a_rank_over_six_hundredths_of_an_angstrom_is_not_read(tmp_path):
    """Finding 4: ρ = −0.1 over a Li-slab spacing range of 0.06 Å is no evidence: not enough data (the
    range a rank needs, and the range there is, both said), never "contradicted"."""
    rng = np.random.default_rng(7)
    spacings = np.linspace(2.608, 2.668, 12)
    rule = rules_of(_slab_screen(spacings, 0.5 + rng.normal(0, 0.02, 12)).database(tmp_path / "slab.db"))[4]
    assert rule.verdict == "not enough data" and "0.060 Å" in rule.reason and "at least 0.1 Å" in rule.reason
    wide = np.linspace(2.40, 2.70, 12)
    rule = rules_of(_slab_screen(wide, 0.5 + rng.normal(0, 0.02, 12)).database(tmp_path / "wide.db"))[4]
    assert rule.verdict == "inconclusive" and rule.statistics[0].low < 0 < rule.statistics[0].high and "would need about" in rule.power
    rule = rules_of(_slab_screen(wide, 0.9 - 1.0 * (wide - 2.4)).database(tmp_path / "trend.db"))[4]
    assert rule.verdict == "supported"
    rule = rules_of(_slab_screen(wide, 0.3 + 1.0 * (wide - 2.4)).database(tmp_path / "opposite.db"))[4]
    assert rule.verdict == "contradicted" and rule.statistics[0].high < 0 or rule.statistics[0].low > 0


# ----- 5. the level's error -------------------------------------------------------------------------------------------
def test_expected_error_comes_from_the_measured_rows_without_flagged_ones(tmp_path):
    """Finding 6: SevenNet-0's LiNiO2 ODH row is flagged (an image below both end points): left out,
    the MAE of its barriers is 0.155 eV over 3 rows, every error low (signed −0.155 eV); the committed
    summary is what the generator makes of the measured results file."""
    import importlib.util
    from pathlib import Path

    from descriptors.physics.levels import VALIDATION_FILE, expected_error, validation_error

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("validation_summary", root / "benchmarks" / "validation_summary.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    results = [json.loads(line) for line in (root / "benchmarks" / "results_model_accuracy.jsonl").read_text().splitlines() if line.strip()]
    assert generator.summarise(results)["levels"] == json.loads(VALIDATION_FILE.read_text())["levels"]
    barrier = validation_error(LEVEL, "barrier")
    assert (barrier.n, barrier.mae, barrier.signed_mean) == (3, pytest.approx(0.1547, abs=1e-4), pytest.approx(-0.1547, abs=1e-4))
    assert barrier.biased and barrier.excluded == ("LiNiO2 ODH (endpoint_not_lowest)",)
    assert expected_error(LEVEL) == barrier.mae and expected_error("MLIP committee(chgnet, 7net-0)") is not None
    difference = validation_error(LEVEL, "e_kra_difference")
    assert difference.n == 1 and abs(difference.signed_mean) < 0.01  # the shared offset cancels in a difference


def test_every_verdict_states_the_level_its_error_and_what_validation_never_covered(tmp_path):
    through = [-0.30, -0.28, -0.33, -0.31]
    db = _vacancy_screen(through, []).database(tmp_path / "vo.db")
    rule = rules_of(db)[2]
    (error,) = rule.error
    assert LEVEL in error and "validation MAE on differences of E_KRA" in error and "validation MAE on E_KRA 0.155 eV" in error
    assert "no O vacancy" in error and "Mn" in error and "exceeds" in error
    from descriptors.report.html import build_report

    html = build_report(db)
    assert html.count("The level&#x27;s error") == 5 and html.count("Unit of replication") == 5
    assert "no O vacancy" in html


def test_a_ranked_rule_names_what_validation_never_covered(tmp_path):
    """Rule 4 ranks hops of a Mn host beside a Mg dopant: its level's error says that the validation
    set has no Mn and no such dopant, as the hop rules do (it once passed an empty situation)."""
    wide = np.linspace(2.40, 2.70, 12)
    rule = rules_of(_slab_screen(wide, 0.5 + 0.01 * np.arange(12)).database(tmp_path / "slab.db"))[4]
    error = rule.error[0]
    assert LEVEL in error and "validation MAE on E_KRA" in error
    assert "no example with" in error and "Mn" in error and "no dopant (Mg" in error


# ----- 6. rule 3: the dopant's valence -----------------------------------------------------------------------------
def _dopant_screen(al_shift: float, nb_shift: float, sites: int = 4) -> Screen:
    """Al³⁺ (below Mn⁴⁺) and Nb⁵⁺ (above) next to ``sites`` distinct O sites each, their ΔE_vac(O)."""
    s = Screen()
    nb = {**AL, "species": "Nb", "name": "Nb on Mn(4g, TM layer)", "oxidation_state": 5}
    s.config("al", "Al on Mn(4g, TM layer)", [AL], charge_change=-1, n_atoms=96)
    s.config("nb", "Nb on Mn(4g, TM layer)", [nb], charge_change=1, n_atoms=96)
    for name, dopant, single, shift, change in (("Al", AL, "al", al_shift, 1), ("Nb", nb, "nb", nb_shift, 3)):
        for k in range(sites):
            cid = s.config(f"{single}{k}", f"{name} + V_O #{k}", [dopant, VO_8J], parents=["vo", single], singles=[single, "vo"], charge_change=change)
            s.value(cid, "delta_e_vac_o", shift + 0.01 * k)
            s.value(cid, "e_vac_o", 2.7 + shift + 0.01 * k)
    return s


def test_rule_three_tests_the_sign_against_the_valence(tmp_path):
    """Finding 5: one dopant shifting E_vac(O) by more than 0.1 eV no longer supports the rule: the sign
    must follow the valence (Al³⁺ on Mn⁴⁺ lowers it, Nb⁵⁺ raises it), over distinct O sites."""
    rule = rules_of(_dopant_screen(-0.34, +0.62).database(tmp_path / "right.db"))[3]
    assert rule.verdict == "supported" and rule.n == 8 and "O sites" in rule.unit
    assert {t["dopant"]: t["verdict (valence)"] for t in rule.table} == {"Al": "supported", "Nb": "supported"}
    assert next(t for t in rule.table if t["dopant"] == "Al")["literature"] == "reported to raise it"
    rule = rules_of(_dopant_screen(+0.34, -0.62).database(tmp_path / "wrong.db"))[3]
    assert rule.verdict == "contradicted"
    rule = rules_of(_dopant_screen(-0.34, +0.62, sites=3).database(tmp_path / "three.db"))[3]  # 3 O sites each: no interval per dopant
    assert {t["dopant"]: t["verdict (valence)"] for t in rule.table} == {"Al": "not enough data", "Nb": "not enough data"}
    assert "none: fewer than 4 O sites" in rule.table[0]["95 % t-interval (eV)"]
    assert "no O-vacancy formation energies" in rule.error[0]


# ----- 7. the baseline against trivial predictors ------------------------------------------------------------------
def test_baseline_is_compared_with_trivial_predictors():
    """Finding 7: where E_KRA is set by the expected mechanism alone, a lookup on it is the predictor to
    beat, and the model is said not to beat it."""
    from descriptors.report.features import baseline_model

    rng = np.random.default_rng(3)
    rows = []
    for k in range(24):
        mechanism = "TSH" if k % 2 else "ODH"
        rows.append({"configuration_id": f"c{k}", "hop_id": f"h{k}", "twin_group": f"h{k}", "mechanism_expected": mechanism, "n_tm": k % 3,
                     "length": 2.8 + 0.01 * rng.normal(), "li_slab_spacing": 2.6 + 0.01 * rng.normal(), "e_kra": (0.15 if mechanism == "TSH" else 0.55) + rng.normal(0, 0.01)})
    result = baseline_model(rows)
    assert set(result.trivial) == {"the mean", "a lookup on mechanism_expected", "a lookup on n-TM"}
    assert result.versus == "a lookup on mechanism_expected" and result.trivial[result.versus] < 0.02 < result.trivial["the mean"]
    assert result.beats in ("does not beat", "is beaten by") and result.beats in result.verdict_text()


# ----- 8. flags at the model's resolution ---------------------------------------------------------------------------
def test_flags_on_float32_energies_use_the_resolution():
    """Finding 9: a middle image one float32 step below its ends is the ends' energy; a minimum 5 meV
    below them is a finding, flagged."""
    from descriptors.physics.barriers import energy_resolution, migration_barrier

    ends = float(np.float32(-586.8959))
    one_ulp = [ends, ends + 0.10, ends + 0.20, ends - ULP, ends + 0.19, ends + 0.10, ends]
    assert energy_resolution(one_ulp) == pytest.approx(8 * ULP)
    assert "endpoint_not_lowest" not in migration_barrier(one_ulp).flags
    assert "endpoint_not_lowest" in migration_barrier([ends, ends + 0.1, ends - 0.005, ends + 0.1, ends]).flags


# ----- the committed example: the findings reproduced, and answered ---------------------------------------------------
def test_the_committed_example_reproduces_the_findings(tmp_path):
    """examples/li2mno3_design_rules.db, its stored bands derived again: every divacancy hop went
    through the tetrahedral site; the three Li-vacancy hops into their own vacancy are the pristine
    hops; two pairs of bands share a leg's saddle; no rule says "contradicted" without an interval on
    the other side."""
    from pathlib import Path

    from descriptors.ingest import rederive

    example = Path(__file__).resolve().parents[1] / "examples" / "li2mno3_design_rules.db"
    target = DescriptorDatabase(f"sqlite:///{tmp_path / 'rederived.db'}")
    rederive(DescriptorDatabase(f"sqlite:///{example}", read_only=True), target)
    hops = query_hops(target)
    divacancy = [h for h in hops if h["mechanism_expected"] == "TSH"]
    assert len(divacancy) == 9 and {h["mechanism_observed"] for h in divacancy} == {"TSH"}
    assert all(h["minimum_at_tetrahedral_site"] for h in divacancy)
    # 33 hop rows (three of them twins computed once) are 30 physical hops; bands sharing a leg's saddle: 5 rows
    assert len(hops) == 33 and sum(h["n_twins"] == 2 for h in hops) == 6 and len({h["twin_group"] for h in hops}) == 30
    assert sum(bool(h["dependent_on"]) for h in hops) == 5
    for rule in rules_of(target).values():
        if rule.verdict == "contradicted":
            assert all(s.low > 0 or s.high < 0 for s in rule.statistics)
    rules = rules_of(target)
    assert rules[2].verdict == "not enough data" and rules[4].verdict == "not enough data"
