"""An ML-ready feature table (one row per hop, with its configuration's descriptors at every level)
and a cross-validated baseline model that predicts E_KRA from physical descriptors.

The baseline never sees an NEB-derived column: forward, reverse, barrier, ΔE_a, spread, route,
convergence and the observed mechanism all come from the very band whose E_KRA is the target, and
would leak it. Folds are grouped by configuration, so no configuration is in both the training
and the test part of a fold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["LEAKY", "feature_table", "write_features", "BaselineResult", "baseline_model"]

# columns computed from the NEB whose E_KRA is the target, or bookkeeping: never features
LEAKY = frozenset(
    {"forward", "reverse", "barrier", "e_kra", "delta_e_a", "barrier_spread", "route", "converged", "mechanism",
     "mechanism_observed", "closest_to_vacant_o", "stable_end", "status", "flags", "expected_error",
     "barrier_max", "e_kra_min", "e_kra_max", "e_kra_nearest", "n_hops", "n_flagged", "n_failed"}
)
IDENTIFIERS = frozenset({"id", "calculation_id", "configuration_id", "hop_id", "configuration", "level_of_theory", "settings_hash", "backend", "start", "end", "level", "name", "site", "nearest_defect", "ts_cations", "supercell"})
CATEGORICAL = ("layers", "mechanism_expected", "dopant", "defect", "host")


def feature_table(db, where: str | None = None) -> tuple[list[dict], dict]:
    """(rows, metadata): every hop row joined with its configuration's view; metadata gives each
    column's unit and level of theory."""
    from descriptors.records.schema import UNITS
    from descriptors.query.hops import query_hops
    from descriptors.records.schema import HOP_UNITS
    from descriptors.query.configurations import configuration_table
    from descriptors.query.levels import level_aliases

    hops = query_hops(db, where)
    table = configuration_table(db)
    config = {r["id"]: r for r in table.rows}
    levels = {a["alias"]: a["level_of_theory"] for a in level_aliases(db)}
    rows, meta = [], {}
    for h in hops:
        row = dict(h)
        for column, value in config.get(h["configuration_id"], {}).items():
            if "@" in column or column in ("n_atoms",) or column not in row:
                row[column if "@" in column or column not in row else f"{column}@config"] = value
        rows.append(row)
    for column in (rows[0] if rows else {}):
        name, _, alias = column.partition("@")
        meta[column] = {
            "unit": HOP_UNITS.get(name) if not alias else UNITS.get(name, ""),
            "level": levels.get(alias) if alias else "each row's own (column 'level_of_theory')" if name in HOP_UNITS and HOP_UNITS[name] else None,
        }
    return rows, meta


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


def permutation_importance_batched(model, x, y, n_repeats: int = 10, seed: int = 0) -> np.ndarray:
    """Permutation importance (mean rise of the MAE when one column is shuffled), as scikit-learn's
    ``permutation_importance`` with ``neg_mean_absolute_error`` defines it, in one ``predict`` call.

    scikit-learn predicts once per column and repeat: on tens of rows each call is milliseconds of
    input checking around microseconds of trees, and the design-rules report spent 14 of its 17 s
    there (26 min on a loaded machine). Here every shuffled copy is stacked and predicted at once.
    """
    import pandas as pd

    values = x.to_numpy(dtype=float)
    n, p = values.shape
    rng = np.random.default_rng(seed)
    stacked = np.repeat(values[None, None], p * n_repeats, axis=0).reshape(p, n_repeats, n, p)
    for column in range(p):
        for repeat in range(n_repeats):
            stacked[column, repeat, :, column] = values[rng.permutation(n), column]
    predicted = model.predict(pd.DataFrame(np.concatenate([values, stacked.reshape(-1, p)]), columns=x.columns))
    base = np.abs(predicted[:n] - y).mean()
    shuffled = np.abs(predicted[n:].reshape(p, n_repeats, n) - y).mean(axis=2)
    return shuffled.mean(axis=1) - base


def _fold(x, y, train, test):
    """One fold: the model's absolute errors, the mean predictor's, and the permutation importance
    on the held-out configurations (weighted by their number of hops)."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor(random_state=0, max_iter=200, min_samples_leaf=max(2, min(5, len(train) // 10)), learning_rate=0.1)
    model.fit(x.iloc[train], y[train])
    errors = np.abs(model.predict(x.iloc[test]) - y[test])
    baseline = np.abs(y[train].mean() - y[test])
    importance = np.zeros(x.shape[1])
    if len(test) > 1:
        importance = permutation_importance_batched(model, x.iloc[test], y[test]) * len(test)
    return errors, baseline, importance


def baseline_model(rows: list[dict], min_configurations: int = 4) -> BaselineResult:
    """Gradient boosting (scikit-learn's histogram GBM, which takes missing values) predicting E_KRA
    from non-leaky descriptors, grouped k-fold by configuration, against the mean predictor."""
    import pandas as pd
    from sklearn.model_selection import GroupKFold

    data = [r for r in rows if r.get("e_kra") is not None]
    groups = [r["configuration_id"] for r in data]
    n_groups = len(set(groups))
    if n_groups < min_configurations:
        return BaselineResult(len(data), n_groups, 0, None, None, reason=f"{n_groups} configurations with a barrier; grouped cross-validation needs {min_configurations}")
    frame = pd.DataFrame(data)
    candidates = [c for c in frame.columns if c.split("@")[0] not in LEAKY and c.split("@")[0] not in IDENTIFIERS]
    numeric = [c for c in candidates if c not in CATEGORICAL and pd.api.types.is_numeric_dtype(frame[c]) and frame[c].notna().any() and frame[c].nunique(dropna=True) > 1]
    categorical = [c for c in CATEGORICAL if c in frame.columns and frame[c].nunique(dropna=True) > 1]
    x = pd.concat([frame[numeric].astype(float), pd.get_dummies(frame[categorical].astype(str), dtype=float)], axis=1) if categorical else frame[numeric].astype(float)
    if x.shape[1] == 0:
        return BaselineResult(len(data), n_groups, 0, None, None, reason="no descriptor varies between these hops")
    y = frame["e_kra"].to_numpy(dtype=float)
    folds = min(5, n_groups)
    errors, baseline, importance = [], [], np.zeros(x.shape[1])
    for train, test in GroupKFold(n_splits=folds).split(x, y, groups):
        errors_fold, baseline_fold, importance_fold = _fold(x, y, train, test)
        errors.append(errors_fold)
        baseline.append(baseline_fold)
        importance += importance_fold
    importance /= len(y)
    ranked = sorted(zip(x.columns, importance), key=lambda kv: -kv[1])
    return BaselineResult(
        n_hops=len(data),
        n_configurations=n_groups,
        folds=folds,
        mae=float(np.concatenate(errors).mean()),
        mae_mean_predictor=float(np.concatenate(baseline).mean()),
        importances=[(name, float(value)) for name, value in ranked[:8]],
        features=list(x.columns),
    )
