"""POPE (Li et al., "Evaluating Object Hallucination in Large Vision-Language Models", EMNLP 2023),
as evaluated by LLaVA-1.5.

Dataset: lmms-lab/POPE, config default, split test (9,000 yes/no questions on COCO val2014 images,
3,000 per `category`: adversarial, popular, random). `question_id` repeats across categories; the
sample id is the unique `id` column. LLaVA-1.5 used POPE's first COCO release (random: 2,910).
Prompt: LLaVA-1.5's short-answer suffix; max_new_tokens 128 (`model_vqa_loader`'s default).
Scorer: haotian-liu/LLaVA `llava/eval/eval_pope.py` (reading in `vlmeval.answers.yesno`), per
category with yes as the positive class: accuracy, precision TP/(TP+FP), recall TP/(TP+FN), F1 and
the yes-ratio. `f1` (primary) is the mean of the categories' F1, the POPE column of LLaVA-1.5's
table; `accuracy` is over all questions. It is not the mean of the categories' accuracies unless the
categories are equal-sized: on LLaVA-1.5's release (random has 2,910 questions) the two are 86.970
and 86.981.
A missing or failed answer is wrong (read as the opposite of the label); an empty answer reads yes,
as in the official script, and is counted as failure `empty`. Where a category has no predicted
(or no actual) yes, or neither precision nor recall is above 0, the official script divides by zero:
that precision, recall or F1 (and the mean F1) is reported missing with the reason, never as 0.
Reference, LLaVA-1.5-13B: F1 adversarial 84.5, popular 86.2, random 87.1; mean 85.9.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vlmeval_tasks._vqa_common import SHORT_ANSWER

from vlmeval.answers.yesno import YES, llava_pope_yes_no
from vlmeval.column_checks import OneOf, Text
from vlmeval.demo_data import image_cell, png_bytes
from vlmeval.failure import Failure
from vlmeval.metrics import Metric, MetricUndefined, Record, mean_metric, meta_equals
from vlmeval.task import DataSpec, Row, Sample, Scored, Task, per_sample, row_images, task

CATEGORIES = ("adversarial", "popular", "random")


def to_sample(row: Row, index: int) -> Sample:
    answer = str(row["answer"]).strip().lower()
    if answer not in ("yes", "no"):
        raise ValueError(f"answer {row['answer']!r} is neither yes nor no")
    return Sample(
        id=str(row["id"]),
        text=f"{row['question']}\n{SHORT_ANSWER}",
        images=row_images(row),
        target=answer,
        meta={"category": row["category"], "question_id": str(row.get("question_id"))},
    )


def score_one(sample: Sample, prediction: str | None) -> Scored:
    label_yes = float(sample.target == YES)
    if prediction is None:  # wrong either way: the opposite of the label
        return Scored(None, {"correct": 0.0, "pred_yes": 1.0 - label_yes, "label_yes": label_yes}, Failure.ERROR)
    answer = llava_pope_yes_no(prediction)
    pred_yes = float(answer == YES)
    failure = None if prediction.strip() else Failure.EMPTY
    return Scored(answer, {"correct": float(pred_yes == label_yes), "pred_yes": pred_yes,
                           "label_yes": label_yes}, failure)


def _counts(records: Sequence[Record]) -> tuple[int, int, int]:
    """(TP, FP, FN) with yes as the positive class."""
    tp = sum(r.scores["pred_yes"] == 1.0 and r.scores["label_yes"] == 1.0 for r in records)
    fp = sum(r.scores["pred_yes"] == 1.0 and r.scores["label_yes"] == 0.0 for r in records)
    fn = sum(r.scores["pred_yes"] == 0.0 and r.scores["label_yes"] == 1.0 for r in records)
    return tp, fp, fn


def precision(records: Sequence[Record]) -> float:
    tp, fp, _ = _counts(records)
    if not tp + fp:
        raise MetricUndefined("no answer read as yes: precision TP / (TP + FP) divides by zero")
    return 100.0 * tp / (tp + fp)


def recall(records: Sequence[Record]) -> float:
    tp, _, fn = _counts(records)
    if not tp + fn:
        raise MetricUndefined("no question whose label is yes: recall TP / (TP + FN) divides by zero")
    return 100.0 * tp / (tp + fn)


def f1(records: Sequence[Record]) -> float:
    p, r = precision(records), recall(records)
    if not p + r:
        raise MetricUndefined("precision and recall are both 0: F1 divides by zero")
    return 2 * p * r / (p + r)


def mean_category_f1(records: Sequence[Record]) -> float:
    by_category: dict[str, list[Record]] = {}
    for record in records:
        by_category.setdefault(str(record.meta.get("category")), []).append(record)
    return statistics.fmean(f1(group) for group in by_category.values())


def _per_category(category: str) -> tuple[Metric, ...]:
    where = meta_equals("category", category)
    reductions: tuple[tuple[str, Callable[[Sequence[Record]], float]], ...] = (
        ("precision", precision), ("recall", recall))
    return (
        Metric(name=f"{category}_f1", reduce=f1, where=where, reduces="custom"),
        mean_metric(f"{category}_accuracy", "correct", where=where),
        *(Metric(name=f"{category}_{name}", reduce=fn, where=where, reduces="custom") for name, fn in reductions),
        mean_metric(f"{category}_yes_ratio", "pred_yes", where=where),
    )


# F1, precision and recall are ratios of counts (and `f1` a mean of per-category F1s), not means of a
# per-question value: "custom" reductions get a jackknife interval; accuracy and yes-ratio are shares.
METRICS: tuple[Metric, ...] = (
    Metric(name="f1", reduce=mean_category_f1, reduces="custom"),
    mean_metric("accuracy", "correct"),
    *(metric for category in CATEGORIES for metric in _per_category(category)),
)


def summary_line(metrics: Mapping[str, float], n_samples: int) -> str:
    parts = ", ".join(f"{c} {metrics[f'{c}_f1']:.1f}" for c in CATEGORIES if f"{c}_f1" in metrics)
    return f"POPE F1 {metrics['f1']:.1f} ({parts}); accuracy {metrics['accuracy']:.1f}; {n_samples} questions"


# Demo rows in the hub's schema (`Task.demo_rows`: the contract test and `--data demo` read them).
def pope_row(i: int, category: str, answer: str) -> dict[str, Any]:
    """One row in the lmms-lab/POPE (default, test) schema."""
    return {"id": str(1000 + i), "question_id": str(i % 5), "question": f"Is there a dog in the image? ({i})",
            "answer": answer, "image_source": f"COCO_val2014_{i:012d}", "image": image_cell(png_bytes()),
            "category": category}


def demo_rows() -> list[dict[str, Any]]:
    return [pope_row(c * 10 + k, category, answer) for c, category in enumerate(("adversarial", "popular", "random"))
            for k, answer in enumerate(("yes", "no", "no"))]


@task("pope")
def pope() -> Task:
    return Task(
        description="POPE (adversarial, popular, random), LLaVA-1.5 prompt and eval_pope.py reading",
        data=DataSpec(hub="lmms-lab/POPE", split="test", size=9000,
                      columns=("id", "question_id", "question", "answer", "category"),
                      checks=(Text("question"), OneOf("answer", ("yes", "no")))),
        demo_rows=demo_rows,
        to_sample=to_sample,
        scorer=per_sample(score_one),
        metrics=METRICS,
        max_new_tokens=128,
        breakdowns=("category",),
        summary_line=summary_line,
    )
