"""Rows from a hub dataset or a local file, with images decoded only when a model needs them.

Local data is parquet (a file, or a folder of the hub's shards) or TSV with base64 images (the
layout of the official MMBench release). Non-image columns are read eagerly; image cells are
fetched per parquet row group on demand, so a 200k-row split never sits in memory decoded.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from vlmeval.column_checks import check_table, missing_column_message
from vlmeval.errors import DataError
from vlmeval.image import ImageCell, LazyImage
from vlmeval.task import DataSpec


def is_missing(value: Any) -> bool:
    """None, NaN and empty cells: how hub, parquet and TSV files write 'no value'."""
    return value is None or (isinstance(value, float) and math.isnan(value))


@dataclass
class Table:
    """A split's rows (without images) and a way to fetch the image cell of row i."""

    source: str
    rows: list[dict[str, Any]]
    image_cell: Callable[[int], ImageCell] | None
    files: tuple[Path, ...] = ()  # the local files read (image files of a join included)

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
                 image_cell=None if cells is None else lambda j: cells(kept[j]), files=table.files)


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

    return Table(source=table.source, rows=table.rows, image_cell=image_cell,
                 files=table.files + images.files)


def _check_columns(table: Table, spec: DataSpec) -> None:
    present = set(table.rows[0])
    missing = [c for c in spec.columns if c not in present]
    if missing:
        raise DataError(missing_column_message(table.source, missing[0], present))


def split_files(folder: Path, split: str, config: str | None = None) -> list[Path]:
    """The data files of `split` in a folder laid out as the hub's copy; [] when none is named so."""
    try:
        return _layout_files(folder, split, config)
    except DataError:
        return []


# Folders of a hub copy that hold a config's files without naming a config: `data/test-*.parquet`
# (a dataset of one config) and a split folder (`test/*.parquet`).
_LAYOUT_FOLDERS = ("data",)


def _in_split(file: PurePosixPath, split: str) -> bool:
    # The split name must end at a separator, as in the hub's `test-00000-of-00001.parquet`:
    # a bare prefix test would also take VQAv2's `testdev-*` shards for split `test`.
    return bool(re.match(rf"{re.escape(split)}(?:[-._ 0-9]|$)", file.name)) or file.parent.name == split


def _config_of(file: PurePosixPath, split: str) -> tuple[str, ...]:
    """The folders above a split file that name something else than the layout: () for
    `test-*.parquet`, `data/test-*` and `test/*`; ("en",) for MMBench's `en/dev-*.parquet`."""
    return tuple(p for p in file.parts[:-1] if p not in (*_LAYOUT_FOLDERS, split))


def _layout_files(folder: Path, split: str, config: str | None) -> list[Path]:
    """The files of `split` (and `config`) in a local folder's own layout (`pick_split_files`)."""
    files = sorted(p for p in folder.rglob("*") if p.suffix in {".parquet", ".tsv"})
    if not files:
        raise DataError(f"{folder}: no .parquet or .tsv files in this folder")
    relative = [PurePosixPath(p.relative_to(folder).as_posix()) for p in files]
    return [folder / p for p in pick_split_files(relative, split, config, str(folder))]


def pick_split_files(
    files: Sequence[PurePosixPath], split: str, config: str | None, where: str
) -> list[PurePosixPath]:
    """The files of `split`; `a+b` names the files of both splits, in that order, as `datasets` reads it
    (HallusionBench's `image+non_image`), unless files name the combination itself."""
    if "+" not in split:
        return _pick_one_split(files, split, config, where)
    try:
        return _pick_one_split(files, split, config, where)
    except DataError:
        picked: list[PurePosixPath] = []
        for part in split.split("+"):
            picked += [f for f in _pick_one_split(files, part, config, where) if f not in picked]
        return picked


def _pick_one_split(
    files: Sequence[PurePosixPath], split: str, config: str | None, where: str
) -> list[PurePosixPath]:
    """The files of `split` (and `config`) among `files` (paths inside a folder or hub repository);
    a DataError naming what was asked and what is there when there are none, or when they come from
    several places.

    Accepted: one flat folder of the split (`test-*.parquet`, `test.tsv`, `test/`), the hub's
    layout of one config (`data/test-*.parquet`) or of several (`<config>/test-*.parquet`; a task
    without a config reads `data/`, the hub's default config, beside them). Files of the split under
    other subfolders are another config or dataset: never read in its place.
    """
    places: dict[tuple[str, ...], list[PurePosixPath]] = {}
    for file in files:
        if _in_split(file, split):
            places.setdefault(_config_of(file, split), []).append(file)
    others = sorted("/".join(place) for place in places if place and place != (config,))
    if config is not None and (config,) in places:
        chosen = [(config,)]
    elif () in places:
        chosen = [()]
        default_config = config is None and all(f.parts[0] in _LAYOUT_FOLDERS for f in places[()])
        if others and not default_config:  # loose files beside `cn/` or another dataset: whose are they?
            asked = f"config {config!r}" if config is not None else "this task's dataset"
            raise DataError(f"{where}: the files of split {split!r} here are loose files and those under "
                            f"{', '.join(others)}; pass the folder of {asked} alone")
    elif config is not None and places:
        raise DataError(f"{where}: no file of config {config!r}, split {split!r}; this folder holds the "
                        f"split for: {', '.join(others)}. Pass a copy with the {config!r} config "
                        f"(`{config}/{split}-*.parquet`)")
    elif len(places) == 1:
        chosen = list(places)  # one subfolder holds the whole split: nothing else can mix in
    elif places:
        raise DataError(f"{where}: the files of split {split!r} come from several folders "
                        f"({', '.join(others)}); pass the one of this task's dataset")
    else:
        found = ", ".join(p.as_posix() for p in files[:6])
        more = f" and {len(files) - 6} more" if len(files) > 6 else ""
        raise DataError(f"{where}: no file of split {split!r} (named `{split}-*.parquet`, `{split}.tsv` "
                        f"or inside a `{split}/` folder); found: {found}{more}")
    picked = [f for place in chosen for f in places[place]]
    parents = sorted({f.parent.as_posix() for f in picked})
    if len(parents) > 1:  # `data/test-*` beside `test-*`, or `test/` beside `test-*`: two copies?
        raise DataError(f"{where}: the files of split {split!r} lie in {len(parents)} folders "
                        f"({', '.join(parents)}); keep one copy of the split")
    return picked


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
    return _layout_files(path, split, config)


def _from_local(path: Path, split: str, spec: DataSpec, split_given: bool = False) -> Table:
    files = _local_files(path, split, spec.config, split_given)
    return read_files(files, str(files[0]) if len(files) == 1 else f"{path} ({len(files)} files)", spec)


def read_files(files: Sequence[Path], source: str, spec: DataSpec) -> Table:
    """The rows of parquet / TSV `files`, checked against `spec`; `source` names them in messages."""
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

    def image_cell(index: int) -> ImageCell:
        reader_index, offset = owners[index]
        return None if reader_index < 0 else readers[reader_index](offset)

    return Table(source=source, rows=rows, image_cell=image_cell if readers else None, files=tuple(files))


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
    """The split's files from the hub (only those: `vlmeval.engine.hub`), read as local files."""
    from vlmeval.engine.hub import fetch_split

    repo, files = fetch_split(spec.hub, spec.config, split)
    source = repo + (f" ({spec.config})" if spec.config else "")
    return read_files(files, source, spec)
