"""What a command tells the user while it works: short status lines on stderr.

stdout stays for results (tables, Markdown, exports), so `vlmeval compare ... > summary.md` and pipes
get only the results. Status lines show on a terminal or with `-v`; `-q` silences them. Plain
`print` with flush, no Rich: this module is imported before anything heavy loads, so the first line
appears at once.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any, TextIO

_quiet = False
_verbose = False


def configure(quiet: bool = False, verbose: bool = False) -> None:
    global _quiet, _verbose
    _quiet, _verbose = quiet, verbose
    if quiet:  # the hub's and transformers' own progress bars ("Loading weights") honour this
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def is_quiet() -> bool:
    return _quiet


def status(message: str) -> None:
    """A step starts ("reading data ...", "loading the model ..."), or what a resumed run kept.

    Shown on a terminal, and everywhere with -v; hidden by -q. Where stderr is a file or a pipe
    (CI logs, scripts, tests) a plain run keeps its promise that an error is one line on stderr.
    """
    if not _quiet and (_verbose or sys.stderr.isatty()):
        print(message, file=sys.stderr, flush=True)


def plural(count: float, noun: str, plural_form: str | None = None) -> str:
    """'1 point', '2 points', '0.5 points': the count with its noun in the right number."""
    word = noun if count == 1 else (plural_form or noun + "s")
    return f"{count:g} {word}" if isinstance(count, float) else f"{count} {word}"


def counts_text(counts: Mapping[str, int]) -> str:
    """{'empty': 59, 'error': 2} as 'empty 59, error 2' (no Python dict in what people read)."""
    return ", ".join(f"{name.replace('_', ' ')} {count}" for name, count in counts.items())


class LineTrackingStream:
    """stderr, remembering whether its last line is still open (a progress bar's `\\r` line, a
    partial write): an error then starts on a line of its own, so `grep '^vlmeval: error'` finds it
    in a CI log or a pipe. Everything else is the wrapped stream's."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.line_open = False

    def write(self, text: str) -> int:
        if text:
            self.line_open = not text.endswith("\n")
        return self.stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def track_stderr() -> TextIO:
    """Wrap sys.stderr in a LineTrackingStream; returns the stream to put back when done."""
    original = sys.stderr
    if not isinstance(original, LineTrackingStream):
        sys.stderr = LineTrackingStream(original)  # type: ignore[assignment]
    return original


def error_line(message: str) -> None:
    """A line of its own on stderr (`vlmeval: error: ...`), after a newline where a line is open."""
    stream = sys.stderr
    if getattr(stream, "line_open", False):
        stream.write("\n")
    print(message, file=stream, flush=True)
