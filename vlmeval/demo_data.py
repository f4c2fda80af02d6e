"""Builders for a task's demo rows (`Task.demo_rows`): image cells as the hub's parquet files store them."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlmeval.errors import UsageError

if TYPE_CHECKING:
    from vlmeval.task import Task


def png_bytes(rgb: tuple[int, int, int] = (200, 30, 30), size: int = 32) -> bytes:
    """A plain PNG of one colour."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def image_cell(data: bytes | None) -> dict[str, Any] | None:
    """An image cell as the hub's parquet files store it (None for a row without an image)."""
    return None if data is None else {"bytes": data, "path": None}


def _demo_files(task: Task) -> tuple[dict[str, bytes], str]:
    """`task.demo_rows` as parquet files by name (one split file, or one per config subfolder), and
    the name of what the task reads: the file, or the folder of configs."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if task.demo_rows is None:
        raise UsageError(f"task {task.name} has no demo rows; pass --data PATH")
    shard = f"{task.data.split}-00000-of-00001.parquet"
    data = task.demo_rows()
    tables = ({shard: data} if isinstance(data, list)
              else {f"{config}/{shard}": rows for config, rows in data.items()})
    files: dict[str, bytes] = {}
    for name, rows in tables.items():
        buffer = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pylist(list(rows)), buffer)
        files[name] = buffer.getvalue().to_pybytes()
    return files, shard if isinstance(data, list) else ""


def _write(folder: Path, files: dict[str, bytes]) -> None:
    from vlmeval.io import atomic_write_bytes

    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)


def write_demo_rows(task: Task, folder: Path) -> Path:
    """`task.demo_rows` as a hub copy in `folder`: one split file, or one subfolder per config."""
    files, read = _demo_files(task)
    _write(folder, files)
    return folder / read


def demo_rows_path(task: Task) -> Path:
    """`--data demo` of a task without a bundled demo file: its demo rows, written under the cache
    folder ($VLMEVAL_CACHE, else ~/.cache/vlmeval) at a path fixed by task, version and the rows'
    content, so a resumed run finds the same source.

    Keyed by content, not only by version: demo rows edited without a version bump get a folder of
    their own (never a config left over from the old rows beside them), and a folder once written
    is only read (each file written atomically), so shards or runs started at once never read a
    file another is rewriting.
    """
    from vlmeval.judge import default_cache_dir

    files, read = _demo_files(task)
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}\0{len(files[name])}\0".encode() + files[name])
    folder = default_cache_dir() / "demo-rows" / f"{task.name}-v{task.version}-{digest.hexdigest()[:12]}"
    _write(folder, {name: data for name, data in files.items() if not (folder / name).is_file()})
    return folder / read
