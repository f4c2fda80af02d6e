"""vlmeval: evaluate vision-language models with the official scorers' numbers.

`evaluate` runs the engine of `vlmeval run` from Python, also on a model in memory (docs/python.md);
`load_report` reads a report.json back (`RunReport`).

The public API for task authors, everything a task file needs: `task`, `Task`, `DataSpec`,
`ImageJoin`, `Sample`, `LazyImage`, `Row`, `Scored`, `ScoreContext`, `AnswerReading`, `per_sample`, `row_images`, `Failure`;
the metric helpers `Metric`, `mean_metric`, `meta_equals`, `Record`; the column checks (`Text`,
`OneOf`, `Strings`, `IndexInto`, `OptionLetter`, `LetterAmong`); the option helpers `LETTERS` and
`option_lines`; and `image_cell`, `png_bytes` for a task's demo rows.
"""

from typing import TYPE_CHECKING, Any

from vlmeval.answers.choice import LETTERS, option_lines
from vlmeval.column_checks import IndexInto, LetterAmong, OneOf, OptionLetter, Strings, Text
from vlmeval.demo_data import image_cell, png_bytes
from vlmeval.failure import Failure
from vlmeval.image import LazyImage
from vlmeval.metrics import Metric, Record, mean_metric, meta_equals
from vlmeval.task import (
    AnswerReading,
    DataSpec,
    ImageJoin,
    Row,
    Sample,
    ScoreContext,
    Scored,
    Task,
    per_sample,
    row_images,
    task,
)

if TYPE_CHECKING:
    from vlmeval.api import Evaluation, evaluate
    from vlmeval.reporting.record import RunReport, load_report

__version__ = "0.1.0"

__all__ = [
    "LETTERS",
    "AnswerReading",
    "DataSpec",
    "Evaluation",
    "Failure",
    "ImageJoin",
    "IndexInto",
    "LazyImage",
    "LetterAmong",
    "Metric",
    "OneOf",
    "OptionLetter",
    "Record",
    "Row",
    "RunReport",
    "Sample",
    "ScoreContext",
    "Scored",
    "Strings",
    "Task",
    "Text",
    "evaluate",
    "image_cell",
    "load_report",
    "mean_metric",
    "meta_equals",
    "option_lines",
    "per_sample",
    "png_bytes",
    "row_images",
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
