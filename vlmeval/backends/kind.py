"""What a backend kind declares about itself, in its own module, for the engine and the CLI to read.

A kind is found by the `--model` value (`openai:NAME` by its prefix; a checkpoint by being none of
the others), builds its backend, names the fields of the run identity that decide its answers, says
whether it runs on the GPUs, and declares its command-line options (flag, help, default, rule).
Adding a backend is one module with a `KIND` and one line in `vlmeval.backends.KINDS`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vlmeval.backends.base import Backend, BackendOptions


@dataclass(frozen=True)
class BackendOption:
    """One command-line option of a backend kind.

    The parsed value lands in the `BackendOptions` field `dest` where it has one, otherwise in
    `BackendOptions.extra[dest]`, so a new kind needs no change outside its module. `rule` returns
    what a bad value breaks (shown as `FLAG RULE (got VALUE)`), None for a good one.
    """

    flag: str
    help: str
    field: str = ""  # default: the flag's name with underscores
    type: Callable[[str], Any] = str
    default: Any = None
    choices: tuple[str, ...] | None = None
    switch: bool = False  # a flag without a value (store_true)
    metavar: str | None = None
    rule: Callable[[Any], str | None] | None = None

    @property
    def dest(self) -> str:
        return self.field or self.flag.removeprefix("--").replace("-", "_")

    def add_to(self, parser: argparse._ActionsContainer) -> None:
        """Add the flag to a parser or an argument group."""
        if self.switch:
            parser.add_argument(self.flag, dest=self.dest, action="store_true", help=self.help)
            return
        parser.add_argument(self.flag, dest=self.dest, type=self.type, default=self.default,
                            choices=self.choices, metavar=self.metavar, help=self.help)

    def broken_rule(self, value: Any) -> str | None:
        """`FLAG RULE (got VALUE)` for a value the rule refuses, else None."""
        if self.rule is None or value is None:
            return None
        rule = self.rule(value)
        return f"{self.flag} {rule} (got {value!r})" if rule is not None else None


@dataclass(frozen=True)
class BackendKind:
    """A backend kind; see the module docstring. `model` below is the `--model` value without the prefix."""

    name: str
    prefix: str | None  # e.g. "openai:"; None for the kind that takes every other value (checkpoints)
    build: Callable[[str, BackendOptions], Backend]
    # The run identity's fields this kind decides (checkpoint, dtype, ...; see RunIdentity).
    identity: Callable[[str, BackendOptions], Mapping[str, Any]]
    uses_gpus: Callable[[BackendOptions], bool] = lambda options: False
    options: tuple[BackendOption, ...] = ()
    check_model: Callable[[str], None] | None = None  # refuses a value before any work (UsageError)

    def reference(self, model: str) -> str:
        return model.removeprefix(self.prefix) if self.prefix else model


def at_least(low: float, what: str) -> Callable[[Any], str | None]:
    """A rule: the value is at least `low` (and finite)."""
    import math

    def rule(value: Any) -> str | None:
        return None if math.isfinite(value) and value >= low else what

    return rule
