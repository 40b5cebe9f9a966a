"""The statistics the report states beside each rule, honest at the small n a screen gives, and the
four verdicts they lead to.

* a mean, or a difference of two means, with its 95 % **t-interval** (Welch's for two groups):
  exact for normal data and far better at n = 4-10 than a percentile bootstrap, which at n = 3
  returns little more than the range of the three values. Below :data:`N_INTERVAL` points (per
  group) no interval is computed, and nothing can be concluded;
* Spearman's ρ with its p-value and a 95 % interval from Fisher's z with the Bonett-Wright standard
  error sqrt((1 + ρ²/2) / (n − 3)) (Bonett & Wright, Psychometrika 65, 23 (2000)), computed only
  from :data:`N_MIN_RANK` points on;
* the n that would resolve an effect of a given size at the observed spread (two-sided 5 %, 80 %
  power, normal approximation): what "inconclusive" would need.

Verdicts: ``supported`` (the interval excludes zero on the claim's side), ``contradicted`` (it
excludes zero on the other side), ``inconclusive`` (it contains zero: no effect found is not the
opposite effect found), ``not enough data`` (too few points for an interval).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "N_INTERVAL",
    "N_MIN_RANK",
    "SUPPORTED",
    "CONTRADICTED",
    "INCONCLUSIVE",
    "NOT_ENOUGH",
    "VERDICTS",
    "Estimate",
    "mean_interval",
    "difference_interval",
    "spearman",
    "verdict_of",
    "n_to_resolve",
    "n_to_resolve_correlation",
]

N_INTERVAL = 4  # points (per group) below which no interval is computed
N_MIN_RANK = 8  # points a rank correlation needs: at n = 8 only |ρ| ≥ 0.74 reaches p < 0.05 (at n = 5, only ρ = ±1)
SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_ENOUGH = "supported", "contradicted", "inconclusive", "not enough data"
VERDICTS = (SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_ENOUGH)
Z_ALPHA, Z_POWER = 1.959964, 0.841621  # two-sided 5 %, 80 % power


@dataclass(frozen=True)
class Estimate:
    """A statistic with its 95 % interval (None where too few points give none), its p-value where
    it has one, the points behind it and how the interval was computed."""

    name: str  # "mean ΔE_a", "Spearman ρ", ...
    value: float
    low: float | None
    high: float | None
    p_value: float | None
    n: int
    method: str = ""  # "t-interval", "Welch t-interval", "Fisher z (Bonett-Wright)"
    spread: float | None = None  # standard deviation (of a mean), pooled SE·sqrt(n) of a difference
    unit: str = "eV"

    def text(self) -> str:
        u = f" {self.unit}" if self.unit else ""
        number = f"{self.value:+.3f}{u}" if self.unit else f"{self.value:+.2f}"
        parts = [f"n = {self.n}"]
        if self.p_value is not None:
            parts.insert(0, f"p = {self.p_value:.2g}")
        if self.low is not None:
            fmt = "{:+.3f}" if self.unit else "{:+.2f}"
            interval = f"95 % {self.method or 'interval'} {fmt.format(self.low)} to {fmt.format(self.high)}{u}"
        else:
            interval = f"no interval: fewer than {N_INTERVAL} points" + (" per group" if "−" in self.name else "")
        return f"{self.name} = {number} ({interval}; {'; '.join(parts)})"

    def as_dict(self) -> dict:
        return asdict(self)


def _t(df: float) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, df))


def mean_interval(values, name: str = "mean", unit: str = "eV") -> Estimate:
    """The mean with its 95 % t-interval (none below N_INTERVAL points)."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n == 0:
        raise ValueError("no values")
    sd = float(x.std(ddof=1)) if n > 1 else None
    if n < N_INTERVAL:
        return Estimate(name, float(x.mean()), None, None, None, n, "", sd, unit)
    half = _t(n - 1) * sd / math.sqrt(n)
    return Estimate(name, float(x.mean()), float(x.mean() - half), float(x.mean() + half), None, n, "t-interval", sd, unit)


def difference_interval(a, b, name: str = "mean difference", unit: str = "eV") -> Estimate:
    """mean(a) − mean(b) with Welch's 95 % t-interval (none below N_INTERVAL points in either group)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    value = float(a.mean() - b.mean())
    n = len(a) + len(b)
    if min(len(a), len(b)) < N_INTERVAL:
        return Estimate(name, value, None, None, None, n, "", None, unit)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0.0:
        return Estimate(name, value, value, value, None, n, "Welch t-interval", 0.0, unit)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = _t(df) * se
    # the spread that sets the n needed: the pooled standard deviation of the two groups
    pooled = math.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (n - 2))
    return Estimate(name, value, value - half, value + half, None, n, "Welch t-interval", pooled, unit)


def spearman(x, y, name: str = "Spearman ρ") -> Estimate:
    """Spearman's ρ with its two-sided p-value (scipy) and a 95 % Fisher-z interval (Bonett-Wright
    standard error); no interval below N_MIN_RANK points."""
    from scipy.stats import spearmanr

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = len(x)
    result = spearmanr(x, y)
    rho, p = float(result.statistic), float(result.pvalue)
    if not np.isfinite(rho):  # a constant variable: no ranking to correlate
        rho, p = 0.0, 1.0
    if n < N_MIN_RANK:
        return Estimate(name, rho, None, None, p, n, "", None, "")
    clipped = max(min(rho, 0.999999), -0.999999)
    se = math.sqrt((1 + clipped**2 / 2) / (n - 3))
    z = math.atanh(clipped)
    return Estimate(name, rho, math.tanh(z - Z_ALPHA * se), math.tanh(z + Z_ALPHA * se), p, n, "Fisher z (Bonett-Wright)", None, "")


def verdict_of(estimate: Estimate | None, sign: int) -> str:
    """The verdict of a claim that the statistic is below zero (sign −1) or above it (+1)."""
    if estimate is None or estimate.low is None or estimate.high is None:
        return NOT_ENOUGH
    if sign < 0:
        return SUPPORTED if estimate.high < 0 else CONTRADICTED if estimate.low > 0 else INCONCLUSIVE
    return SUPPORTED if estimate.low > 0 else CONTRADICTED if estimate.high < 0 else INCONCLUSIVE


def n_to_resolve(effect: float, spread: float | None, groups: int = 1) -> int | None:
    """Points (per group, for two groups) that resolve an effect of this size at this standard
    deviation: two-sided 5 %, 80 % power, normal approximation."""
    if spread is None or not effect or not math.isfinite(spread):
        return None
    if spread == 0:
        return N_INTERVAL
    n = groups * ((Z_ALPHA + Z_POWER) * spread / abs(effect)) ** 2
    return max(N_INTERVAL, math.ceil(n))


def n_to_resolve_correlation(rho: float) -> int | None:
    """Points that resolve a rank correlation of this size (Fisher z; two-sided 5 %, 80 % power)."""
    if not rho or abs(rho) >= 1:
        return None
    return max(N_MIN_RANK, math.ceil(((Z_ALPHA + Z_POWER) / math.atanh(abs(rho))) ** 2 + 3))
