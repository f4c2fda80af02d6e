"""ScienceQA (Lu et al., NeurIPS 2022), test split, as evaluated by LLaVA-1.5.

Dataset: lmms-lab/ScienceQA, config ScienceQA-FULL, split test (4,241 questions, 2,017 with an
image). Prompt and parser: LLaVA's `llava/eval/eval_science_qa.py` and its ScienceQA conversion.
Breakdown columns: the official ScienceQA scorer's NAT/SOC/LAN, TXT, IMG (`img_accuracy`), NO, G1-6, G7-12.
Reference: LLaVA-1.5-13B prints `Total: 4241, Correct: 3155, Accuracy: 74.39%, IMG-Accuracy: 71.64%`
(SQA-IMG 71.6 in the paper; 66.8 for the 7B).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from vlmeval.answers.choice import LETTERS, llava_choice_letter, option_lines
from vlmeval.column_checks import IndexInto, Strings, Text
from vlmeval.failure import Failure
from vlmeval.metrics import Metric, Record, mean_metric, meta_equals
from vlmeval.task import DataSpec, Row, Sample, Scored, Task, per_sample, row_images, task

SUFFIX = "Answer with the option's letter from the given choices directly."
GRADES_1_6 = tuple(f"grade{g}" for g in range(1, 7))
GRADES_7_12 = tuple(f"grade{g}" for g in range(7, 13))


def to_sample(row: Row, index: int) -> Sample:
    hint = (row.get("hint") or "").strip()
    choices = list(row["choices"])
    context = f"Context: {hint}\n" if hint else ""
    text = f"{context}{row['question']}\n{option_lines(choices)}\n{SUFFIX}"
    return Sample(
        id=str(index),
        text=text,
        images=row_images(row),
        target=LETTERS[int(row["answer"])],
        meta={
            "n_choices": len(choices),
            "has_image": row.get("image") is not None,
            "has_hint": bool(hint),
            "subject": row.get("subject"),
            "grade": row.get("grade"),
        },
    )


def score_one(sample: Sample, prediction: str | None) -> Scored:
    if prediction is None:
        return Scored(answer=None, scores={"correct": 0.0}, failure=Failure.ERROR)
    if not prediction.strip():
        return Scored(answer=None, scores={"correct": 0.0}, failure=Failure.EMPTY)
    letter = llava_choice_letter(prediction)
    if letter is None:
        return Scored(answer=None, scores={"correct": 0.0}, failure=Failure.UNPARSED)
    if LETTERS.index(letter) >= sample.meta["n_choices"]:
        return Scored(answer=letter, scores={"correct": 0.0}, failure=Failure.OUT_OF_RANGE)
    return Scored(answer=letter, scores={"correct": float(letter == sample.target)})


def _no_context(record: Record) -> bool:
    return not record.meta.get("has_hint") and not record.meta.get("has_image")


def summary_line(metrics: Mapping[str, float], n_samples: int) -> str:
    correct = round(metrics["accuracy"] * n_samples / 100)
    img = metrics.get("img_accuracy", 0.0)
    return (
        f"Total: {n_samples}, Correct: {correct}, "
        f"Accuracy: {metrics['accuracy']:.2f}%, IMG-Accuracy: {img:.2f}%"
    )


METRICS: tuple[Metric, ...] = (
    mean_metric("accuracy", "correct"),
    mean_metric("img_accuracy", "correct", where=meta_equals("has_image", True)),
    mean_metric("nat", "correct", where=meta_equals("subject", "natural science")),
    mean_metric("soc", "correct", where=meta_equals("subject", "social science")),
    mean_metric("lan", "correct", where=meta_equals("subject", "language science")),
    mean_metric("txt", "correct", where=meta_equals("has_hint", True)),
    mean_metric("no", "correct", where=_no_context),
    mean_metric("g1_6", "correct", where=meta_equals("grade", *GRADES_1_6)),
    mean_metric("g7_12", "correct", where=meta_equals("grade", *GRADES_7_12)),
)


@task("sqa")
def scienceqa() -> Task:
    return Task(
        description="ScienceQA test, LLaVA-1.5 prompt and parser",
        data=DataSpec(
            hub="lmms-lab/ScienceQA",
            config="ScienceQA-FULL",
            split="test",
            size=4241,
            columns=("question", "choices", "answer", "hint", "subject", "grade"),
            demo=Path(__file__).parent / "data" / "sqa_demo.parquet",
            checks=(Text("question"), Strings("choices"), IndexInto("answer", "choices"), Text("hint", nullable=True)),
        ),
        to_sample=to_sample,
        scorer=per_sample(score_one),
        metrics=METRICS,
        max_new_tokens=1024,
        breakdowns=("subject", "grade"),
        summary_line=summary_line,
    )
