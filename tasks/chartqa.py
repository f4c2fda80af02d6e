"""ChartQA (Masry et al., Findings of ACL 2022), test split: human-written and augmented questions.

Dataset: lmms-lab/ChartQA, split test (2,500 = 1,250 `human_test` + 1,250 `augmented_test`, built by
lmms-eval's `upload_chartqa.py` from the official test_human.json then test_augmented.json). No id
column: sample id = row position.
Prompt: the question and the short-answer suffix (`\\nAnswer the question using a single word or
phrase.`, VLMEvalKit `ChartQA_TEST` and the LLaVA-style runs DeepSeek-VL2 and Phi-3.5-vision
report); max_new_tokens 32 (lmms-eval's 16 truncates verbose models). `chartqa_lmms` is lmms-eval's
variant (`\\nAnswer the question with a single word.`, max_new_tokens 16).
Score: relaxed accuracy as google-research/pix2struct `metrics.py::relaxed_correctness` (5b086ef5),
which lmms-eval and VLMEvalKit copy (the ChartQA repo ships no scorer): both sides parsed as floats
(`%` divides by 100), correct within 5% of the target; otherwise, and when the target is 0,
case-insensitive exact string match. Overall = mean over all questions; `human` and `augmented`
are the two parts (the papers' "ChartQA" is overall, equal to their mean as the parts are equal).
Deviation: the generation is stripped once (as VLMEvalKit; pix2struct and lmms-eval pass it raw).
Reference: DeepSeek-VL2 81.0 / 84.5 / 86.0 (Tiny / Small / base), Phi-3.5-vision 81.8.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from vlmeval_tasks._vqa_common import SHORT_ANSWER, bare_question_token

from vlmeval.demo_data import image_cell, png_bytes
from vlmeval.failure import Failure
from vlmeval.metrics import mean_metric, meta_equals
from vlmeval.task import DataSpec, Row, Sample, Scored, Task, per_sample, task
from vlmeval.column_checks import OneOf, Text

PARTS = {"human": "human_test", "augmented": "augmented_test"}
TOLERANCE = 0.05
LMMS_SUFFIX = "Answer the question with a single word."  # lmms-eval chartqa.yaml (max_new_tokens 16)


def _to_float(text: str) -> float | None:
    try:
        if text.endswith("%"):
            return float(text.rstrip("%")) / 100.0  # a percentage becomes a fraction
        return float(text)
    except ValueError:
        return None


def relaxed_correctness(target: str, prediction: str) -> bool:
    """pix2struct's rule: within 5% of a non-zero numeric target, else case-insensitive equality."""
    prediction_float, target_float = _to_float(prediction), _to_float(target)
    if prediction_float is not None and target_float:  # a target of 0 falls to the string test
        return abs(prediction_float - target_float) / abs(target_float) <= TOLERANCE
    return prediction.lower() == target.lower()


def to_sample_with(suffix: str) -> Callable[[Row, int], Sample]:
    def to_sample(row: Row, index: int) -> Sample:
        image = row.get("image")
        return Sample(
            id=str(index),
            text=f"{row['question']}\n{suffix}",
            images=(image,) if image is not None else (),
            target=str(row["answer"]),
            meta={"type": row["type"], **bare_question_token(str(row["question"]))},
        )

    return to_sample


def score_one(sample: Sample, prediction: str | None) -> Scored:
    if prediction is None:
        return Scored(None, {"relaxed": 0.0}, Failure.ERROR)
    answer = prediction.strip()
    return Scored(answer, {"relaxed": float(relaxed_correctness(sample.target, answer))},
                  None if answer else Failure.EMPTY)


def summary_line(metrics: Mapping[str, float], n_samples: int) -> str:
    parts = ", ".join(f"{name} {metrics[name]:.2f}" for name in PARTS if name in metrics)
    return f"ChartQA relaxed accuracy: {metrics['relaxed_accuracy']:.2f} ({parts}; {n_samples} questions)"


def demo_rows() -> list[dict[str, Any]]:
    """Rows in lmms-lab/ChartQA's test schema."""
    cases = [("human_test", "How many bars exceed 40?", "3"), ("human_test", "Which year had the peak?", "2019"),
             ("augmented_test", "What is the share of Asia?", "45%"), ("augmented_test", "Is blue larger?", "Yes")]
    return [{"type": kind, "question": q, "answer": a, "image": image_cell(png_bytes((20 * i, 90, 200)))}
            for i, (kind, q, a) in enumerate(cases)]


def _chartqa(name: str, suffix: str, prompt: str, max_new_tokens: int) -> Task:
    return Task(
        description=f"ChartQA test (human + augmented), {prompt} prompt, pix2struct relaxed accuracy",
        data=DataSpec(hub="lmms-lab/ChartQA", split="test", size=2500, columns=("type", "question", "answer"),
                      checks=(OneOf("type", tuple(PARTS.values())), Text("question"), Text("answer"))),
        to_sample=to_sample_with(suffix),
        scorer=per_sample(score_one),
        metrics=(mean_metric("relaxed_accuracy", "relaxed"),
                 *(mean_metric(name, "relaxed", where=meta_equals("type", kind)) for name, kind in PARTS.items())),
        max_new_tokens=max_new_tokens,
        breakdowns=("type",),
        summary_line=summary_line,
        demo_rows=demo_rows,
    )


@task("chartqa")
def chartqa() -> Task:
    return _chartqa("chartqa", SHORT_ANSWER, "short-answer (VLMEvalKit)", 32)


@task("chartqa_lmms")
def chartqa_lmms() -> Task:
    return _chartqa("chartqa_lmms", LMMS_SUFFIX, "lmms-eval single-word", 16)
