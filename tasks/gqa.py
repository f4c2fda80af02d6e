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

from vlmeval_tasks._vqa_common import SHORT_ANSWER

from vlmeval.failure import Failure
from vlmeval.metrics import Metric, mean_metric, meta_equals
from vlmeval.task import DataSpec, ImageJoin, Row, Sample, Scored, Task, per_sample, task

STRUCTURAL = ("verify", "query", "choose", "logical", "compare")
SEMANTIC = ("rel", "attr", "obj", "cat", "global")


def to_sample(row: Row, index: int) -> Sample:
    types = row["types"] or {}
    structural = types.get("structural")
    image = row.get("image")
    return Sample(
        id=str(row["id"]),
        text=f"{row['question']}\n{SHORT_ANSWER}",
        images=(image,) if image is not None else (),
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


@task("gqa")
def gqa() -> Task:
    return Task(
        name="gqa",
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
        to_sample=to_sample,
        scorer=per_sample(score_one),
        metrics=METRICS,
        max_new_tokens=128,
        breakdowns=("structural", "semantic"),
        summary_line=summary_line,
    )
