"""Rows from a hub dataset or a local file, with images decoded only when a model needs them.

Local data is parquet (a file, or a folder of the hub's shards) or TSV with base64 images (the
layout of the official MMBench release). Non-image columns are read eagerly; image cells are
fetched per parquet row group on demand, so a 200k-row split never sits in memory decoded.
"""

from __future__ import annotations

import base64
import io
import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlmeval.engine.images import to_rgb
from vlmeval.errors import DataError, ImageError
from vlmeval.task import DataSpec
from vlmeval.column_checks import check_table, missing_column_message

if TYPE_CHECKING:
    from PIL.Image import Image

ImageCell = Any


class LazyImage:
    """An image cell that is decoded on `load()`; `where` names it in errors."""

    __slots__ = ("_fetch", "where")

    def __init__(self, fetch: Callable[[], ImageCell], where: str) -> None:
        self._fetch = fetch
        self.where = where

    def load(self, max_side: int | None = None) -> Image:
        """The image in RGB; with `max_side`, a thumbnail at most that long (JPEGs are decoded at a
        reduced scale, several times faster than decoding them whole)."""
        from PIL import Image as PILImage

        try:
            data = cell_bytes(self._fetch())
            if data is None:
                raise ValueError("the image cell is empty")
            image = PILImage.open(io.BytesIO(data))
            if max_side is not None:
                scale = min(1.0, max_side / max(image.size))
                image.draft("RGB", (round(image.width * scale), round(image.height * scale)))
                image.thumbnail((max_side, max_side))
            image.load()
            return to_rgb(image)
        except Exception as exc:
            raise ImageError(f"{self.where}: cannot decode image ({exc})") from exc


def cell_bytes(cell: ImageCell) -> bytes | None:
    """The encoded bytes of an image cell in any layout the hub or a TSV uses."""
    if cell is None:
        return None
    if isinstance(cell, bytes):
        return cell
    if isinstance(cell, dict):
        if cell.get("bytes") is not None:
            return bytes(cell["bytes"])
        if cell.get("path"):
            return Path(cell["path"]).read_bytes()
        return None
    if isinstance(cell, str):
        return base64.b64decode(cell)
    if isinstance(cell, (list, tuple)):  # a sequence-of-images column holding one image
        if len(cell) > 1:
            raise ValueError(f"the cell holds {len(cell)} images; one is expected")
        return cell_bytes(cell[0]) if cell else None
    raise TypeError(f"unsupported image cell of type {type(cell).__name__}")


def is_missing(value: Any) -> bool:
    """None, NaN and empty cells: how hub, parquet and TSV files write 'no value'."""
    return value is None or (isinstance(value, float) and math.isnan(value))


@dataclass
class Table:
    """A split's rows (without images) and a way to fetch the image cell of row i."""

    source: str
    rows: list[dict[str, Any]]
    image_cell: Callable[[int], ImageCell] | None

    def lazy_image(self, index: int) -> LazyImage | None:
        """A LazyImage for row `index`, or None when the row has no image."""
        if self.image_cell is None:
            return None
        fetch = self.image_cell
        if not self.rows[index].get("_has_image", True):
            return None
        return LazyImage(lambda: fetch(index), f"{self.source} row {index}")


def load_table(spec: DataSpec, data: str | None, split: str, split_given: bool = False) -> Table:
    """Rows of `split` from `data` (a local path) or, when no path is given, from the hub.

    Every file is checked against `spec.columns` and `spec.checks` before a row is used.
    `split_given` (the user passed `--split`) makes a single file whose name names no such split
    an error rather than a guess. Rows that `spec.keep` rejects are dropped; with `spec.images`,
    image cells come from the rows of another config that share the row's key.
    """
    table = _raw_table(spec, data, split, split_given)
    _check_columns(table, spec)
    if spec.images is not None:
        table = _join_images(table, spec, data, split)
    if spec.keep is not None:
        table = _kept(table, spec.keep)
    return table


def _raw_table(spec: DataSpec, data: str | None, split: str, split_given: bool = False) -> Table:
    if data is None:
        table = _from_hub(spec, split)
    else:
        path = Path(data).expanduser()
        if not path.exists():
            raise DataError(f"--data {data}: no such file or folder")
        table = _from_local(path, split, spec, split_given)
    if not table.rows:
        raise DataError(f"{table.source}: split {split!r} has no rows")
    return table


def _kept(table: Table, keep: Callable[[dict[str, Any]], bool]) -> Table:
    kept = []
    for index, row in enumerate(table.rows):
        try:
            if keep(row):
                kept.append(index)
        except Exception as exc:
            raise DataError(f"{table.source} row {index}: cannot tell whether it is a sample ({exc})") from exc
    if not kept:
        raise DataError(f"{table.source}: no row is a sample of this task")
    cells = table.image_cell
    return Table(source=table.source, rows=[table.rows[i] for i in kept],
                 image_cell=None if cells is None else lambda j: cells(kept[j]))


def _join_images(table: Table, spec: DataSpec, data: str | None, split: str) -> Table:
    """Each row's image cell from the `spec.images.config` row whose key equals the row's `on` value."""
    join = spec.images
    assert join is not None and spec.image_column is not None
    image_spec = replace(spec, config=join.config, columns=(join.key,), images=None, keep=None, checks=())
    images = _raw_table(image_spec, data, split)
    _check_columns(images, image_spec)
    if images.image_cell is None:
        raise DataError(f"{images.source}: no {spec.image_column!r} column to take images from")
    position = {str(row[join.key]): i for i, row in enumerate(images.rows)}
    for row in table.rows:  # a key without an image row is an error of that sample, never a text-only prompt
        found = position.get(str(row[join.on]))
        row["_has_image"] = found is None or images.rows[found].get("_has_image", True)
    cells = images.image_cell

    def image_cell(index: int) -> ImageCell:
        key = str(table.rows[index][join.on])
        if key not in position:
            raise KeyError(f"no {join.config} row has {join.key} {key!r}")
        return cells(position[key])

    return Table(source=table.source, rows=table.rows, image_cell=image_cell)


def _check_columns(table: Table, spec: DataSpec) -> None:
    present = set(table.rows[0])
    missing = [c for c in spec.columns if c not in present]
    if missing:
        raise DataError(missing_column_message(table.source, missing[0], present))


def split_files(folder: Path, split: str, config: str | None = None) -> list[Path]:
    """The data files of `split` in a folder laid out as the hub's copy; [] when none is named so."""
    return _split_and_all_files(folder, split, config)[0]


def _split_and_all_files(folder: Path, split: str, config: str | None) -> tuple[list[Path], list[Path]]:
    files = sorted(p for p in folder.rglob("*") if p.suffix in {".parquet", ".tsv"})
    if config is not None:  # a hub copy of several configs: `MMBench/en/dev-*.parquet`, `MMBench/cn/...`
        files = [p for p in files if config in p.relative_to(folder).parts[:-1]] or files
    # The split name must end at a separator, as in the hub's `test-00000-of-00001.parquet`:
    # a bare prefix test would also take VQAv2's `testdev-*` shards for split `test`.
    in_split = re.compile(rf"{re.escape(split)}(?:[-._ 0-9]|$)")
    return [p for p in files if in_split.match(p.name) or p.parent.name == split], files


def _names_split(file: Path, split: str) -> bool:
    """Whether a single file's name or folder names `split` as a word (`mmbench_dev_20230712.tsv`)."""
    word = re.compile(rf"(?:^|[-._ ]){re.escape(split)}(?:[-._ 0-9]|$)")
    return bool(word.search(file.name)) or file.parent.name == split


def _local_files(path: Path, split: str, config: str | None, split_given: bool) -> list[Path]:
    if path.is_file():
        if split_given and not _names_split(path, split):
            raise DataError(f"{path}: --split {split} was given but this file's name names no such split; "
                            f"pass the file of split {split!r}, or leave --split out to read this file")
        return [path]
    named, files = _split_and_all_files(path, split, config)
    if not files:
        raise DataError(f"{path}: no .parquet or .tsv files in this folder")
    if not named:
        # Reading every file instead would mix splits (train into test) without a word.
        found = ", ".join(p.relative_to(path).as_posix() for p in files[:6])
        more = f" and {len(files) - 6} more" if len(files) > 6 else ""
        raise DataError(f"{path}: no file of split {split!r} (named `{split}-*.parquet`, `{split}.tsv` "
                        f"or inside a `{split}/` folder); found: {found}{more}")
    return named


def _from_local(path: Path, split: str, spec: DataSpec, split_given: bool = False) -> Table:
    files = _local_files(path, split, spec.config, split_given)
    rows: list[dict[str, Any]] = []
    readers: list[Callable[[int], ImageCell]] = []
    owners: list[tuple[int, int]] = []  # (reader index, row offset) per row
    for file in files:
        if file.suffix == ".tsv":
            file_rows, reader = _read_tsv(file, spec)
        else:
            file_rows, reader = _read_parquet(file, spec)
        if reader is not None:
            owners.extend((len(readers), i) for i in range(len(file_rows)))
            readers.append(reader)
        else:
            owners.extend((-1, i) for i in range(len(file_rows)))
        rows.extend(file_rows)
    source = str(files[0]) if len(files) == 1 else f"{path} ({len(files)} files)"

    def image_cell(index: int) -> ImageCell:
        reader_index, offset = owners[index]
        return None if reader_index < 0 else readers[reader_index](offset)

    return Table(source=source, rows=rows, image_cell=image_cell if readers else None)


def _read_parquet(
    file: Path, spec: DataSpec
) -> tuple[list[dict[str, Any]], Callable[[int], ImageCell] | None]:
    import pyarrow.parquet as pq

    image_column = spec.image_column
    try:
        parquet = pq.ParquetFile(file)
    except Exception as exc:
        raise DataError(f"{file}: not a readable parquet file ({exc})") from exc
    names = parquet.schema_arrow.names
    others = [n for n in names if n != image_column]
    table = parquet.read(columns=_leaf_selection(parquet, others, spec.list_fields), use_threads=False)
    check_table(table, spec.checks, [c for c in spec.columns if c != image_column], str(file))
    table = _project_list_fields(table, spec.list_fields)
    rows = table.to_pylist()
    if image_column is None or image_column not in names:
        return rows, None
    has_image = _image_presence(parquet, image_column)
    for row, present in zip(rows, has_image, strict=True):
        row[image_column] = None
        row["_has_image"] = bool(present)
    return rows, _RowGroupReader(file, image_column, parquet.metadata)


def _leaf_selection(parquet: Any, columns: list[str], list_fields: Sequence[tuple[str, str]]) -> list[str]:
    """`columns`, each list-of-struct column of `list_fields` narrowed to its one field's leaf.

    Parquet stores each struct field apart: VQAv2 val's `answers.list.element.answer` decodes in
    a fifth of the time of the whole column (answer_confidence and answer_id too). The column still
    arrives as list<struct<field>>, which the checks and `_project_list_fields` read as before.
    """
    wanted = dict(list_fields)
    if not wanted:
        return columns
    leaves: dict[str, list[str]] = {}
    for index in range(parquet.metadata.num_columns):
        path = parquet.metadata.schema.column(index).path
        parts = path.split(".")
        # <column>.<list>.<element>.<field>: a list of structs (the names of the middle two vary by writer)
        if len(parts) == 4 and wanted.get(parts[0]) == parts[3]:
            leaves.setdefault(parts[0], []).append(path)
    return [leaves[c][0] if len(leaves.get(c, ())) == 1 else c for c in columns]


def _project_list_fields(table: Any, list_fields: Sequence[tuple[str, str]]) -> Any:
    """Each `(column, field)`: a list<struct> column replaced by the list of that field, in Arrow.

    Building a Python dict per struct costs seconds at VQAv2's 2.1 M answers; a column that is
    not a list of structs holding the field is left as it is (the task reads both shapes).
    """
    import pyarrow as pa

    for column, field in list_fields:
        if column not in table.column_names:
            continue
        kind = table.schema.field(column).type
        if not (pa.types.is_list(kind) and pa.types.is_struct(kind.value_type)
                and kind.value_type.get_field_index(field) >= 0):
            continue
        index = kind.value_type.get_field_index(field)
        # `flatten()` merges a null struct's validity into its fields; offsets index the full child.
        chunks = [pa.ListArray.from_arrays(chunk.offsets, chunk.values.flatten()[index], mask=chunk.is_null())
                  for chunk in table.column(column).chunks]
        projected = pa.chunked_array(chunks, type=pa.list_(kind.value_type.field(field).type))
        table = table.set_column(table.column_names.index(column), column, projected)
    return table


def _image_presence(parquet: Any, column: str) -> list[bool]:
    """Which rows hold an image, reading image bytes only for row groups whose statistics leave it open.

    A leaf of the image column (`image.bytes`) with no null in a group means every row of the
    group has an image: VQAv2 val holds ~34 GB of images that need not be read to know that.
    """
    import pyarrow.compute as pc

    metadata = parquet.metadata
    paths = [metadata.schema.column(j).path for j in range(metadata.num_columns)]
    leaves = [j for j, path in enumerate(paths) if path == column or path.startswith(column + ".")]
    present: list[bool] = []
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        stats = [group.column(j).statistics for j in leaves]
        if any(s is not None and s.has_null_count and s.null_count == 0 for s in stats):
            present.extend([True] * group.num_rows)
        else:
            cells = parquet.read_row_group(index, columns=[column]).column(0)
            present.extend(pc.is_valid(cells).to_pylist())
    return present


# Row groups a thread keeps decoded (Arrow buffers, not Python objects). Samples arrive in the
# runner's prompt-length order, not file order: re-reading a 100-image group for every image cost
# ~10 ms of CPU per image (benchmarks/README.md), so recently used groups stay until this is full.
ROW_GROUP_CACHE_BYTES = 256 * 2**20


class _RowGroupReader:
    """Reads image cells a parquet row group at a time; each thread keeps its own open file and
    its most recently used groups, up to ROW_GROUP_CACHE_BYTES (at least one group)."""

    def __init__(self, file: Path, column: str, metadata: Any) -> None:
        self.file = file
        self.column = column
        self.starts: list[int] = []
        total = 0
        for i in range(metadata.num_row_groups):
            self.starts.append(total)
            total += metadata.row_group(i).num_rows
        self.local = threading.local()

    def __call__(self, offset: int) -> ImageCell:
        import bisect

        group = bisect.bisect_right(self.starts, offset) - 1
        cells = self._group(group)
        return cells[offset - self.starts[group]].as_py()

    def _group(self, group: int) -> Any:
        from collections import OrderedDict

        import pyarrow.parquet as pq

        local = self.local
        if not hasattr(local, "groups"):
            local.parquet, local.groups, local.nbytes = pq.ParquetFile(self.file), OrderedDict(), 0
        cells = local.groups.get(group)
        if cells is not None:
            local.groups.move_to_end(group)
            return cells
        cells = local.parquet.read_row_group(group, columns=[self.column]).column(0)
        local.groups[group] = cells
        local.nbytes += cells.nbytes
        while local.nbytes > ROW_GROUP_CACHE_BYTES and len(local.groups) > 1:
            _, evicted = local.groups.popitem(last=False)
            local.nbytes -= evicted.nbytes
        return cells


def _read_tsv(
    file: Path, spec: DataSpec
) -> tuple[list[dict[str, Any]], Callable[[int], ImageCell] | None]:
    import pandas as pd
    import pyarrow as pa

    image_column = spec.image_column
    try:
        frame = pd.read_csv(file, sep="\t")
    except Exception as exc:
        raise DataError(f"{file}: not a readable TSV file ({exc})") from exc
    others = [c for c in frame.columns if c != image_column]
    try:
        arrow = pa.Table.from_pandas(frame[others], preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"{file}: a column mixes types ({exc})") from exc
    check_table(arrow, spec.checks, [c for c in spec.columns if c != image_column], str(file))
    records = frame.to_dict(orient="records")
    rows = [{k: (None if is_missing(v) else v) for k, v in r.items()} for r in records]
    if image_column is None or image_column not in frame.columns:
        return rows, None
    images = [row.pop(image_column) for row in rows]
    for row, image in zip(rows, images, strict=True):
        row[image_column] = None
        row["_has_image"] = image is not None
    return rows, images.__getitem__


def _from_hub(spec: DataSpec, split: str) -> Table:
    source = spec.hub + (f" ({spec.config})" if spec.config else "")
    from vlmeval.extras import require

    require("hub", f"reading {source} from the Hugging Face hub (or pass a local copy with --data)")
    try:
        import datasets

        dataset = datasets.load_dataset(spec.hub, spec.config, split=split)
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(
            f"cannot load {source} split {split!r} from the Hugging Face hub ({reason}); "
            f"pass a local copy with --data PATH (parquet file or folder in that schema)"
        ) from exc
    column = spec.image_column
    arrow = dataset.data.table
    checked = arrow.drop_columns([column]) if column in arrow.column_names else arrow
    check_table(checked, spec.checks, [c for c in spec.columns if c != column], f"{source} split {split!r}")
    if column is None or column not in dataset.column_names:
        return Table(source=source, rows=dataset.to_list(), image_cell=None)
    import pyarrow.compute as pc

    present = pc.is_valid(dataset.data.column(column)).to_pylist()
    undecoded = datasets.Image(decode=False)
    if not isinstance(dataset.features[column], datasets.Image):  # a list of images per row
        undecoded = datasets.Sequence(undecoded)
    images = dataset.select_columns([column]).cast_column(column, undecoded)
    rows = dataset.remove_columns([column]).to_list()
    for row, has_image in zip(rows, present, strict=True):
        row[column] = None
        row["_has_image"] = bool(has_image)
    return Table(source=source, rows=rows, image_cell=lambda i: images[i][column])
