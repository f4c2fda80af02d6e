"""One decorator registry for what plugins define by name (tasks, suites).

Each name is stated once, in its decorator (`@task("mme")`, `@suite("llava_v1.5")`): the object a
factory returns gets its `name` from there (a different name in it is an error naming both places),
and the registry remembers the file that stated it. A second file stating the same name is a conflict, reported by
`vlmeval.registry.load_registry` as one line naming both files: a task in a user's folder never
silently shadows a built-in one. The same file registering again (re-imported under another module
name) replaces its own entry.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    factory: Callable[[], T]
    source: str  # the file whose decorator stated the name


class NamedRegistry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.entries: dict[str, Entry[T]] = {}
        self.conflicts: list[str] = []

    def add(self, name: str, factory: Callable[[], T], source: str) -> None:
        previous = self.entries.get(name)
        if previous is not None and not _same_file(previous.source, source):
            self.conflicts.append(f"{self.kind} {name!r} is defined twice, in {previous.source} and in {source}; "
                                  f"rename one")
            return  # the first definition stays: a folder never replaces a built-in
        self.entries[name] = Entry(self._named(name, factory, source), source)

    def _named(self, name: str, factory: Callable[[], T], source: str) -> Callable[[], T]:
        def named() -> T:
            made = factory()
            stated = getattr(made, "name", "")
            if stated and stated != name:
                from vlmeval.errors import UsageError

                raise UsageError(f"{self.kind} {name!r} registered by @{self.kind} in {source} returns a "
                                 f"{type(made).__name__} named {stated!r}; name a {self.kind} once, in @{self.kind}")
            return made if stated else replace(made, name=name)  # type: ignore[type-var]

        return named

    def decorator(self, name: str, depth: int = 2) -> Callable[[Callable[[], T]], Callable[[], T]]:
        """A decorator registering a factory under `name`; `depth` frames up is the defining module."""
        source = caller_file(depth)

        def register(factory: Callable[[], T]) -> Callable[[], T]:
            self.add(name, factory, source)
            return factory

        return register

    def factories(self) -> dict[str, Callable[[], T]]:
        return {name: entry.factory for name, entry in self.entries.items()}

    def source(self, name: str) -> str:
        return self.entries[name].source


def caller_file(depth: int) -> str:
    """The file of the code `depth` frames above the caller of this function."""
    frame = sys._getframe(depth + 1)
    return str(frame.f_globals.get("__file__") or frame.f_globals.get("__name__", "?"))


def _same_file(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return a == b
