"""The fast paths added for VQAv2-scale scoring give exactly what the general paths give.

- predictions files: pyarrow's JSON reader for well-formed files, the strict line reader otherwise;
- `DataSpec.list_fields`: a list<struct> column read as the list of one field, inside Arrow.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vlmeval.data import _read_parquet
from vlmeval.errors import PredictionsError
from vlmeval.predictions import _read_well_formed, read_predictions


def _line_by_line(path: Path) -> dict[str, str | None]:
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").split("\n") if x.strip()]
    return {str(obj["id"]): obj["prediction"] for obj in lines}


def test_well_formed_file_takes_the_fast_path_with_identical_result(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    # U+2028 inside a string, CRLF, a blank line, extra fields of any type, no final newline.
    path.write_text('{"id": "1", "prediction": "a\u2028b", "scores": {"x": 1}}\r\n\n'
                    '{"id": "2", "prediction": "", "target": ["y"]}\n{"id": "3", "prediction": " c "}',
                    encoding="utf-8")
    assert _read_well_formed(path) is not None
    assert read_predictions(path) == _line_by_line(path) == {"1": "a\u2028b", "2": "", "3": " c "}


@pytest.mark.parametrize("text, expected", [
    ('{"id": 7, "prediction": "a"}\n', {"7": "a"}),  # int ids: the line reader turns them into strings
    ('{"id": "1", "prediction": null}\n', {"1": None}),  # null: an answer the run failed to get
])
def test_other_valid_files_fall_back_to_the_line_reader(tmp_path: Path, text: str,
                                                        expected: dict[str, str | None]) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(text, encoding="utf-8")
    assert _read_well_formed(path) is None and read_predictions(path) == expected


@pytest.mark.parametrize("text, message", [
    ('{"id": "1", "prediction": "a"} {"id": "2", "prediction": "b"}\n', ":1: not a JSON line"),
    ('{"id": "1", "prediction": "a"}\n{"id": "1", "prediction": "b"}\n', ":2: sample 1 appears twice"),
    ('{"id": "1", "prediction": "a"}\n{"id": "2"}\n', ":2: a line needs the fields 'id' and 'prediction'"),
    ('{"id": "1", "prediction": 5}\n', ":1: prediction of sample 1 is a int, not a string"),
])
def test_bad_files_still_fail_naming_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PredictionsError, match=message):
        read_predictions(path)


def test_list_fields_read_the_field_as_strings(tmp_path: Path) -> None:
    answer = pa.struct([("answer", pa.string()), ("answer_confidence", pa.string()), ("answer_id", pa.int64())])
    answers = [[{"answer": "yes", "answer_confidence": "yes", "answer_id": 1},
                {"answer": "no", "answer_confidence": "maybe", "answer_id": 2}],
               None,  # a hidden split's row
               [],
               [{"answer": "two", "answer_confidence": "yes", "answer_id": 1}]]
    table = pa.table({"question_id": [1, 2, 3, 4], "answers": pa.array(answers, type=pa.list_(answer))})
    path = tmp_path / "vqa.parquet"
    pq.write_table(table, path, row_group_size=2)  # two row groups: chunks with offsets
    rows, _ = _read_parquet(path, None, (("answers", "answer"),))
    assert [r["answers"] for r in rows] == [["yes", "no"], None, [], ["two"]]
    plain, _ = _read_parquet(path, None)
    assert [r["answers"] for r in plain] == answers
    untouched, _ = _read_parquet(path, None, (("question_id", "answer"), ("absent", "answer")))
    assert [r["question_id"] for r in untouched] == [1, 2, 3, 4]
