"""Writing results so that a crash never leaves half a file: temporary file, then rename."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vlmeval.errors import VlmevalError


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
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
        probe = folder / ".vlmeval-write-check"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise VlmevalError(f"output folder {folder} is not writable ({exc.strerror or exc})") from exc
