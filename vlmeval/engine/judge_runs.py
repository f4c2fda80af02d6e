"""`--judge-runs N`: the engine repeats a judged task's scorer N times and combines the verdicts.

Each call is one run (`ScoreContext.judge_run`, which the task passes on as `JudgeQuery.run`, so each
run gets its own cached replies). The task declares how its per-sample scores combine
(`Task.judge_runs`, a `JudgeRuns`); its metrics read the per-run fields (`<key>_run<k>`) for the
spread over runs (MM-Vet's, LLaVA-Bench's std).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import replace

from vlmeval.errors import UsageError
from vlmeval.failure import Failure
from vlmeval.task import JudgeRuns, Sample, ScoreContext, Scored, Task


def verdicts_of(task: Task, samples: Sequence[Sample], predictions: Sequence[str | None],
                context: ScoreContext) -> list[Scored]:
    """The task's verdicts: its scorer once, or once per judge run for a task with `judge_runs`."""
    if task.judge_runs is None:
        return task.scorer(samples, predictions, context)
    return score_runs(task, samples, predictions, context, task.judge_runs)


def score_runs(task: Task, samples: Sequence[Sample], predictions: Sequence[str | None],
               context: ScoreContext, spec: JudgeRuns) -> list[Scored]:
    """The task's scorer once per judge run, its verdicts combined per sample."""
    if context.judge_runs < 1:
        raise UsageError(f"--judge-runs must be at least 1 (got {context.judge_runs})")
    runs = [task.scorer(samples, predictions, replace(context, judge_run=run)) for run in range(context.judge_runs)]
    return [combine(spec, verdicts) for verdicts in zip(*runs, strict=True)]


def combine(spec: JudgeRuns, verdicts: Sequence[Scored]) -> Scored:
    """One sample's verdicts over the runs: `mean` keys averaged, `per_run` keys kept as `<key>_run<k>`,
    `summed` keys added up; the answers as a list in run order (None where no run has one); the
    failure that a re-run can mend first (judge_error), then any other reason, then judge_failed."""
    scores: dict[str, float] = {}
    for key in spec.mean:
        scores[key] = statistics.fmean(v.scores[key] for v in verdicts)
    for key in spec.per_run:
        for run, verdict in enumerate(verdicts):
            scores[f"{key}_run{run}"] = verdict.scores[key]
    for key in spec.summed:
        scores[key] = sum(v.scores[key] for v in verdicts)
    failures = [v.failure for v in verdicts if v.failure is not None]
    ranked = sorted(failures, key=lambda f: 0 if f == Failure.JUDGE_ERROR else 2 if f == Failure.JUDGE_FAILED else 1)
    answers = [v.answer for v in verdicts]
    return Scored(answers if any(a is not None for a in answers) else None, scores, ranked[0] if ranked else None)
