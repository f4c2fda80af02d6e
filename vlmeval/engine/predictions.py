"""Reading a predictions file (JSONL lines with at least `id` and `prediction`), strictly.

Used by `vlmeval score` and the replay backend. Every problem names the file and line.
"""

from __future__ import annotations

import json
from pathlib import Path

from vlmeval.errors import PredictionsError


def read_predictions(path: str | Path) -> dict[str, str | None]:
    """id -> prediction; a null prediction is kept as None (an answer the run failed to get)."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise PredictionsError(f"{file}: no such predictions file")
    predictions: dict[str, str | None] = {}
    with file.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{file}:{number}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise PredictionsError(f"{where}: not a JSON line ({exc.msg})") from exc
            if not isinstance(obj, dict) or "id" not in obj or "prediction" not in obj:
                raise PredictionsError(f"{where}: a line needs the fields 'id' and 'prediction'")
            sample_id, prediction = str(obj["id"]), obj["prediction"]
            if prediction is not None and not isinstance(prediction, str):
                raise PredictionsError(
                    f"{where}: prediction of sample {sample_id} is a {type(prediction).__name__}, not a string"
                )
            if sample_id in predictions:
                raise PredictionsError(f"{where}: sample {sample_id} appears twice")
            predictions[sample_id] = prediction
    return predictions
