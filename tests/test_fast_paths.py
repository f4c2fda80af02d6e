"""The fast path added for VQAv2-scale scoring gives exactly what the general path gives:
`DataSpec.list_fields` reads a list<struct> column as the list of one field, inside Arrow."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from vlmeval.engine.data import _read_parquet
from vlmeval.task import DataSpec


def spec(*list_fields: tuple[str, str]) -> DataSpec:
    return DataSpec(hub="test/vqa", split="test", columns=(), image_column=None, list_fields=tuple(list_fields))


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
    rows, _ = _read_parquet(path, spec(("answers", "answer")))
    assert [r["answers"] for r in rows] == [["yes", "no"], None, [], ["two"]]
    plain, _ = _read_parquet(path, spec())
    assert [r["answers"] for r in plain] == answers
    untouched, _ = _read_parquet(path, spec(("question_id", "answer"), ("absent", "answer")))
    assert [r["question_id"] for r in untouched] == [1, 2, 3, 4]
