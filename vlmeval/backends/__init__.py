"""Backends by the `--model` value: `openai:NAME`, `replay:FILE`, `demo`, or a checkpoint.

Each kind is one module declaring a `KIND` (`vlmeval.backends.kind.BackendKind`: how it is built,
its identity fields, its GPU use and its options), listed here with one line. Modules are imported
when a kind is looked up; none of them imports torch or an SDK before a backend is built.
"""

from __future__ import annotations

import importlib

from vlmeval.backends.base import Backend, BackendOptions, GenerationSettings, Request, SampleError
from vlmeval.backends.kind import BackendKind

__all__ = ["Backend", "BackendKind", "BackendOptions", "GenerationSettings", "Request", "SampleError",
           "backend_kind", "backend_kinds", "make_backend"]

# name -> the module whose `KIND` declares it (exactly one kind has no prefix: checkpoints).
KINDS: dict[str, str] = {
    "openai": "vlmeval.backends.openai",
    "replay": "vlmeval.backends.replay",
    "transformers": "vlmeval.backends.transformers",
}


def backend_kinds() -> list[BackendKind]:
    """Every registered kind, in `KINDS` order."""
    return [importlib.import_module(module).KIND for module in KINDS.values()]


def backend_kind(model: str) -> tuple[BackendKind, str]:
    """The kind that answers for `--model model`, and the value without its prefix."""
    kinds = backend_kinds()
    for kind in kinds:
        if kind.prefix is not None and model.startswith(kind.prefix):
            return kind, kind.reference(model)
    fallback = next(kind for kind in kinds if kind.prefix is None)
    return fallback, model


def make_backend(model: str, options: BackendOptions) -> Backend:
    kind, reference = backend_kind(model)
    return kind.build(reference, options)


def resolve_checkpoint(model: str) -> str:
    """The checkpoint folder `--model` names: `demo` is the bundled tiny checkpoint, a folder is itself,
    and anything else is a hub id, pinned to the snapshot folder of one revision (`hub_models`)."""
    import os

    if model == "demo":
        from vlmeval.demo import CHECKPOINT_DIR

        return str(CHECKPOINT_DIR)
    if os.path.isdir(os.path.expanduser(model)) or _names_a_path(model):
        return model  # a folder, or a path that is none: the loader says "no such checkpoint folder"
    from vlmeval.backends.hub_models import hub_snapshot

    return hub_snapshot(model)


def _names_a_path(model: str) -> bool:
    """`/abs`, `./rel`, `~/x` or `a/b/c` name files; a hub id is `org/name` (or a bare legacy `name`)."""
    import os

    return model.startswith(("/", ".", "~")) or model.count("/") > 1 or (os.sep != "/" and os.sep in model)
