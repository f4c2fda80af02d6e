"""VizWiz-VQA (Gurari et al., "VizWiz Grand Challenge", CVPR 2018), as evaluated by LLaVA-1.5.

Dataset: lmms-lab/VizWiz-VQA, splits val (4,319 questions, 10 human answers each; `category` is
the answer type: yes/no, number, other, unanswerable) and test (8,000, answers hidden).
`question_id` is the image file name without `.jpg` (`VizWiz_val_00000000`).
Prompt: LLaVA-1.5's, which asks for 'Unanswerable' when the image does not tell.
Score: the EvalAI answer processor on the prediction (the answer LLaVA submits), then VizWiz's own
evaluator (VizWiz API `vqaEval.py` by Qing Li, the one the challenge server runs:
`vlmeval.answers.vqa.vizwiz_accuracy`), overall and on the unanswerable questions. It differs from
VQAv2's: the submitted answer is always normalised (with its curly-apostrophe contraction table) and
compared with the raw human answers, never normalised. The test split writes EvalAI's `submission.json`
(`[{"image": "<question_id>.jpg", "answer": str}]`, as LLaVA's
`scripts/convert_vizwiz_for_submission.py`).
Reference: LLaVA-1.5 test accuracy 50.0 (7B), 53.6 (13B); the instruction raised unanswerable
accuracy from 11.1 to 67.8 in the LLaVA-1.5 paper.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from vlmeval_tasks._vqa_common import SHORT_ANSWER, gt_answers, submitted_answers, vqa_task, write_submission

from vlmeval.answers.vqa import vizwiz_accuracies
from vlmeval.column_checks import Strings
from vlmeval.demo_data import image_cell, png_bytes
from vlmeval.metrics import mean_metric, meta_equals
from vlmeval.task import Row, Sample, ScoreContext, Task, row_images, task

HUB = "lmms-lab/VizWiz-VQA"
SUFFIX = f"When the provided information is insufficient, respond with 'Unanswerable'.\n{SHORT_ANSWER}"


def to_sample(row: Row, index: int) -> Sample:
    return Sample(
        id=str(row["question_id"]),
        text=f"{row['question']}\n{SUFFIX}",
        images=row_images(row),
        target=gt_answers(row.get("answers")),
        meta={"answer_type": row.get("category")},
    )


def image_name(question_id: str) -> str:
    """The image file EvalAI keys VizWiz answers by."""
    return question_id if question_id.endswith(".jpg") else f"{question_id}.jpg"


def write_submission_file(
    samples: Sequence[Sample], predictions: Sequence[str | None], context: ScoreContext
) -> list[str]:
    answers = submitted_answers(predictions)
    entries = [{"image": image_name(s.id), "answer": a} for s, a in zip(samples, answers, strict=True)]
    return write_submission(context.output_folder, entries)


# Demo rows in the hub's schema (`Task.demo_rows`: the contract test and `--data demo` read them).
def vizwiz_row(qid: str, answers: list[str] | None, category: str | None = "other",
               question: str = "What is this?", image: bytes | None = None) -> dict[str, Any]:
    """One row in the lmms-lab/VizWiz-VQA schema; `answers=None` as on the test split."""
    return {"question_id": qid, "image": image_cell(image), "question": question,
            "answers": answers, "category": category}


def demo_rows(with_answers: bool) -> list[dict[str, Any]]:
    split = "val" if with_answers else "test"
    return [vizwiz_row(f"VizWiz_{split}_{i:08d}", (["unanswerable"] * 10 if i == 0 else ["basil"] * 10)
                       if with_answers else None, category=("unanswerable", "other")[i % 2] if with_answers
                       else None, question=f"What is this? ({i})", image=png_bytes()) for i in range(4)]


def _vizwiz(split: str, size: int, answered: bool) -> Task:
    return vqa_task(
        description=f"VizWiz-VQA {split}, LLaVA-1.5 prompt, EvalAI-normalised answer, VizWiz's evaluator",
        hub=HUB, split=split, size=size, answered=answered, answer_columns=("answers", "category"),
        answers=Strings("answers", nullable=not answered), to_sample=to_sample, accuracies=vizwiz_accuracies,
        metrics=(mean_metric("unanswerable", "accuracy", where=meta_equals("answer_type", "unanswerable")),),
        demo_rows=partial(demo_rows, answered), write_artifacts=write_submission_file,
    )


@task("vizwiz_val")
def vizwiz_val() -> Task:
    return _vizwiz("val", 4_319, answered=True)


@task("vizwiz_test")
def vizwiz_test() -> Task:
    return _vizwiz("test", 8_000, answered=False)
