"""A run folder's `run.json`: created by exactly one process, checked by every later one.

`run.json` holds the run's identity (`vlmeval.engine.identity`) and how to load its samples again
(`invocation`, read by `vlmeval merge`), plus what later steps add (sharding, backend).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from vlmeval.engine.claims import create_exclusive
from vlmeval.engine.identity import IdentityMismatch, RunIdentity, check
from vlmeval.engine.store import ANSWERS_DIR
from vlmeval.errors import UsageError
from vlmeval.io import atomic_write_json, write_error

RUN_FILE = "run.json"
MERGE_CLAIM = ".merging"
# What `--restart` deletes: every file a run writes into its folder.
_RUN_OUTPUTS = (RUN_FILE, MERGE_CLAIM, "predictions.jsonl", "report.json", "report.md")
# Identity keys of run.json files written before the identity had its own record.
_LEGACY_KEYS = ("model", "generation", "prompt_style")


def read_run_file(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RUN_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: unreadable ({exc}); pass another --run-name, or --restart") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not a JSON object; pass another --run-name, or --restart")
    return data


def open_run(
    run_dir: Path, identity: RunIdentity, record: Mapping[str, Any],
    fingerprint_of_first: Callable[[int], str | None],
) -> None:
    """Create run.json with `identity`, or refuse unless the one there allows reusing its answers.

    Creation is exclusive, so of two processes starting one folder at once with other settings,
    one creates it and the other finds it and is refused.
    """
    path = run_dir / RUN_FILE
    content = {**record, "identity": identity.to_json()}
    try:
        if create_exclusive(path, json.dumps(content, indent=2, ensure_ascii=False, default=str) + "\n"):
            return
    except OSError as exc:
        raise write_error(path, exc) from exc
    previous = read_run_file(run_dir)
    recorded = previous.get("identity")
    if isinstance(recorded, dict):
        try:
            recorded_identity = RunIdentity.from_json(recorded)
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"{path}: unreadable identity ({exc}); pass another --run-name, or --restart") from exc
        check(identity, recorded_identity, run_dir, fingerprint_of_first)
        grown = identity.dataset.n_rows >= recorded_identity.dataset.n_rows
    else:
        _check_legacy(previous, record, run_dir)
        grown = True
    # A run with more samples records them, so their answers are checked on the next run too.
    kept = identity.to_json() if grown else recorded
    atomic_write_json(path, {**previous, **record, "identity": kept})


def _check_legacy(previous: Mapping[str, Any], record: Mapping[str, Any], run_dir: Path) -> None:
    from vlmeval.engine.identity import RESTART_HINT

    for key in _LEGACY_KEYS:
        if key in previous and previous[key] != record.get(key):
            raise IdentityMismatch(f"{run_dir} holds answers of another run: {key} (recorded "
                                   f"{previous[key]!r}, now {record.get(key)!r}); {RESTART_HINT}")
    old, new = previous.get("dataset") or {}, record.get("dataset") or {}
    for key in ("source", "split"):
        if key in old and old[key] != new.get(key):
            raise IdentityMismatch(f"{run_dir} holds answers of another run: --data/--split {key} (recorded "
                                   f"{old[key]!r}, now {new.get(key)!r}); {RESTART_HINT}")


def restart(run_dir: Path) -> None:
    """Delete a run's answers and outputs (`--restart`); other files in the folder stay."""
    shutil.rmtree(run_dir / ANSWERS_DIR, ignore_errors=True)
    for name in _RUN_OUTPUTS:
        (run_dir / name).unlink(missing_ok=True)
    for chart in run_dir.glob("chart-*.png"):
        chart.unlink(missing_ok=True)


def update_run_file(run_dir: Path, fields: Mapping[str, Any]) -> None:
    atomic_write_json(run_dir / RUN_FILE, {**read_run_file(run_dir), **fields})
