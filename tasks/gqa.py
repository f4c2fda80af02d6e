"""GQA (Hudson & Manning, "GQA: A New Dataset for Real-World Visual Reasoning and Compositional
Question Answering", CVPR 2019), test-dev balanced, as evaluated by LLaVA-1.5.

Dataset: lmms-lab/GQA, config `testdev_balanced_instructions`, split testdev (12,578 questions:
`id, imageId, question, answer, fullAnswer, isBalanced, groups, entailed, equivalent, types,
annotations, semantic, semanticStr`), joined on `imageId` with the `id` of config
`testdev_balanced_images` (398 images). Locally, `--data` is a folder holding both configs in the
hub's layout (`testdev_balanced_instructions/testdev-*.parquet`, `testdev_balanced_images/...`).
Prompt: LLaVA-1.5's short-answer suffix; max_new_tokens 128.
Score: LLaVA's `scripts/convert_gqa_for_eval.py` turns the answer into `text.rstrip('.').lower()`
(after its generation script's `strip()`); GQA's official `eval.py` counts it correct when it equals
`answer`, over the balanced questions (`isBalanced`), overall, `binary` / `open` (open: structural
type `query`) and per structural and semantic type.
Reference: LLaVA-1.5 62.0 (7B), 63.3 (13B).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vlmeval_tasks._vqa_common import SHORT_ANSWER

from vlmeval.demo_data import image_cell, png_bytes
from vlmeval.failure import Failure
from vlmeval.metrics import Metric, mean_metric, meta_equals
from vlmeval.task import DataSpec, ImageJoin, Row, Sample, Scored, Task, per_sample, row_images, task

STRUCTURAL = ("verify", "query", "choose", "logical", "compare")
SEMANTIC = ("rel", "attr", "obj", "cat", "global")


def to_sample(row: Row, index: int) -> Sample:
    types = row["types"] or {}
    structural = types.get("structural")
    return Sample(
        id=str(row["id"]),
        text=f"{row['question']}\n{SHORT_ANSWER}",
        images=row_images(row),
        target=str(row["answer"]),
        meta={"image_id": str(row["imageId"]), "structural": structural, "semantic": types.get("semantic"),
              "answer_type": "open" if structural == "query" else "binary"},
    )


def gqa_answer(prediction: str) -> str:
    """LLaVA's conversion of a (stripped) answer for GQA's evaluator."""
    return prediction.strip().rstrip(".").lower()


def score_one(sample: Sample, prediction: str | None) -> Scored:
    if prediction is None:
        return Scored(None, {"correct": 0.0}, Failure.ERROR)
    answer = gqa_answer(prediction)
    failure = None if answer else Failure.EMPTY
    return Scored(answer, {"correct": float(answer == sample.target)}, failure)


METRICS: tuple[Metric, ...] = (
    mean_metric("accuracy", "correct"),
    mean_metric("binary", "correct", where=meta_equals("answer_type", "binary")),
    mean_metric("open", "correct", where=meta_equals("answer_type", "open")),
    *(mean_metric(f"structural_{t}", "correct", where=meta_equals("structural", t)) for t in STRUCTURAL),
    *(mean_metric(f"semantic_{t}", "correct", where=meta_equals("semantic", t)) for t in SEMANTIC),
)


def summary_line(metrics: Mapping[str, float], n_samples: int) -> str:
    return (f"GQA test-dev balanced accuracy {metrics['accuracy']:.2f}% (binary {metrics.get('binary', 0):.2f}%, "
            f"open {metrics.get('open', 0):.2f}%); {n_samples} questions")


# Demo rows in the hub's schema (`Task.demo_rows`: the contract test and `--data demo` read them).
_DEMO_COLORS = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220)}
GQA_IMAGES = {"n1": "red", "n2": "green", "n3": "blue"}


def gqa_row(i: int, answer: str, structural: str, semantic: str, balanced: bool = True) -> dict[str, Any]:
    """One row of lmms-lab/GQA `testdev_balanced_instructions` (split testdev); from the tenth row
    on, the image (`n404`) is not in the image config."""
    image_id = list(GQA_IMAGES)[i % 3] if i < 9 else "n404"
    return {"id": f"20{i:04d}", "imageId": image_id, "question": f"Question {i}?", "answer": answer,
            "fullAnswer": f"The answer is {answer}.", "isBalanced": balanced,
            "groups": {"global": None, "local": "10c-x"}, "entailed": "", "equivalent": f"20{i:04d}",
            "types": {"structural": structural, "semantic": semantic, "detailed": f"{semantic}Detail"},
            "annotations": {"answer": {"0": "1"}, "fullAnswer": {"0": "1"}, "question": {"0": "1"}},
            "semantic": [{"operation": "select", "argument": "x", "dependencies": []}], "semanticStr": "select: x"}


def gqa_image_rows() -> list[dict[str, Any]]:
    """The rows of lmms-lab/GQA `testdev_balanced_images` for GQA_IMAGES."""
    return [{"id": key, "image": image_cell(png_bytes(_DEMO_COLORS[color]))} for key, color in GQA_IMAGES.items()]


def demo_rows() -> dict[str, list[dict[str, Any]]]:
    kinds = [("yes", "verify", "attr"), ("table", "query", "obj"), ("left", "choose", "rel"),
             ("no", "logical", "obj"), ("yes", "compare", "attr")]
    questions = [gqa_row(i, *kind) for i, kind in enumerate(kinds)]
    questions.append(gqa_row(len(kinds), "yes", "verify", "attr", balanced=False))  # no sample
    return {"testdev_balanced_instructions": questions, "testdev_balanced_images": gqa_image_rows()}


@task("gqa")
def gqa() -> Task:
    return Task(
        description="GQA test-dev balanced, LLaVA-1.5 prompt, GQA eval.py exact-match accuracy",
        data=DataSpec(
            hub="lmms-lab/GQA",
            config="testdev_balanced_instructions",
            split="testdev",
            size=12_578,
            columns=("id", "imageId", "question", "answer", "types", "isBalanced"),
            keep=lambda row: bool(row["isBalanced"]),
            images=ImageJoin(config="testdev_balanced_images", on="imageId", key="id"),
        ),
        demo_rows=demo_rows,
        to_sample=to_sample,
        scorer=per_sample(score_one),
        metrics=METRICS,
        max_new_tokens=128,
        breakdowns=("structural", "semantic"),
        summary_line=summary_line,
    )
