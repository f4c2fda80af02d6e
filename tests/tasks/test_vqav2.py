"""VQAv2: prompt, server-side accuracy, answer-type metrics and EvalAI submission files.

Rows are in the lmms-lab/VQAv2 schema. Expected accuracies are worked out by hand from the
official leave-one-out rule: with k of 10 annotators giving the answer, 0, 0.3, 0.6, 0.9, 1.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import png_bytes, read_jsonl, vlmeval, vqa_row, write_jsonl, write_parquet
from vlmeval.cli import main
from vlmeval.engine.samples import load_samples
from vlmeval.engine.scoring import score_answers
from vlmeval.engine.store import Answer
from vlmeval.errors import DataError
from vlmeval.metrics import compute_metrics
from vlmeval.registry import load_registry
from vlmeval.task import ScoreContext, Task

SUFFIX = "Answer the question using a single word or phrase."


def task_named(name: str) -> Task:
    return load_registry().get(name)


def k_of_ten(k: int, answer: str = "red") -> list[str]:
    return [answer] * k + ["blue", "green", "pink", "gray", "white", "black", "brown", "tan", "gold", "teal"][: 10 - k]


def test_prompt_id_target_and_image(tmp_path: Path) -> None:
    data = write_parquet(tmp_path / "validation-00000-of-00001.parquet", [
        vqa_row(458752000, ["net"] * 10, question="What is this photo taken looking through?", image=png_bytes()),
    ])
    sample = load_samples(task_named("vqav2_val"), str(data), None, None).samples[0]
    assert sample.id == "458752000"
    assert sample.text == f"What is this photo taken looking through?\n{SUFFIX}"
    assert sample.target == ["net"] * 10
    assert sample.meta == {"answer_type": "other", "question_type": "what is"}
    assert len(sample.images) == 1 and sample.images[0].load().size == (32, 32)
    assert task_named("vqav2_val").max_new_tokens == 128


@pytest.mark.parametrize(("k", "expected"), [(0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (10, 1.0)])
def test_accuracy_by_number_of_matching_annotators(tmp_path: Path, k: int, expected: float) -> None:
    data = write_parquet(tmp_path / "v.parquet", [vqa_row(1000, k_of_ten(k))])
    task = task_named("vqav2_val")
    samples = load_samples(task, str(data), None, None).samples
    (record,) = score_answers(task, samples, {"1000": Answer("1000", "Red.")}, ScoreContext())
    assert record.answer == "red"  # what the submission would hold
    assert record.scores["accuracy"] == pytest.approx(expected)


def test_metrics_by_answer_type_and_failures(tmp_path: Path) -> None:
    rows = [
        vqa_row(1001, ["yes"] * 10, "yes/no"),
        vqa_row(1002, ["no"] * 10, "yes/no"),
        vqa_row(1003, ["2"] * 3 + ["3"] * 7, "number"),
        vqa_row(1004, k_of_ten(4, "the dog"), "other"),
        vqa_row(1005, k_of_ten(2, "cat"), "other"),
        vqa_row(1006, k_of_ten(5, "tree"), "other"),
    ]
    data = write_parquet(tmp_path / "v.parquet", rows)
    task = task_named("vqav2_val")
    samples = load_samples(task, str(data), None, None).samples
    predictions = {"1001": "Yes", "1002": "yes", "1003": "Two", "1004": "Dog", "1005": "  "}
    answers = {i: Answer(i, p) for i, p in predictions.items()}  # 1006 has no prediction
    records = score_answers(task, samples, answers, ScoreContext())
    assert [r.scores["accuracy"] for r in records] == pytest.approx([1.0, 0.0, 0.9, 1.0, 0.0, 0.0])
    assert [r.failure for r in records] == [None, None, None, None, "empty", "missing"]
    metrics = compute_metrics(task.metrics, records)
    assert metrics == pytest.approx({"accuracy": 290 / 6, "yes/no": 50.0, "number": 90.0, "other": 100 / 3})


@pytest.mark.slow
def test_score_cli_writes_report_with_breakdown(tmp_path: Path) -> None:
    data = write_parquet(tmp_path / "vqa" / "validation-00000-of-00001.parquet", [
        vqa_row(1001, ["yes"] * 10, "yes/no"), vqa_row(1003, ["2"] * 3 + ["3"] * 7, "number"),
    ])
    predictions = write_jsonl(tmp_path / "p.jsonl", [
        {"id": "1001", "prediction": "Yes"}, {"id": "1003", "prediction": "two"},
    ])
    out = tmp_path / "out"
    done = vlmeval("score", "--task", "vqav2_val", "--predictions", str(predictions),
                   "--data", str(data.parent), "--output", str(out))
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["metrics"] == pytest.approx({"accuracy": 95.0, "yes/no": 100.0, "number": 90.0})
    assert report["breakdown"]["answer_type"]["number"]["accuracy"] == pytest.approx(90.0)
    assert "artifacts" not in report and not (out / "submission.json").exists()
    assert [r["answer"] for r in read_jsonl(out / "predictions.jsonl")] == ["yes", "2"]


def _hub_folder(root: Path) -> Path:
    """lmms-lab/VQAv2 layout: test-dev shards beside the test shards (test-dev is a subset)."""
    write_parquet(root / "data" / "testdev-00000-of-00001.parquet",
                  [vqa_row(2001, None), vqa_row(2003, None)])
    write_parquet(root / "data" / "test-00000-of-00002.parquet", [vqa_row(2001, None), vqa_row(2002, None)])
    write_parquet(root / "data" / "test-00001-of-00002.parquet", [vqa_row(2003, None), vqa_row(2004, None)])
    return root / "data"


def test_test_split_submission_covers_its_questions(tmp_path: Path) -> None:
    data = _hub_folder(tmp_path / "vqa")
    predictions = write_jsonl(tmp_path / "p.jsonl", [
        {"id": "2001", "prediction": "Two dogs."}, {"id": "2002", "prediction": None},
        {"id": "2003", "prediction": "Isnt it"},
    ])
    out = tmp_path / "out"
    code = main(["score", "--task", "vqav2_test", "--predictions", str(predictions), "--data", str(data),
                 "--output", str(out)])
    assert code == 3  # 2002 failed, 2004 missing: the report says so, the file is still written
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["scored"] is False and report["metrics"] == {}
    assert report["artifacts"] == ["submission.json"]
    submission = json.loads((out / "submission.json").read_text(encoding="utf-8"))
    assert submission == [  # only the test shards (not testdev-*), EvalAI-normalised, "" where none
        {"question_id": 2001, "answer": "2 dogs"}, {"question_id": 2002, "answer": ""},
        {"question_id": 2003, "answer": "isn't it"}, {"question_id": 2004, "answer": ""},
    ]


def test_testdev_submission_lists_every_test2015_question(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    data = _hub_folder(tmp_path / "vqa")
    predictions = write_jsonl(tmp_path / "p.jsonl", [
        {"id": "2001", "prediction": "Yes"}, {"id": "2003", "prediction": "three"},
    ])
    args = ["score", "--task", "vqav2_testdev", "--predictions", str(predictions), "--data", str(data)]
    monkeypatch.delenv("VLMEVAL_VQAV2_TEST_QUESTIONS", raising=False)
    # The hub layout: the test-* shards beside testdev-* in the --data folder give the full list.
    assert main([*args, "--output", str(tmp_path / "out")]) == 0
    expected = [{"question_id": 2001, "answer": "yes"}, {"question_id": 2002, "answer": ""},
                {"question_id": 2003, "answer": "3"}, {"question_id": 2004, "answer": ""}]
    assert json.loads((tmp_path / "out" / "submission.json").read_text(encoding="utf-8")) == expected

    official = tmp_path / "v2_OpenEnded_mscoco_test2015_questions.json"
    official.write_text(json.dumps({"questions": [{"question_id": q, "image_id": 2, "question": "?"}
                                                  for q in (2001, 2002, 2003, 2004)]}), encoding="utf-8")
    monkeypatch.setenv("VLMEVAL_VQAV2_TEST_QUESTIONS", str(official))
    assert main([*args, "--output", str(tmp_path / "official")]) == 0
    assert json.loads((tmp_path / "official" / "submission.json").read_text(encoding="utf-8")) == expected

    # Without test shards beside it and without the variable, no partial file is written.
    monkeypatch.delenv("VLMEVAL_VQAV2_TEST_QUESTIONS")
    alone = tmp_path / "alone"
    alone.mkdir()
    for shard in data.rglob("testdev-*.parquet"):
        shutil.copy(shard, alone / shard.name)
    no_list = ["score", "--task", "vqav2_testdev", "--predictions", str(predictions), "--data", str(alone)]
    assert main([*no_list, "--output", str(tmp_path / "no-list")]) == 2
    assert not (tmp_path / "no-list" / "submission.json").exists()


def test_testdev_list_must_hold_the_asked_questions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vlmeval_tasks.vqav2 import submission_writer

    listed = write_jsonl(tmp_path / "llava_vqav2_mscoco_test2015.jsonl", [{"question_id": 1}, {"question_id": 2}])
    monkeypatch.setenv("VLMEVAL_VQAV2_TEST_QUESTIONS", str(listed))
    samples = load_samples(task_named("vqav2_testdev"), str(write_parquet(tmp_path / "t.parquet", [
        vqa_row(2, None), vqa_row(3, None)])), None, None).samples
    with pytest.raises(DataError, match="1 asked questions are not in the test2015 list"):
        submission_writer(every_test2015_question=True)(samples, ["a", "b"], ScoreContext(output_dir=tmp_path))


def test_testdev_checks_the_test2015_list_before_the_first_answer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Without the list, a run of 107k questions used to stop only when writing the submission."""
    from tests.fakes.scripted import ScriptedBackend

    scripted = ScriptedBackend()
    monkeypatch.setattr("vlmeval.engine.evaluate.make_backend", lambda model, options: scripted)
    monkeypatch.delenv("VLMEVAL_VQAV2_TEST_QUESTIONS", raising=False)
    data = _hub_folder(tmp_path / "vqa")
    alone = write_parquet(tmp_path / "alone" / "testdev-00000-of-00001.parquet", [vqa_row(2001, None)]).parent
    args = ["run", "--task", "vqav2_testdev", "--model", "scripted", "--output", str(tmp_path / "out"), "--no-progress"]
    assert main([*args, "--data", str(alone)]) == 2
    assert "test2015" in capsys.readouterr().err and scripted.calls == []
    assert not (tmp_path / "out").exists()  # no run folder for a run that could not finish
    assert main([*args, "--data", str(data)]) == 0 and scripted.calls
    submission = json.loads((tmp_path / "out" / "scripted" / "vqav2_testdev" / "submission.json").read_text())
    assert [e["question_id"] for e in submission] == [2001, 2002, 2003, 2004]
