"""From answers to scored records: the one path shared by `run`, `score` and `merge`."""

from __future__ import annotations

from typing import Mapping, Sequence

from vlmeval.metrics import Record
from vlmeval.store import Answer
from vlmeval.task import Sample, ScoreContext, Task


def score_answers(
    task: Task, samples: Sequence[Sample], answers: Mapping[str, Answer], context: ScoreContext
) -> list[Record]:
    """One record per sample in dataset order; missing and failed answers are scored wrong."""
    predictions = [_prediction(answers.get(s.id)) for s in samples]
    verdicts = task.scorer(samples, predictions, context)
    records = []
    for sample, prediction, verdict in zip(samples, predictions, verdicts, strict=True):
        answer = answers.get(sample.id)
        failure = verdict.failure
        if answer is None:
            failure = "missing"
        elif not answer.ok:
            failure = "error"
        records.append(
            Record(
                id=sample.id,
                prompt=sample.text,
                prediction=prediction,
                answer=verdict.answer,
                target=sample.target,
                scores=verdict.scores,
                failure=failure,
                error=answer.error if answer is not None else None,
                meta=sample.meta,
            )
        )
    return records


def _prediction(answer: Answer | None) -> str | None:
    return answer.prediction if answer is not None and answer.ok else None
