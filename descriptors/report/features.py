"""An ML-ready feature table (one row per hop, with its configuration's descriptors at every level)
and a cross-validated baseline model that predicts E_KRA from physical descriptors.

The baseline never sees an NEB-derived column: forward, reverse, barrier, ΔE_a, spread, route,
convergence and the observed mechanism all come from the very band whose E_KRA is the target, and
would leak it. The examples are distinct physical hops (twin rows, one hop computed in several
configurations, count once, as the representative of their ``twin_group``), and folds are grouped
by configuration (and, where a twin group still spans two configurations, by both: they fall into one
fold), so the same band is never on both sides of a fold. The model is scored against three trivial predictors
(the training mean; a lookup of the mean per ``mechanism_expected``; per n-TM), on the same folds,
and said to beat the best of them only where the 95 % interval of the MAE difference (errors paired
per hop, clustered by fold group) lies below zero.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from descriptors.report.importance import ROWS_PER_PREDICT, _split_features, permutation_importance_batched  # noqa: F401 - the baseline's

__all__ = ["LEAKY", "feature_table", "write_features", "BaselineResult", "baseline_model"]

# columns computed from the NEB whose E_KRA is the target, or bookkeeping: never features
LEAKY = frozenset(
    {"forward", "reverse", "barrier", "e_kra", "delta_e_a", "barrier_spread", "route", "converged", "mechanism",
     "mechanism_observed", "closest_to_vacant_o", "stable_end", "status", "flags", "expected_error",
     "barrier_max", "e_kra_min", "e_kra_max", "e_kra_nearest", "n_hops", "n_flagged", "n_failed",
     # the band's own evidence and energies, and the ΔE_a reference's: from NEBs too
     "closest_to_tetrahedron", "tetrahedron_inradius", "closest_to_edge_midpoint", "saddle_image", "intermediate_minimum",
     "minimum_at_tetrahedral_site", "e_kra_second_saddle", "reference_mechanism", "delta_e_a_comparison", "delta_e_a_flags",
     "saddle_energy", "second_saddle_energy", "initial_energy", "final_energy", "n_twins", "twin_basis", "dependent_on"}
)
IDENTIFIERS = frozenset({"id", "calculation_id", "configuration_id", "hop_id", "configuration", "level_of_theory", "settings_hash", "backend", "start", "end", "level", "name", "site", "nearest_defect", "ts_cations", "supercell",
                         "twin_key", "twin_group", "shares_band_with", "reference_configuration_id"})
CATEGORICAL = ("layers", "mechanism_expected", "dopant", "defect", "host")


def feature_table(db, where: str | None = None, hops: list[dict] | None = None, long_rows: list[dict] | None = None) -> tuple[list[dict], dict]:
    """(rows, metadata): every hop row joined with its configuration's view; metadata gives each
    column's unit and level of theory. ``hops``: the rows of ``query_hops(db, where)``, and
    ``long_rows`` those of ``long_table(db)``, where the caller has them (the report), not queried again."""
    from descriptors.records.schema import UNITS
    from descriptors.query.hops import query_hops
    from descriptors.records.schema import HOP_UNITS
    from descriptors.query.configurations import configuration_table
    from descriptors.query.levels import level_aliases

    hops = query_hops(db, where) if hops is None else hops
    table = configuration_table(db, long_rows=long_rows)
    config = {r["id"]: r for r in table.rows}
    levels = {a["alias"]: a["level_of_theory"] for a in level_aliases(db, counts=False)}
    rows, meta = [], {}
    names: dict[tuple, list[tuple[str, str]]] = {}  # (hop fields, configuration fields) → the configuration fields' names in the row
    for h in hops:
        row = dict(h)
        found = config.get(h["configuration_id"], {})
        shape = (tuple(row), tuple(found))
        if shape not in names:
            names[shape] = _joined_names(row, found)
        row.update([(name, found[column]) for column, name in names[shape]])
        rows.append(row)
    for column in (rows[0] if rows else {}):
        name, _, alias = column.partition("@")
        meta[column] = {
            "unit": HOP_UNITS.get(name) if not alias else UNITS.get(name, ""),
            "level": levels.get(alias) if alias else "each row's own (column 'level_of_theory')" if name in HOP_UNITS and HOP_UNITS[name] else None,
        }
    return rows, meta


def _joined_names(hop: dict, config: dict) -> list[tuple[str, str]]:
    """(configuration field, its name in the joined row) for the configuration fields a hop row
    takes: per level (``field@alias``), those the hop has not (a hop's own field wins), its cell's
    ``n_atoms`` as ``n_atoms@config``; the same for every hop of these fields (one key set)."""
    keys, out = set(hop), []
    for column in config:
        if "@" in column or column in ("n_atoms",) or column not in keys:
            name = column if "@" in column or column not in keys else f"{column}@config"
            out.append((column, name))
            keys.add(name)
    return out


def write_features(db, out: str | Path, where: str | None = None, overwrite: bool = False) -> int:
    """The feature table as parquet, each column's unit and level in the schema metadata (key ``lrox``)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from structures.safety import output_path, write_atomically

    out = output_path(out, "export --features", overwrite)
    rows, meta = feature_table(db, where)
    frame = pd.DataFrame(rows)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"lrox": json.dumps({"columns": meta, "target": "e_kra", "leaky": sorted(LEAKY)}).encode()})
    write_atomically(out, lambda path: pq.write_table(table, path), "export --features")
    return len(rows)


@dataclass
class BaselineResult:
    n_hops: int
    n_configurations: int
    folds: int
    mae: float | None  # eV, grouped k-fold
    mae_mean_predictor: float | None
    importances: list[tuple[str, float]] = field(default_factory=list)  # top features, permutation importance (eV of MAE)
    features: list[str] = field(default_factory=list)
    reason: str = ""
    trivial: dict[str, float] = field(default_factory=dict)  # cross-validated MAE of each trivial predictor, same folds
    n_distinct_hops: int = 0  # twin groups among the hops
    n_fold_groups: int = 0  # groups the folds keep together (configurations joined by twins)
    beats: str = ""  # "beats", "does not beat" or "is beaten by" the best trivial predictor
    versus: str = ""  # which trivial predictor that is
    difference: tuple[float, float, float] | None = None  # model − best trivial MAE, with its paired 95 % t-interval
    importance_sampled: int = 0  # the largest fold's held-out hops where permutation importance used a sample of IMPORTANCE_SAMPLE (0: all)

    def importance_text(self) -> str:
        """How the permutation importance was measured, where it was on a sample."""
        if not self.importance_sampled:
            return ""
        return (f"Permutation importance measured on a random sample of {IMPORTANCE_SAMPLE} of each fold's held-out hops (fixed seed; folds hold "
                f"up to {self.importance_sampled}), each fold weighted by all its hops; the MAE and the comparison with the trivial predictors use every hop")

    def verdict_text(self) -> str:
        if self.mae is None or not self.beats:
            return ""
        value, low, high = self.difference
        return (f"it {self.beats} the best trivial predictor ({self.versus}, MAE {self.trivial[self.versus]:.3f} eV): "
                f"MAE difference {value:+.3f} eV (95 % t-interval {low:+.3f} to {high:+.3f} eV, errors paired per hop and clustered by "
                f"the {self.n_fold_groups} fold groups)")


def fold_groups(rows: list[dict]) -> list[str]:
    """One group label per row: configurations joined by a twin group (one physical hop computed in
    several configurations) are one group, so that grouped folds never split a hop."""
    parent: dict[str, str] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for r in rows:
        a, b = find(f"c:{r['configuration_id']}"), find(f"t:{r.get('twin_group') or r.get('hop_id') or r['configuration_id']}")
        if a != b:
            parent[b] = a
    return [find(f"c:{r['configuration_id']}") for r in rows]


def _lookup(train_keys, train_y, test_keys, fallback: float) -> np.ndarray:
    """The training mean of each key, the training mean overall for a key the fold never saw."""
    means: dict = {}
    for key, value in zip(train_keys, train_y):
        means.setdefault(key, []).append(value)
    table = {k: float(np.mean(v)) for k, v in means.items()}
    return np.array([table.get(k, fallback) for k in test_keys])


TRIVIAL = {"the mean": None, "a lookup on mechanism_expected": "mechanism_expected", "a lookup on n-TM": "n_tm"}


def _fold(x, y, train, test):
    """One fold: the model's absolute errors, the mean predictor's, and the permutation importance
    on the held-out configurations (weighted by their number of hops)."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="openmp"):
        return _fold_one_thread(HistGradientBoostingRegressor, x, y, train, test)


def _fold_one_thread(regressor, x, y, train, test):
    """:func:`_fold` in one OpenMP thread: the report's models are small, and scikit-learn's threads
    spin-wait for each other: on a machine shared with other work (load 9 on 2 cores) a report of 10
    configurations took 73 s with two threads and 10 s with one (benchmarks/RESULTS.md, issue 32)."""
    model = regressor(random_state=0, max_iter=200, min_samples_leaf=max(2, min(5, len(train) // 10)), learning_rate=0.1)
    # a descriptor no training row has (every configuration with it is held out) carries nothing for
    # this fold: a constant, which scikit-learn's binning takes (an all-missing column it does not)
    empty = [c for c, none in zip(x.columns, x.iloc[train].isna().all()) if none]
    if empty:
        x = x.copy()
        x[empty] = 0.0
    model.fit(x.iloc[train], y[train])
    errors = np.abs(model.predict(x.iloc[test]) - y[test])
    baseline = np.abs(y[train].mean() - y[test])
    importance = np.zeros(x.shape[1])
    if len(test) > 1:
        shuffled = np.asarray(test)
        if len(shuffled) > IMPORTANCE_SAMPLE:  # bounded: a random sample (fixed seed), said so in the report
            shuffled = np.sort(np.random.default_rng(0).choice(shuffled, IMPORTANCE_SAMPLE, replace=False))
        importance = permutation_importance_batched(model, x.iloc[shuffled], y[shuffled]) * len(test)
    return errors, baseline, importance


# held-out hops of one fold on which permutation importance is measured, at most: above it a random
# sample of this many (10 shuffles each); its cost grows with the held-out rows times the columns the
# trees use, and at 10,000 configurations (3,000 held out per fold) it was 3.6 s of a 5 s report
IMPORTANCE_SAMPLE = 500


def _grouped_folds(n_splits: int, n_rows: int, groups: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """scikit-learn's GroupKFold splits of ``n_rows`` rows (they depend on the groups alone)."""
    from sklearn.model_selection import GroupKFold

    return list(GroupKFold(n_splits=n_splits).split(np.zeros((n_rows, 1)), groups=groups))


def baseline_model(rows: list[dict], min_configurations: int = 4) -> BaselineResult:
    """Gradient boosting (scikit-learn's histogram GBM, which takes missing values) predicting E_KRA
    from non-leaky descriptors, grouped k-fold (configurations joined by twin hops kept together),
    against three trivial predictors on the same folds. (The report runs it in a worker process for
    a large database: descriptors/report/workers.py.)"""
    import pandas as pd

    every = [r for r in rows if r.get("e_kra") is not None]
    # one row per physical hop: a twin computed in two configurations is one example, never two
    kept: dict = {}
    for r in every:
        key = r.get("twin_group") or r.get("hop_id") or id(r)
        if key not in kept or r.get("hop_id") == key:
            kept[key] = r
    data = list(kept.values())
    distinct = len(data)
    groups = fold_groups(data)
    n_configurations = len({r["configuration_id"] for r in data})
    n_groups = len(set(groups))
    if n_groups < min_configurations:
        return BaselineResult(len(every), n_configurations, 0, None, None, reason=f"{n_groups} configurations with a distinct hop; grouped cross-validation needs {min_configurations}",
                              n_distinct_hops=distinct, n_fold_groups=n_groups)
    # the frame of the columns a feature can come from (and the target): each column is converted
    # from the rows on its own, so these are the columns a frame of every field would hold, in its order
    names = dict.fromkeys(data[0])  # pandas' order: as the keys first appear
    for r in data:
        if not r.keys() <= names.keys():
            names.update(dict.fromkeys(r))
    candidates = [c for c in names if c.split("@")[0] not in LEAKY and c.split("@")[0] not in IDENTIFIERS]
    frame = pd.DataFrame(data, columns=[*candidates, *(["e_kra"] if "e_kra" not in candidates else [])])
    numeric = [c for c in candidates if c not in CATEGORICAL and pd.api.types.is_numeric_dtype(frame[c]) and frame[c].notna().any() and frame[c].nunique(dropna=True) > 1]
    categorical = [c for c in CATEGORICAL if c in frame.columns and frame[c].nunique(dropna=True) > 1]
    x = pd.concat([frame[numeric].astype(float), pd.get_dummies(frame[categorical].astype(str), dtype=float)], axis=1) if categorical else frame[numeric].astype(float)
    if x.shape[1] == 0:
        return BaselineResult(len(every), n_configurations, 0, None, None, reason="no descriptor varies between these hops", n_distinct_hops=distinct, n_fold_groups=n_groups)
    y = frame["e_kra"].to_numpy(dtype=float)
    folds = min(5, n_groups)
    model_errors = np.zeros(len(y))
    trivial_errors = {name: np.zeros(len(y)) for name in TRIVIAL}
    importance = np.zeros(x.shape[1])
    largest_fold = 0
    lookup_keys = {column: [str(r.get(column)) for r in data] for column in TRIVIAL.values() if column is not None}
    for train, test in _grouped_folds(folds, len(y), groups):
        largest_fold = max(largest_fold, len(test))
        errors_fold, _, importance_fold = _fold(x, y, train, test)
        model_errors[test] = errors_fold
        importance += importance_fold
        for name, column in TRIVIAL.items():
            fallback = float(y[train].mean())
            if column is None:
                predicted = np.full(len(test), fallback)
            else:
                keys = lookup_keys[column]
                predicted = _lookup([keys[i] for i in train], y[train], [keys[i] for i in test], fallback)
            trivial_errors[name][test] = np.abs(predicted - y[test])
    importance /= len(y)
    ranked = sorted(zip(x.columns, importance), key=lambda kv: -kv[1])
    trivial = {name: float(e.mean()) for name, e in trivial_errors.items()}
    best = min(trivial, key=trivial.get)
    beats, difference = _compare(model_errors, trivial_errors[best], groups)
    return BaselineResult(
        n_hops=len(every),
        n_configurations=n_configurations,
        folds=folds,
        mae=float(model_errors.mean()),
        mae_mean_predictor=trivial["the mean"],
        importances=[(name, float(value)) for name, value in ranked[:8]],
        features=list(x.columns),
        trivial=trivial,
        n_distinct_hops=distinct,
        n_fold_groups=n_groups,
        beats=beats,
        versus=best,
        difference=difference,
        importance_sampled=largest_fold if largest_fold > IMPORTANCE_SAMPLE else 0,
    )


def _compare(model: np.ndarray, trivial: np.ndarray, groups: list[str]) -> tuple[str, tuple[float, float, float]]:
    """Whether the model's absolute errors are lower than a trivial predictor's: the difference of the
    two MAEs, with a 95 % t-interval whose standard error is clustered by fold group (the hops of one
    group are not independent of each other: they share a configuration)."""
    from scipy.stats import t

    d = model - trivial
    value = float(d.mean())
    labels = sorted(set(groups))
    if len(labels) < 2:
        return "does not beat", (value, value, value)
    # each group's sum of (d − mean), added in row order as a Python sum would (bincount adds in
    # index order too): one pass, where a sum per group over every row was quadratic (10 s at 10,000 configurations)
    position = {label: k for k, label in enumerate(labels)}
    sums = np.bincount([position[g] for g in groups], weights=d - value, minlength=len(labels))
    se = float(np.sqrt(np.sum(sums**2) * len(labels) / (len(labels) - 1)) / len(d))
    half = float(t.ppf(0.975, len(labels) - 1)) * se
    low, high = value - half, value + half
    verdict = "beats" if high < 0 else "is beaten by" if low > 0 else "does not beat"
    return verdict, (value, low, high)
