"""The descriptor vocabulary: every stored quantity's name and unit, and the hop table's columns.

What a row may be called and in what unit it is stored, in one place: the extractor writes these
names, the query language and the exports read them.
"""

from __future__ import annotations

__all__ = ["GEOMETRY_NAMES", "UNITS", "BADER_MEANS", "HOP_UNITS", "HOP_FIELDS"]

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

# field → unit ("" for text); the order is the column order of tables and exports
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
    "forward": "eV",
    "reverse": "eV",
    "barrier": "eV",
    "stable_end": "",
    "e_kra": "eV",
    "delta_e_a": "eV",
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
}
HOP_FIELDS = tuple(HOP_UNITS)
