"""The fast paths added for VQAv2-scale scoring give exactly what the general path gives:
`DataSpec.list_fields` reads a list<struct> column as the list of one field, inside Arrow; the
reused JSON encoder writes the text `json.dumps` writes, so fingerprints stored by earlier
versions still match."""

from __future__ import annotations

import gc
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.helpers import vqa_row, write_jsonl, write_parquet
from vlmeval.cli import main
from vlmeval.engine.data import _leaf_selection, _read_parquet
from vlmeval.engine.memory import collector_paused, collector_running
from vlmeval.engine.samples import SampleSet
from vlmeval.io import json_encoder
from vlmeval.task import DataSpec, Sample


def spec(*list_fields: tuple[str, str]) -> DataSpec:
    return DataSpec(hub="test/vqa", split="test", columns=(), image_column=None, list_fields=tuple(list_fields))


def test_list_fields_read_the_field_as_strings(tmp_path: Path) -> None:
    answer = pa.struct([("answer", pa.string()), ("answer_confidence", pa.string()), ("answer_id", pa.int64())])
    answers = [[{"answer": "yes", "answer_confidence": "yes", "answer_id": 1},
                {"answer": "no", "answer_confidence": "maybe", "answer_id": 2}],
               None,  # a hidden split's row
               [],
               [{"answer": "two", "answer_confidence": "yes", "answer_id": 1}],
               [None, {"answer": None, "answer_confidence": "no", "answer_id": 2}]]
    table = pa.table({"question_id": [1, 2, 3, 4, 5], "answers": pa.array(answers, type=pa.list_(answer))})
    path = tmp_path / "vqa.parquet"
    pq.write_table(table, path, row_group_size=2)  # three row groups: chunks with offsets
    rows, _ = _read_parquet(path, spec(("answers", "answer")))
    assert [r["answers"] for r in rows] == [["yes", "no"], None, [], ["two"], [None, None]]
    assert _leaf_selection(pq.ParquetFile(path), ["question_id", "answers"], [("answers", "answer")]) == [
        "question_id", "answers.list.element.answer"]  # only the answer strings are decoded
    plain, _ = _read_parquet(path, spec())
    assert [r["answers"] for r in plain] == answers
    untouched, _ = _read_parquet(path, spec(("question_id", "answer"), ("absent", "answer")))
    assert [r["question_id"] for r in untouched] == [1, 2, 3, 4, 5]


class Odd:
    def __str__(self) -> str:
        return "odd \u00e9"


AWKWARD: list[Any] = [
    "caf\u00e9 \u2028 \x00 \"quoted\" \\ \ud83d\ude00",
    [1, 2.5, -0.0, 1e300, float("nan"), float("inf"), True, None, 10**40],
    {"a": {"b": [Odd(), "\u00fc"]}, 3: 1, 2.5: "x", None: 1, True: 2, "t": (1, 2)},
    3.0,
]


@pytest.mark.parametrize("ensure_ascii", [True, False])
@pytest.mark.parametrize("value", AWKWARD)
def test_reused_encoder_writes_what_json_dumps_writes(value: Any, ensure_ascii: bool) -> None:
    encode = json_encoder(ensure_ascii=ensure_ascii)
    expected = json.dumps(value, ensure_ascii=ensure_ascii, default=str)
    assert encode(value) == expected
    assert encode(value) == expected  # nothing kept between calls


def test_fingerprint_is_the_hash_of_the_json_dumps_lines() -> None:
    samples = [Sample(id="1", text="Q\u00e9?", images=(), target=["yes", "y\u00e9s"]),
               Sample(id="2", text="Q2", images=(), target=None),
               Sample(id="3", text="Q3", images=(), target=Odd())]
    expected = hashlib.sha256()
    for s in samples:  # the definition fingerprints were stored under
        expected.update(json.dumps([s.id, s.text, s.target], default=str).encode())
    assert SampleSet("src", "test", samples).fingerprint() == expected.hexdigest()[:16]
    changed = [samples[0], samples[1], Sample(id="3", text="Q3 ", images=(), target=Odd())]
    assert SampleSet("src", "test", changed).fingerprint() != expected.hexdigest()[:16]


@pytest.mark.slow
def test_scoring_vqav2_from_parquet_does_not_import_pandas(tmp_path: Path) -> None:
    """pyarrow imports pandas on the first Python value it converts (~0.15-0.4 s); the data checks
    and the VQA path hand it none."""
    data = write_parquet(tmp_path / "vqa" / "validation-00000-of-00001.parquet",
                         [vqa_row(1001, ["yes"] * 10, "yes/no"), vqa_row(1002, ["2"] * 3 + ["3"] * 7, "number")])
    predictions = write_jsonl(tmp_path / "p.jsonl", [{"id": "1001", "prediction": "Yes"}])
    script = ("import sys\nfrom vlmeval.cli import main\ncode = main(sys.argv[1:])\n"
              "print('PANDAS', 'pandas' in sys.modules, code, file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", script, "score", "--task", "vqav2_val", "--data", str(data.parent),
                           "--predictions", str(predictions), "--output", str(tmp_path / "out")],
                          capture_output=True, text=True, check=False, timeout=300)
    assert "PANDAS False 3" in done.stderr, done.stderr[-2000:]  # 3: one sample has no prediction


def test_the_collector_is_paused_for_a_command_and_runs_for_its_model_and_judge_phases(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gc.unfreeze()
    with collector_paused():
        bulk = [[i] for i in range(1000)]
        assert not gc.isenabled()
        with collector_running():  # a model's generation loop, judge requests
            assert gc.isenabled() and gc.get_freeze_count() >= len(bulk)  # what exists is not rescanned
        assert not gc.isenabled()
    assert gc.isenabled() and gc.get_freeze_count() == 0
    import vlmeval.engine.evaluate

    during: list[bool] = []
    real = vlmeval.engine.evaluate.build_report
    monkeypatch.setattr(vlmeval.engine.evaluate, "build_report",
                        lambda *args: during.append(gc.isenabled()) or real(*args))
    predictions = write_jsonl(tmp_path / "p.jsonl", [{"id": "0", "prediction": "A"}])
    assert main(["score", "--task", "sqa", "--data", "demo", "--predictions", str(predictions),
                 "--output", str(tmp_path / "o")]) == 3  # scored; the other samples have no answer
    assert during == [False]  # the whole command ran paused
    assert gc.isenabled() and gc.get_freeze_count() == 0  # and gave back what it froze
