"""vlmeval: evaluate vision-language models with the official scorers' numbers.

The public API for task authors: `task`, `Task`, `DataSpec`, `Sample`, `Scored`, `ScoreContext`,
`per_sample`, `Failure`, and the metric helpers `Metric`, `mean_metric`, `meta_equals`, `Record`.
"""

from vlmeval.failure import Failure
from vlmeval.metrics import Metric, Record, mean_metric, meta_equals
from vlmeval.task import DataSpec, Sample, ScoreContext, Scored, Task, per_sample, task

__version__ = "0.1.0"

__all__ = [
    "DataSpec",
    "Failure",
    "Metric",
    "Record",
    "Sample",
    "ScoreContext",
    "Scored",
    "Task",
    "mean_metric",
    "meta_equals",
    "per_sample",
    "task",
]
