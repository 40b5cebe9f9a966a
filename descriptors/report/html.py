"""``lrox report``: one self-contained HTML page of what the database says about the design rules.

Figures are embedded as PNG data URIs, styles are inline, nothing is fetched: the page opens
offline in any browser. Sections: the data (levels, counts, how twins were found), each rule
(claim; verdict and why; unit of replication and n; level of theory and its validation error beside
the effect; what an inconclusive verdict would need; statistic; figure; the points shown apart and
why), the configurations with the lowest barriers and the highest E_vac(O), the baseline ML model
against trivial predictors, and what could not be evaluated and why.
"""

from __future__ import annotations

import base64
import html
from datetime import UTC, datetime
from pathlib import Path

from structures.errors import LroxInputError

__all__ = ["build_report", "write_report"]

VERDICT_COLOURS = {"supported": "#1b7f3b", "contradicted": "#b42318", "inconclusive": "#b45309", "not enough data": "#6b7280"}
VERDICT_MEANING = (
    "<em>supported</em>: the statistic's 95 % interval excludes zero on the claim's side; <em>contradicted</em>: it excludes zero on "
    "the other side; <em>inconclusive</em>: it contains zero (no effect found is not the opposite effect found; the report says what n "
    "would resolve an effect of the literature's size); <em>not enough data</em>: too few points for an interval"
)


def _e(value) -> str:
    return html.escape(str(value))


def _table(rows: list[dict], columns: list[str]) -> str:
    if not rows:
        return "<p class='muted'>none</p>"
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)

    def cell(v):
        return f"{v:.3f}" if isinstance(v, float) else _e("" if v is None else v)

    body = "".join("<tr>" + "".join(f"<td>{cell(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(png: bytes, alt: str) -> str:
    return f"<img class='figure' alt='{_e(alt)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"


def _designer_table(long_rows: list[dict], level: str | None) -> tuple[list[dict], list[str]]:
    """Configurations with both a barrier and an E_vac(O) at the barrier level; the Pareto front of
    (low E_KRA, high E_vac(O)) marked: what a cathode designer wants together."""
    rows = [r for r in long_rows if r["level"] == level and r.get("e_kra_min") is not None and r.get("e_vac_o") is not None]
    beaten = _dominated([(r["e_kra_min"], r["e_vac_o"]) for r in rows])
    for r, out in zip(rows, beaten):
        r["pareto"] = "" if out else "yes"
    rows.sort(key=lambda r: (r["pareto"] != "yes", r["e_kra_min"], -r["e_vac_o"]))
    return rows[:15], ["id", "name", "e_kra_min", "e_kra_nearest", "e_vac_o", "delta_e_vac_o", "li_slab_spacing_near", "pareto"]


def _dominated(points: list[tuple[float, float]]) -> list[bool]:
    """For each (E_KRA, E_vac(O)) point, whether another point has an E_KRA as low or lower and an
    E_vac(O) as high or higher, and is not the same pair: sorted by E_KRA, the highest E_vac(O) of
    every lower E_KRA and of the same E_KRA decide (each point against every other point was
    quadratic: 1 s at 10,000 configurations)."""
    import math

    if any(math.isnan(x) or math.isnan(y) for x, y in points):  # a NaN compares false with anything: the pairwise rule as it reads
        return [any(o[0] <= p[0] and o[1] >= p[1] and o != p for k, o in enumerate(points) if k != j) for j, p in enumerate(points)]
    highest_at: dict[float, float] = {}
    for x, y in points:
        highest_at[x] = max(y, highest_at.get(x, y))
    highest_below: dict[float, float | None] = {}
    best = None
    for x in sorted(highest_at):
        highest_below[x] = best
        best = highest_at[x] if best is None else max(best, highest_at[x])
    return [(highest_below[x] is not None and highest_below[x] >= y) or highest_at[x] > y for x, y in points]


def _rule_section(rule, anchor: str | None = None) -> list[str]:
    from descriptors.report.plots import rule_figure

    colour = VERDICT_COLOURS[rule.verdict]
    stats = "".join(f"<li>{_e(s.text())}</li>" for s in rule.statistics) or "<li class='muted'>no statistic: too few points for an interval</li>"
    facts = [
        ("Unit of replication", [f"{rule.unit}; n = {rule.n}"]),
        ("Level of theory", [f"{', '.join(rule.levels) or '-'}; cells: {', '.join(rule.cells) or '-'}"]),
        ("The level's error", rule.error or ["-"]),
    ]
    if rule.power:
        facts.append(("To resolve it", [rule.power]))
    out = [
        f"<h2 id='{anchor or f'rule{rule.number}'}'>Rule {rule.number}. {_e(rule.title)}"
        + (f" <span class='muted'>(at {_e(', '.join(rule.levels))})</span>" if anchor else "") + "</h2>",
        f"<p class='claim'>{_e(rule.claim)}</p>",
        f"<p><span class='verdict' style='background:{colour}'>{_e(rule.verdict)}</span> {_e(rule.reason)}.</p>",
        "<table class='facts'><tbody>" + "".join(f"<tr><th>{_e(k)}</th><td>{'<br>'.join(_e(line) for line in v)}</td></tr>" for k, v in facts) + "</tbody></table>",
        f"<ul>{stats}</ul>",
        _figure(rule_figure(rule), f"rule {rule.number} figure"),
    ]
    if rule.table:
        out.append(_table(rule.table, list(dict.fromkeys(k for row in rule.table for k in row))))
    if rule.apart:
        out += ["<p><strong>Shown apart</strong> (not pooled into the statistic), each with why:</p>",
                _table(rule.apart, list(dict.fromkeys(k for row in rule.apart for k in row)))]
    return out


def _data_notes(hops: list[dict]) -> list[str]:
    """What a reader must know about the hop rows themselves: how twins were found, and whether the
    mechanisms were labelled from the whole band."""
    notes = []
    bases = {h.get("twin_basis") for h in hops if (h.get("n_twins") or 1) > 1}
    groups = {h.get("twin_group") for h in hops}
    twins = sum(1 for h in hops if (h.get("n_twins") or 1) > 1)
    dependent = sum(1 for h in hops if h.get("dependent_on"))
    notes.append(f"{len(hops)} hop calculations are {len(groups)} distinct physical hops ({twins} rows belong to a twin group; "
                 f"{dependent} share a leg's saddle with another hop: dependent). Every statistic counts distinct hops.")
    if bases:
        notes.append("Twins were recognised by: " + "; ".join(sorted(b for b in bases if b)) + ".")
    labelled_old = [h for h in hops if h.get("mechanism_observed") in ("ODH", "TSH") and h.get("closest_to_tetrahedron") is None and h.get("closest_to_edge_midpoint") is None]
    from descriptors.report.own_validation import own_errors

    own = own_errors(hops)
    if own:
        notes.append("The ML model checked with GPAW on this database (lrox check), per kind of hop: " + "; ".join(e.text() for e in own)
                     + ". Each ML level so checked carries its own 'all' error as its expected error in the rules below, in place of the generic validation set.")
    else:
        notes.append("No hop of this database was checked with GPAW (lrox check): expected errors are the generic validation set's.")
    if labelled_old:
        notes.append(f"{len(labelled_old)} hops carry a mechanism labelled by an older lrox from the climbing image alone: "
                     "re-derive the database (descriptors.ingest.rederive) to label them from the whole band.")
    return notes


def build_report(db, where: str | None = None) -> str:
    """The report's HTML."""
    from descriptors.report.workers import report_workers

    # the model worker forks before any row is read: it imports scikit-learn while this process reads,
    # and a fork of a process that holds the rows would copy every page the rules touch after it
    workers = report_workers(db.hop_count())
    try:
        return _build_report(db, where, workers)
    finally:
        workers.close()


def _build_report(db, where: str | None, workers) -> str:
    from descriptors.query.hops import query_hops
    from descriptors.store.database import safe_url
    from descriptors.store.tables import ConfigurationRow
    from descriptors.report.features import feature_table
    from descriptors.query.configurations import long_table, query
    from descriptors.query.levels import level_aliases
    from descriptors.report.rules import N_INTERVAL, N_MIN_RANK, NOT_ENOUGH, evaluate_rules, judged_level, vacancy_rule_at_other_levels

    hops = query_hops(db)  # once: the feature table takes its own copies of these rows
    every_hop = hops  # before --where: the feature table's (it joins copies of them; no rule changes a row)
    long_rows = long_table(db)
    every_row = long_rows  # the feature table's, before --where (the designer table marks its rows after the features are made)
    configurations = db.rows(ConfigurationRow, columns=("id", "name", "formula", "charge_change"))  # what the rules read
    # and rule 3 a dopant's defects and lineage, from the summaries of the configurations with a dopant and a ΔE_vac(O)
    summaries = db.configuration_summaries(r["id"] for r in every_row if r.get("delta_e_vac_o") is not None and r.get("dopant"))
    for c in configurations:
        c["summary"] = summaries.get(c["id"])
    if where:
        keep = {r["id"] for r in query(db, where).rows}
        hops = [h for h in hops if h["configuration_id"] in keep]
        long_rows = [r for r in long_rows if r["id"] in keep]
    if not long_rows:
        raise LroxInputError("report: the database holds no descriptors" + (" matching --where" if where else ""))
    features, _ = feature_table(db, hops=every_hop, long_rows=every_row)
    if where:
        features = [f for f in features if f["configuration_id"] in keep]

    def baseline_rows(level: tuple[bool, str | None]) -> list[dict]:
        judged, alias = level
        return [f for f in features if f.get("level") == alias] if judged else []

    # the baseline model runs in the model worker (a large database) while this process judges the
    # rules and draws their figures: sent now at the level the rules will most likely judge (the one
    # with the most usable hops), and sent again below if the rules judge another
    likely = judged_level(hops)
    likely_level = (likely is not None, likely)
    baseline_future = workers.baseline(baseline_rows(likely_level))
    rules = evaluate_rules(hops, long_rows, configurations)
    levels = level_aliases(db)
    barrier_level = next((r.levels[0] for r in rules if r.number in (1, 2) and r.levels), None)
    alias_of = {a["level_of_theory"]: a["alias"] for a in levels}
    other_levels = vacancy_rule_at_other_levels(hops, configurations, alias_of.get(barrier_level) if barrier_level else None)
    level = (bool(barrier_level), alias_of.get(barrier_level))
    if level != likely_level:
        baseline_future = workers.baseline(baseline_rows(level))

    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>lrox report</title><style>",
        "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#1f2328;line-height:1.45}",
        "h1{font-size:1.6em}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:2em}",
        "table{border-collapse:collapse;font-size:.85em;margin:.6em 0}td,th{border:1px solid #d0d7de;padding:.25em .5em;text-align:left;vertical-align:top}th{background:#f6f8fa}",
        "table.facts th{width:11em}",
        ".verdict{display:inline-block;color:#fff;padding:.15em .6em;border-radius:1em;font-weight:600}",
        ".muted{color:#6b7280}.figure{max-width:100%;border:1px solid #eee;margin:.5em 0}.claim{font-style:italic}",
        "</style></head><body>",
        "<h1>lrox report: what the database says about the design rules</h1>",
        f"<p class='muted'>database {_e(safe_url(db.url))}; written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
        + (f"; filter <code>{_e(where)}</code>" if where else "")
        + ".</p>",
        f"<p>Four verdicts: {VERDICT_MEANING}. Intervals are t-intervals (Welch's for two groups), computed from {N_INTERVAL} points "
        f"(per group) on; a rank correlation needs {N_MIN_RANK} points and a range of its variable wider than the variable's own "
        "uncertainty, and its interval is Fisher's z. Each rule names its unit of replication and counts it, and states the level of "
        "theory's validation error beside its effect.</p>",
        "<h2>The data</h2>",
        f"<p>{len({r['id'] for r in long_rows})} configurations, {len(hops)} hop calculations.</p>",
        "<ul>" + "".join(f"<li>{_e(n)}</li>" for n in _data_notes(hops)) + "</ul>",
        _table(levels, ["alias", "level_of_theory", "settings_hash", "n_descriptors"]),
        "<h2>Verdicts</h2>",
        _table([{"rule": r.number, "title": r.title, "verdict": r.verdict, "n": r.n, "unit of replication": r.unit.split(" (")[0],
                 "level": ", ".join(r.levels) or "-"} for r in rules + other_levels],
               ["rule", "title", "verdict", "n", "unit of replication", "level"]),
    ]
    for rule in rules:
        parts += _rule_section(rule)
    if other_levels:
        parts.append("<p>The same rule at the database's other levels of theory, each judged on its own hops and never pooled with the verdicts above "
                     "(a DFT check of ML hops: <code>lrox check</code>):</p>")
    for k, rule in enumerate(other_levels):
        parts += _rule_section(rule, anchor=f"rule{rule.number}-level{k + 1}")
    designer, columns = _designer_table(long_rows, alias_of.get(barrier_level))
    parts += [
        "<h2>Lowest barriers and highest E_vac(O), together</h2>",
        f"<p>At {_e(barrier_level or '-')}: configurations with both a barrier and an O-vacancy energy; <em>pareto</em> marks those no other configuration beats on both (lower E_KRA and higher E_vac(O)).</p>",
        _table(designer, columns),
        "<h2>A baseline ML model on the physical descriptors</h2>",
    ]
    baseline = baseline_future.result()
    if baseline.mae is None:
        parts.append(f"<p class='muted'>Not evaluated: {_e(baseline.reason)}.</p>")
    else:
        trivial = ", ".join(f"{name} {mae:.3f} eV" for name, mae in baseline.trivial.items())
        parts += [
            f"<p>Gradient boosting (scikit-learn) predicting E_KRA from {len(baseline.features)} descriptors that no NEB produced "
            f"(NEB-derived columns are left out: they would leak the target), on distinct hops ({baseline.n_hops} hop rows are "
            f"{baseline.n_distinct_hops} physical hops: a twin counts once), {baseline.folds}-fold cross-validation grouped by configuration "
            f"({baseline.n_configurations} configurations, {baseline.n_fold_groups} fold groups: a twin group never spans two folds), "
            f"{_e(barrier_level)}: <strong>MAE {baseline.mae:.3f} eV</strong>. "
            f"Trivial predictors on the same folds: {_e(trivial)}. <strong>{_e(baseline.verdict_text()[0].upper() + baseline.verdict_text()[1:])}.</strong> "
            "The feature table is <code>lrox export --features OUT.parquet</code>.</p>",
            _table([{"feature": n, "permutation importance (eV of MAE)": v} for n, v in baseline.importances], ["feature", "permutation importance (eV of MAE)"]),
        ]
        if baseline.importance_text():
            parts.append(f"<p class='muted'>{_e(baseline.importance_text())}.</p>")
    missing = [f"Rule {r.number} ({r.title}): {r.reason}." for r in rules if r.verdict == NOT_ENOUGH]
    missing += [f"Rule {r.number}, part “{p['part']}”: {p['why']} (the rule's verdict rests on its other parts)."
                for r in rules if r.verdict != NOT_ENOUGH for p in r.parts if p["verdict"] == NOT_ENOUGH]
    if not any(r.get("o2p_center_vbm") is not None for r in long_rows):
        missing.append("No configuration has an O 2p band centre: run statics (static_backend: gpaw, or VASP).")
    if baseline.mae is None:
        missing.append(f"Baseline model: {baseline.reason}.")
    parts += ["<h2>What could not be evaluated, and why</h2>", "<ul>" + "".join(f"<li>{_e(m)}</li>" for m in missing) + "</ul>" if missing else "<p>Everything was evaluated.</p>"]
    parts.append(
        "<script>addEventListener('load',()=>{const ok=[...document.images].filter(i=>i.complete&&i.naturalWidth>0).length;"
        "document.body.dataset.figuresLoaded=ok;document.body.dataset.figures=document.images.length;});</script></body></html>"
    )
    return "\n".join(parts)


def write_report(db, out: str | Path, where: str | None = None, overwrite: bool = False) -> Path:
    from structures.safety import output_path, write_atomically

    out = output_path(out, "report", overwrite)
    text = build_report(db, where)
    return write_atomically(out, lambda path: path.write_text(text), "report")
