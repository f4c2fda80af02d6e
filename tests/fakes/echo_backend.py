"""A whole backend kind in one module, as a third party would write one (tests/backends/test_kind.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vlmeval.backends.base import BackendOptions, GenerationSettings, Reply, Request
from vlmeval.backends.kind import BackendKind, BackendOption


class EchoBackend:
    """Answers every request with a fixed letter, read from its own option."""

    name = "echo"

    def __init__(self, letter: str) -> None:
        self.letter = letter

    def generate(self, requests: Sequence[Request], settings: GenerationSettings) -> list[Reply]:
        return [self.letter for _ in requests]

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "letter": self.letter}


def _identity(model: str, options: BackendOptions) -> Mapping[str, Any]:
    return {"letter": options.extra["echo_letter"]}


KIND = BackendKind(
    name="echo",
    prefix="echo:",
    build=lambda model, options: EchoBackend(options.extra["echo_letter"]),
    identity=_identity,
    options=(BackendOption("--echo-letter", "the letter every answer is", default="A",
                           rule=lambda v: None if v in "ABCD" else "must be one of A-D"),),
)
