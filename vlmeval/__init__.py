"""vlmeval: evaluate vision-language models with the official scorers' numbers.

The public API for task authors, everything a task file needs: `task`, `Task`, `DataSpec`,
`ImageJoin`, `Sample`, `LazyImage`, `Row`, `Scored`, `ScoreContext`, `AnswerReading`, `per_sample`, `row_images`, `Failure`;
the metric helpers `Metric`, `mean_metric`, `meta_equals`, `Record`; the column checks (`Text`,
`OneOf`, `Strings`, `IndexInto`, `OptionLetter`, `LetterAmong`); the option helpers `LETTERS` and
`option_lines`; and `image_cell`, `png_bytes` for a task's demo rows.
"""

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

__version__ = "0.1.0"

__all__ = [
    "LETTERS",
    "AnswerReading",
    "DataSpec",
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
    "Sample",
    "ScoreContext",
    "Scored",
    "Strings",
    "Task",
    "Text",
    "image_cell",
    "mean_metric",
    "meta_equals",
    "option_lines",
    "per_sample",
    "png_bytes",
    "row_images",
    "task",
]
