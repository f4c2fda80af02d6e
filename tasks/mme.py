"""MME (Fu et al., "MME: A Comprehensive Evaluation Benchmark for Multimodal Large Language Models",
arXiv 2306.13394), perception and cognition, as evaluated by LLaVA-1.5.

Dataset: lmms-lab/MME, split test (2,374 yes/no questions, two per image: perception 2,114 in 10
subtasks, cognition 260 in 4); columns `question_id` (the image), `question`, `answer` (Yes/No),
`category` (`existence` ... `artwork`, `OCR`, `commonsense_reasoning` ... `code_reasoning`).
Sample id: the row's position. Prompt: LLaVA-1.5's `llava_mme.jsonl`: the trailing
`Please answer yes or no.` and the space(s) before it are replaced by `\\nAnswer the question using a
single word or phrase.` (seven ground-truth questions have two spaces there; LLaVA's prompt has
none left, e.g. `Is there a brown giraffe in the image?\\nAnswer ...`); max_new_tokens 128.
Parser: the official eval tool's (`vlmeval.answers.yesno`); `other` answers are wrong and counted
(failure "other"). Scores, in points (official `calculation.py`): per subtask, acc = share of
questions right, acc+ = share of images with both questions right, score = 100*acc + 100*acc+
(max 200); perception = sum of its 10 subtask scores (max 2000), cognition of its 4 (max 800).
Questions are paired by (category, question_id), not by line order. A subtask whose every answer
failed is reported missing (with the reason), and so is the perception or cognition sum holding it.
Metrics: `perception`, `cognition`, each subtask's score (`existence`, ..., `ocr`, ...,
`code_reasoning`), and per subtask `<subtask>_acc` and `<subtask>_acc_plus` in percent.
Reference: LLaVA-1.5-7B perception 1510.7, LLaVA-1.5-13B 1531.3 and cognition 295.36.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vlmeval.answers.yesno import NO, OTHER, YES, mme_yes_no
from vlmeval.column_checks import OneOf, Text
from vlmeval.demo_data import png_bytes
from vlmeval.failure import Failure
from vlmeval.metrics import Metric, MetricUndefined, Record, meta_equals
from vlmeval.task import DataSpec, Row, Sample, Scored, Task, per_sample, row_images, task

PERCEPTION = ("existence", "count", "position", "color", "posters", "celebrity", "scene", "landmark",
              "artwork", "ocr")
COGNITION = ("commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning")
SUBTASKS = PERCEPTION + COGNITION
SUFFIX = "Answer the question using a single word or phrase."
_ASK_YES_NO = re.compile(r"\s*Please answer yes or no\.\s*$")


def subtask_of(category: str) -> str:
    """The metric name of an MME category: `OCR` -> `ocr`, others as they are."""
    name = category.strip().lower().replace(" ", "_")
    if name not in SUBTASKS:
        raise ValueError(f"unknown MME category {category!r} (expected one of {', '.join(SUBTASKS)})")
    return name


def prompt(question: str) -> str:
    return f"{_ASK_YES_NO.sub('', question)}\n{SUFFIX}"


def to_sample(row: Row, index: int) -> Sample:
    target = str(row["answer"]).strip().lower()
    if target not in (YES, NO):
        raise ValueError(f"answer {row['answer']!r} is not Yes or No")
    subtask = subtask_of(str(row["category"]))
    return Sample(
        id=str(index),
        text=prompt(str(row["question"])),
        images=row_images(row),
        target=target,
        meta={
            "category": row["category"],
            "subtask": subtask,
            "question_id": row["question_id"],
            "pair": f"{subtask}/{row['question_id']}",
        },
    )


def score_one(sample: Sample, prediction: str | None) -> Scored:
    if prediction is None:
        return Scored(answer=None, scores={"correct": 0.0}, failure=Failure.ERROR)
    parsed = mme_yes_no(prediction)
    failure = Failure.OTHER if parsed == OTHER else None
    return Scored(answer=parsed, scores={"correct": float(parsed == sample.target)}, failure=failure)


def pair_key(record: Record) -> str:
    """The image a question is asked about: (category, question_id)."""
    return str(record.meta["pair"])


def acc_and_plus(records: Sequence[Record]) -> tuple[float, float]:
    """acc (share of questions right) and acc+ (share of images with every question right).

    acc+ is counted per question (each question carries whether its image is all right): with
    MME's two questions per image (the official tool asserts it) this is the share of images, and
    it stays consistent when a bootstrap draws an image twice.
    """
    all_right: dict[str, bool] = {}
    for record in records:
        key = pair_key(record)
        all_right[key] = all_right.get(key, True) and record.scores.get("correct", 0.0) == 1.0
    acc = sum(r.scores.get("correct", 0.0) for r in records) / len(records)
    plus = sum(all_right[pair_key(r)] for r in records) / len(records)
    return acc, plus


def subtask_score(records: Sequence[Record]) -> float:
    acc, plus = acc_and_plus(records)
    return 100.0 * acc + 100.0 * plus


def total_score(records: Sequence[Record]) -> float:
    """The sum of the subtask scores of the subtasks present (perception or cognition).

    A subtask whose every answer failed has no score (it is reported missing), so neither has the
    sum: its 0 would read as a real, low total."""
    by_subtask: dict[str, list[Record]] = {}
    for record in records:
        by_subtask.setdefault(str(record.meta["subtask"]), []).append(record)
    empty = [name for name, members in by_subtask.items() if all(r.failure for r in members)]
    if empty:
        raise MetricUndefined(f"no valid answer in subtask {', '.join(empty)}: its score, and the sum, are missing")
    return sum(subtask_score(members) for members in by_subtask.values())


def _percent(part: int) -> Callable[[Sequence[Record]], float]:
    return lambda records: 100.0 * acc_and_plus(records)[part]


def _subtask_metrics(subtask: str) -> tuple[Metric, ...]:
    where = meta_equals("subtask", subtask)
    return (
        # acc and acc+ are counted per question (acc_and_plus), so all three are record means
        Metric(name=subtask, reduce=subtask_score, where=where, unit=pair_key, scale="points",
               reduces="record_mean"),
        Metric(name=f"{subtask}_acc", reduce=_percent(0), where=where, unit=pair_key, reduces="record_mean"),
        Metric(name=f"{subtask}_acc_plus", reduce=_percent(1), where=where, unit=pair_key,
               reduces="record_mean"),
    )


METRICS: tuple[Metric, ...] = (
    Metric(name="perception", reduce=total_score, where=meta_equals("subtask", *PERCEPTION),
           unit=pair_key, scale="points"),
    Metric(name="cognition", reduce=total_score, where=meta_equals("subtask", *COGNITION),
           unit=pair_key, scale="points"),
    *(metric for subtask in SUBTASKS for metric in _subtask_metrics(subtask)),
)


def summary_line(metrics: Mapping[str, float], n_samples: int) -> str:
    parts = [f"{name} {metrics[name]:.2f}" for name in ("perception", "cognition") if name in metrics]
    return f"MME {', '.join(parts)} (points; {n_samples} questions)"


# Demo rows in the hub's schema (`Task.demo_rows`: the contract test and `--data demo` read them).
def mme_row(question_id: str, question: str, answer: str, category: str) -> dict[str, Any]:
    """One row in the lmms-lab/MME schema."""
    return {"question_id": question_id, "image": {"bytes": png_bytes(), "path": None},
            "question": question, "answer": answer, "category": category}


def demo_rows() -> list[dict[str, Any]]:
    return [mme_row(f"{name}.jpg", f"Is there a {name}? Please answer yes or no.", answer, category)
            for category, name in (("existence", "cat"), ("OCR", "sign"), ("code_reasoning", "code"))
            for answer in ("Yes", "No")]


@task("mme")
def mme() -> Task:
    return Task(
        description="MME perception and cognition, LLaVA-1.5 prompt, official parser and scores",
        data=DataSpec(hub="lmms-lab/MME", split="test", size=2374,
                      columns=("question_id", "question", "answer", "category"),
                      checks=(Text("question"), OneOf("answer", ("Yes", "No")), Text("category"))),
        demo_rows=demo_rows,
        to_sample=to_sample,
        scorer=per_sample(score_one),
        metrics=METRICS,
        max_new_tokens=128,
        summary_line=summary_line,
    )
