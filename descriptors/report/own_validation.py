"""The user's own validation: the ML model's error on this database's chemistry, from ``lrox check``.

Where a hop has both an ML level and a GPAW level that checks it (``compared_with``: the ML band of
the same hop in the same cell, descriptors.query.hops), the difference ML − GPAW is the ML model's
error on that hop. Per kind of hop (pristine, V_O-edge, beside V_O, dopant-adjacent, divacancy TSH) and over
all of them: the signed mean and the mean absolute error, with n. The report then uses the
database's own error as the ``expected_error`` of that ML level in place of the generic validation
set (four LiCoO2/LiNiO2 rows, no Mn, no O vacancy), and says which one it used
(:func:`descriptors.report.evidence.level_error`).

Where one ML level was checked both ways, the CI-NEB level (GPAW's own barrier) comes before the
single points along the ML band (an upper bound of it: the ML path is not DFT's): the rules use
the first, and the report lists both.

Errors are measured in the smaller cell the check ran in; the ML barrier there and in the
database's cell differ by ``barrier_difference`` of the ML-in-cell row (shown beside, never mixed in).
"""

from __future__ import annotations

from dataclasses import dataclass

from descriptors.physics.levels import is_single_points_level

__all__ = ["HOP_KINDS", "hop_kind", "OwnError", "own_errors", "own_error_of"]

HOP_KINDS = ("pristine", "V_O-edge", "beside V_O", "dopant-adjacent", "divacancy TSH", "other")


def hop_kind(row: dict) -> str:
    """The kind of a hop row the error is reported per: an O vacancy on the hop's edge or beside
    it first (a hop beside an O vacancy that bends into a tetrahedral site is not a divacancy hop)."""
    mechanism = row.get("mechanism") or row.get("mechanism_expected")
    defect = str(row.get("defect") or "")
    if mechanism == "V_O-edge" or row.get("mechanism_expected") == "V_O-edge":
        return "V_O-edge"
    if defect == "pristine":
        return "pristine"
    if row.get("dopant"):
        return "dopant-adjacent"
    if str(row.get("nearest_defect") or "").startswith("V_O"):
        return "beside V_O"
    if mechanism == "TSH" and "vacancy" in defect:
        return "divacancy TSH"
    return "other"


@dataclass(frozen=True)
class OwnError:
    """ML − GPAW barrier errors of one ML level on one kind of hop (``all``: every kind) of this database."""

    level: str  # the ML level in the database's own cell, e.g. 'MLIP 7net-0'
    kind: str
    n: int
    signed_mean: float
    mae: float
    max_abs: float
    gpaw_level: str
    cell: str

    def text(self) -> str:
        return (f"this database's own ML − GPAW error ({self.kind}, n = {self.n}, in the {self.cell} cell against {self.gpaw_level}): "
                f"MAE {self.mae:.3f} eV, signed mean {self.signed_mean:+.3f} eV")


def _base_level(ml_in_cell: str) -> tuple[str, str]:
    """'MLIP 7net-0, 2x1x1 cell' → ('MLIP 7net-0', '2x1x1')."""
    level, _, rest = ml_in_cell.partition(", ")
    return level, rest[: -len(" cell")] if rest.endswith(" cell") else rest


def _barrier_first(gpaw_level: str) -> int:
    """0 for a GPAW level that computed the barrier (a CI-NEB), 1 for single points on the ML band."""
    return 1 if is_single_points_level(gpaw_level) else 0


def own_errors(hops: list[dict]) -> list[OwnError]:
    """Every (ML level, kind) with at least one hop that GPAW checked, and each ML level over all
    kinds; per ML level, CI-NEB levels before single-point ones."""
    if not any(r.get("barrier_difference") is not None and str(r.get("level_of_theory", "")).startswith("GPAW") for r in hops):
        return []  # no hop was checked (an ML screen of any size): nothing to group
    by_id = {}
    for r in hops:
        by_id.setdefault((r.get("configuration_id"), r.get("hop_id")), []).append(r)
    kinds: dict[tuple[str, str, str], list[tuple[str, float]]] = {}
    for rows in by_id.values():
        for r in rows:
            if not str(r.get("level_of_theory", "")).startswith("GPAW") or r.get("barrier_difference") is None:
                continue
            if r.get("status") not in ("ok", "flagged") or r.get("barrier") is None:
                continue
            error = -float(r["barrier_difference"])  # the row is GPAW − ML: the ML error is ML − GPAW
            partner = next((p for p in rows if p.get("level") == r.get("compared_with")), None)
            if partner is None:
                continue
            level, cell = _base_level(partner["level_of_theory"])
            key = (level, r["level_of_theory"], cell)
            kinds.setdefault(key, []).append((hop_kind(r), error))
    out = []
    for (level, gpaw, cell), values in sorted(kinds.items(), key=lambda kv: (kv[0][0], _barrier_first(kv[0][1]), kv[0][1], kv[0][2])):
        groups = {"all": [e for _, e in values]}
        for kind, e in values:
            groups.setdefault(kind, []).append(e)
        for kind in ("all", *HOP_KINDS):
            errors = groups.get(kind)
            if errors:
                out.append(OwnError(level, kind, len(errors), sum(errors) / len(errors), sum(abs(e) for e in errors) / len(errors),
                                    max(abs(e) for e in errors), gpaw, cell))
    return out


def own_error_of(errors: list[OwnError], level: str) -> OwnError | None:
    """The database's own error of an ML level over all checked hops, against the first GPAW level
    that checked it: a CI-NEB level where there is one (:func:`own_errors`' order)."""
    return next((e for e in errors if e.level == level and e.kind == "all"), None)
