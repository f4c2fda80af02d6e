"""Credentials kept out of everything vlmeval writes or prints.

A URL may carry `user:password@` (`--base-url`, `--judge-base-url`): it is sent to the server
and nowhere else. The command line recorded in reports, log records at any verbosity (httpx
logs each request's URL at INFO) and error messages pass through `redact` first.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

# scheme://userinfo@: everything up to the last "@" before the path, query or fragment
# (a password may hold an unescaped "@").
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s?#]*@")
HIDDEN = "***@"


def redact(text: str) -> str:
    """`text` with the userinfo of every URL in it replaced by `***`."""
    return _CREDENTIALS.sub(lambda m: m.group("scheme") + HIDDEN, text)


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


def install_log_redaction() -> None:
    """Every handler of the root logger redacts; httpx's per-request lines are not shown at all."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
