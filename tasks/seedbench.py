"""SEED-Bench (Li et al., "SEED-Bench: Benchmarking Multimodal LLMs with Generative Comprehension",
CVPR 2024), as evaluated by LLaVA-1.5: `seedbench` (all 17,990 questions, image and video: the "SEED"
of LLaVA's model zoo, `docs/MODEL_ZOO.md`) and `seedbench_img` (the 14,233 image questions: the
LLaVA-1.5 paper's "SEED-IMG").

Dataset: lmms-lab/SEED-Bench, split test; `data_type` image (9 dimensions, `question_type_id` 1-9)
or video (dimensions 10-12); `image` holds a list: one image, or a video's frames. Options
`choice_a..choice_d`, `answer` a letter. The official question list holds image question 49914
twice (LLaVA-1.5's upload file shows both rows): the second row's sample id is `49914#2`, and the
report counts such rows; each is scored on its own, as `convert_seed_for_submission.py` counts
every row of SEED-Bench.json.
Video questions are asked on one frame, as LLaVA-1.5 does (`scripts/v1_5/eval/seed.sh` runs the
video questions on the frame `playground/data/eval/seed_bench/extract_video_frames.py` saves:
`get_index(n, 1)` = frame int((n - 1) / 2) of the question's n frames, the middle one). Here the rule
is applied to the frames the dataset row holds: frame int((n - 1) / 2) of its list. LLaVA cut its
frame from the raw video's segment; the hub's frames are a sampling of that segment, so the two
frames can differ by a few frames of video.
Prompt: LLaVA-1.5's `llava-seed-bench.jsonl`: the question, `A. ...` to `D. ...` lines, then
`Answer with the option's letter from the given choices directly.`; max_new_tokens 128.
Score: LLaVA's `scripts/convert_seed_for_submission.py`: an answer is correct when the generated
text (stripped, as LLaVA's generation writes it) equals the answer letter; accuracy per dimension,
over image and video questions (`image_accuracy`, `video_accuracy`) and over all (`accuracy`).
Anything but a bare letter A-D is therefore wrong, and counted as failure `unparsed` (`empty`
when there is no text).
Reference: LLaVA-1.5-13B SEED 61.6, 7B 58.6 (LLaVA model zoo); 13B SEED-IMG 68.2 (the LLaVA-1.5 paper).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from vlmeval.answers.choice import option_lines
from vlmeval.demo_data import image_cell, png_bytes
from vlmeval.failure import Failure
from vlmeval.metrics import Metric, mean_metric, meta_equals
from vlmeval.task import DataSpec, Row, Sample, Scored, Task, per_sample, row_images, task

SUFFIX = "Answer with the option's letter from the given choices directly."
OPTION_LETTERS = ("A", "B", "C", "D")
# SEED-Bench.json `question_type` (image dimensions).
IMAGE_DIMENSIONS = {
    1: "scene_understanding", 2: "instance_identity", 3: "instance_attributes", 4: "instance_location",
    5: "instances_counting", 6: "spatial_relation", 7: "instance_interaction", 8: "visual_reasoning",
    9: "text_understanding",
}
VIDEO_DIMENSIONS = {10: "action_recognition", 11: "action_prediction", 12: "procedure_understanding"}
DIMENSIONS = {**IMAGE_DIMENSIONS, **VIDEO_DIMENSIONS}


def middle_frame(frames: int) -> int:
    """extract_video_frames.py's `get_index(frames, num_segments=1)`: int((frames - 1) / 2)."""
    return int((frames - 1) / 2)


def to_sample(row: Row, index: int) -> Sample:
    options = [str(row[f"choice_{letter}"]) for letter in "abcd"]
    data_type = str(row["data_type"])
    dimensions = VIDEO_DIMENSIONS if data_type == "video" else IMAGE_DIMENSIONS
    dimension = dimensions.get(int(row["question_type_id"]))
    if dimension is None:
        raise ValueError(f"question_type_id {row['question_type_id']} is not a {data_type} dimension "
                         f"({min(dimensions)}-{max(dimensions)})")
    images = row_images(row)
    if data_type == "video":  # one frame of the video's, as LLaVA asks
        images = tuple(image.frame(middle_frame) for image in images)
    return Sample(
        id=str(row["question_id"]),
        text=f"{row['question']}\n{option_lines(options)}\n{SUFFIX}",
        images=images,
        target=str(row["answer"]),
        meta={"dimension": dimension, "data_type": data_type},
    )


def score_one(sample: Sample, prediction: str | None) -> Scored:
    if prediction is None:
        return Scored(None, {"correct": 0.0}, Failure.ERROR)
    text = prediction.strip()
    failure = None if text in OPTION_LETTERS else (Failure.EMPTY if not text else Failure.UNPARSED)
    return Scored(text if failure is None else None, {"correct": float(text == sample.target)}, failure)


def _metrics(dimensions: dict[int, str], with_video: bool) -> tuple[Metric, ...]:
    by_type = (mean_metric("image_accuracy", "correct", where=meta_equals("data_type", "image")),
               mean_metric("video_accuracy", "correct", where=meta_equals("data_type", "video")))
    return (mean_metric("accuracy", "correct"), *(by_type if with_video else ()),
            *(mean_metric(name, "correct", where=meta_equals("dimension", name)) for name in dimensions.values()))


def _summary(what: str) -> Callable[[Mapping[str, float], int], str]:
    return lambda metrics, n: f"{what} accuracy: {metrics['accuracy']:.2f}% over {n} questions"


# Demo rows in the hub's schema (`Task.demo_rows`: the contract test and `--data demo` read them).
def seed_row(i: int, answer: str, type_id: int, data_type: str = "image") -> dict[str, Any]:
    """One row in the lmms-lab/SEED-Bench (test) schema; `image` is a list of images (a video's: 3 frames)."""
    frames = 1 if data_type == "image" else 3
    return {"answer": answer, "choice_a": "a cat", "choice_b": "a dog", "choice_c": "a bird", "choice_d": "a fish",
            "data_id": f"{i}.jpg", "data_type": data_type, "question": f"What animal is shown? ({i})",
            "question_id": str(100 + i), "question_type_id": type_id,
            "image": [image_cell(png_bytes((40 * k, 90, 90))) for k in range(frames)], "segment": None}


def demo_rows() -> list[dict[str, Any]]:
    """Image questions, one whose id repeats (as 49914 does in the official list), a video question."""
    rows = [seed_row(i, "ABCD"[i % 4], type_id) for i, type_id in enumerate((1, 2, 5, 9))]
    rows[2]["question_id"] = rows[1]["question_id"]
    return [*rows, seed_row(50, "A", 10, data_type="video")]


def seedbench_task(name: str, with_video: bool) -> Task:
    kept = ("image", "video") if with_video else ("image",)
    return Task(
        name=name,
        description=("SEED-Bench image and video questions (video: the middle frame, LLaVA's rule), "
                     "LLaVA-1.5 prompt, exact-letter accuracy (the zoo's SEED)") if with_video else
                    "SEED-Bench image questions, LLaVA-1.5 prompt, exact-letter accuracy (the paper's SEED-IMG)",
        data=DataSpec(
            hub="lmms-lab/SEED-Bench",
            split="test",
            size=17_990 if with_video else 14_233,
            columns=("question_id", "question", "choice_a", "choice_b", "choice_c", "choice_d", "answer",
                     "question_type_id", "data_type"),
            keep=lambda row: row["data_type"] in kept,
            repeated_ids=True,  # image question 49914 is listed twice
        ),
        demo_rows=demo_rows,
        to_sample=to_sample,
        scorer=per_sample(score_one),
        metrics=_metrics(DIMENSIONS if with_video else IMAGE_DIMENSIONS, with_video),
        max_new_tokens=128,
        breakdowns=("dimension",),
        summary_line=_summary("SEED" if with_video else "SEED-IMG image"),
    )


task("seedbench_img")(lambda: seedbench_task("seedbench_img", with_video=False))
task("seedbench")(lambda: seedbench_task("seedbench", with_video=True))
