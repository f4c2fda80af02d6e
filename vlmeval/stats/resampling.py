"""Confidence intervals of metrics over records, from the metrics as per-unit sums.

A metric *decomposes* when its value is sum(s_u) / sum(w_u) over its resampling units u (samples,
or the clusters named by `Metric.unit`): a `mean_metric` (s = 100 x score and w = 1 per selected
record, summed per cluster), or a reduction that declares itself (`Metric.reduces`) the mean, the
record-weighted mean or the sum of its value on each unit alone (CircularEval: a question counts
when all its rows are right). Decomposed metrics get a percentile bootstrap in numpy
(`vlmeval.stats.inference`); a "custom" reduction a delete-a-group jackknife: it is recomputed with
each of (at most) 100 groups of units left out, which never repeats a record (see
`vlmeval.stats.inference`).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vlmeval.metrics import (
    MetaEquals,
    Metric,
    Missing,
    Predicate,
    Record,
    guarded,
    natural_key,
    no_valid_input,
)
from vlmeval.stats.inference import (
    LEVEL,
    RESAMPLES,
    SEED,
    jackknife_se,
    normal_interval,
    percentile_interval,
    ratio_replicates,
)

if TYPE_CHECKING:
    import numpy as np

JACKKNIFE_GROUPS = 100
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Units:
    """Records grouped into a metric's resampling units (in order of first appearance)."""

    keys: list[str]
    index: np.ndarray  # unit position of each record
    selected: np.ndarray  # bool: the record counts for the metric (metric.where)
    clustered: bool

    def restricted(self, mask: np.ndarray) -> Units:
        return Units(self.keys, self.index, self.selected & mask, self.clustered)


class RecordView:
    """Records with what every metric re-reads cached: unit positions, score columns."""

    def __init__(self, records: Sequence[Record]) -> None:
        self.records = records
        self._positions: dict[object, tuple[list[str], np.ndarray]] = {}
        self._scores: dict[str, np.ndarray] = {}
        self._selected: dict[object, np.ndarray] = {}
        self._meta: dict[str, list[Any]] = {}
        self._labels: dict[str, np.ndarray] = {}
        self._failed: np.ndarray | None = None

    def selected(self, where: Predicate | None) -> np.ndarray:
        """Which records a metric's `where` keeps (bool per record), evaluated once per predicate."""
        import numpy as np

        if where is None:
            return np.ones(len(self.records), dtype=bool)
        if where not in self._selected:
            if isinstance(where, MetaEquals):  # one shared column instead of a call per record
                values = where.values
                cells: Iterable[bool] = (cell in values for cell in self.meta_column(where.key))
            else:
                cells = (bool(where(r)) for r in self.records)
            self._selected[where] = np.fromiter(cells, dtype=bool, count=len(self.records))
        return self._selected[where]

    def labels(self, by: str) -> np.ndarray:
        """The breakdown group of every record: `str(meta.get(by))` (a list cell as a whole; see `group_masks`)."""
        import numpy as np

        if by not in self._labels:
            self._labels[by] = np.asarray([str(cell) for cell in self.meta_column(by)], dtype=object)
        return self._labels[by]

    def group_masks(self, by: str) -> dict[str, np.ndarray]:
        """Which records are in each group of `meta[by]`, groups in natural order (grade2 before grade10).

        A list or tuple cell is multi-label: the record is in the group of each of its (distinct) values,
        so one sample counts in every MathVista skill it lists; an empty list puts it in no group. Any
        other cell is one group, named `str(cell)`.
        """
        import numpy as np

        column = self.meta_column(by)
        if not any(isinstance(cell, (list, tuple)) for cell in column):
            labels = self.labels(by)
            return {group: labels == group for group in sorted(set(labels.tolist()), key=natural_key)}
        members: dict[str, list[int]] = {}
        for position, cell in enumerate(column):
            for group in dict.fromkeys(str(v) for v in (cell if isinstance(cell, (list, tuple)) else [cell])):
                members.setdefault(group, []).append(position)
        masks = {}
        for group in sorted(members, key=natural_key):
            mask = np.zeros(len(self.records), dtype=bool)
            mask[members[group]] = True
            masks[group] = mask
        return masks

    def meta_column(self, key: str) -> list[Any]:
        """`meta.get(key)` of every record."""
        if key not in self._meta:
            self._meta[key] = [r.meta.get(key) for r in self.records]
        return self._meta[key]

    def grouped(self, metric: Metric, by: str) -> dict[str, dict[str, float | int | str | None]]:
        """The metric within each group of `meta[by]` (named `str(meta.get(by))`, in natural order:
        grade2 before grade10; a list cell puts the record in each of its groups, see `group_masks`):
        {group: {metric name: value, "n": n}}; a report's breakdown. A group without a value has None
        and `"missing"`: the reason."""

        selected = self.selected(metric.where)
        out: dict[str, dict[str, float | int | str | None]] = {}
        for group, members in self.group_masks(by).items():
            mask = selected & members
            if not mask.any():
                continue
            value = self.outcome(metric, mask)
            cell: dict[str, float | int | str | None] = {
                metric.name: None if isinstance(value, Missing) else value, "n": int(mask.sum())}
            if isinstance(value, Missing):
                cell["missing"] = value.reason
            out[group] = cell
        return out

    def reduce(self, metric: Metric, mask: np.ndarray) -> float:
        """`metric.reduce` of the records `mask` keeps (at least one). A mean metric is read from its
        score column, summed in record order as `percent_mean` sums, so the value is the same."""
        if metric.score_field is not None:
            return 100.0 * sum(self.scores(metric.score_field)[mask].tolist()) / int(mask.sum())
        return metric.reduce(list(itertools.compress(self.records, mask.tolist())))

    def outcome(self, metric: Metric, mask: np.ndarray) -> float | Missing:
        """`Metric.outcome` of the records `mask` keeps (at least one): Missing, with the reason, when
        all of them failed or the reduction is undefined on them; the failure column is read once."""
        failed = self.failed()
        if metric.scale != "count" and bool(failed[mask].all()):
            chosen = itertools.compress(self.records, mask.tolist())
            missing = no_valid_input(metric.scale, [r.failure for r in chosen])
            if missing is not None:
                return missing
        return guarded(metric.scale, lambda: self.reduce(metric, mask))

    def failed(self) -> np.ndarray:
        """Whether each record is a failure (`Record.failure` set)."""
        import numpy as np

        if self._failed is None:
            self._failed = np.fromiter((r.failure is not None for r in self.records), dtype=bool,
                                       count=len(self.records))
        return self._failed

    def units(self, metric: Metric) -> Units:
        import numpy as np

        unit = metric.unit
        if unit not in self._positions:
            positions: dict[str, int] = {}
            found = [positions.setdefault(unit(r) if unit else r.id, len(positions)) for r in self.records]
            self._positions[unit] = (list(positions), np.asarray(found, dtype=np.int64))
        keys, index = self._positions[unit]
        return Units(keys, index, self.selected(metric.where), unit is not None)

    def scores(self, field: str) -> np.ndarray:
        import numpy as np

        if field not in self._scores:
            self._scores[field] = np.fromiter((r.scores.get(field, 0.0) for r in self.records), dtype=float,
                                              count=len(self.records))
        return self._scores[field]


def as_view(records: Sequence[Record] | RecordView) -> RecordView:
    return records if isinstance(records, RecordView) else RecordView(records)


@dataclass(frozen=True)
class UnitTable:
    """A decomposed metric: per-unit sums and weights; `is_sum` when the value is sum(s) alone."""

    keys: list[str]
    sums: np.ndarray
    weights: np.ndarray  # for a sum statistic: 1 where the unit has a selected record
    is_sum: bool
    clustered: bool

    def columns(self, index: np.ndarray | slice) -> tuple[np.ndarray, np.ndarray]:
        """Numerators and denominators over some units, so that sum(s) / sum(w) is the statistic."""
        import numpy as np

        sums = self.sums[index]
        if self.is_sum:
            return sums, np.full(len(sums), 1.0 / max(1, len(sums)))
        return sums, self.weights[index]


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    resamples: int
    unit: str  # "sample" or "cluster"
    n_units: int  # samples or clusters the metric rests on
    path: str  # "bootstrap" (a mean or sum over units) or "jackknife" (any other reduction)


def unit_table(metric: Metric, view: RecordView, units: Units | None = None) -> UnitTable | None:
    """The metric as per-unit sums, as its declared `reduces` says; None for a "custom" reduction
    (or one that cannot take a unit alone, which then gets the jackknife)."""
    import numpy as np

    units = units or view.units(metric)
    n = len(units.keys)
    if metric.score_field is not None:
        values = np.where(units.selected, 100.0 * view.scores(metric.score_field), 0.0)
        sums = np.bincount(units.index, weights=values, minlength=n)
        weights = np.bincount(units.index, weights=units.selected.astype(float), minlength=n)
        return UnitTable(units.keys, sums, weights, False, units.clustered)
    if metric.reduces == "custom":
        return None
    members: list[list[Record]] = [[] for _ in range(n)]
    for record, position, chosen in zip(view.records, units.index.tolist(), units.selected.tolist()):
        if chosen:
            members[position].append(record)
    present = [u for u in range(n) if members[u]]
    if not present:
        return None
    try:
        values = np.asarray([metric.reduce(members[u]) for u in present], dtype=float)
    except Exception as exc:  # noqa: BLE001 - a reduction that cannot take one unit alone: jackknife
        log.warning("%s declares %s reduction but fails on one unit (%s): jackknife instead",
                    metric.name, metric.reduces, exc)
        return None
    sizes = np.asarray([len(members[u]) for u in present], dtype=float)
    unit_sums, unit_weights = np.zeros(n), np.zeros(n)
    weighted = metric.reduces == "record_mean"
    unit_sums[present] = values * sizes if weighted else values
    unit_weights[present] = sizes if weighted else 1.0
    return UnitTable(units.keys, unit_sums, unit_weights, metric.reduces == "sum", units.clustered)


def jackknife_values(metric: Metric, sides: Sequence[tuple[Sequence[Record], np.ndarray]], n_units: int,
               seed: int) -> np.ndarray:
    """(groups, len(sides)) values of metric.reduce with each group of units left out, for each side:
    (records, unit position of each selected record, -1 for the others). Sides share the groups."""
    import numpy as np

    groups = min(JACKKNIFE_GROUPS, n_units)
    group_of_unit = np.empty(n_units, dtype=np.int64)
    group_of_unit[np.random.default_rng(seed).permutation(n_units)] = np.arange(n_units) % groups
    out = np.full((groups, len(sides)), np.nan)
    for column, (records, positions) in enumerate(sides):
        chosen = np.flatnonzero(positions >= 0)
        record_group = group_of_unit[positions[chosen]]
        for group in range(groups):
            kept = chosen[record_group != group]
            if kept.size:
                out[group, column] = metric.reduce([records[i] for i in kept.tolist()])
    return out


def _clip(low_high: tuple[float, float], scale: str) -> tuple[float, float]:
    return (max(0.0, low_high[0]), min(100.0, low_high[1])) if scale == "percent" else low_high


def metric_intervals(metrics: Sequence[Metric], records: Sequence[Record] | RecordView,
                     resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL) -> dict[str, Interval]:
    """A percentile bootstrap interval for every metric that has a qualifying record."""
    view = as_view(records)
    return _intervals([(m.name, m, view.units(m)) for m in metrics], view, resamples, seed, level)


def breakdown_intervals(metric: Metric, by: str, records: Sequence[Record] | RecordView,
                        resamples: int = RESAMPLES, seed: int = SEED,
                        level: float = LEVEL) -> dict[str, Interval]:
    """Intervals of `metric` within each group of meta[by] (groups named as `RecordView.grouped` names them)."""

    view = as_view(records)
    units = view.units(metric)
    jobs = [(group, metric, units.restricted(mask)) for group, mask in view.group_masks(by).items()
            if (units.selected & mask).any()]
    return _intervals(jobs, view, resamples, seed, level)


def _intervals(jobs: Sequence[tuple[str, Metric, Units]], view: RecordView, resamples: int, seed: int,
               level: float) -> dict[str, Interval]:
    """Decomposed metrics over the same units share the same draws: one matrix product for them all."""
    import numpy as np

    shared: dict[int, list[tuple[str, UnitTable]]] = {}
    out: dict[str, Interval] = {}
    for name, metric, units in jobs:
        if not units.selected.any():
            continue
        table = unit_table(metric, view, units)
        if table is not None:
            shared.setdefault(id(table.keys), []).append((name, table))
            continue
        n_units = _n_units(units)
        if n_units < 2:
            continue
        positions = np.where(units.selected, units.index, -1)
        try:
            leave_out = jackknife_values(metric, [(view.records, positions)], len(units.keys), seed)[:, 0]
            value = metric.reduce([view.records[i] for i in np.flatnonzero(units.selected).tolist()])
        except Exception as exc:  # noqa: BLE001 - a reduction that fails on a subset gets no interval
            log.warning("no confidence interval for %s: %s", name, exc)
            continue
        if np.isnan(leave_out).any():
            continue
        low_high = _clip(normal_interval(value, jackknife_se(leave_out.tolist()), level), metric.scale)
        out[name] = Interval(*low_high, len(leave_out), _unit_name(units.clustered), n_units, "jackknife")
    for members in shared.values():
        columns = [table.columns(slice(None)) for _, table in members]
        sums = np.column_stack([s for s, _ in columns])
        weights = np.column_stack([w for _, w in columns])
        intervals = percentile_interval(ratio_replicates(sums, weights, resamples, seed), level)
        for (name, table), interval in zip(members, intervals):
            if interval is not None:
                n_units = int((table.weights > 0).sum())
                out[name] = Interval(*interval, resamples, _unit_name(table.clustered), n_units, "bootstrap")
    return {name: out[name] for name, _, _ in jobs if name in out}


def _n_units(units: Units) -> int:
    import numpy as np

    return int(np.unique(units.index[units.selected]).size)


def _unit_name(clustered: bool) -> str:
    return "cluster" if clustered else "sample"
