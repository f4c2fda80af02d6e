"""Writing results so that a crash never leaves half a file: temporary file, then rename."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vlmeval.errors import VlmevalError


class WriteError(VlmevalError):
    """A result file could not be written (full disk, lost mount, permissions)."""


def write_error(path: Path, exc: OSError) -> WriteError:
    return WriteError(
        f"cannot write {path} ({exc.strerror or exc}); nothing written before is lost: "
        f"free space or fix the folder, then re-run the same command"
    )


def atomic_write_text(path: Path, text: str) -> None:
    """Write `path` whole or not at all; an OSError becomes a one-line WriteError."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all; an OSError becomes a one-line WriteError."""
    try:
        _replace_with(path, data)
    except OSError as exc:
        raise write_error(path, exc) from exc


def _replace_with(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


# One encoder for every line: json.dumps with options builds a new encoder per call.
_LINE_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


def atomic_write_jsonl(path: Path, rows: Iterable[Any]) -> None:
    atomic_write_text(path, "".join(_LINE_ENCODER.encode(r) + "\n" for r in rows))


def ensure_writable(folder: Path) -> None:
    """Fail before any work is done when results could not be saved."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # A name of its own: shards started together check one folder at once, and a shared
        # name let one remove the other's probe ("No such file or directory").
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".vlmeval-write-check.")
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise VlmevalError(f"output folder {folder} is not writable ({exc.strerror or exc})") from exc
