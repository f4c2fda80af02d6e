"""Reading a predictions file (JSONL lines with at least `id` and `prediction`), strictly.

Used by `vlmeval score` and the replay backend. Every problem names the file and line: bytes
that are not UTF-8, JSON nested deeper than Python's parser recurses, integers longer than Python
converts (4,300 digits), an `id` that is not a string or an integer, a key written twice in one
object (`{"id": 1, "prediction": "A", "prediction": "B"}`: which one is the answer is a guess).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from json.scanner import make_scanner
from pathlib import Path

from vlmeval.errors import PredictionsError


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A JSON object as a dict, refusing a key written twice (json.loads would keep the last)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


def _duplicate(where: str, exc: _DuplicateKey) -> PredictionsError:
    return PredictionsError(f"{where}: the key {exc.key!r} appears twice in one object of this line")


def parse_line(raw: bytes, where: str) -> object:
    """One JSONL line as a Python object, or a PredictionsError naming `where`."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PredictionsError(f"{where}: not UTF-8 text (byte {exc.start + 1} of the line)") from None
    try:
        return json.loads(line, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise _duplicate(where, exc) from None
    except json.JSONDecodeError as exc:
        raise PredictionsError(f"{where}: not a JSON line ({exc.msg})") from exc
    except (ValueError, RecursionError) as exc:  # e.g. an integer past Python's 4,300-digit limit
        reason = str(exc).split(";")[0] if isinstance(exc, ValueError) else "nested too deeply"
        raise PredictionsError(f"{where}: not a usable JSON line ({reason})") from None


# The scanner json.loads itself runs (typeshed types make_scanner's argument wrongly).
_SCAN = make_scanner(json.JSONDecoder(object_pairs_hook=_unique_keys))  # type: ignore[arg-type]
_JSON_WHITESPACE = " \t\r\n"
_BLANK = " \t\n\r\x0b\x0c"  # what bytes.strip() removes: a line of only these is skipped


def _parse_text_line(line: str, where: str) -> object:
    """`parse_line` of an already decoded line: the C scanner straight away (json.loads' own
    checks and wrappers were a third of reading 214k lines); anything it does not take cleanly
    goes through `parse_line`, which names the problem exactly as before."""
    stripped = line.strip(_JSON_WHITESPACE)
    try:
        obj, end = _SCAN(stripped, 0)
    except _DuplicateKey as exc:
        raise _duplicate(where, exc) from None
    except (StopIteration, ValueError, RecursionError):
        end = -1
    if end != len(stripped):
        return parse_line(line.encode("utf-8"), where)
    return obj


def _lines(file: Path) -> Iterator[tuple[int, object]]:
    """(line number, parsed object) of every non-blank line. The file is decoded at once; when it
    is not UTF-8, line by line, so that the first bad line is the one named."""
    data = file.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        for number, raw in enumerate(data.split(b"\n"), 1):
            if raw.strip(_BLANK.encode()):
                yield number, parse_line(raw, f"{file}:{number}")
        return
    for number, line in enumerate(text.split("\n"), 1):
        if line.strip(_BLANK):
            yield number, _parse_text_line(line, f"{file}:{number}")


def read_predictions(path: str | Path) -> dict[str, str | None]:
    """id -> prediction; a null prediction is kept as None (an answer the run failed to get).

    A vlmeval predictions.jsonl line with `raw_prediction` (the whole reply, where the task read only
    the part after a reasoning block) gives that: replayed or re-scored, it is read again as it was.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise PredictionsError(f"{file}: no such predictions file")
    predictions: dict[str, str | None] = {}
    for number, obj in _lines(file):
        if type(obj) is not dict or "id" not in obj or "prediction" not in obj:
            raise PredictionsError(f"{file}:{number}: a line needs the fields 'id' and 'prediction'")
        raw_id, prediction = obj["id"], obj["prediction"]
        if isinstance(obj.get("raw_prediction"), str):
            prediction = obj["raw_prediction"]
        if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
            raise PredictionsError(f"{file}:{number}: id is a {type(raw_id).__name__}, not a string or integer")
        sample_id = str(raw_id)
        if prediction is not None and not isinstance(prediction, str):
            raise PredictionsError(
                f"{file}:{number}: prediction of sample {sample_id} is a {type(prediction).__name__}, not a string"
            )
        if sample_id in predictions:
            raise PredictionsError(f"{file}:{number}: sample {sample_id} appears twice")
        predictions[sample_id] = prediction
    return predictions
