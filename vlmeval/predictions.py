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
    fast = _read_well_formed(file)
    if fast is not None:
        return fast
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


def _read_well_formed(file: Path) -> dict[str, str | None] | None:
    """The common case (string ids, string predictions, one object per line) parsed by pyarrow's
    JSON reader, 5x faster than a json.loads per line at VQAv2's 214k lines. None whenever anything
    differs from that case (int ids, a null or missing prediction, two objects on a line, a bad
    line, duplicate ids), so that the line-by-line reader decides and names the line at fault."""
    import pyarrow as pa
    import pyarrow.json as pa_json

    data = file.read_bytes()
    n_lines = sum(1 for line in data.split(b"\n") if line.strip())
    schema = pa.schema([("id", pa.string()), ("prediction", pa.string())])
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    try:
        table = pa_json.read_json(pa.BufferReader(data), parse_options=options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != n_lines or any(table.column(c).null_count for c in ("id", "prediction")):
        return None
    predictions: dict[str, str | None] = dict(zip(table.column("id").to_pylist(),
                                                  table.column("prediction").to_pylist(), strict=True))
    return predictions if len(predictions) == n_lines else None
