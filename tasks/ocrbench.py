"""OCRBench v1 (Liu et al., "OCRBench: On the Hidden Mystery of OCR in Large Multimodal Models", 2024).

Dataset: echo840/OCRBench, split test (1,000 questions from OCRBench.json of Yuliang-Liu/MultimodalOCR):
columns `dataset` (source dataset), `question`, `question_type` (one of ten types), `answer` (list),
`image`. No id column: sample id = row position.
Prompts (two tasks, one definition): `ocrbench` sends the bare question (the template `example.py`,
lmms-eval and VLMEvalKit, how DeepSeek-VL2 was reproduced); `ocrbench_llava` adds LLaVA's suffix
(`scripts/LLaVA1_5.py`, behind the paper's LLaVA-1.5 row). max_new_tokens 128.
Score: the loop every OCRBench script ends with (794c36d6): a question is right when one of its
answers is a substring of the prediction; HME100k rows compare with every space removed and keep
case; the other rows compare lower-cased; both sides stripped, newlines read as spaces. No
full-width folding, no punctuation removal (the drift in later lmms-eval copies is not followed).
Points are summed per type; text recognition is the sum of the six recognition types; `final_score`
(0-1000) the sum of the five groups; `accuracy` = 100 x mean = final_score / 10 on the 1,000 questions.
Reference: DeepSeek-VL2 809 / 834 / 811 (Tiny / Small / base); LLaVA-1.5 297 (7B), 331 (13B).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vlmeval_tasks._vqa_common import SHORT_ANSWER, bare_question_token

from vlmeval.demo_data import image_cell, png_bytes
from vlmeval.failure import Failure
from vlmeval.metrics import Metric, Record, mean_metric, meta_equals
from vlmeval.task import DataSpec, Row, Sample, Scored, Task, per_sample, task
from vlmeval.column_checks import OneOf, Strings, Text

RECOGNITION = ("Regular Text Recognition", "Irregular Text Recognition", "Artistic Text Recognition",
               "Handwriting Recognition", "Digit String Recognition", "Non-Semantic Text Recognition")
OTHER_GROUPS = ("Scene Text-centric VQA", "Doc-oriented VQA", "Key Information Extraction",
                "Handwritten Mathematical Expression Recognition")
TYPES = RECOGNITION + OTHER_GROUPS
HME = "HME100k"  # the one source dataset compared case-sensitively without spaces


def is_hit(prediction: str, answers: Sequence[str], dataset: str) -> bool:
    """The OCRBench scripts' test: some answer is a substring of the prediction."""
    if dataset == HME:
        def norm(text: str) -> str:
            return text.strip().replace("\n", " ").replace(" ", "")
    else:
        def norm(text: str) -> str:
            return text.lower().strip().replace("\n", " ")
    return any(norm(answer) in norm(prediction) for answer in answers)


def snake(label: str) -> str:
    return "_".join("".join(c if c.isalnum() else " " for c in label.lower()).split())


def to_sample_with(suffix: str) -> Any:
    def to_sample(row: Row, index: int) -> Sample:
        image = row.get("image")
        answers = row["answer"]
        return Sample(
            id=str(index),
            text=f"{row['question']}{suffix}",
            images=(image,) if image is not None else (),
            target=[answers] if isinstance(answers, str) else [str(a) for a in answers],
            meta={"type": row["question_type"], "dataset": row["dataset"], **bare_question_token(str(row["question"]))},
        )

    return to_sample


def score_one(sample: Sample, prediction: str | None) -> Scored:
    if prediction is None:
        return Scored(None, {"correct": 0.0}, Failure.ERROR)
    answer = prediction.strip()
    hit = is_hit(answer, sample.target, str(sample.meta["dataset"]))
    return Scored(answer, {"correct": float(hit)}, None if answer else Failure.EMPTY)


def _points(records: Sequence[Record]) -> float:
    return sum(r.scores.get("correct", 0.0) for r in records)


def points_metric(name: str, types: tuple[str, ...]) -> Metric:
    return Metric(name=name, reduce=_points, where=meta_equals("type", *types), scale="points", reduces="sum")


METRICS: tuple[Metric, ...] = (
    points_metric("final_score", TYPES),
    mean_metric("accuracy", "correct"),
    points_metric("text_recognition", RECOGNITION),
    *(points_metric(snake(t), (t,)) for t in TYPES),
)


def summary_line(metrics: Mapping[str, float], n_samples: int) -> str:
    return (f"Text Recognition(Total 300): {metrics.get('text_recognition', 0):.0f}\n"
            f"Final Score(Total 1000): {metrics.get('final_score', 0):.0f} ({n_samples} questions)")


def demo_rows() -> list[dict[str, Any]]:
    """Rows in echo840/OCRBench's test schema."""
    cases = [("IIIT5K", "Regular Text Recognition", "what is written in the image?", ["CENTRE"]),
             ("HME100k", "Handwritten Mathematical Expression Recognition",
              "Please write out the expression of the formula in the image using LaTeX format.", ["x ^ { 2 }"]),
             ("SROIE", "Key Information Extraction", "what is the total?", ["39"]),
             ("docVQA", "Doc-oriented VQA", "What is the date?", ["May 3", "3 May"])]
    return [{"dataset": d, "question": q, "question_type": t, "answer": a, "image": image_cell(png_bytes())}
            for d, t, q, a in cases]


def _ocrbench(name: str, suffix: str, prompt: str) -> Task:
    return Task(
        description=f"OCRBench v1 test, {prompt} prompt, the OCRBench scripts' substring scoring",
        data=DataSpec(hub="echo840/OCRBench", split="test", size=1000,
                      columns=("dataset", "question", "question_type", "answer"),
                      checks=(Text("question"), Text("dataset"), OneOf("question_type", TYPES), Strings("answer"))),
        to_sample=to_sample_with(suffix),
        scorer=per_sample(score_one),
        metrics=METRICS,
        max_new_tokens=128,
        breakdowns=("type",),
        summary_line=summary_line,
        demo_rows=demo_rows,
    )


@task("ocrbench")
def ocrbench() -> Task:
    return _ocrbench("ocrbench", "", "bare-question")


@task("ocrbench_llava")
def ocrbench_llava() -> Task:
    return _ocrbench("ocrbench_llava", f"\n{SHORT_ANSWER}", "LLaVA-1.5 short-answer")
