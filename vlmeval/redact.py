"""Credentials kept out of everything vlmeval writes or prints.

A URL may carry `user:password@` or a key in its query string (`--base-url
'http://host/v1?key=...'`, `--judge-base-url`): they are sent to the server and nowhere else.
`redact` hides a URL's userinfo and the value of every query parameter (the names stay, so a
reader still sees which were given). The command line recorded in reports, log records at any
verbosity (httpx logs each request's URL at INFO), and everything the command prints on stdout
and stderr (`RedactingStream`: errors, notes, progress) pass through it.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

# scheme://userinfo@: everything up to the last "@" before the path, query or fragment
# (a password may hold an unescaped "@").
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s?#]*@")
# A URL's query: from "?" to a fragment, white space, a quote or the end of the URL.
_QUERY = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s?#\"'<>]*)\?(?P<query>[^\s#\"'<>]*)")
HIDDEN = "***@"
HIDDEN_VALUE = "***"


def _hide_values(match: re.Match[str]) -> str:
    query = match.group("query")
    # Punctuation that ends a sentence after the URL ("... at http://h/v1?k=v, then") is kept.
    trailing = re.search(r"[,.;:)\]]*$", query).group()  # type: ignore[union-attr]
    params = re.split(r"([&;])", query[: len(query) - len(trailing)])
    hidden = [p if p in "&;" else (p.split("=", 1)[0] + "=" + HIDDEN_VALUE if "=" in p else HIDDEN_VALUE)
              for p in params if p]
    return match.group("head") + "?" + "".join(hidden) + trailing


def redact(text: str) -> str:
    """`text` with the userinfo of every URL in it replaced by `***`, and every query value too."""
    if "://" not in text:
        return text
    return _QUERY.sub(_hide_values, _CREDENTIALS.sub(lambda m: m.group("scheme") + HIDDEN, text))


def redact_argv(argv: Sequence[str]) -> str:
    """The command line as one string, for reports, with credentials removed."""
    return " ".join(redact(arg) for arg in argv)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with credentials removed (arguments are formatted first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class RedactingStream:
    """A text stream (stdout, stderr) whose every write is redacted first; the rest is the stream's."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def redacted_output() -> Iterator[None]:
    """stdout and stderr redacted while a command runs (restored after, for callers such as tests)."""
    saved = sys.stdout, sys.stderr
    sys.stdout = RedactingStream(sys.stdout)  # type: ignore[assignment]
    sys.stderr = RedactingStream(sys.stderr)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def _redacting_excepthook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
    import traceback

    sys.stderr.write(redact("".join(traceback.format_exception(kind, value, tb))))


def install_log_redaction() -> None:
    """Every handler of the root logger redacts, and so does the traceback of a crash; httpx's
    per-request lines are not shown at all."""
    sys.excepthook = _redacting_excepthook  # a crash's traceback may quote a URL too
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
