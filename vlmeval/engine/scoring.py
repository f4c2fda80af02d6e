"""From answers to scored records: the one path shared by `run`, `score` and `merge`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import nullcontext

from vlmeval.engine.judge_runs import verdicts_of
from vlmeval.engine.memory import collector_running
from vlmeval.engine.store import Answer
from vlmeval.failure import Failure
from vlmeval.metrics import Record
from vlmeval.task import Sample, ScoreContext, Scored, Task


def score_answers(
    task: Task, samples: Sequence[Sample], answers: Mapping[str, Answer], context: ScoreContext
) -> list[Record]:
    """One record per sample in dataset order; missing and failed answers are scored wrong."""
    predictions = [_prediction(answers.get(s.id)) for s in samples]
    # A judge's network calls run with the collector on (vlmeval.engine.memory).
    with collector_running() if context.judge is not None else nullcontext():
        verdicts = verdicts_of(task, samples, predictions, context)
    return [
        _record(sample, prediction, verdict, answers.get(sample.id))
        for sample, prediction, verdict in zip(samples, predictions, verdicts, strict=True)
    ]


def _record(sample: Sample, prediction: str | None, verdict: Scored, answer: Answer | None) -> Record:
    failure = verdict.failure
    if answer is None:
        failure = Failure.MISSING
    elif not answer.ok:
        failure = Failure.ERROR
    elif answer.oversized:  # scored as no answer; the cut text stays for people to read
        failure, prediction = Failure.OVERSIZED, answer.prediction
    return Record(
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


def _prediction(answer: Answer | None) -> str | None:
    """What the scorer reads: nothing for a failed or oversized answer."""
    return answer.prediction if answer is not None and answer.ok and not answer.oversized else None
