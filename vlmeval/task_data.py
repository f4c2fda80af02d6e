"""Where a task's rows come from (`DataSpec`, `ImageJoin`) and how a task reads another split of
its data (`read_rows`, `has_split`): the data half of the task API, re-exported by `vlmeval.task`
and `vlmeval`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vlmeval.column_checks import ColumnCheck

Row = Mapping[str, Any]


@dataclass(frozen=True)
class DataSpec:
    """Where a task's rows come from and what they must contain.

    `hub` is a Hugging Face dataset id loaded with `datasets` when no `--data` is given; `size`
    is the expected number of rows of `split` (after `keep`), shown by `vlmeval tasks`; `a+b` reads the
    rows of splits a and b in that order (as `datasets` does; locally the files of both). `keep`
    selects the rows that are samples (e.g. one data type of a mixed split); sample positions count
    kept rows only. `images` joins the images from another config (see ImageJoin). `columns` must
    be present in every file; `checks` (from `vlmeval.column_checks`: `Text`, `OneOf`, `Strings`,
    `IndexInto`, `OptionLetter`) say what their cells must hold, and run on every row of every file. `list_fields`
    names list-of-struct columns to read as the list of one field, `(column, field)` pairs: VQAv2's
    2.1 M answer dicts become lists of strings inside pyarrow, not Python dicts (parquet files).
    `repeated_ids` says the official data holds a sample id more than once (SEED-Bench's image
    question 49914): the later rows get `#2`, `#3`... in row order and the report counts them
    (`dataset.repeated_ids`); without it a repeated id is a data error.
    """

    hub: str
    split: str
    columns: tuple[str, ...]
    config: str | None = None
    size: int | None = None
    image_column: str | None = "image"
    demo: Path | None = None
    checks: tuple[ColumnCheck, ...] = ()
    keep: Callable[[Row], bool] | None = None
    images: ImageJoin | None = None
    list_fields: tuple[tuple[str, str], ...] = ()
    repeated_ids: bool = False


def read_rows(spec: DataSpec, path: str, split: str) -> list[Row]:
    """Rows of `split` from a local file or hub-layout folder, checked as the engine checks a task's
    own data: for a task that must read another split (VQAv2 test-dev's submission lists test2015)."""
    from vlmeval.engine.data import load_table

    return list(load_table(spec, path, split).rows)


def has_split(folder: Path, split: str) -> bool:
    """Whether a folder laid out as a hub copy holds files of `split`."""
    from vlmeval.engine.data import split_files

    return bool(split_files(folder, split))

@dataclass(frozen=True)
class ImageJoin:
    """Images kept in another config of the same dataset, joined on a key (datasets that store each image once).

    The rows of `config` (same split) hold `key` and the image column; a question row's
    `on` column names its image. Locally, `--data` is a folder holding both configs in the hub's
    layout (one subfolder per config).
    """

    config: str
    on: str
    key: str = "id"
