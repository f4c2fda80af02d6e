"""The cyclic garbage collector and bulk data: one wrap around each command.

Rows, samples and records are millions of small, acyclic objects: with the collector on, its full
passes rescan the growing heap again and again (VQAv2 val, 214,354 rows with 10 answer dicts each;
figures in benchmarks/README.md). So `cli.main` runs every command inside `collector_paused()`;
reference counting still frees everything as usual. The phases that make cyclic garbage of their
own, a model's generation loop and judge requests over the network, run inside
`collector_running()`, which first freezes what the command built so far out of the collector.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The collector off for a whole command; on exit, everything frozen meanwhile is given back to it
    (a process running many commands, tests or a notebook, keeps no cyclic garbage)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()


@contextmanager
def collector_running() -> Iterator[None]:
    """Inside a paused command, a phase with the collector on. What exists is frozen first: the
    collector would otherwise scan all of it in each generation in turn (~0.3-0.4 s of CPU at VQAv2
    scale). Frozen objects are still freed by reference counting. Outside a paused command (the
    engine called directly) it changes nothing."""
    if gc.isenabled():
        yield
        return
    gc.freeze()
    gc.enable()
    try:
        yield
    finally:
        gc.disable()
