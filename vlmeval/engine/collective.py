"""The ranks of a `torch.distributed` job as one evaluator: work on every rank or on rank 0, errors shared.

Every step is followed by a collective that carries either its result or its error, so an
exception on one rank is raised on every rank (naming the rank and the error) instead of
leaving the others waiting in the next collective. Without an initialised process group this
is one process, and each step simply runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from vlmeval.errors import VlmevalError

T = TypeVar("T")


class RankFailed(VlmevalError):
    """Another rank of the job raised; its message is repeated here."""


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1

    @property
    def is_root(self) -> bool:
        return self.rank == 0

    @classmethod
    def current(cls) -> Ranks:
        """This process's rank in the default process group, or a single process when there is none."""
        import sys

        if "torch" not in sys.modules:  # a job that never imported torch has no process group
            return cls()
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            return cls()
        return cls(dist.get_rank(), dist.get_world_size())

    def everywhere(self, step: Callable[[], T]) -> T:
        """Run `step` on every rank; if any rank raised, every rank raises."""
        value, error = _attempt(step)
        errors = self._all_gather(None if error is None else _describe(error))
        if error is not None:
            raise error
        failed = [(rank, message) for rank, message in enumerate(errors) if message is not None]
        if failed:
            rank, message = failed[0]
            raise RankFailed(f"rank {rank} of {self.world} failed: {message}")
        return value  # type: ignore[return-value]

    def on_root(self, step: Callable[[], T]) -> T:
        """Run `step` on rank 0 and give every rank its result (or its error)."""
        value: Any = None
        error: BaseException | None = None
        if self.is_root:
            value, error = _attempt(step)
        shared = self._broadcast((value, None) if error is None else (None, _describe(error)))
        if error is not None:
            raise error
        if shared[1] is not None:
            raise RankFailed(f"rank 0 of {self.world} failed: {shared[1]}")
        return shared[0]  # type: ignore[no-any-return]

    def gather(self, value: T) -> list[T]:
        """Every rank's `value`, in rank order, on rank 0 ([] elsewhere)."""
        if self.world == 1:
            return [value]
        import torch.distributed as dist

        gathered: list[Any] = [None] * self.world if self.is_root else []
        dist.gather_object(value, gathered if self.is_root else None, dst=0)
        return gathered

    def _all_gather(self, value: Any) -> list[Any]:
        if self.world == 1:
            return [value]
        import torch.distributed as dist

        gathered: list[Any] = [None] * self.world
        dist.all_gather_object(gathered, value)
        return gathered

    def _broadcast(self, value: Any) -> Any:
        if self.world == 1:
            return value
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def _attempt(step: Callable[[], T]) -> tuple[T | None, BaseException | None]:
    try:
        return step(), None
    except Exception as exc:  # noqa: BLE001 - shared with the other ranks, then re-raised
        return None, exc


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
