"""Figures a person reads: an NEB energy profile with its spline, and a scatter of two descriptors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from structures.errors import LroxInputError

__all__ = ["plot_neb", "plot_scatter"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _refuse_overwrite(out: Path, overwrite: bool) -> None:
    from structures.safety import output_path

    if out.suffix.lower() not in (".png", ".pdf", ".svg", ".jpg", ".jpeg"):
        raise LroxInputError(f"plot: {out.name} should end in .png, .pdf, .svg or .jpg")
    output_path(out, "plot", overwrite)


def _save(fig, out: Path) -> None:
    from structures.safety import write_atomically

    write_atomically(out, lambda path: fig.savefig(path), "plot")


def plot_neb(calculation: dict, out: str | Path, overwrite: bool = False) -> Path:
    """Image energies (relative to the initial image) against the reaction coordinate, with the spline and barriers."""
    from descriptors.physics.barriers import migration_barrier, neb_analysis

    out = Path(out)
    _refuse_overwrite(out, overwrite)
    data = calculation.get("data") or {}
    energies = data.get("energies")
    if calculation.get("kind") != "neb" or not energies:
        raise LroxInputError(f"calculation {calculation.get('id', '?')[:12]} has no NEB energy profile (status {calculation.get('status')})")
    r = data.get("r") or list(range(len(energies)))
    try:  # each number the database door checked; whether they make a band, the physics checks
        barrier = migration_barrier(energies, r=r, converged=data.get("converged"))
        analysis = neb_analysis(energies, r=r)
    except ValueError as exc:
        raise LroxInputError(f"the database is damaged: calculation {calculation.get('id', '?')[:12]}'s stored band is not a band ({exc})") from None
    x = np.linspace(0, float(r[-1]), 300)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.2), dpi=150)
    rel = np.asarray(energies) - energies[0]
    ax.plot(x / r[-1], analysis.spline(x), "-", color="tab:blue", label="spline (pymatgen NEBAnalysis)")
    ax.plot(np.asarray(r) / r[-1], rel, "o", color="tab:red", label="images")
    ax.axhline(0, color="0.7", lw=0.8)
    hop = data.get("hop") or {}
    title = f"{hop.get('start', '')} → {hop.get('end', '')}".strip(" →") or calculation.get("label", "NEB")
    ax.set_title(f"{title}\n{calculation.get('level_of_theory', '')}", fontsize=10)
    ax.set_xlabel("reaction coordinate (normalised)")
    ax.set_ylabel("E − E(initial) (eV)")
    text = f"forward {barrier.forward:.3f} eV\nreverse {barrier.reverse:.3f} eV"
    if barrier.flags:
        text += "\nflags: " + ", ".join(barrier.flags)
    ax.text(0.02, 0.97, text, transform=ax.transAxes, va="top", fontsize=9, bbox={"facecolor": "white", "edgecolor": "0.8"})
    ax.legend(loc="lower center", fontsize=8)
    fig.tight_layout()
    try:
        _save(fig, out)
    finally:
        plt.close(fig)
    return out


def plot_scatter(table, x: str, y: str, out: str | Path, colour: str = "dopant", overwrite: bool = False) -> Path:
    """``y`` against ``x`` for the configurations that have both (``field@level`` across levels),
    one colour per value of ``colour``. ``table``: a :class:`descriptors.query.ConfigurationTable`."""
    rows = table.rows
    x, y, colour = table.resolve(x), table.resolve(y), table.resolve(colour)
    out = Path(out)
    _refuse_overwrite(out, overwrite)
    points = [r for r in rows if isinstance(r.get(x), int | float) and isinstance(r.get(y), int | float)]
    if not points:
        raise LroxInputError(f"plot: no configuration has both '{x}' and '{y}'")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.5), dpi=150)
    groups: dict[str, list[dict]] = {}
    for r in points:
        key = r.get(colour) or (f"no dopant ({r.get('defect')})" if colour == "dopant" else "none")
        groups.setdefault(str(key), []).append(r)
    for key, members in sorted(groups.items()):
        ax.scatter([m[x] for m in members], [m[y] for m in members], s=45, label=key, edgecolor="black", linewidth=0.5)
    from descriptors.records.schema import UNITS

    units = {k: v for k, v in UNITS.items() if v}
    meaning = {"barrier": "lowest hop of each configuration", "e_kra_min": "lowest hop", "e_kra_nearest": "hop nearest the defect"}

    def label(name):
        field, _, alias = name.partition("@")
        extra = "; ".join(x for x in (meaning.get(field), f"level {alias}" if alias else None) if x)
        return f"{name}" + (f" ({extra})" if extra else "") + (f" [{units[field]}]" if field in units else "")

    ax.set_xlabel(label(x))
    ax.set_ylabel(label(y))
    ax.set_title(f"{y} vs {x} ({len(points)} configurations)", fontsize=10)
    ax.legend(title=colour, fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        _save(fig, out)
    finally:
        plt.close(fig)
    return out


APART_NAMED = 30  # points shown apart up to which each is labelled on the figure (beyond it, the legend counts them)


def rule_figure(rule) -> bytes:
    """The figure of one design rule (descriptors.report.rules.RuleResult) as PNG bytes, for the report:
    its points (one per distinct hop, or per O site), the effect with its interval where it has one,
    zero, and under it the verdict and the statistic it follows from."""
    import io

    # every series goes in as an array: matplotlib makes a list a masked array element by element
    # (37,000 Python calls for the 10,000-configuration report's figures), an array as it is
    array = np.asarray
    plt = _pyplot()
    spec = rule.figure
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    kind = spec.get("kind")
    if kind == "strip":
        names = [name for name, values in spec["groups"].items() if values]
        for k, name in enumerate(names):
            values = spec["groups"][name]
            jitter = np.linspace(-0.12, 0.12, len(values)) if len(values) > 1 else [0.0]
            apart = "(apart)" in name
            ax.scatter(np.full(len(values), k) + jitter, array(values), s=36, edgecolor="black", linewidth=0.5, zorder=3,
                       facecolor="white" if apart else None, marker="D" if apart else "o")
            if not apart:
                ax.hlines(np.mean(values), k - 0.3, k + 0.3, color="tab:red", lw=2, zorder=4)
        ax.set_xticks(range(len(names)), [f"{n.replace(', ', chr(10))}\n(n = {len(spec['groups'][n])})" for n in names], fontsize=7 if len(names) > 3 else 8)
        ax.set_ylabel(spec["ylabel"])
    elif kind == "scatter":
        labels = spec.get("labels") or [""] * len(spec["x"])
        for label in sorted(set(labels)):
            pick = [i for i, lab in enumerate(labels) if lab == label]
            ax.scatter(array([spec["x"][i] for i in pick]), array([spec["y"][i] for i in pick]), s=40, edgecolor="black", linewidth=0.5, label=label or "—", zorder=3)
        if spec.get("hline") is not None:
            ax.axhline(spec["hline"], color="0.5", lw=0.8)
        if spec.get("band"):
            value, text = spec["band"]
            ax.axhline(value, color="tab:green", ls="--", lw=1.2, label=text)
        for k, (name, value, low, high) in enumerate(spec.get("intervals") or []):
            x = 0.25 + 0.25 * k
            ax.errorbar([x], [value], yerr=[[value - low], [high - value]], fmt="s", color="tab:red", capsize=4, zorder=4, label=f"{name}: mean, 95 % interval")
        apart = spec.get("apart") or []
        if len(apart) <= APART_NAMED:
            for x, y, label in apart:
                ax.scatter([x], [y], s=40, facecolor="white", edgecolor="black", marker="D", zorder=3, label=None)
                ax.annotate(label, (x, y), textcoords="offset points", xytext=(6, 0), fontsize=6, va="center")
        else:  # one marker set, named once in the legend: a label beside each of a thousand points is ink, and 80 % of the report's drawing time
            ax.scatter(array([a[0] for a in apart]), array([a[1] for a in apart]), s=40, facecolor="white", edgecolor="black", marker="D", zorder=3,
                       label=f"{len(apart)} points shown apart (not in the statistic; listed under the figure)")
        if spec.get("min_range") and spec["x"]:
            low, span = min(spec["x"]), max(spec["x"]) - min(spec["x"])
            top = max(spec["y"])
            ax.plot([low, low + spec["min_range"]], [top * 1.04] * 2, color="tab:red", lw=3, solid_capstyle="butt",
                    label=f"the range a rank needs: {spec['min_range']:g}")
            ax.plot([low, low + span], [top * 1.07] * 2, color="black", lw=3, solid_capstyle="butt", label=f"the range the data span: {span:.3f}")
        ax.set_xlabel(spec["xlabel"])
        ax.set_ylabel(spec["ylabel"])
        if spec.get("xlim"):
            ax.set_xlim(*spec["xlim"])
        if ax.has_data():
            # matplotlib's "best" place tries every point against every candidate box: at 10,000
            # configurations that was most of the report's time; a fixed corner then
            ax.legend(fontsize=6.5, loc="best" if len(spec["x"]) <= 500 else "upper left")
    elif kind == "dopant_strip":
        names = list(spec["groups"])
        colours = {"raise": "tab:orange", "lower": "tab:blue", "no sign": "0.6"}
        for k, name in enumerate(names):
            values = spec["groups"][name]
            jitter = np.linspace(-0.12, 0.12, len(values)) if len(values) > 1 else [0.0]
            expected = spec["expected"].get(name, "no sign")
            ax.scatter(np.full(len(values), k) + jitter, array(values), s=40, color=colours.get(expected, "0.6"), edgecolor="black", linewidth=0.5, zorder=3)
            ax.hlines(np.mean(values), k - 0.3, k + 0.3, color="black", lw=1.5, zorder=4)
        ax.axhline(0.0, color="0.5", lw=0.8)
        ax.set_xticks(range(len(names)), [f"{n}\nvalence predicts: {spec['expected'].get(n)}\n(n = {len(spec['groups'][n])} O sites)" for n in names], fontsize=7)
        ax.set_ylabel(spec["ylabel"])
    if not ax.has_data():
        ax.text(0.5, 0.5, "no data for this rule", ha="center", va="center", transform=ax.transAxes, color="0.4")
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_title(f"Rule {rule.number}: {rule.title}", fontsize=9)
    ax.grid(alpha=0.3)
    caption = [f"verdict: {rule.verdict} (n = {rule.n})"] + [s.text() for s in rule.statistics[:2]]
    import textwrap

    wrapped = "\n".join(textwrap.fill(line, 110) for line in caption)
    fig.text(0.01, 0.01, wrapped, fontsize=6.5, va="bottom", ha="left", color="0.2")
    fig.tight_layout(rect=(0, 0.06 + 0.025 * wrapped.count("\n"), 1, 1))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
