"""What VQAv2 and VizWiz-VQA share: the server-side scorer, the submission answers, and one
builder for a split of either (`vqa_task`).

Both benchmarks are scored on EvalAI from a submission whose answers LLaVA has passed through the
EvalAI answer processor (haotian-liu/LLaVA `scripts/convert_vqav2_for_submission.py`,
`convert_vizwiz_for_submission.py`); a local score therefore normalises the prediction the same
way and then applies the benchmark's own evaluator (`vlmeval.answers.vqa`: VQAv2's `vqaEval.py`,
or the VizWiz API's, which differ).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from vlmeval.answers.vqa import evalai_normalize, vqa_accuracies
from vlmeval.column_checks import ColumnCheck, Text
from vlmeval.failure import Failure
from vlmeval.io import atomic_write_text
from vlmeval.metrics import Metric, mean_metric
from vlmeval.task import (
    TASK_TOKEN,
    TASK_TOKEN_UNOFFICIAL,
    ArtifactWriter,
    DataSpec,
    Preflight,
    Row,
    Sample,
    ScoreContext,
    Scored,
    Task,
)

SHORT_ANSWER = "Answer the question using a single word or phrase."
SUBMISSION_FILE = "submission.json"


def bare_question_token(question: str) -> dict[str, Any]:
    """Sample meta for task-token models (Florence-2), which have no official prompt for a VQA
    benchmark: the bare question, marked unofficial (`--prompt-style task_token`; the report says so)."""
    return {TASK_TOKEN: question, TASK_TOKEN_UNOFFICIAL: True}


def gt_answers(answers: Sequence[Any] | None) -> list[str] | None:
    """The human answers of a row as strings, or None where the split hides them.

    VQAv2 rows hold `{answer, answer_confidence, answer_id}` dicts (or their `answer` strings when
    read through `DataSpec.list_fields`), VizWiz rows plain strings;
    test splits hold None, an empty list or empty strings.
    """
    if not answers:
        return None
    texts = [a["answer"] for a in answers] if isinstance(answers[0], dict) else list(answers)
    return texts if any(texts) else None


Accuracies = Callable[[Sequence[str], Sequence[Sequence[str]]], list[float]]


def score_vqa(
    samples: Sequence[Sample], predictions: Sequence[str | None], context: ScoreContext,
    accuracies: Accuracies = vqa_accuracies,
) -> list[Scored]:
    """The score the server gives each submitted answer: EvalAI processor, then the benchmark's
    own evaluator, over all answers at once (`accuracies`: VQAv2's `vqa_accuracies` by default,
    VizWiz's `vizwiz_accuracies`)."""
    if len(samples) != len(predictions):
        raise ValueError(f"{len(predictions)} predictions for {len(samples)} samples")
    answers = [evalai_normalize(p) if p is not None else None for p in predictions]
    judged = [(i, answer, sample.target) for i, (answer, sample) in enumerate(zip(answers, samples))
              if answer is not None and sample.target is not None]  # the rest score 0
    values = accuracies([answer for _, answer, _ in judged], [target for _, _, target in judged])
    scores = {i: value for (i, _, _), value in zip(judged, values, strict=True)}
    verdicts = []
    for index, (answer, prediction) in enumerate(zip(answers, predictions)):
        if prediction is None:
            verdicts.append(Scored(answer=None, scores={"accuracy": 0.0}, failure=Failure.ERROR))
            continue
        failure = None if prediction.strip() else Failure.EMPTY
        verdicts.append(Scored(answer=answer, scores={"accuracy": scores.get(index, 0.0)}, failure=failure))
    return verdicts


def submitted_answers(predictions: Sequence[str | None]) -> list[str]:
    """Answers as LLaVA submits them: EvalAI-normalised, "" where there is none."""
    return [evalai_normalize(p) if p is not None else "" for p in predictions]


def write_submission(output_dir: Path, entries: list[dict[str, Any]]) -> list[str]:
    """`submission.json` (one JSON list, as EvalAI takes it) in `output_dir`; its name for the report."""
    atomic_write_text(output_dir / SUBMISSION_FILE, json.dumps(entries, ensure_ascii=False))
    return [SUBMISSION_FILE]


def vqa_task(
    *, description: str, hub: str, split: str, size: int, answered: bool, answer_columns: tuple[str, ...],
    answers: ColumnCheck, to_sample: Callable[[Row, int], Sample], accuracies: Accuracies,
    metrics: tuple[Metric, ...], demo_rows: Callable[[], list[dict[str, Any]]], write_artifacts: ArtifactWriter,
    list_fields: tuple[tuple[str, str], ...] = (), preflight: Preflight | None = None,
) -> Task:
    """A split of a VQAv2-family benchmark: `answer_columns` are required where the split is
    `answered`; scored as the server scores it (`score_vqa` with the benchmark's `accuracies`),
    accuracy first, then `metrics`, broken down by answer type, with a submission file."""
    return Task(
        description=description,
        data=DataSpec(hub=hub, split=split, size=size,
                      columns=("question_id", "question", *(answer_columns if answered else ())),
                      checks=(Text("question"), answers), list_fields=list_fields),
        demo_rows=demo_rows,
        to_sample=to_sample,
        scorer=partial(score_vqa, accuracies=accuracies),
        metrics=(mean_metric("accuracy", "accuracy"), *metrics),
        max_new_tokens=128,
        breakdowns=("answer_type",),
        write_artifacts=write_artifacts,
        preflight=preflight,
    )
