"""Memory habits for bulk data."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause CPython's cyclic garbage collector while bulk data is built.

    Rows, samples and records are millions of small, acyclic objects: with the collector on, its
    full passes rescan the growing heap again and again (VQAv2 val, 214,354 rows with 10 answer
    dicts each: rows and samples built 2.5x faster, benchmarks/vqav2_score_cli.py). Reference
    counting still frees everything as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            # What was built stays alive for the rest of the command: once back on, the collector
            # would scan it whole, in each generation in turn (~0.3-0.4 s of CPU at VQAv2 scale).
            # Frozen objects are still freed by reference counting; only cycles among them wait
            # for `thaw()`, which every command calls when it ends.
            gc.freeze()
            gc.enable()


def thaw() -> None:
    """Give the objects frozen by `gc_paused` back to the collector (the end of a command), so
    that a process running many commands (tests, notebooks) does not keep cyclic garbage."""
    gc.unfreeze()
