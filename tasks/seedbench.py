"""SEED-Bench (Li et al., "SEED-Bench: Benchmarking Multimodal LLMs with Generative Comprehension",
CVPR 2024), image questions, as evaluated by LLaVA-1.5.

Dataset: lmms-lab/SEED-Bench, split test (17,990 rows); the rows with `data_type` image are the
14,233 image questions (9 evaluation dimensions, `question_type_id` 1-9); `image` holds a list of
one image. Options `choice_a..choice_d`, `answer` a letter.
Prompt: LLaVA-1.5's `llava-seed-bench.jsonl`: the question, `A. ...` to `D. ...` lines, then
`Answer with the option's letter from the given choices directly.`; max_new_tokens 128.
Score: LLaVA's `scripts/convert_seed_for_submission.py`: an answer is correct when the generated
text (stripped, as LLaVA's generation writes it) equals the answer letter; accuracy per dimension and
over all image questions ("image accuracy"). Anything but a bare letter A-D is therefore wrong, and
counted as failure `unparsed` (`empty` when there is no text).
Reference: LLaVA-1.5-13B SEED-IMG 68.2 (LLaVA model zoo).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vlmeval.answers.choice import option_lines
from vlmeval.demo_data import image_cell, png_bytes
from vlmeval.failure import Failure
from vlmeval.metrics import Metric, mean_metric, meta_equals
from vlmeval.task import DataSpec, Row, Sample, Scored, Task, per_sample, row_images, task

SUFFIX = "Answer with the option's letter from the given choices directly."
OPTION_LETTERS = ("A", "B", "C", "D")
# SEED-Bench.json `question_type` (image dimensions).
DIMENSIONS = {
    1: "scene_understanding", 2: "instance_identity", 3: "instance_attributes", 4: "instance_location",
    5: "instances_counting", 6: "spatial_relation", 7: "instance_interaction", 8: "visual_reasoning",
    9: "text_understanding",
}


def to_sample(row: Row, index: int) -> Sample:
    options = [str(row[f"choice_{letter}"]) for letter in "abcd"]
    dimension = DIMENSIONS.get(int(row["question_type_id"]))
    if dimension is None:
        raise ValueError(f"question_type_id {row['question_type_id']} is not an image dimension (1-9)")
    return Sample(
        id=str(row["question_id"]),
        text=f"{row['question']}\n{option_lines(options)}\n{SUFFIX}",
        images=row_images(row),
        target=str(row["answer"]),
        meta={"dimension": dimension},
    )


def score_one(sample: Sample, prediction: str | None) -> Scored:
    if prediction is None:
        return Scored(None, {"correct": 0.0}, Failure.ERROR)
    text = prediction.strip()
    failure = None if text in OPTION_LETTERS else (Failure.EMPTY if not text else Failure.UNPARSED)
    return Scored(text if failure is None else None, {"correct": float(text == sample.target)}, failure)


METRICS: tuple[Metric, ...] = (
    mean_metric("accuracy", "correct"),
    *(mean_metric(name, "correct", where=meta_equals("dimension", name)) for name in DIMENSIONS.values()),
)


def summary_line(metrics: Mapping[str, float], n_samples: int) -> str:
    return f"image accuracy: {metrics['accuracy']:.2f}% over {n_samples} image questions"


# Demo rows in the hub's schema (`Task.demo_rows`: the contract test and `--data demo` read them).
def seed_row(i: int, answer: str, type_id: int, data_type: str = "image") -> dict[str, Any]:
    """One row in the lmms-lab/SEED-Bench (test) schema; `image` is a list of images."""
    frames = 1 if data_type == "image" else 3
    return {"answer": answer, "choice_a": "a cat", "choice_b": "a dog", "choice_c": "a bird", "choice_d": "a fish",
            "data_id": f"{i}.jpg", "data_type": data_type, "question": f"What animal is shown? ({i})",
            "question_id": str(100 + i), "question_type_id": type_id,
            "image": [image_cell(png_bytes()) for _ in range(frames)], "segment": None}


def demo_rows() -> list[dict[str, Any]]:
    rows = [seed_row(i, "ABCD"[i % 4], type_id) for i, type_id in enumerate((1, 2, 5, 9))]
    return [*rows, seed_row(50, "A", 10, data_type="video")]  # not an image question: no sample


@task("seedbench_img")
def seedbench_img() -> Task:
    return Task(
        description="SEED-Bench image questions, LLaVA-1.5 prompt, exact-letter accuracy per dimension",
        data=DataSpec(
            hub="lmms-lab/SEED-Bench",
            split="test",
            size=14_233,
            columns=("question_id", "question", "choice_a", "choice_b", "choice_c", "choice_d", "answer",
                     "question_type_id", "data_type"),
            keep=lambda row: row["data_type"] == "image",
        ),
        demo_rows=demo_rows,
        to_sample=to_sample,
        scorer=per_sample(score_one),
        metrics=METRICS,
        max_new_tokens=128,
        breakdowns=("dimension",),
        summary_line=summary_line,
    )
