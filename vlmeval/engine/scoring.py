"""From answers to scored records: the one path shared by `run`, `score` and `merge`.

Each reply is read first (`vlmeval.reasoning`): the task sees only the answer after a reasoning
block, and a reply whose reasoning never finished reaches the task as no answer at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from typing import Any

from vlmeval.engine.judge_runs import verdicts_of
from vlmeval.engine.memory import collector_running
from vlmeval.engine.store import USAGE_FIELDS, Answer
from vlmeval.failure import Failure
from vlmeval.metrics import Record
from vlmeval.reasoning import ReadReply, ReplyReading, read_reply
from vlmeval.task import Sample, ScoreContext, Scored, Task

TRUNCATED = "truncated"  # a usage flag, not a failure: the task scored what the reply had


def score_answers(
    task: Task, samples: Sequence[Sample], answers: Mapping[str, Answer], context: ScoreContext
) -> list[Record]:
    """One record per sample in dataset order; missing and failed answers are scored wrong."""
    reads = [_read(answers.get(s.id), context.reply_reading) for s in samples]
    predictions = [read.answer if read is not None else None for read in reads]
    # A judge's network calls run with the collector on (vlmeval.engine.memory).
    with collector_running() if context.judge is not None else nullcontext():
        verdicts = verdicts_of(task, samples, predictions, context)
    return [
        _record(sample, read, verdict, answers.get(sample.id))
        for sample, read, verdict in zip(samples, reads, verdicts, strict=True)
    ]


def _read(answer: Answer | None, reading: ReplyReading) -> ReadReply | None:
    """The reply as the task reads it; None for a failed or oversized answer (no answer to read)."""
    if answer is None or not answer.ok or answer.prediction is None or answer.oversized:
        return None
    return read_reply(answer.prediction, reading, answer.finish_reason, answer.server_reasoning_chars)


def _record(sample: Sample, read: ReadReply | None, verdict: Scored, answer: Answer | None) -> Record:
    failure = verdict.failure
    raw = answer.prediction if answer is not None and answer.ok else None
    prediction = read.answer if read is not None else None
    if answer is None:
        failure = Failure.MISSING
    elif not answer.ok:
        failure = answer.failure or Failure.ERROR
    elif answer.oversized:  # scored as no answer; the cut text stays for people to read
        failure, prediction = Failure.OVERSIZED, answer.prediction
    elif read is not None and read.failure is not None:
        failure = read.failure  # never read for an answer: the whole reply stays in raw_prediction
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
        raw_prediction=raw if raw is not None and raw != prediction else None,
        reasoning_chars=read.reasoning_chars if read is not None and read.reasoning_chars else None,
        usage=_usage(answer, read),
    )


def _usage(answer: Answer | None, read: ReadReply | None) -> dict[str, Any] | None:
    """The token accounting a backend reported for this sample, and whether the limit cut the answer."""
    if answer is None:
        return None
    usage: dict[str, Any] = {name: getattr(answer, name) for name in USAGE_FIELDS
                             if name != "server_reasoning_chars" and getattr(answer, name) is not None}
    if read is not None and read.truncated:
        usage[TRUNCATED] = True
    return usage or None
