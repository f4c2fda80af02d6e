"""Suites: named, ordered lists of tasks that are run and laid out together.

A suite is data, registered like a task (`@suite` in a module of the `vlmeval.tasks` entry-point
group or a task folder): its columns name each task, the metric a published table reports for it,
the column's label and the number of decimals that table prints. `vlmeval run --suite NAME` runs its
tasks with one model load; `vlmeval leaderboard --suite NAME` lays the columns out in its order, and
with `--reference` appends the suite's published rows (`references`) below the runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from vlmeval.named import NamedRegistry


@dataclass(frozen=True)
class SuiteColumn:
    """One column of a suite's table: `metric` of `task` (None: the task's primary metric)."""

    task: str
    label: str
    metric: str | None = None
    decimals: int = 1
    # A points-scale metric's full score (OCRBench: 1,000): the table prints the points and averages
    # 100 x value / points_max with the percentages, as the Open VLM Leaderboard does.
    points_max: float | None = None


@dataclass(frozen=True)
class ReferenceRow:
    """A published row of a suite's table (a model card's or paper's numbers), shown by `leaderboard --reference`.

    `values` maps a column's task name to the published number, on the scale the suite's table prints;
    `source` names where it was published (URL, paper table, commit), so a reader can check it.
    """

    label: str
    values: Mapping[str, float]
    source: str


@dataclass(frozen=True)
class Suite:
    """`name` is filled in from the `@suite` decorator that registers the factory; leave it out."""

    description: str
    columns: tuple[SuiteColumn, ...]
    references: tuple[ReferenceRow, ...] = ()
    # The Open VLM Leaderboard's layout: an average over every column (points normalised by
    # `points_max`) and the average rank over them, for rows that have every column.
    ranked: bool = False
    name: str = field(default="", kw_only=True)

    @property
    def tasks(self) -> list[str]:
        """The suite's tasks in column order, each once."""
        return list(dict.fromkeys(column.task for column in self.columns))


_SUITES: NamedRegistry[Suite] = NamedRegistry("suite")


def suite(name: str) -> Callable[[Callable[[], Suite]], Callable[[], Suite]]:
    """Register a factory returning a Suite under `name` (the `--suite` value)."""
    return _SUITES.decorator(name)


def registered_suites() -> dict[str, Callable[[], Suite]]:
    return _SUITES.factories()


def registration_conflicts() -> list[str]:
    return list(_SUITES.conflicts)
