"""TextVQA (Singh et al., "Towards VQA Models That Can Read", CVPR 2019), validation, as evaluated
by LLaVA-1.5.

Dataset: lmms-lab/textvqa, split validation (5,000 questions, 10 human answers each, `ocr_tokens`).
Prompt: LLaVA-1.5's `llava_textvqa_val_v051_ocr.jsonl`: the question, the OCR tokens, the
short-answer suffix (`{Question}\\nReference OCR token: {tokens joined by ", "}\\nAnswer the question
using a single word or phrase.`); max_new_tokens 128. LLaVA's file is public: haotian-liu/LLaVA
`playground/data/eval/textvqa/llava_textvqa_val_v051_ocr.jsonl` (5,000 lines). The dataset's questions
are lower-case; in LLaVA's file 4,995 start with a capital and none has a capital after its first
character (the other 5 start with no letter), so `str.capitalize()`, as lmms-eval's reproduction
does, gives LLaVA's question text (its `eval_textvqa.py` lower-cases it again to find the annotation).
Score: LLaVA's `llava/eval/eval_textvqa.py` with `m4c_evaluator.TextVQAAccuracyEvaluator` (from
facebookresearch/mmf): the EvalAI answer processor (`vlmeval.answers.vqa.evalai_normalize`, the
same processor, checked against m4c_evaluator.py) on the prediction and on each of the 10 answers,
unconditionally; the score is the mean over the 10 leave-one-out subsets of
min(1, matches among the other 9 / 3), 0 when the prediction matches no answer. Unlike VQAv2's
evaluator, nothing depends on whether the answers agree.
Reference: LLaVA-1.5 58.2 (7B), 61.3 (13B).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vlmeval_tasks._vqa_common import SHORT_ANSWER

from vlmeval.answers.vqa import evalai_normalize
from vlmeval.column_checks import Strings, Text
from vlmeval.demo_data import image_cell, png_bytes
from vlmeval.failure import Failure
from vlmeval.metrics import mean_metric
from vlmeval.task import DataSpec, Row, Sample, Scored, Task, per_sample, row_images, task

N_ANSWERS = 10  # m4c_evaluator asserts exactly ten answers per question


def to_sample(row: Row, index: int) -> Sample:
    answers = [str(a) for a in row["answers"]]
    if len(answers) != N_ANSWERS:
        raise ValueError(f"question {row['question_id']} has {len(answers)} answers; TextVQA has {N_ANSWERS}")
    tokens = ", ".join(str(t) for t in (row.get("ocr_tokens") or ()))
    return Sample(
        id=str(row["question_id"]),
        text=f"{str(row['question']).capitalize()}\nReference OCR token: {tokens}\n{SHORT_ANSWER}",
        images=row_images(row),
        target=answers,
    )


def m4c_accuracy(prediction: str, answers: Sequence[str]) -> float:
    """`TextVQAAccuracyEvaluator`'s score of one prediction (both sides EvalAI-processed)."""
    processed = [evalai_normalize(a) for a in answers]
    predicted = evalai_normalize(prediction)
    matches = [a == predicted for a in processed]
    total = 0.0
    for own in matches:  # annotator i left out; summed left to right as the official sum()
        total += min(1.0, (sum(matches) - own) / 3)
    return total / len(matches)


def score_one(sample: Sample, prediction: str | None) -> Scored:
    if prediction is None:
        return Scored(None, {"accuracy": 0.0}, Failure.ERROR)
    failure = None if prediction.strip() else Failure.EMPTY
    return Scored(evalai_normalize(prediction), {"accuracy": m4c_accuracy(prediction, sample.target)}, failure)


def summary_line(metrics: Mapping[str, float], n_samples: int) -> str:
    return f"Samples: {n_samples}\nAccuracy: {metrics['accuracy']:.2f}%"


# Demo rows in the hub's schema (`Task.demo_rows`: the contract test and `--data demo` read them).
def textvqa_row(i: int, answers: list[str]) -> dict[str, Any]:
    """One row in the lmms-lab/textvqa (validation) schema."""
    return {"image_id": f"img{i}", "question_id": 34602 + i, "question": f"what is written here {i}?",
            "question_tokens": ["what"], "image": image_cell(png_bytes()), "image_width": 32, "image_height": 32,
            "flickr_original_url": "", "flickr_300k_url": "", "answers": answers, "image_classes": ["Sign"],
            "set_name": "val", "ocr_tokens": ["STOP", "cola", "3:15"] if i % 2 else []}


def demo_rows() -> list[dict[str, Any]]:
    return [textvqa_row(i, answers) for i, answers in
            enumerate((["stop"] * 10, ["coca cola"] * 4 + ["coke"] * 6, ["3:15"] * 10))]


@task("textvqa_val")
def textvqa_val() -> Task:
    return Task(
        description="TextVQA validation, LLaVA-1.5 OCR-token prompt, m4c TextVQA accuracy",
        data=DataSpec(hub="lmms-lab/textvqa", split="validation", size=5000,
                      columns=("question_id", "question", "answers", "ocr_tokens"),
                      checks=(Text("question"), Strings("answers"))),
        demo_rows=demo_rows,
        to_sample=to_sample,
        scorer=per_sample(score_one),
        metrics=(mean_metric("accuracy", "accuracy"),),
        max_new_tokens=128,
        summary_line=summary_line,
    )
