"""VizWiz-VQA: LLaVA's prompt, the unanswerable metric and the EvalAI submission file.

Rows are in the lmms-lab/VizWiz-VQA schema: `question_id` is the image name without `.jpg`,
`answers` ten strings, `category` the answer type; the test split hides answers and category.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import png_bytes, read_jsonl, vizwiz_row, vlmeval, write_jsonl, write_parquet
from vlmeval.engine.samples import load_samples
from vlmeval.engine.scoring import score_answers
from vlmeval.engine.store import Answer
from vlmeval.metrics import compute_metrics
from vlmeval.registry import load_registry
from vlmeval.task import ScoreContext, Task

PROMPT_SUFFIX = (
    "When the provided information is insufficient, respond with 'Unanswerable'.\n"
    "Answer the question using a single word or phrase."
)


def task_named(name: str) -> Task:
    return load_registry().get(name)


def test_prompt_id_and_target(tmp_path: Path) -> None:
    data = write_parquet(tmp_path / "val-00000-of-00001.parquet", [
        vizwiz_row("VizWiz_val_00000000", ["basil"] * 10, question="Ok. There is another picture.",
                   image=png_bytes()),
    ])
    sample = load_samples(task_named("vizwiz_val"), str(data), None, None).samples[0]
    assert sample.id == "VizWiz_val_00000000"
    assert sample.text == f"Ok. There is another picture.\n{PROMPT_SUFFIX}"
    assert sample.target == ["basil"] * 10 and sample.meta == {"answer_type": "other"}
    assert len(sample.images) == 1


def test_accuracy_and_unanswerable_metric(tmp_path: Path) -> None:
    unanswerable = ["unanswerable"] * 7 + ["blurry", "nothing", "hand"]
    rows = [
        vizwiz_row("VizWiz_val_1", unanswerable, "unanswerable"),
        vizwiz_row("VizWiz_val_2", ["unanswerable"] * 2 + ["can"] * 8, "unanswerable"),
        vizwiz_row("VizWiz_val_3", ["unanswerable"] * 10, "unanswerable"),
        vizwiz_row("VizWiz_val_4", ["yes"] * 9 + ["unanswerable"], "yes/no"),
        vizwiz_row("VizWiz_val_5", ["coca cola"] * 3 + ["soda"] * 7, "other"),
    ]
    task = task_named("vizwiz_val")
    samples = load_samples(task, str(write_parquet(tmp_path / "v.parquet", rows)), None, None).samples
    predictions = ["Unanswerable.", "Unanswerable", None, "No", "Coca-Cola"]
    answers = {s.id: Answer(s.id, p, None if p is not None else "CUDA out of memory")
               for s, p in zip(samples, predictions)}
    records = score_answers(task, samples, answers, ScoreContext())
    # 7 matches -> 1; 2 matches -> 0.6; a failed generation -> 0; "no" -> 0; "coca cola" x3 -> 0.9
    assert [r.scores["accuracy"] for r in records] == pytest.approx([1.0, 0.6, 0.0, 0.0, 0.9])
    assert records[2].failure == "error" and records[4].answer == "coca cola"
    metrics = compute_metrics(task.metrics, records)
    assert metrics == pytest.approx({"accuracy": 2.5 / 5 * 100, "unanswerable": 1.6 / 3 * 100})


@pytest.mark.slow
def test_test_split_writes_submission_with_image_names(tmp_path: Path) -> None:
    rows = [
        vizwiz_row("VizWiz_test_00000000", None, None),
        vizwiz_row("VizWiz_test_00000001", [], None),
        vizwiz_row("VizWiz_test_00000002.jpg", None, None),  # a copy that keeps the extension
    ]
    data = write_parquet(tmp_path / "vizwiz" / "test-00000-of-00001.parquet", rows)
    predictions = write_jsonl(tmp_path / "p.jsonl", [
        {"id": "VizWiz_test_00000000", "prediction": "Unanswerable."},
        {"id": "VizWiz_test_00000002.jpg", "prediction": "Two dollars"},
    ])
    out = tmp_path / "O"
    done = vlmeval("score", "--task", "vizwiz_test", "--predictions", str(predictions),
                   "--data", str(data.parent), "--output", str(out))
    assert done.returncode == 3, done.stderr  # one question has no prediction
    assert "Submission file written: submission.json" in done.stdout
    submission = json.loads((out / "submission.json").read_text(encoding="utf-8"))
    assert submission == [
        {"image": "VizWiz_test_00000000.jpg", "answer": "unanswerable"},
        {"image": "VizWiz_test_00000001.jpg", "answer": ""},
        {"image": "VizWiz_test_00000002.jpg", "answer": "2 dollars"},
    ]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["scored"] is False and report["artifacts"] == ["submission.json"]
    assert [r["failure"] for r in read_jsonl(out / "predictions.jsonl")] == [None, "missing", None]


def test_vizwiz_never_normalises_the_human_answers(tmp_path: Path) -> None:
    """VizWiz's evaluator: `unanswerable` matches only the 2 raw `unanswerable`, not `Unanswerable` (0.6, not 1)."""
    rows = [vizwiz_row("VizWiz_val_1", ["unanswerable"] * 2 + ["Unanswerable"] * 3 + ["unsuitable"] * 5,
                       "unanswerable"),
            vizwiz_row("VizWiz_val_2", ["dont"] * 3 + ["don’t"] * 3 + ["no"] * 4, "other")]
    task = task_named("vizwiz_val")
    samples = load_samples(task, str(write_parquet(tmp_path / "v.parquet", rows)), None, None).samples
    answers = {"VizWiz_val_1": Answer("VizWiz_val_1", "Unanswerable."), "VizWiz_val_2": Answer("VizWiz_val_2", "dont")}
    records = score_answers(task, samples, answers, ScoreContext())
    # The submitted `dont` is EvalAI's straight `don't`, which VizWiz's curly table leaves alone: it matches
    # neither the raw `dont` nor the curly `don’t` (VQAv2's rule would normalise both to `don't`: 0.9).
    assert [r.scores["accuracy"] for r in records] == pytest.approx([0.6, 0.0])
