"""`--subset NAME`: a fixed, stratified part of a task, the same questions at every training step.

Every task offers the subsets of `SUBSETS` (`quick`: about 500 questions, or the whole task if
smaller). The selection is a pure function of the sample ids, the task's breakdown values and
whether a sample has an image, so a run at step 1,000 and one at step 9,000 answer the same
questions, whatever the order of the rows:

- samples are grouped into the task's resampling units (MMBench's circular copies of a question,
  MME's image pairs) so a unit is taken whole, and units into strata by their breakdown values
  (subject, category, ...) and has-image;
- each stratum gets its share of the size by largest remainder (Hamilton's method) and takes its
  units with the smallest sha256 of `NAME:unit`.

The report records the name, the size, and a hash of the selected ids (`ids_hash`).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from vlmeval.engine.samples import SampleSet, load_samples
from vlmeval.errors import DataError, UsageError
from vlmeval.metrics import Record
from vlmeval.task import Sample, Task

SUBSETS: Mapping[str, int] = {"quick": 500}


def subset_size(name: str, total: int) -> int:
    """How many questions subset `name` holds in a task of `total` questions."""
    if name not in SUBSETS:
        raise UsageError(f"--subset {name}: unknown subset; choose one of {', '.join(SUBSETS)}")
    return min(SUBSETS[name], total)


def load_selected(task: Task, data: str | None, split: str | None, limit: int | None,
                  subset: str | None) -> SampleSet:
    """The samples of a run: `load_samples`, then the subset when one is named."""
    if subset is not None:
        subset_size(subset, 0)  # an unknown name fails before the data is read
    sample_set = load_samples(task, data, split, limit)
    return sample_set if subset is None else select(task, sample_set, subset)


def select(task: Task, sample_set: SampleSet, name: str) -> SampleSet:
    """The samples of subset `name`, in dataset order, with `subset` set to its description."""
    samples = sample_set.samples
    size = subset_size(name, len(samples))
    units = _units(task, samples)
    strata: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for unit, members in units.items():
        strata[_stratum(task, members[0])].append(unit)
    chosen: set[str] = set()
    for key, quota in _quotas({k: sum(len(units[u]) for u in v) for k, v in strata.items()}, size).items():
        taken = 0
        for unit in sorted(strata[key], key=lambda u: _rank(name, u)):
            if taken >= quota:
                break
            chosen.add(unit)
            taken += len(units[unit])
    ids = {s.id for unit in chosen for s in units[unit]}
    selected = [s for s in samples if s.id in ids]
    described = {"name": name, "n": len(selected), "of": len(samples),
                 "ids_hash": ids_hash(s.id for s in selected)}
    return replace(sample_set, samples=selected, subset=described)


def ids_hash(ids: Any) -> str:
    """A hash of a set of sample ids, order-free: two runs with equal hashes asked the same questions."""
    return "sha256:" + hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:16]


def _unit_key(task: Task) -> Callable[[Record], str] | None:
    return next((m.unit for m in task.metrics if m.unit is not None), None)


def _units(task: Task, samples: list[Sample]) -> dict[str, list[Sample]]:
    key = _unit_key(task)
    units: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        if key is None:
            units[sample.id].append(sample)
            continue
        record = Record(id=sample.id, prompt=sample.text, prediction=None, target=sample.target,
                        meta=sample.meta)
        try:
            units[str(key(record))].append(sample)
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"sample {sample.id}: cannot find its {task.name} question group for a subset "
                            f"({type(exc).__name__}: {exc})") from exc
    return units


def _stratum(task: Task, sample: Sample) -> tuple[str, ...]:
    return (*(str(sample.meta.get(by)) for by in task.breakdowns), "image" if sample.images else "text")


def _rank(name: str, unit: str) -> str:
    return hashlib.sha256(f"{name}:{unit}".encode()).hexdigest()


def _quotas(sizes: Mapping[tuple[str, ...], int], size: int) -> dict[tuple[str, ...], int]:
    """Each stratum's share of `size`, proportional to its size, rounded by largest remainder."""
    total = sum(sizes.values())
    exact = {key: size * n / total for key, n in sizes.items()}
    quotas = {key: int(value) for key, value in exact.items()}
    by_remainder = sorted(exact, key=lambda k: (-(exact[k] - quotas[k]), k))
    for key in by_remainder[: size - sum(quotas.values())]:
        quotas[key] += 1
    return quotas


def expected_half_width(value: float, n: int) -> float:
    """The 95% normal-interval half-width of a percentage `value` observed over `n` questions."""
    p = min(max(value / 100.0, 0.0), 1.0)
    return 100.0 * 1.959964 * (p * (1.0 - p) / n) ** 0.5 if n else float("nan")
