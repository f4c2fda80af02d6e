"""ScienceQA: LLaVA's parser, the prompt, and the official breakdown on real-schema rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import png_bytes, sqa_row, write_parquet
from vlmeval.answers.choice import llava_choice_letter
from vlmeval.engine.samples import load_samples
from vlmeval.engine.scoring import score_answers
from vlmeval.engine.store import Answer
from vlmeval.metrics import compute_metrics, missing_metrics
from vlmeval.registry import load_registry
from vlmeval.task import ScoreContext


@pytest.mark.parametrize(
    ("prediction", "letter"),
    [
        ("B", "B"),
        ("  C \n", "C"),
        ("A. red", "A"),
        ("E. five", "E"),
        ("F", None),  # only A-E are accepted as a bare letter
        ("F. six", None),
        ("The answer is B.", "B"),
        ("I think The answer is D, clearly", "D"),
        ("The answer is B", None),  # the pattern needs one character after the letter
        ("The answer is A. The answer is C.", None),  # two matches
        ("", None),
        ("A.red", None),
        ("a", None),
        ("The answer is Z.", "Z"),  # parsed, then rejected against the choices
    ],
)
def test_llava_choice_letter(prediction: str, letter: str | None) -> None:
    assert llava_choice_letter(prediction) == letter


def _sqa_task():  # type: ignore[no-untyped-def]
    return load_registry().get("sqa")


def test_prompt_matches_llava_format(tmp_path: Path) -> None:
    data = write_parquet(tmp_path / "t.parquet", [
        sqa_row(question="Which is a mammal?", choices=("whale", "shark", "trout"), hint="Look closely."),
        sqa_row(question="Pick one.", choices=("x", "y"), hint=""),
    ])
    samples = load_samples(_sqa_task(), str(data), None, None).samples
    assert samples[0].text == (
        "Context: Look closely.\nWhich is a mammal?\nA. whale\nB. shark\nC. trout\n"
        "Answer with the option's letter from the given choices directly."
    )
    assert samples[1].text == "Pick one.\nA. x\nB. y\nAnswer with the option's letter from the given choices directly."
    assert [s.id for s in samples] == ["0", "1"]


def test_scoring_and_breakdown_by_hand(tmp_path: Path) -> None:
    rows = [
        sqa_row(answer=1, image=png_bytes(), subject="natural science", grade="grade2"),     # B right
        sqa_row(answer=2, image=png_bytes(), subject="natural science", grade="grade9"),     # wrong
        sqa_row(answer=0, hint="ctx", subject="social science", grade="grade4"),            # right, txt
        sqa_row(answer=3, subject="language science", grade="grade11"),                      # out of range
        sqa_row(answer=0, choices=("a", "b"), subject="language science", grade="grade7"),  # unparsed
        sqa_row(answer=0, subject="social science", grade="grade1"),                         # empty
    ]
    data = write_parquet(tmp_path / "t.parquet", rows)
    task = _sqa_task()
    samples = load_samples(task, str(data), None, None).samples
    predictions = ["B", "The answer is A.", "A. red", "E", "maybe", ""]
    answers = {s.id: Answer(s.id, p) for s, p in zip(samples, predictions)}
    answers.pop("5")  # a missing prediction is scored wrong, like LLaVA's FAILED
    records = score_answers(task, samples, answers, ScoreContext())
    assert [r.failure for r in records] == [None, None, None, "out_of_range", "unparsed", "missing"]
    metrics = compute_metrics(task.metrics, records)
    assert metrics["accuracy"] == pytest.approx(200 / 6)
    assert metrics["img_accuracy"] == pytest.approx(50.0)
    assert metrics["nat"] == pytest.approx(50.0)
    assert metrics["soc"] == pytest.approx(50.0)
    assert metrics["txt"] == pytest.approx(100.0)
    # lan (rows 3, 4) and no context (rows 3, 4, 5) hold only failures: no number, the reason instead
    missing = missing_metrics(task.metrics, records)
    assert "lan" not in metrics and "no" not in metrics
    assert missing["no"] == "no valid input: all 3 samples failed (missing 1, out_of_range 1, unparsed 1)"
    assert set(missing) == {"lan", "no"}
    assert metrics["g1_6"] == pytest.approx(200 / 3)
    assert metrics["g7_12"] == pytest.approx(0.0)
    assert task.summary_line is not None
    line = task.summary_line(metrics, len(records))
    assert line == "Total: 6, Correct: 2, Accuracy: 33.33%, IMG-Accuracy: 50.00%"
