"""The descriptor vocabulary: every stored quantity's name and unit, and the hop table's columns.

What a row may be called and in what unit it is stored, in one place: the extractor writes these
names, the query language and the exports read them. The shapes of the stored JSON documents (the
keys lrox's readers rely on) are here too: the database door checks every document read back against
them, and a result is refused before it is stored when its documents do not fit them.
"""

from __future__ import annotations

from structures.doors.databases import Required

__all__ = ["GEOMETRY_NAMES", "UNITS", "BADER_MEANS", "HOP_UNITS", "HOP_FIELDS", "SUMMARY_FIELDS", "DESCRIPTOR_FIELDS", "LEVEL_FIELDS", "COUNT_FIELDS", "HOP_FIELDS_ADDED",
           "MU_SHAPE", "SUMMARY_SHAPE", "DATA_SHAPE", "DETAILS_SHAPE", "TWIN_FIELDS"]

GEOMETRY_NAMES = (
    "li_slab_spacing",
    "interlayer_distance",
    "tm_o_mean",
    "tm_o_min",
    "tm_o_max",
    "o_o_min",
    "li_slab_spacing_near",
    "tm_o_mean_near",
    "o_o_min_near",
)
UNITS = {
    **{name: "Å" for name in GEOMETRY_NAMES},
    "barrier": "eV",
    "e_kra": "eV",
    "delta_e_a": "eV",
    "e_vac_o": "eV",
    "e_vac_o_tp": "eV",
    "e_vac_li": "eV",
    "delta_e_vac_o": "eV",
    "barrier_spread": "eV",
    "band_gap": "eV",
    "o2p_center": "eV",
    "o2p_center_vbm": "eV",
    "o2p_center_full": "eV",
    "o2p_width": "eV",
    "tm_d_center": "eV",
    "dp_separation": "eV",
    "covalency": "",
    "bader_dopant_charge": "e",
    "bader_charge_li": "e",
    "bader_charge_tm": "e",
    "bader_charge_o": "e",
    "ts_cation_charge": "e",
}
BADER_MEANS = ("bader_charge_li", "bader_charge_tm", "bader_charge_o")  # mean net charge per sublattice

# field → unit ("" for text); the order is the column order of tables and exports. The mechanism's
# evidence (closest approaches along the band, the tetrahedron's centre-to-face distance, the
# intermediate minimum relative to the ends' mean, the second saddle's E_KRA: see
# descriptors.physics.mechanism) and the absolute energies twins are recognised by
# (descriptors.records.twins) are columns too
HOP_UNITS = {
    "id": "",
    "calculation_id": "",
    "configuration_id": "",
    "configuration": "",
    "host": "",
    "defect": "",
    "dopant": "",
    "hop_id": "",
    "start": "",
    "end": "",
    "length": "Å",
    "layers": "",
    "mechanism": "",
    "mechanism_expected": "",
    "mechanism_observed": "",
    "n_tm": "",
    "ts_cations": "",
    "ts_cation_charge": "e",
    "distance_to_defect": "Å",
    "nearest_defect": "",
    "closest_to_vacant_o": "Å",
    "closest_to_tetrahedron": "Å",
    "tetrahedron_inradius": "Å",
    "closest_to_edge_midpoint": "Å",
    "saddle_image": "",
    "intermediate_minimum": "eV",
    "minimum_at_tetrahedral_site": "",
    "forward": "eV",
    "reverse": "eV",
    "barrier": "eV",
    "stable_end": "",
    "e_kra": "eV",
    "e_kra_second_saddle": "eV",
    "delta_e_a": "eV",
    "reference_configuration_id": "",
    "reference_mechanism": "",
    "delta_e_a_comparison": "",
    "delta_e_a_flags": "",
    "barrier_spread": "eV",
    "expected_error": "eV",
    "route": "",
    "converged": "",
    "status": "",
    "flags": "",
    "level_of_theory": "",
    "settings_hash": "",
    "backend": "",
    "n_atoms": "",
    "twin_key": "",
    "shares_band_with": "",
    "saddle_energy": "eV",
    "second_saddle_energy": "eV",
    "initial_energy": "eV",
    "final_energy": "eV",
}
HOP_FIELDS = tuple(HOP_UNITS)

# the configuration view's quantities at one level (descriptors.query.configurations documents them):
# summaries over the configuration's hops and calculations, then one descriptor each
SUMMARY_FIELDS = ("barrier", "barrier_max", "e_kra_min", "e_kra_max", "e_kra_nearest", "n_hops", "n_flagged", "n_failed")
COUNT_FIELDS = ("n_hops", "n_flagged", "n_failed")
DESCRIPTOR_FIELDS = (
    "o2p_center",
    "o2p_center_vbm",
    "o2p_center_full",
    "o2p_width",
    "tm_d_center",
    "covalency",
    "dp_separation",
    "band_gap",
    "e_vac_o",
    "e_vac_o_tp",
    "delta_e_vac_o",
    "e_vac_li",
    "bader_dopant_charge",
    "bader_charge_li",
    "bader_charge_tm",
    "bader_charge_o",
    *GEOMETRY_NAMES,
)
LEVEL_FIELDS = SUMMARY_FIELDS + DESCRIPTOR_FIELDS  # one value per level of theory and settings

# columns a database written before them lacks (read as null; added where lrox may write)
HOP_FIELDS_ADDED = (
    "closest_to_tetrahedron", "tetrahedron_inradius", "closest_to_edge_midpoint", "saddle_image", "intermediate_minimum",
    "minimum_at_tetrahedral_site", "e_kra_second_saddle", "reference_configuration_id", "reference_mechanism",
    "delta_e_a_comparison", "delta_e_a_flags", "twin_key", "shares_band_with", "saddle_energy", "second_saddle_energy",
    "initial_energy", "final_energy",
)


# The JSON documents, as far as lrox's readers rely on them (the door checks these keys where they
# are present and not null; a key a reader cannot do without is Required): a damaged document is one
# error line, never a TypeError in a report or a number that is not one. Only keys a reader uses are
# named (a document a results.json brought keeps its other keys as it gave them); add a key here when
# a reader starts to use one.
# a chemical potential (descriptors.physics.vacancy.ChemicalPotential.as_dict; reevaluate reads delta)
MU_SHAPE = {"delta": Required("number"), "value": "number", "reference": "number", "correction": "number", "temperature": "number", "pressure": "number"}
SUMMARY_SHAPE = {  # a configuration's summary (report rule 3: charge changes and defects; lrox check: the defects' positions)
    "charge_change": "number", "defect_ids": ["text"],
    "defects": [{"kind": "text", "site": "text", "host_species": "text", "species": "text", "frac_coords": ["number"]}],
}
DATA_SHAPE = {  # a calculation's data (lrox plot neb: a failed band may hold null energies, which the physics refuses there;
    # lrox check: the hop; seeding from ML bands: the band)
    "energies": ["number?"], "r": ["number?"], "hop": {"start": "text", "end": "text"}, "band": "object",
}
DETAILS_SHAPE = {"energies": "band energies", "chemical_potential": MU_SHAPE}  # a barrier's band (twins of an older database), E_f(V_O)'s μ_O (its view)
# each hop row's twin group (descriptors.records.twins): kept beside the hop table on every write
# (schema 4), found at read time in a database written before
TWIN_FIELDS = ("twin_group", "n_twins", "twin_basis", "dependent_on")
