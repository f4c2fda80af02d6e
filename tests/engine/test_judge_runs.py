"""`--judge-runs N` is made by the engine: the scorer once per run, the verdicts combined as the task declares."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from vlmeval.engine.judge_runs import combine, verdicts_of
from vlmeval.errors import UsageError
from vlmeval.failure import Failure
from vlmeval.metrics import mean_metric
from vlmeval.task import DataSpec, JudgeRuns, Sample, ScoreContext, Scored, Task

SPEC = JudgeRuns(per_run=("score",), mean=("score",), summed=("failed",))


def test_scores_combine_as_declared_and_a_mendable_failure_wins() -> None:
    verdicts = [Scored({"r": 0}, {"score": 1.0, "failed": 0.0}),
                Scored({"r": 1}, {"score": 0.0, "failed": 1.0}, Failure.JUDGE_FAILED),
                Scored({"r": 2}, {"score": 0.5, "failed": 1.0}, Failure.JUDGE_ERROR)]
    combined = combine(SPEC, verdicts)
    assert combined.scores == {"score": 0.5, "score_run0": 1.0, "score_run1": 0.0, "score_run2": 0.5, "failed": 2.0}
    assert combined.failure == Failure.JUDGE_ERROR and combined.answer == [{"r": 0}, {"r": 1}, {"r": 2}]
    assert combine(SPEC, verdicts[:2]).failure == Failure.JUDGE_FAILED
    oversized = Scored(None, {"score": 0.0, "failed": 1.0}, Failure.OVERSIZED)
    assert combine(SPEC, [verdicts[1], oversized]).failure == Failure.OVERSIZED  # a reason before judge_failed
    no_answer = Scored(None, {"score": 0.0, "failed": 0.0}, Failure.ERROR)
    assert combine(SPEC, [no_answer, no_answer]).answer is None


def _task(seen: list[int]) -> Task:
    def scorer(samples: Sequence[Sample], predictions: Sequence[str | None], context: ScoreContext) -> list[Scored]:
        seen.append(context.judge_run)
        return [Scored(p, {"score": float(context.judge_run), "failed": 0.0}) for p in predictions]

    return Task(description="t", data=DataSpec(hub="x/y", split="test", columns=()), to_sample=lambda r, i: None,  # type: ignore[arg-type,return-value]
                scorer=scorer, metrics=(mean_metric("score", "score"),), judge_runs=SPEC, name="t")


def test_the_scorer_runs_once_per_judge_run_with_its_index() -> None:
    seen: list[int] = []
    samples = [Sample(id="1", text="q")]
    verdicts = verdicts_of(_task(seen), samples, ["a"], ScoreContext(judge_runs=3))
    assert seen == [0, 1, 2]
    assert verdicts[0].scores == {"score": 1.0, "score_run0": 0.0, "score_run1": 1.0, "score_run2": 2.0, "failed": 0.0}
    with pytest.raises(UsageError, match="--judge-runs must be at least 1"):
        verdicts_of(_task([]), samples, ["a"], ScoreContext(judge_runs=0))
