"""A run's identity: everything that decides an answer, checked before any stored answer is reused.

Recorded under `identity` in `run.json`, which the first process to start a run folder creates
exclusively (`claims.create_exclusive`): of two processes started at once with other settings,
exactly one wins and the other is refused. `vlmeval run --restart` starts a folder over.

The dataset part may grow: a run with a larger `--limit` (or a dataset that gained rows) reuses
the answers of the samples it shares with the recorded run, once those samples' fingerprint
(ids, prompts, targets) is shown to be the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from vlmeval.errors import UsageError

IDENTITY_SCHEMA_VERSION = 1
RESTART_HINT = "pass another --run-name, or --restart to delete its answers and start over"


class IdentityMismatch(UsageError):
    """Stored answers belong to another run."""


@dataclass(frozen=True)
class DatasetIdentity:
    """Which samples: the `--data` source, the split, and the fingerprint of the first `n_rows`."""

    data: str | None  # resolved local path, "demo", or None for the hub copy
    source: str
    split: str
    n_rows: int
    fingerprint: str
    images: str | None = None  # the images' bytes of the same rows (SampleSet.image_fingerprint)


@dataclass(frozen=True)
class RunIdentity:
    """What decides an answer. Fields that do not apply to a backend (dtype for an API) are None."""

    task: str
    task_version: int
    model: str
    backend: str  # the kind's name: "transformers", "openai", "replay" (vlmeval.backends.KINDS)
    generation: Mapping[str, Any]
    dataset: DatasetIdentity
    schema_version: int = IDENTITY_SCHEMA_VERSION
    # What the backend kind declares (`BackendKind.identity`); None or empty where it does not apply.
    checkpoint: str | None = None  # hub revision, or the content of a folder's files; None where unknown
    dtype: str | None = None
    quantization: str | None = None
    attn_implementation: str | None = None
    prompt_style: str | None = None
    # An API model's server (`fingerprint.url_identity`): two servers behind one model name answer apart.
    endpoint: str | None = None
    # Added after schema 1: their defaults are what a run recorded before them meant.
    model_args: Mapping[str, Any] = field(default_factory=dict)  # `--model-arg`
    chat_template_args: Mapping[str, Any] = field(default_factory=dict)  # `--chat-template-arg`
    system_prompt: str | None = None  # `--system-prompt`
    max_images: int | None = None  # `--max-images`
    backend_fields: Mapping[str, Any] = field(default_factory=dict)  # a kind's fields not named above

    @classmethod
    def for_backend(cls, declared: Mapping[str, Any], **common: Any) -> RunIdentity:
        """The identity from the common fields and what the backend kind declares for itself."""
        names = {f.name for f in fields(cls)}
        own = {k: v for k, v in declared.items() if k in names}
        rest = {k: v for k, v in declared.items() if k not in names}
        return cls(**common, **own, backend_fields=rest)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunIdentity:
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["dataset"] = DatasetIdentity(**data["dataset"])
        values["generation"] = dict(data["generation"])
        return cls(**values)

    def differences(self, recorded: RunIdentity) -> list[str]:
        """What differs from `recorded`, one phrase each; the dataset's growth is checked apart."""
        found = []
        for name in (f.name for f in fields(self)):
            old, new = getattr(recorded, name), getattr(self, name)
            if name == "dataset":
                found += [f"--data/--split {part}" for part in _dataset_differences(old, new)]
            elif name == "checkpoint" and (old is None or new is None):
                continue  # an uncached hub id has no known revision yet: nothing to compare
            elif old != new:
                found.append(f"{name} (recorded {_short(old)}, now {_short(new)})")
        return found


def _dataset_differences(old: DatasetIdentity, new: DatasetIdentity) -> list[str]:
    return [f"{name} (recorded {_short(getattr(old, name))}, now {_short(getattr(new, name))})"
            for name in ("data", "source", "split") if getattr(old, name) != getattr(new, name)]


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


# The fingerprints of the first n samples now: (ids, prompts and targets; images), or None when
# there are fewer than n samples.
FirstSamples = Callable[[int], "tuple[str, str | None] | None"]


def check(
    current: RunIdentity, recorded: RunIdentity, run_dir: Path, fingerprint_of_first: FirstSamples
) -> None:
    """Refuse `current` unless its answers may be mixed with those of `recorded`.

    `fingerprint_of_first(n)` fingerprints the first n samples now (a smaller --limit: those are
    then loaded by the caller). Images are compared where the recorded run fingerprinted them.
    """
    differences = current.differences(recorded)
    old = recorded.dataset
    if not differences and old.n_rows and current.dataset != old:
        now = fingerprint_of_first(old.n_rows)
        if now is None or now[0] != old.fingerprint:
            differences.append(f"dataset content (ids, prompts or targets of the first "
                               f"{old.n_rows} samples differ from the recorded run's)")
        elif old.images is not None and now[1] != old.images:
            differences.append(f"dataset images (the image bytes of the first {old.n_rows} samples "
                               f"differ from the recorded run's)")
    if differences:
        raise IdentityMismatch(f"{run_dir} holds answers of another run: {'; '.join(differences)}; {RESTART_HINT}")


def checkpoint_identity(checkpoint: str) -> str | None:
    """A checkpoint folder's content (weights, config, tokenizer, processor and chat template:
    `vlmeval.engine.fingerprint.folder_fingerprint`); hub ids are resolved to their snapshot folder
    first (`vlmeval.backends.resolve_checkpoint`), so a hub model is identified by content too."""
    folder = Path(checkpoint).expanduser()
    if not folder.is_dir():
        return None
    from vlmeval.engine.fingerprint import folder_fingerprint

    return folder_fingerprint(folder)
