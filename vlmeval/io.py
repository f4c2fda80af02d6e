"""Writing results so that a crash never leaves half a file: temporary file, then rename.

Every file vlmeval writes for people (reports, predictions, charts, submissions, pages) goes
through `atomic_file`, the one place that knows how: the temporary file is created beside the
target (so the rename stays on one file system), flushed to disk, given the permissions an
ordinary `open()` of a new file would give under the user's umask (mkstemp alone makes it 0600,
which hides a shared results folder from the rest of a team; a file rewritten here gets the umask's
mode too, so results written 0600 by older versions become readable), then renamed over the target.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import IO, Any

from vlmeval.errors import VlmevalError

_UMASK_LOCK = threading.Lock()


class WriteError(VlmevalError):
    """A result file could not be written (full disk, lost mount, permissions)."""


def write_error(path: Path, exc: OSError) -> WriteError:
    return WriteError(
        f"cannot write {path} ({exc.strerror or exc}); nothing written before is lost: "
        f"free space or fix the folder, then re-run the same command"
    )


def current_umask() -> int:
    """The process umask. Linux shows it in /proc; elsewhere it is read by setting and restoring it."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


@contextmanager
def atomic_file(path: Path) -> Iterator[IO[bytes]]:
    """A binary file that replaces `path` only when the block ends without an exception.

    An OSError (a full disk, a lost mount) becomes a one-line WriteError naming `path`.
    """
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(handle, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
            os.fchmod(file.fileno(), 0o666 & ~current_umask())
        os.replace(temporary, path)
    except BaseException as exc:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise write_error(path, exc) from exc
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_file(path) as file:
        file.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def json_encoder(*, ensure_ascii: bool) -> Callable[[Any], str]:
    """`json.dumps(obj, ensure_ascii=ensure_ascii, default=str)` as one reusable function, same text.

    `json.dumps` and `JSONEncoder.encode` build a new C encoder on every call, which was most of
    the time of writing VQAv2's 214k-line predictions.jsonl and of the dataset fingerprint
    (benchmarks/README.md). This builds CPython's C encoder (`json.encoder.c_make_encoder`, the one
    `JSONEncoder.iterencode` uses for a one-shot encode) once, with the same separators and
    options; where there is none (another Python), it is `JSONEncoder.encode`. No circular check:
    what is encoded here is plain data built by vlmeval.
    """
    encoder = json.JSONEncoder(ensure_ascii=ensure_ascii, default=str)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return encoder.encode
    string_encoder = json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring
    chunks = make(None, str, string_encoder, None, encoder.key_separator, encoder.item_separator,
                  False, False, True)
    return lambda obj: "".join(chunks(obj, 0))


_LINE_ENCODER = json_encoder(ensure_ascii=False)


def atomic_write_jsonl(path: Path, rows: Iterable[Any], lines_per_write: int = 4096) -> None:
    """One JSON line per row, written a few thousand lines at a time: the whole text of a
    214k-line file, held three times over (lines, joined text, UTF-8 bytes), cost ~300 MB."""
    encode = _LINE_ENCODER
    rows = iter(rows)
    with atomic_file(path) as file:
        while chunk := [encode(row) + "\n" for row in islice(rows, lines_per_write)]:
            file.write("".join(chunk).encode("utf-8"))


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


def atomic_write_xlsx(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """A one-sheet workbook of `rows` (columns in first-seen order) whose text cells stay text.

    Written cell by cell, not through pandas: openpyxl stores a string that starts with `=` as a
    formula, which a reader (pandas, an evaluation server) then sees as an empty cell, and which a
    spreadsheet would run. Characters XML cannot hold (control bytes in model output) are dropped
    instead of failing the whole file.
    """
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    columns = list(dict.fromkeys(key for row in rows for key in row))
    book = Workbook()
    sheet = book.active
    sheet.append(columns)
    for row in rows:
        values = [row.get(column) for column in columns]
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in values])
    for cells in sheet.iter_rows():
        for cell in cells:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    with atomic_file(path) as file:
        book.save(file)
