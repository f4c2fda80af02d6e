"""The identity of a `vlmeval score` folder: which predictions file it scores, and from what data.

`score` writes `score.json` into its output folder. A folder holds the scores of one predictions
file, as a run folder holds one model's answers: scoring the same file again re-scores it (the file
may have changed), another file into the same folder is refused as another run, and so is a folder
that `vlmeval run` wrote. The recorded data, split and limit let `vlmeval view` find the samples'
images the way it finds a run's (from run.json's invocation).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vlmeval.engine.run_folder import RUN_FILE
from vlmeval.engine.samples import DEMO
from vlmeval.errors import UsageError
from vlmeval.io import atomic_write_json

SCORE_FILE = "score.json"


def default_score_folder(predictions_file: str, task: str) -> Path:
    """results/scored/<predictions file's stem>/<task>: each predictions file its own run."""
    stem = Path(predictions_file).name.removesuffix(".jsonl")
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.") or "predictions"
    return Path("results") / "scored" / name / task


def _absolute(path: str | None) -> str | None:
    return path if path in (None, DEMO) else str(Path(path).expanduser().resolve())


def read_score_file(folder: Path) -> dict[str, Any]:
    """score.json ({} where there is none or it cannot be read: the folder then has no identity)."""
    try:
        found = json.loads((folder / SCORE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def claim_score_folder(folder: Path, task: str, predictions_file: str, data: str | None, split: str | None,
                       limit: int | None) -> None:
    """Refuse a folder that holds another run; record this one's identity and data source."""
    if (folder / RUN_FILE).is_file():
        raise UsageError(f"{folder} holds a run of `vlmeval run` ({RUN_FILE}); score into another folder "
                         f"(--output), or leave the predictions out")
    mine = _absolute(predictions_file)
    recorded = read_score_file(folder)
    theirs = recorded.get("predictions_file")
    if theirs is not None and (theirs != mine or recorded.get("task") != task):
        raise UsageError(f"{folder} holds the scores of {theirs} ({recorded.get('task')}); {predictions_file} is "
                         f"another run: pass --output FOLDER (default: a folder named after the predictions file)")
    atomic_write_json(folder / SCORE_FILE, {"task": task, "predictions_file": mine,
                                            "invocation": {"data": _absolute(data), "split": split, "limit": limit}})


def missing_predictions_hint(predictions_file: str, sample_ids: Sequence[str], predictions: Mapping[str, str | None],
                             retry_hint: str) -> str:
    """What `score` can say about samples to redo: the file lacks them (a re-run of score cannot help)."""
    lacking = [i for i in sample_ids if i not in predictions]
    empty = [i for i in sample_ids if i in predictions and predictions[i] is None]
    parts = []
    for ids, what in ((lacking, "has no line for"), (empty, "has no prediction for")):
        if ids:
            more = f" and {len(ids) - 5} more" if len(ids) > 5 else ""
            parts.append(f"{predictions_file} {what} {len(ids)} samples ({', '.join(ids[:5])}{more})")
    if not parts:
        return retry_hint  # judge requests that failed: the same command asks again
    return "; ".join(parts) + ": scoring the same file again cannot mend them"
