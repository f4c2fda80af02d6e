"""A scripted model backend for fault tests, and the fixture that puts it behind `vlmeval run`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vlmeval.backends.base import GenerationSettings, Request, SampleError


class ScriptedBackend:
    """A model stand-in: answers "A", runs out of memory above `max_batch`, fails on chosen ids."""

    name = "scripted"

    def __init__(self, max_batch: int = 64, broken: Sequence[str] = (), soft_broken: Sequence[str] = ()):
        self.max_batch = max_batch
        self.broken = set(broken)
        self.soft_broken = set(soft_broken)
        self.calls: list[list[str]] = []

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name}

    def generate(self, requests: Sequence[Request], settings: GenerationSettings) -> list[str | SampleError]:
        ids = [r.sample_id for r in requests]
        self.calls.append(ids)
        if len(requests) > self.max_batch:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        if self.broken & set(ids):
            raise ValueError(f"model crashed on {sorted(self.broken & set(ids))}")
        return [SampleError("refused") if i in self.soft_broken else "A" for i in ids]
