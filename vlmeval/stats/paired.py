"""Paired comparison of one metric in two runs: B - A, its interval and a paired test.

Runs are paired on the resampling units both hold (sample ids, or clusters). A metric that decomposes
(`vlmeval.stats.resampling.unit_table`) gets a paired percentile bootstrap, and McNemar's test when
every unit is right or wrong in both runs (and the units weigh alike), else a sign-flip permutation
test; any other reduction gets a paired delete-a-group jackknife and a z-test (`vlmeval.stats.inference`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vlmeval.metrics import Metric, Missing, Record
from vlmeval.stats.inference import (
    LEVEL,
    RESAMPLES,
    SEED,
    TestResult,
    bootstrap_p_value,
    jackknife_se,
    mcnemar,
    normal_interval,
    percentile_interval,
    ratio_replicates,
    sign_flip_test,
    z_test,
)
from vlmeval.stats.resampling import RecordView, Units, UnitTable, as_view, jackknife_values, unit_table

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class PairedResult:
    """One metric of run A against run B; `diff` (B - A) and its interval rest on the shared units."""

    metric: str
    value_a: float | None
    value_b: float | None
    diff: float | None
    interval: tuple[float, float] | None
    n_shared: int
    test: TestResult | None
    resamples: int
    missing_a: str | None = None  # why the metric has no value in run A (Metric.outcome)
    missing_b: str | None = None


def paired_comparison(metric: Metric, records_a: Sequence[Record] | RecordView,
                      records_b: Sequence[Record] | RecordView,
                      resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL) -> PairedResult:
    """Paired bootstrap of B - A over the units both runs hold, and a paired test on them."""
    import numpy as np

    view_a, view_b = as_view(records_a), as_view(records_b)
    records_a, records_b = view_a.records, view_b.records
    outcome_a, outcome_b = metric.outcome(records_a), metric.outcome(records_b)
    if isinstance(outcome_a, Missing) or isinstance(outcome_b, Missing):  # no number, so no difference
        return PairedResult(metric.name, _value(outcome_a), _value(outcome_b), None, None, 0, None, 0,
                            outcome_a.reason if isinstance(outcome_a, Missing) else None,
                            outcome_b.reason if isinstance(outcome_b, Missing) else None)
    value_a, value_b = outcome_a, outcome_b
    units_a, units_b = view_a.units(metric), view_b.units(metric)
    where_b = {k: i for i, k in enumerate(units_b.keys)}
    pairs = [(i, where_b[k]) for i, k in enumerate(units_a.keys) if k in where_b]
    ia = np.asarray([a for a, _ in pairs], dtype=np.int64)
    ib = np.asarray([b for _, b in pairs], dtype=np.int64)
    table_a, table_b = unit_table(metric, view_a, units_a), unit_table(metric, view_b, units_b)
    empty = PairedResult(metric.name, value_a, value_b, None, None, 0, None, 0)
    if not pairs:
        return empty
    if table_a is not None and table_b is not None and table_a.is_sum == table_b.is_sum:
        both = (table_a.weights[ia] > 0) & (table_b.weights[ib] > 0)
        (sa, wa), (sb, wb) = table_a.columns(ia), table_b.columns(ib)
        if not both.any():
            return empty
        diff = float(sb.sum() / wb.sum() - sa.sum() / wa.sum())
        replicates = ratio_replicates(np.column_stack([sa, sb]), np.column_stack([wa, wb]), resamples, seed)
        differences = replicates[:, 1] - replicates[:, 0]
        test = _paired_test(table_a, table_b, ia[both], ib[both], differences, resamples, seed)
        return PairedResult(metric.name, value_a, value_b, diff, percentile_interval(differences, level)[0],
                            int(both.sum()), test, resamples)
    return _generic_paired(metric, records_a, records_b, (units_a, ia), (units_b, ib), value_a, value_b,
                           seed, level)


def _value(outcome: float | Missing | None) -> float | None:
    return None if outcome is None or isinstance(outcome, Missing) else outcome


def _paired_test(table_a: UnitTable, table_b: UnitTable, ia: np.ndarray, ib: np.ndarray,
                 differences: np.ndarray, resamples: int, seed: int) -> TestResult:
    """McNemar when every shared unit is right/wrong (two values, one record per unit) in both runs;
    a sign-flip test on the unit sums when both runs weigh the units alike; else the bootstrap's p."""
    import numpy as np

    sa, sb = table_a.sums[ia], table_b.sums[ib]
    wa, wb = table_a.weights[ia], table_b.weights[ib]
    # equal weights (one record per unit, or MME's two questions per image): the statistic is the
    # plain mean of the unit values, so a right/wrong value per unit is a McNemar pair
    single = table_a.is_sum or bool(np.all(wa == wa[0]) and np.all(wb == wa[0]))
    va, vb = (sa, sb) if table_a.is_sum else (sa / wa, sb / wb)
    distinct = np.unique(np.concatenate([va, vb]))
    if single and distinct.size <= 2:
        right = distinct.max()
        b = int(((va == right) & (vb != right)).sum())
        c = int(((va != right) & (vb == right)).sum())
        return mcnemar(b, c)
    if np.allclose(wa, wb):
        return sign_flip_test(sb - sa, resamples, seed)
    return bootstrap_p_value(differences)


def _generic_paired(metric: Metric, records_a: Sequence[Record], records_b: Sequence[Record],
                    side_a: tuple[Units, np.ndarray], side_b: tuple[Units, np.ndarray],
                    value_a: float | None, value_b: float | None, seed: int, level: float) -> PairedResult:
    """Jackknife of B - A: the same groups of shared units are left out of both runs."""
    import numpy as np

    sides = []
    for records, (units, shared) in ((records_a, side_a), (records_b, side_b)):
        position = np.full(len(units.keys), -1, dtype=np.int64)
        position[shared] = np.arange(len(shared))
        sides.append((records, np.where(units.selected, position[units.index], -1)))
    n_shared = min(len(np.unique(p[p >= 0])) for _, p in sides)
    if n_shared < 2:
        return PairedResult(metric.name, value_a, value_b, None, None, n_shared, None, 0)
    point = [metric.reduce([records[i] for i in np.flatnonzero(p >= 0).tolist()]) for records, p in sides]
    diff = float(point[1] - point[0])
    try:
        leave_out = jackknife_values(metric, sides, len(side_a[1]), seed)
    except Exception:  # noqa: BLE001 - a reduction that fails on a subset: the difference, untested
        return PairedResult(metric.name, value_a, value_b, diff, None, n_shared, None, 0)
    differences = leave_out[:, 1] - leave_out[:, 0]
    if np.isnan(differences).any():
        return PairedResult(metric.name, value_a, value_b, diff, None, n_shared, None, 0)
    se = jackknife_se(differences.tolist())
    return PairedResult(metric.name, value_a, value_b, diff, normal_interval(diff, se, level), n_shared,
                        z_test(diff, se, f"{len(differences)} groups"), len(differences))
