"""The statistics the report states beside each rule: a mean (difference) with a bootstrap interval,
and Spearman's ρ with its p-value. Deterministic (seeded), so a report is reproducible."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["Estimate", "bootstrap_mean", "bootstrap_difference", "spearman"]

RESAMPLES = 5000
SEED = 20261202


@dataclass(frozen=True)
class Estimate:
    """A statistic with its 95 % interval (or p-value) and the number of points behind it."""

    name: str  # "mean ΔE_a", "Spearman ρ", ...
    value: float
    low: float | None  # 95 % interval (bootstrap); None for Spearman
    high: float | None
    p_value: float | None
    n: int

    def text(self, unit: str = "") -> str:
        u = f" {unit}" if unit else ""
        if self.low is not None:
            return f"{self.name} = {self.value:+.3f}{u} (95 % bootstrap interval {self.low:+.3f} to {self.high:+.3f}{u}; n = {self.n})"
        return f"{self.name} = {self.value:+.2f} (p = {self.p_value:.2g}; n = {self.n})"

    def as_dict(self) -> dict:
        return asdict(self)


def bootstrap_mean(values, name: str = "mean") -> Estimate:
    """The mean of ``values`` with a percentile bootstrap 95 % interval."""
    x = np.asarray(values, dtype=float)
    rng = np.random.default_rng(SEED)
    means = rng.choice(x, size=(RESAMPLES, len(x)), replace=True).mean(axis=1)
    return Estimate(name, float(x.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5)), None, len(x))


def bootstrap_difference(a, b, name: str = "mean difference") -> Estimate:
    """mean(a) − mean(b), each group resampled on its own, with a percentile bootstrap 95 % interval."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    rng = np.random.default_rng(SEED)
    diffs = rng.choice(a, size=(RESAMPLES, len(a))).mean(axis=1) - rng.choice(b, size=(RESAMPLES, len(b))).mean(axis=1)
    return Estimate(name, float(a.mean() - b.mean()), float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5)), None, len(a) + len(b))


def spearman(x, y, name: str = "Spearman ρ") -> Estimate:
    """Spearman's rank correlation of x and y with its two-sided p-value (scipy)."""
    from scipy.stats import spearmanr

    result = spearmanr(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    rho, p = float(result.statistic), float(result.pvalue)
    if not np.isfinite(rho):  # a constant variable: no ranking to correlate
        rho, p = 0.0, 1.0
    return Estimate(name, rho, None, None, p, len(x))
