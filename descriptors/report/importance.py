"""Permutation importance of the report's baseline model (:mod:`descriptors.report.features`): the
mean rise of its MAE when one column is shuffled, as scikit-learn's ``permutation_importance``
defines it, at a fraction of its cost and with the same numbers.
"""

from __future__ import annotations

import numpy as np

__all__ = ["permutation_importance_batched", "ROWS_PER_PREDICT"]


def permutation_importance_batched(model, x, y, n_repeats: int = 10, seed: int = 0) -> np.ndarray:
    """Permutation importance (mean rise of the MAE when one column is shuffled), as scikit-learn's
    ``permutation_importance`` with ``neg_mean_absolute_error`` defines it.

    scikit-learn predicts once per column and repeat: on tens of rows each call is milliseconds of
    input checking around microseconds of trees, and the design-rules report spent 14 of its 17 s
    there (26 min on a loaded machine). Here each column's shuffled copies are predicted in one call;
    a column no tree splits on is not predicted at all (its shuffled copies predict exactly what the
    unshuffled rows do, and its importance is computed from those, the same arithmetic). A tree
    predicts each row on its own, so the numbers are those of predicting every copy at once.
    """
    import warnings

    values = np.ascontiguousarray(x.to_numpy(dtype=float))
    n, p = values.shape
    rng = np.random.default_rng(seed)
    orders = [[rng.permutation(n) for _ in range(n_repeats)] for _ in range(p)]  # drawn in the order they always were
    used = _split_features(model)
    shuffled = [k for k in range(p) if used is None or k in used]
    per_call = max(1, ROWS_PER_PREDICT // max(1, n_repeats * n))  # columns whose copies are predicted together
    with warnings.catch_warnings():  # plain arrays of the fitted columns, in their order (a DataFrame per call costs a copy)
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        predicted = model.predict(values)
        trees = _TreeSums.of(model, values, predicted)
        by_column = {}
        for start in range(0, len(shuffled), per_call):
            columns = shuffled[start : start + per_call]
            stacked = np.repeat(values[None, None], len(columns) * n_repeats, axis=0).reshape(len(columns), n_repeats, n, p)
            for k, column in enumerate(columns):
                for repeat, order in enumerate(orders[column]):
                    stacked[k, repeat, :, column] = values[order, column]
            if trees is not None:  # each column's copies through the trees that split on it only
                by_column.update((column, trees.predict(stacked[k].reshape(-1, p), column).reshape(n_repeats, n)) for k, column in enumerate(columns))
                continue
            out = model.predict(stacked.reshape(-1, p)).reshape(len(columns), n_repeats, n)
            by_column.update(zip(columns, out))
    unchanged = np.tile(predicted, n_repeats).reshape(n_repeats, n)
    importance = np.array([np.abs(by_column.get(k, unchanged) - y).mean(axis=1).mean() for k in range(p)])
    return importance - np.abs(predicted - y).mean()


ROWS_PER_PREDICT = 400_000  # shuffled rows predicted in one call: few calls at any size, memory bounded (~100 MB at 30 columns)


class _TreeSums:
    """A fitted histogram GBM's prediction as scikit-learn makes it (the baseline, plus each tree's
    output added in the trees' order), with each tree's output on the unshuffled rows kept: a row
    whose only change is one column goes through the trees that split on that column only, and
    only where the shuffle changed its value (a column of a few distinct values, a one-hot column,
    often gets its own value back); every other tree and row gives what it gave the unshuffled row.
    The same additions in the same order, so the same numbers: checked on the unshuffled rows
    against ``model.predict`` before it is used (any difference, or a model that does not expose
    its trees, and every copy is predicted whole)."""

    def __init__(self, model, values: np.ndarray):
        from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

        self.trees = [trees[0] for trees in model._predictors]
        if any(len(trees) != 1 for trees in model._predictors):
            raise ValueError("one tree per iteration expected (a regressor)")
        self.bitsets, self.f_idx_map = model._bin_mapper.make_known_categories_bitsets()
        self.baseline = model._baseline_prediction
        self.inverse = model._loss.link.inverse
        self.n_threads = _openmp_effective_n_threads()
        self.splits_on = [{int(f) for f in tree.nodes["feature_idx"][~tree.nodes["is_leaf"].astype(bool)]} for tree in self.trees]
        self.unshuffled = [self._tree(t, values) for t in range(len(self.trees))]
        self.values, self.n = values, len(values)

    @classmethod
    def of(cls, model, values: np.ndarray, predicted: np.ndarray) -> _TreeSums | None:
        try:
            sums = cls(model, values)
            same = np.array_equal(sums.predict(values, None), predicted)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError):
            return None
        return sums if same else None

    def _tree(self, t: int, rows: np.ndarray) -> np.ndarray:
        return self.trees[t].predict(rows, self.bitsets, self.f_idx_map, self.n_threads)

    def predict(self, rows: np.ndarray, changed: int | None) -> np.ndarray:
        """``rows``: copies of the unshuffled rows (a whole number of them, in their order) that differ
        in column ``changed`` only (None: the unshuffled rows themselves)."""
        copies = len(rows) // self.n
        raw = np.zeros((copies, self.n), dtype=self.baseline.dtype)
        raw += self.baseline
        moved = None if changed is None else np.flatnonzero(rows[:, changed] != np.tile(self.values[:, changed], copies))  # NaN: moved
        if moved is not None and len(moved):
            moved_rows = np.ascontiguousarray(rows[moved])
        for t, columns in enumerate(self.splits_on):
            if moved is not None and len(moved) and changed in columns:
                out = np.tile(self.unshuffled[t], copies)
                out[moved] = self._tree(t, moved_rows)
                raw += out.reshape(copies, self.n)
            else:
                raw += self.unshuffled[t]
        return self.inverse(raw.reshape(-1))


def _split_features(model) -> set[int] | None:
    """The columns any tree of a fitted histogram GBM splits on (None where that cannot be read)."""
    try:
        return {int(f) for trees in model._predictors for tree in trees for f in tree.nodes["feature_idx"][~tree.nodes["is_leaf"].astype(bool)]}
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
