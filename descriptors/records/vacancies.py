"""Vacancy formation energies as rows: E_f against the parent found by id, ΔE_vac(O) against the isolated vacancy.

The physics (μ_O, E_f) is :mod:`descriptors.physics.vacancy`; this module finds the energies it is
given, by the configurations' lineage ids, never by their labels.
"""

from __future__ import annotations

from descriptors.physics.levels import o2_correction
from descriptors.physics.vacancy import ChemicalPotential, oxygen_chemical_potential, vacancy_formation_energy
from descriptors.records.rows import descriptor_row, status_of

__all__ = ["vacancy_rows"]


def _o2_correction(calc: dict) -> str:
    """What this calculation's energies include (stored provenance, else the registry)."""
    if calc.get("o2_correction"):
        return calc["o2_correction"]
    return o2_correction(calc["backend"], calc.get("settings") or {}).value


def vacancy_rows(summaries, relax, statics, refs, calc_of, oxygen: dict | None = None) -> list[dict]:
    """E_f of every configuration with one vacancy against its parent (the same configuration
    without it, by id), and for a vacancy beside other defects its change against the isolated
    vacancy of the same site orbit (``delta_e_vac_o``, by id).

    Energies: the statics' where both cells have one at the relaxation's level of theory (the
    VASP flow runs them), else the relaxations'; never one of each.
    """
    rows = []

    def ok(doc):
        return doc is not None and status_of(doc) == "success" and doc.get("energy") is not None

    def energies(cid, parent):
        static_c, static_p = statics.get(cid), statics.get(parent)
        level = (relax.get(cid) or {}).get("provenance", {}).get("level_of_theory")
        same = all(ok(x) and x.get("provenance", {}).get("level_of_theory") == level for x in (static_c, static_p))
        if same:
            return static_c["energy"], static_p["energy"], "static"
        if ok(relax.get(cid)) and ok(relax.get(parent)):
            return relax[cid]["energy"], relax[parent]["energy"], "relaxation"
        return None, None, None

    formation: dict[str, float] = {}
    pending = []
    for cid, s in summaries.items():
        defects = s.get("defects", [])
        vacancies = [k for k, d in enumerate(defects) if d["kind"] == "vacancy"]
        if len(vacancies) != 1 or cid not in relax:
            continue
        k = vacancies[0]
        vacancy = defects[k]
        element = vacancy.get("host_species") or vacancy["site"].split("(")[0]
        name = {"O": "e_vac_o", "Li": "e_vac_li"}.get(element)
        if name is None:
            continue
        calc = calc_of[id(relax[cid])]
        parents, singles = s.get("parent_ids") or [], s.get("defect_ids") or []
        parent = parents[k] if len(parents) == len(defects) else None
        reference = refs.get("O2" if element == "O" else "Li")
        problems = []
        if parent is None:
            problems.append("no lineage ids in this result (written by an older lrox): enumerate again")
        elif parent not in summaries:
            problems.append(f"the same configuration without the vacancy ({parent}) is not in this screen")
        if not problems:
            e_defect, e_parent, source = energies(cid, parent)
            if source is None:
                problems.append("the relaxation of this configuration or of its parent failed")
        if reference is None or status_of(reference) != "success" or reference.get("energy_per_atom") is None:
            problems.append(f"no {'O2' if element == 'O' else 'Li metal'} reference at this level of theory")
        if problems:
            rows.append(descriptor_row(cid, name, None, calc, status="failed", flags=problems))
            continue
        if element == "O":
            mu = oxygen_chemical_potential(reference["energy_per_atom"], calc["level_of_theory"], _o2_correction(calc))
        else:
            mu = ChemicalPotential(
                element="Li",
                reference=reference["energy_per_atom"],
                reference_source=f"bcc Li metal, {calc['level_of_theory']}",
                correction=0.0,
                correction_source="none",
                delta=0.0,
                level_of_theory=calc["level_of_theory"],
            )
        value = vacancy_formation_energy(e_defect, e_parent, mu)
        details = {"chemical_potential": mu.as_dict(), "relative_to": parent, "energies_from": source, "vacancy_site": vacancy.get("name") or vacancy["site"]}
        rows.append(descriptor_row(cid, name, value, calc, details=details))
        formation[cid] = value
        if element == "O" and oxygen and oxygen.get("temperature") is not None:
            mu_tp = oxygen_chemical_potential(
                reference["energy_per_atom"], calc["level_of_theory"], _o2_correction(calc), temperature=oxygen["temperature"], pressure=oxygen.get("pressure", 1.0)
            )
            rows.append(descriptor_row(cid, "e_vac_o_tp", vacancy_formation_energy(e_defect, e_parent, mu_tp), calc, details={**details, "chemical_potential": mu_tp.as_dict()}))
        if element == "O" and len(defects) > 1 and len(singles) == len(defects):
            pending.append((cid, singles[k], value, calc, [d.get("name") or d["site"] for d in defects if d is not vacancy]))
    for cid, isolated, value, calc, near in pending:
        if isolated in formation:
            details = {"isolated_vacancy": isolated, "isolated_e_vac_o": formation[isolated], "near": near}
            rows.append(descriptor_row(cid, "delta_e_vac_o", value - formation[isolated], calc, details=details))
        else:
            reason = f"the isolated vacancy of the same site ({isolated}) has no E_vac(O) in this screen"
            rows.append(descriptor_row(cid, "delta_e_vac_o", None, calc, status="failed", flags=[reason]))
    return rows
