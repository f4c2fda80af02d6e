"""Whether the Hugging Face hub can be reached, asked once and quickly before any hub download.

Without it the hub libraries retry every request for about 25 s, printing each retry, before the
one-line error; an unreachable endpoint is now that one line at once, with the ways out.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request

from vlmeval.errors import DataError

PROBE_TIMEOUT_S = 5.0
_OFFLINE = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def offline() -> bool:
    """The user asked the hub libraries to use their cache only (nothing to probe)."""
    return any(os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on") for name in _OFFLINE)


def check_reachable(what: str) -> None:
    """A one-line DataError when the hub's endpoint does not answer; an HTTP error status means it does."""
    if offline():
        return
    endpoint = hub_endpoint()
    try:
        with urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=PROBE_TIMEOUT_S):
            return
    except urllib.error.HTTPError:
        return  # it answered
    except (TimeoutError, urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(f"{what}: the Hugging Face hub ({endpoint}) cannot be reached ({reason}); pass a local "
                        f"copy with --data PATH, or set HF_HUB_OFFLINE=1 to read a copy the hub cache already "
                        f"holds") from None
