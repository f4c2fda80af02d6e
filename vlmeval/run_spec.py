"""What was run, typed once (as inspect_ai's `EvalSpec`): `RunSpec` is run.json's content, written by
`vlmeval run` and read back by every later run of the folder and by `vlmeval merge`, and embedded whole as report.json's `spec`
(`vlmeval.reporting.record.RunReport.spec`), from which compare, leaderboard, view, trend and merge
read every run fact.

`identity` is the part that decides answers, typed (`vlmeval.engine.identity.RunIdentity`): it is
checked before any stored answer is reused. `--label` is stored here only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from vlmeval.engine.identity import RunIdentity

Json = dict[str, Any]


@dataclass(frozen=True)
class Invocation:
    """How `vlmeval merge` loads the run's samples again."""

    data: str | None = None  # resolved local path, "demo", or None for the hub copy
    split: str | None = None
    limit: int | None = None
    tasks_dirs: tuple[str, ...] = ()
    subset: str | None = None  # `--subset NAME` (vlmeval.engine.subsets)


@dataclass(frozen=True)
class RunSpec:
    task: str = ""
    model: str = ""
    dataset: Mapping[str, Any] = field(default_factory=dict)  # source, split, n_rows, fingerprint
    generation: Mapping[str, Any] = field(default_factory=dict)  # decoding settings, seed included
    prompt_style: str | None = None
    invocation: Invocation | None = None
    identity: RunIdentity | None = None
    backend: Mapping[str, Any] = field(default_factory=dict)  # what the loaded backend says of itself
    sharding: Mapping[str, Any] = field(default_factory=dict)
    batching: Mapping[str, Any] = field(default_factory=dict)  # --batch-size as given; with auto, `chosen`
    label: str | None = None  # `--label`: the run's name in leaderboards and comparisons
    run_name: str | None = None  # the run folder: <output>/<run name>/<task>
    predictions_file: str | None = None  # `vlmeval score`: the file scored
    created_by: Mapping[str, Any] | None = None  # host, pid, since: the process that created run.json
    subset: Mapping[str, Any] | None = None  # `--subset`: name, n, of, ids_hash (vlmeval.engine.subsets)
    # How replies are read (vlmeval.reasoning.ReplyReading.describe): reasoning tags, stop sequences.
    reply_reading: Mapping[str, Any] | None = None
    # The command line that created the run (URL credentials and query values as `***`:
    # vlmeval.redact); None in run.json written before it was recorded.
    command: str | None = None

    def to_json(self) -> Json:
        """run.json's fields; empty and unset ones are left out."""
        out: Json = {}
        for name, value in asdict(self).items():
            if value in (None, {}, ""):
                continue
            if name == "invocation":
                value = {**value, "tasks_dirs": list(value["tasks_dirs"])}
            out[name] = value
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> RunSpec:
        """A spec from run.json's fields (types checked by `FIELD_TYPES` first); others are ignored.
        ValueError names an identity that cannot be read."""
        values = {k: v for k, v in obj.items() if k in _NAMES and v is not None}
        if isinstance(values.get("identity"), Mapping):
            try:
                values["identity"] = RunIdentity.from_json(values["identity"])
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"unreadable identity ({type(exc).__name__}: {exc})") from exc
        if isinstance(values.get("invocation"), Mapping):
            invocation = dict(values["invocation"])
            invocation["tasks_dirs"] = tuple(invocation.get("tasks_dirs") or ())
            values["invocation"] = Invocation(**{k: v for k, v in invocation.items() if k in _INVOCATION})
        return cls(**values)


_NAMES = {f.name for f in fields(RunSpec)}
_INVOCATION = {f.name for f in fields(Invocation)}
# The JSON type of each field in run.json, checked when it is read (`vlmeval.engine.state.check_fields`).
FIELD_TYPES: Mapping[str, tuple[type, ...]] = {
    "task": (str,), "model": (str,), "dataset": (dict,), "generation": (dict,), "prompt_style": (str,),
    "invocation": (dict,), "identity": (dict,), "backend": (dict,), "sharding": (dict,), "batching": (dict,),
    "label": (str,), "run_name": (str,), "predictions_file": (str,), "created_by": (dict,),
    "subset": (dict,), "reply_reading": (dict,), "command": (str,),
}
assert set(FIELD_TYPES) == _NAMES
