"""Li hops: lengths, layers, ODH vs TSH, n-TM, distance to the defect, end points and IDPP images."""

from __future__ import annotations

import numpy as np
import pytest

from structures.configurations import enumerate_singles
from structures.errors import LroxInputError
from structures.hops import HopMechanism, enumerate_hops, hop_endpoints, interpolate_hop
from structures.sublattices import parse_dopant, parse_vacancy
from tests.conftest import framework


def test_licoo2_has_one_in_plane_hop_through_a_1tm_tetrahedron(licoo2_108):
    hops = enumerate_hops(licoo2_108)
    assert len(hops) == 1
    hop = hops[0]
    assert hop.length == pytest.approx(2.8156, abs=1e-3)  # = a
    assert hop.layers == "Li layer"
    assert hop.mechanism is HopMechanism.ODH  # a single vacancy: no divacancy, no TSH
    assert hop.n_tm == 1  # the tetrahedron shares a face with one Co octahedron
    assert hop.multiplicity == 27 * 6 // 2  # 27 Li, 6 in-plane neighbours each
    assert hop.distance_to_defect is None
    assert all(sorted(lab.split("(")[0] for lab in t.face_sharing) == ["Co", "Li", "Li", "Li"] for t in hop.tetrahedral_sites)


def test_li2mno3_honeycomb_li_opens_0tm_paths(li2mno3_96):
    hops = enumerate_hops(li2mno3_96)
    in_plane = [h for h in hops if h.layers == "Li layer"]
    cross = [h for h in hops if h.layers == "TM layer -> Li layer"]
    assert in_plane and cross
    assert all("Li(2b, TM layer)" in (h.start_label, h.end_label) for h in cross)
    zero_tm = [h for h in in_plane if h.n_tm == 0]
    one_tm = [h for h in in_plane if h.n_tm == 1]
    assert zero_tm and one_tm
    # a 0-TM in-plane tetrahedron faces the honeycomb Li(2b); a 1-TM one faces Mn
    assert all(any(lab == "Li(2b, TM layer)" for lab in h.tetrahedral_sites[0].face_sharing) for h in zero_tm)
    assert all(any(lab.startswith("Mn") for lab in h.tetrahedral_sites[0].face_sharing) for h in one_tm)
    assert all(2.7 < h.length < 3.0 for h in hops)


def test_divacancy_turns_neighbouring_hops_into_tetrahedral_site_hops(li2mno3_96):
    vacancy = enumerate_singles(li2mno3_96, parse_vacancy("Li:li-layer"))[0]
    hops = enumerate_hops(li2mno3_96, vacancy, max_defect_distance=3.0)
    tsh = [h for h in hops if h.mechanism is HopMechanism.TSH]
    odh = [h for h in hops if h.mechanism is HopMechanism.ODH]
    assert tsh and odh
    for hop in tsh:  # the divacancy: another octahedron of the tetrahedron is the defect vacancy
        assert any(lab.startswith("vacant") for lab in hop.tetrahedral_sites[0].face_sharing)
        assert not hop.into_existing_vacancy
    # hops straight into the existing vacancy stay single-vacancy (ODH)
    into = [h for h in hops if h.into_existing_vacancy]
    assert into and all(h.mechanism is HopMechanism.ODH for h in into)
    assert all(h.distance_to_defect <= 3.0 for h in hops)
    assert [h.distance_to_defect for h in hops] == sorted(h.distance_to_defect for h in hops)


def test_dopant_on_the_honeycomb_site_raises_n_tm(li2mno3_96):
    host_zero = {h.canonical_key for h in enumerate_hops(li2mno3_96) if h.n_tm == 0}
    mg = next(c for c in enumerate_singles(li2mno3_96, parse_dopant("Mg:tm-layer-li")))
    near = enumerate_hops(li2mno3_96, mg, max_defect_distance=2.6)
    facing_mg = [h for h in near if any(lab.startswith("Mg on") for lab in h.tetrahedral_sites[0].face_sharing)]
    assert facing_mg and host_zero
    assert all(h.n_tm >= 1 for h in facing_mg)  # Mg2+ is high-valence: a 0-TM path becomes 1-TM


def test_hops_are_equal_by_symmetry(li2mno3_96):
    first = enumerate_hops(li2mno3_96)
    second = enumerate_hops(li2mno3_96)
    assert first == second
    assert len(set(first)) == len(first)
    assert first[0] != first[1]


def test_endpoints_and_idpp_images():
    fw = framework("licoo2", (2, 2, 1))
    hop = enumerate_hops(fw, cutoff=3.0)[0]
    initial, final = hop_endpoints(fw, None, hop)
    assert len(initial) == len(final) == len(fw.structure) - 1
    assert initial[-1].specie.symbol == "Li" and final[-1].specie.symbol == "Li"
    moved = initial.lattice.get_distance_and_image(initial[-1].frac_coords, final[-1].frac_coords)[0]
    assert moved == pytest.approx(hop.length, abs=1e-6)
    # every other atom stays put
    assert np.allclose(initial.frac_coords[:-1], final.frac_coords[:-1])
    images = interpolate_hop(initial, final, n_images=3)
    linear = interpolate_hop(initial, final, n_images=3, method="linear")
    assert len(images) == len(linear) == 5
    assert images[0] == initial and images[-1] == final
    # the moving Li advances monotonically along the hop, one quarter per image
    start = initial[-1].coords
    direction = (final[-1].coords - start) / hop.length
    progress = [float(np.dot(img[-1].coords - start, direction)) / hop.length for img in images]
    assert progress == pytest.approx([0, 0.25, 0.5, 0.75, 1.0], abs=0.05)
    # no image brings two atoms unphysically close
    assert min(np.sort(img.distance_matrix, axis=1)[:, 1].min() for img in images) > 1.4


def test_periodic_idpp_forces_are_its_gradient_and_ties_between_images_do_not_matter():
    """Li2MnO3's 24-atom C2/m cell has atom pairs half a lattice vector apart: two periodic images
    at one distance. The IDPP sums both, so shifting every atom by a rounding-sized amount (what a
    different BLAS kernel does) moves the band by as little."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from structures.hops import periodic_idpp_calculators

    fw = framework("li2mno3", (1, 1, 1))
    hop = enumerate_hops(fw)[0]
    initial, final = hop_endpoints(fw, None, hop)
    linear = [AseAtomsAdaptor.get_atoms(s) for s in initial.interpolate(final, nimages=4, autosort_tol=0)]
    image = linear[2].copy()
    image.calc = periodic_idpp_calculators(linear)[2]
    image.rattle(0.05, seed=3)
    forces, h = image.get_forces(), 1e-6
    for atom, axis in ((0, 0), (len(image) - 1, 2), (7, 1)):
        energies = []
        for sign in (1, -1):
            moved = image.copy()
            moved.calc = image.calc
            moved.positions[atom, axis] += sign * h
            energies.append(moved.get_potential_energy())
        assert forces[atom, axis] == pytest.approx(-(energies[0] - energies[1]) / (2 * h), abs=1e-6)

    # the 24-atom cell, and the 96-atom Li-rich host: a pristine hop (ASE's IDPP moved its band by
    # 5.7e-3 Å under this nudge) and a hop beside an O vacancy
    from structures.configurations import enumerate_singles
    from structures.sublattices import parse_vacancy

    big = framework("li2mno3", (2, 1, 2))
    vacancy = enumerate_singles(big, parse_vacancy("O"))[0]
    cases = [(initial, final), hop_endpoints(big, None, enumerate_hops(big)[0])]
    cases.append(hop_endpoints(big, vacancy, enumerate_hops(big, vacancy, max_defect_distance=4.0)[0]))
    for ends in cases:
        band = interpolate_hop(*ends, n_images=3)
        nudged = ends[0].copy()
        nudged.translate_sites(range(len(nudged)), [1e-13, -1e-13, 1e-13], frac_coords=False, to_unit_cell=False)
        again = interpolate_hop(nudged, ends[1], n_images=3)
        lattice = band[0].lattice.matrix
        for a, b in zip(band[1:-1], again[1:-1]):
            shift = (a.frac_coords - b.frac_coords + 0.5) % 1 - 0.5
            assert np.abs(shift @ lattice).max() < 1e-9


def test_bad_hop_inputs(li2mno3_cell):
    with pytest.raises(LroxInputError, match="must be positive"):
        enumerate_hops(li2mno3_cell, cutoff=-1)
    with pytest.raises(LroxInputError, match="unknown interpolation"):
        fw = framework("licoo2", (2, 2, 1))
        hop = enumerate_hops(fw, cutoff=3.0)[0]
        interpolate_hop(*hop_endpoints(fw, None, hop), method="spline")


def test_hops_and_configurations_survive_a_json_round_trip(li2mno3_96):
    import json

    from monty.json import MontyDecoder, MontyEncoder

    vacancy = enumerate_singles(li2mno3_96, parse_vacancy("O"))[0]
    hop = enumerate_hops(li2mno3_96, vacancy, max_defect_distance=3.0)[0]
    hop_back = json.loads(json.dumps(hop, cls=MontyEncoder), cls=MontyDecoder)
    assert hop_back == hop and hop_back.mechanism is hop.mechanism
    assert hop_back.tetrahedral_sites == hop.tetrahedral_sites
    config_back = json.loads(json.dumps(vacancy, cls=MontyEncoder), cls=MontyDecoder)
    assert config_back.name == vacancy.name and config_back.structure == vacancy.structure
    assert hop_endpoints(li2mno3_96, config_back, hop_back)[0] == hop_endpoints(li2mno3_96, vacancy, hop)[0]


def test_symmetric_hop_final_end_point_is_the_image_of_the_initial_one():
    from structures.hops import end_to_end_operation, map_initial_to_final

    fw = framework("licoo2", (2, 2, 1))
    hop = enumerate_hops(fw, cutoff=3.0)[0]
    initial, final = hop_endpoints(fw, None, hop)
    operation = end_to_end_operation(fw, None, hop)
    assert operation is not None  # every LiCoO2 in-plane hop is symmetric
    mapped = map_initial_to_final(fw, None, hop, initial, operation)
    assert np.allclose(mapped.frac_coords, final.frac_coords, atol=1e-8)
    assert [s.species_string for s in mapped] == [s.species_string for s in final]
    # a displaced initial end point maps to a correspondingly displaced final one
    shaken = initial.copy()
    shaken.translate_sites([0], [0.01, 0, 0], frac_coords=False)
    moved = map_initial_to_final(fw, None, hop, shaken, operation)
    assert np.isclose(np.abs(moved.cart_coords - final.cart_coords).max(), 0.01, atol=1e-6)


def test_hop_between_inequivalent_sites_has_no_end_to_end_operation(li2mno3_96):
    from structures.hops import end_to_end_operation

    hop = next(h for h in enumerate_hops(li2mno3_96) if h.layers == "TM layer -> Li layer")
    assert end_to_end_operation(li2mno3_96, None, hop) is None


# ----- mechanisms that see the configuration's vacancies, and the converged path ----------------------
def test_a_hop_with_an_o_vacancy_on_its_shared_edge_is_its_own_class(li2mno3_96):
    from structures.sublattices import parse_vacancy

    for vacancy in enumerate_singles(li2mno3_96, parse_vacancy("O")):
        hops = enumerate_hops(li2mno3_96, vacancy, max_defect_distance=3.0)
        on_edge = [h for h in hops if vacancy.defects[0].point in h.edge_points]
        assert on_edge, vacancy.name
        for hop in on_edge:
            assert hop.mechanism is HopMechanism.VO_EDGE and hop.vacant_edge_points == [vacancy.defects[0].point]
            # both tetrahedra of the edge lost a face O: neither is a tetrahedral site any more
            assert hop.tetrahedral_sites == [] and hop.n_tm is None
            assert len(hop.saddle_geometry["vacant_edge_frac"]) == 1
        # hops whose edge is whole keep their mechanism
        assert all(h.mechanism is not HopMechanism.VO_EDGE for h in hops if h not in on_edge)


def test_every_hop_shares_an_o_o_edge_and_knows_its_pristine_twin(li2mno3_96):
    pristine = {h.id: h for h in enumerate_hops(li2mno3_96)}
    assert all(len(h.edge_points) == 2 and h.reference_hop_id == h.id for h in pristine.values())
    ti = enumerate_singles(li2mno3_96, parse_dopant("Ti:tm"))[0]
    for hop in enumerate_hops(li2mno3_96, ti, max_defect_distance=4.0):
        twin = pristine[hop.reference_hop_id]  # the same two sites in the host: the reference of ΔE_a
        assert (twin.start_label, twin.end_label) in ((hop.start_label, hop.end_label), (hop.end_label, hop.start_label))
        assert twin.length == pytest.approx(hop.length)


def _band_with_li_at(fw, hop, position):
    """The hop's initial end point with the moving Li moved to ``position`` (Cartesian), three times."""
    initial, final = hop_endpoints(fw, None, hop)
    middle = initial.copy()
    middle.replace(len(middle) - 1, "Li", coords=position, coords_are_cartesian=True)
    return [initial, middle, final]


def test_observed_mechanism_is_read_off_the_climbing_image(licoo2_108):
    from descriptors.physics.mechanism import observed_mechanism

    hop = enumerate_hops(licoo2_108)[0]
    geometry = hop.saddle_geometry
    initial, _ = hop_endpoints(licoo2_108, None, hop)

    def centre(indices):  # of the O around the moving Li, each at its image nearest the Li
        li = initial[-1]
        return li.coords + np.mean([initial.lattice.get_distance_and_image(li.frac_coords, initial[i].frac_coords)[1] @ initial.lattice.matrix
                                    + initial[i].coords - li.coords for i in indices], axis=0)

    edge_midpoint, tet_centre = centre(geometry["edge"]), centre(geometry["tetrahedra"][0])
    through_edge = observed_mechanism(_band_with_li_at(licoo2_108, hop, edge_midpoint), [0.0, 0.6, 0.0], geometry)
    through_tet = observed_mechanism(_band_with_li_at(licoo2_108, hop, tet_centre), [0.0, 0.3, 0.0], geometry)
    assert through_edge["mechanism"] == "ODH" and through_edge["distance_to_edge_midpoint"] == pytest.approx(0, abs=1e-6)
    assert through_tet["mechanism"] == "TSH" and through_tet["distance_to_tetrahedron"] == pytest.approx(0, abs=1e-6)


def test_a_divacancy_band_starts_through_the_tetrahedral_site(li2mno3_96):
    from descriptors.physics.mechanism import observed_mechanism
    from structures.hops import tetrahedral_band

    vacancy = enumerate_singles(li2mno3_96, parse_vacancy("Li:li-layer"))[0]
    hop = next(h for h in enumerate_hops(li2mno3_96, vacancy, max_defect_distance=3.0) if h.mechanism is HopMechanism.TSH)
    images = interpolate_hop(*hop_endpoints(li2mno3_96, vacancy, hop), n_images=5)
    band = tetrahedral_band(images, hop.saddle_geometry)
    energies = [0.0, 0.1, 0.2, 0.3, 0.2, 0.1, 0.0]  # pretend the middle image is the saddle
    assert observed_mechanism(images, energies, hop.saddle_geometry)["mechanism"] == "ODH"  # IDPP: through the edge
    assert observed_mechanism(band, energies, hop.saddle_geometry)["mechanism"] == "TSH"
    middle = band[3]
    li = middle[-1]
    to_vertices = [middle.lattice.get_distance_and_image(li.frac_coords, middle[i].frac_coords) for i in hop.saddle_geometry["tetrahedra"][0]]
    offsets = [(middle[i].frac_coords + image - li.frac_coords) @ middle.lattice.matrix for i, (_, image) in zip(hop.saddle_geometry["tetrahedra"][0], to_vertices)]
    assert np.linalg.norm(np.mean(offsets, axis=0)) < 0.05  # the middle image sits on the tet centre
    assert band[0] == images[0] and band[-1] == images[-1]
    assert all(np.allclose(b.cart_coords[:-1], i.cart_coords[:-1]) for b, i in zip(band, images))  # only the Li moves


def test_a_band_seeded_from_another_level_keeps_its_shape_and_ends_on_the_new_end_points():
    from structures.hops import seeded_band

    fw = framework("licoo2", (2, 2, 1))
    hop = enumerate_hops(fw, cutoff=3.0)[0]
    initial, final = hop_endpoints(fw, None, hop)
    ml = interpolate_hop(initial, final, n_images=5)
    # the "DFT" end points: a slightly larger cell, one O nudged
    start, end = initial.copy(), final.copy()
    for s in (start, end):
        s.scale_lattice(s.volume * 1.03)
    end.translate_sites([0], [0.01, 0, 0])
    band = seeded_band(ml, start, end)
    assert len(band) == len(ml) and band[0] == start and band[-1] == end
    # the ML displacement of every image, in fractional coordinates, is kept (plus the spread mismatch)
    k, n = 2, len(ml) - 1
    expected = start.frac_coords + (ml[k].frac_coords - ml[0].frac_coords) + (end.frac_coords - start.frac_coords - (ml[n].frac_coords - ml[0].frac_coords)) * k / n
    assert np.allclose(band[k].frac_coords, expected, atol=1e-9)
    # resampled to another number of images at equal path length
    three = seeded_band(ml, start, end, n_images=3)
    assert len(three) == 5 and three[0] == start and three[-1] == end
    middle = three[2].frac_coords[-1] - start.frac_coords[-1]
    assert np.allclose(middle, (ml[3].frac_coords[-1] - ml[0].frac_coords[-1]) + (end.frac_coords[-1] - start.frac_coords[-1] - (ml[n].frac_coords[-1] - ml[0].frac_coords[-1])) / 2, atol=0.02)


# ----- the mirror of a symmetric hop: half its band is the image of the other half ---------------------
def _is_the_mirror(mirror, source, image) -> bool:
    """Whether ``image`` is the mirror of ``source``: positions (modulo the lattice) and species."""
    delta = mirror.image_frac(source.frac_coords) - image.frac_coords
    species_agree = all(source[k].species_string == image[mirror.permutation[k]].species_string for k in range(len(source)))
    return bool(np.abs(delta - np.round(delta)).max() < 1e-9) and species_agree


def test_a_hop_is_its_own_mirror_only_where_its_defects_sit_symmetrically_about_it(li2mno3_96):
    from structures.configurations import configuration_from_defects
    from structures.hops import hop_mirror

    pristine = configuration_from_defects(li2mno3_96, [])
    mirrored = {}
    for hop in enumerate_hops(li2mno3_96, pristine):
        mirror = hop_mirror(li2mno3_96, pristine, hop)
        mirrored[hop.id] = mirror is not None
        if mirror is not None:  # swaps the two end states, both ways: an involution
            initial, final = hop_endpoints(li2mno3_96, pristine, hop)
            assert _is_the_mirror(mirror, initial, final) and _is_the_mirror(mirror, final, initial)
            assert mirror.permutation[-1] == len(initial) - 1  # the moving Li is its own image
        else:  # in the Li-rich host, hops between inequivalent Li sites (2c, 4h, 2b) have none
            assert hop.start_label != hop.end_label
    assert sum(mirrored.values()) == 2  # the two 4h -> 4h hops


def test_a_hop_with_the_vacant_o_on_its_edge_keeps_a_mirror_only_through_that_o(li2mno3_96):
    from structures.hops import hop_mirror

    symmetric = 0
    for vacancy in enumerate_singles(li2mno3_96, parse_vacancy("O")):
        vacant_frac = li2mno3_96.coords_of([vacancy.defects[0].point])[0]
        for hop in enumerate_hops(li2mno3_96, vacancy, max_defect_distance=3.0):
            mirror = hop_mirror(li2mno3_96, vacancy, hop)
            if mirror is None:
                continue
            symmetric += 1
            assert hop.mechanism is HopMechanism.VO_EDGE and hop.vacant_edge_points == [vacancy.defects[0].point]
            initial, final = hop_endpoints(li2mno3_96, vacancy, hop)
            assert _is_the_mirror(mirror, initial, final) and _is_the_mirror(mirror, final, initial)
            image = np.asarray(mirror.rotation) @ vacant_frac + np.asarray(mirror.translation)
            assert np.abs(image - vacant_frac - np.round(image - vacant_frac)).max() < 1e-9  # the vacancy stays put
    assert symmetric == 1  # of the 25 hops within 3 Å of the two O vacancies, only one of V_O(4i)'s edge hops


def test_a_users_p1_cell_has_no_mirrored_hop(tmp_path):
    from structures import DefectFramework, load_host
    from structures.hops import end_to_end_operation, hop_mirror

    structure = load_host("li2mno3").structure.copy()
    for key in list(structure.site_properties):
        structure.remove_site_property(key)
    structure.perturb(0.08, min_distance=0.04)  # no symmetry left
    structure.to(filename=str(tmp_path / "POSCAR"), fmt="poscar")
    fw = DefectFramework.from_host(load_host(tmp_path / "POSCAR"), (2, 1, 1))
    hops = enumerate_hops(fw)
    assert hops
    # the supercell's own translations map no Li site onto its neighbour: every band is run whole
    assert all(hop_mirror(fw, None, h) is None and end_to_end_operation(fw, None, h) is None for h in hops)


def test_in_a_small_cell_the_mirror_is_that_of_the_hops_own_path():
    """In a 2x2x1 LiCoO2 cell two Li sites are joined by two paths, around the cell either way, and
    the inversion through either path's midpoint swaps the two end states. Only the one through
    this hop's midpoint maps its band onto itself; the other maps it onto the other path."""
    from structures.hops import hop_mirror

    fw = framework("licoo2", (2, 2, 1))
    hop = enumerate_hops(fw, cutoff=3.0)[0]
    mirror = hop_mirror(fw, None, hop)
    assert mirror is not None
    middle = interpolate_hop(*hop_endpoints(fw, None, hop), n_images=1, method="linear")[1]
    delta = mirror.image_frac(middle.frac_coords) - middle.frac_coords
    assert np.abs(delta - np.round(delta)).max() < 1e-9  # the middle image is its own mirror
