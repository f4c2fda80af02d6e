"""vlmeval: evaluate vision-language models with the official scorers' numbers.

`evaluate` runs the engine of `vlmeval run` from Python, also on a model in memory (docs/python.md);
`load_report` reads a report.json back. The public API for task authors: `task`, `Task`, `DataSpec`,
`Sample`, `Scored`, `ScoreContext`, `per_sample`, `Failure`, and the metric helpers `Metric`,
`mean_metric`, `meta_equals`, `Record`.
"""

from typing import TYPE_CHECKING, Any

from vlmeval.failure import Failure
from vlmeval.metrics import Metric, Record, mean_metric, meta_equals
from vlmeval.task import DataSpec, Sample, ScoreContext, Scored, Task, per_sample, task

if TYPE_CHECKING:
    from vlmeval.api import Evaluation, evaluate
    from vlmeval.reporting.record import RunReport, load_report

__version__ = "0.1.0"

__all__ = [
    "DataSpec",
    "Evaluation",
    "Failure",
    "Metric",
    "Record",
    "RunReport",
    "Sample",
    "ScoreContext",
    "Scored",
    "Task",
    "evaluate",
    "load_report",
    "mean_metric",
    "meta_equals",
    "per_sample",
    "task",
]


_LAZY = {"evaluate": "vlmeval.api", "Evaluation": "vlmeval.api",
         "load_report": "vlmeval.reporting.record", "RunReport": "vlmeval.reporting.record"}


def __getattr__(name: str) -> Any:
    """The evaluation API is imported on first use: `import vlmeval` stays light."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
