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
    barrier = migration_barrier(energies, r=r, converged=data.get("converged"))
    analysis = neb_analysis(energies, r=r)
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


def rule_figure(rule) -> bytes:
    """The figure of one design rule (descriptors.rules.RuleResult) as PNG bytes, for the report."""
    import io

    plt = _pyplot()
    spec = rule.figure
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    kind = spec.get("kind")
    if kind == "strip":
        names = [name for name, values in spec["groups"].items() if values]
        for k, name in enumerate(names):
            values = spec["groups"][name]
            jitter = np.linspace(-0.12, 0.12, len(values)) if len(values) > 1 else [0.0]
            ax.scatter(np.full(len(values), k) + jitter, values, s=36, edgecolor="black", linewidth=0.5, zorder=3)
            ax.hlines(np.mean(values), k - 0.3, k + 0.3, color="tab:red", lw=2, zorder=4)
        ax.set_xticks(range(len(names)), [f"{n.replace(', ', chr(10))}\n(n = {len(spec['groups'][n])})" for n in names], fontsize=8 if len(names) > 3 else None)
        ax.set_ylabel(spec["ylabel"])
    elif kind == "scatter":
        labels = spec.get("labels") or [""] * len(spec["x"])
        for label in sorted(set(labels)):
            pick = [i for i, lab in enumerate(labels) if lab == label]
            ax.scatter([spec["x"][i] for i in pick], [spec["y"][i] for i in pick], s=40, edgecolor="black", linewidth=0.5, label=label or "—", zorder=3)
        if spec.get("hline") is not None:
            ax.axhline(spec["hline"], color="0.5", lw=0.8)
        if spec.get("band"):
            value, text = spec["band"]
            ax.axhline(value, color="tab:green", ls="--", lw=1.2, label=text)
        ax.set_xlabel(spec["xlabel"])
        ax.set_ylabel(spec["ylabel"])
        if spec.get("xlim"):
            ax.set_xlim(*spec["xlim"])
        if any(labels) or spec.get("band"):
            ax.legend(fontsize=7, loc="best")
    elif kind == "evac":
        items = sorted(spec["groups"].items(), key=lambda kv: kv[1][0])
        y = np.arange(len(items))
        ax.scatter([v[0] for _, v in items], y, s=36, color="tab:blue", edgecolor="black", linewidth=0.5, label="O-rich", zorder=3)
        tp = [(k, v[1]) for k, (_, v) in enumerate(items) if v[1] is not None]
        if tp:
            ax.scatter([v for _, v in tp], [k for k, _ in tp], s=36, marker="s", color="tab:orange", edgecolor="black", linewidth=0.5, label="at the spec's (T, pO2)", zorder=3)
        for value in spec.get("pristine", []):
            ax.axvline(value, color="tab:blue", lw=0.8, ls=":")
        for value in spec.get("pristine_tp", []):
            ax.axvline(value, color="tab:orange", lw=0.8, ls=":")
        ax.set_yticks(y, [name for name, _ in items], fontsize=6)
        ax.set_xlabel("E_vac(O) (eV); dotted: the host's isolated vacancies")
        ax.legend(fontsize=7, loc="lower right")
        fig.set_size_inches(6.4, max(3.0, 0.22 * len(items) + 1.2))
    if not ax.has_data():
        ax.text(0.5, 0.5, "no data for this rule", ha="center", va="center", transform=ax.transAxes, color="0.4")
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_title(f"Rule {rule.number}: {rule.title}", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
