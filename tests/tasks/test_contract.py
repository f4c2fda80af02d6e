"""The contract every registered task keeps, checked the same way for each (tasks added later too).

Sample ids are unique and prompts deterministic; the scorer is total (it never raises on hostile
answers, gives every sample a score and counts answers it cannot use); metrics are declared, named
once, finite, and reduce the way they declare (vlmeval.metrics.Reduces).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from vlmeval.demo_data import write_demo_rows
from vlmeval.engine.samples import SampleSet, load_samples
from vlmeval.engine.scoring import score_answers
from vlmeval.engine.store import Answer
from vlmeval.errors import UsageError
from vlmeval.metrics import Metric, Record
from vlmeval.registry import load_registry
from vlmeval.run_spec import RunSpec
from vlmeval.reporting.report import build_report
from vlmeval.task import ScoreContext, Task

def _task_params() -> list[Any]:
    """Every registered task; those scored by Java (pycocoevalcap's tokenizer and METEOR) start
    processes, so they run outside the quick loop."""
    from vlmeval_tasks._captions import score_captions

    registry = load_registry()
    return [pytest.param(name, marks=pytest.mark.slow) if registry.get(name).scorer is score_captions else name
            for name in registry.names()]


TASKS = _task_params()
# None is a generation error; the rest are answers a model or a predictions file may give.
HOSTILE: tuple[str | None, ...] = (
    None, "", "   \n\t ", "A" * 100_000, "答案是 B。", "Ünïcödé ✓ 🙂", "<b>A</b> **B** [x](javascript:y) | \\n",
    "{\"answer\": \"A\"}", "\x00\x1b[31mred", "yes", "A", "2", "Yes, it is.",
)


def demo_samples(task: Task, folder: Path) -> SampleSet:
    if task.data.demo is not None:
        return load_samples(task, str(task.data.demo), None, None)
    if task.demo_rows is None:
        pytest.fail(f"task {task.name} has no demo data: set Task.demo_rows or DataSpec.demo")
    return load_samples(task, str(write_demo_rows(task, folder / task.name)), None, None)


@pytest.fixture(scope="module")
def judge_url() -> Iterator[str]:
    """A judge that answers every prompt the same way: graders must cope with what they get."""
    with FakeOpenAIServer("0.5") as server:
        yield server.base_url


def score(task: Task, sample_set: SampleSet, answers: dict[str, Answer], folder: Path,
          judge_url: str) -> list[Record]:
    """Scored without a judge; a task that needs one must say so in a UsageError, then gets one."""
    from vlmeval.judge import Judge
    from vlmeval.openai_client import ChatClient

    context = ScoreContext(output_dir=folder)
    try:
        return score_answers(task, sample_set.samples, answers, context)
    except UsageError as exc:
        assert "--judge" in str(exc) and "\n" not in str(exc)
    client = ChatClient(judge_url, "judge", api_key_env="NO_SUCH_KEY")
    return score_answers(task, sample_set.samples, answers, ScoreContext(judge=Judge(client, None),
                                                                         output_dir=folder))


@pytest.mark.parametrize("name", TASKS)
def test_samples_have_unique_ids_and_deterministic_prompts(name: str, tmp_path: Path) -> None:
    task = load_registry().get(name)
    first, again = demo_samples(task, tmp_path), demo_samples(task, tmp_path / "again")
    ids = [s.id for s in first.samples]
    assert ids and len(set(ids)) == len(ids), f"{name}: duplicate sample ids"
    assert [s.text for s in first.samples] == [s.text for s in again.samples]
    assert all(isinstance(s.text, str) and s.text.strip() for s in first.samples)


@pytest.mark.parametrize("name", TASKS)
def test_scorer_is_total_on_hostile_answers(name: str, tmp_path: Path, judge_url: str) -> None:
    task = load_registry().get(name)
    sample_set = demo_samples(task, tmp_path)
    samples = sample_set.samples
    for offset in range(len(HOSTILE)):  # every sample meets every hostile answer
        answers = {}
        for index, sample in enumerate(samples[1:], 1):  # the first sample has no answer: missing
            prediction = HOSTILE[(index + offset) % len(HOSTILE)]
            answers[sample.id] = Answer(sample.id, prediction, None if prediction is not None else "boom")
        records = score(task, sample_set, answers, tmp_path, judge_url)
        assert [r.id for r in records] == [s.id for s in samples]
        assert records[0].failure == "missing"
        for record in records:
            assert record.scores and all(math.isfinite(v) for v in record.scores.values()), record
            if record.prediction is None:
                assert record.failure in ("missing", "error"), record
        report = build_report(task, records, "m", task.has_targets(samples), RunSpec())
        assert sum(report.counts.failures.values()) == sum(r.failure is not None for r in records)
        assert all(math.isfinite(v) for v in report.metrics.values())
        assert all(math.isfinite(x) for low_high in report.ci.values() for x in low_high)


@pytest.mark.parametrize("name", TASKS)
def test_metrics_are_declared_finite_and_reduce_as_declared(name: str, tmp_path: Path, judge_url: str) -> None:
    task = load_registry().get(name)
    names = [m.name for m in task.metrics]
    assert names and len(set(names)) == len(names) and task.primary_metric == names[0]
    assert all(m.reduces in ("mean", "record_mean", "sum", "custom") for m in task.metrics)
    sample_set = demo_samples(task, tmp_path)
    if not task.has_targets(sample_set.samples):
        pytest.skip(f"{name}: its demo split has no answers, so it computes no metric")
    # right answers where the task's own target reads as one, so metrics are not all zero
    answers = {s.id: Answer(s.id, str(s.target) if i % 2 else "no idea") for i, s in enumerate(sample_set.samples)}
    records = score(task, sample_set, answers, tmp_path, judge_url)
    for metric in task.metrics:
        value = metric.compute(records)
        assert value is None or math.isfinite(value), metric.name
        if value is not None and metric.reduces != "custom" and metric.score_field is None:
            assert declared_value(metric, metric.select(records)) == pytest.approx(value), metric.name


def declared_value(metric: Metric, records: Sequence[Record]) -> float:
    """The metric recomputed from its value on each resampling unit alone, as `reduces` declares."""
    units: dict[str, list[Record]] = {}
    for record in records:
        units.setdefault(metric.unit(record) if metric.unit else record.id, []).append(record)
    values = [(metric.reduce(members), len(members)) for members in units.values()]
    if metric.reduces == "sum":
        return sum(v for v, _ in values)
    if metric.reduces == "mean":
        return sum(v for v, _ in values) / len(values)
    return sum(v * n for v, n in values) / sum(n for _, n in values)


def test_data_demo_reads_a_tasks_own_demo_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--data demo` of a task without a bundled file: its demo rows, at a path a resumed run finds again."""
    monkeypatch.setenv("VLMEVAL_CACHE", str(tmp_path))
    task = load_registry().get("pope")
    assert task.demo_rows is not None and task.data.demo is None
    first, again = load_samples(task, "demo", None, None), load_samples(task, "demo", None, None)
    assert len(first.samples) == len(task.demo_rows()) and first.source == again.source
    assert first.source.startswith(str(tmp_path / "demo-rows" / "pope-v1"))
    assert first.fingerprint() == again.fingerprint()
    gqa = load_samples(load_registry().get("gqa"), "demo", None, None)  # a folder of two configs
    assert len(gqa.samples) == 5


def test_demo_rows_are_written_once_and_edited_rows_get_a_folder_of_their_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shards started at once never read a demo file another is rewriting, and demo rows edited
    without a version bump are read from a folder of their own."""
    monkeypatch.setenv("VLMEVAL_CACHE", str(tmp_path))
    task = load_registry().get("gqa")  # a folder of two configs
    first = load_samples(task, "demo", None, None)
    written = sorted((tmp_path / "demo-rows").rglob("*.parquet"))
    stamps = [(p.stat().st_ino, p.stat().st_mtime_ns) for p in written]
    assert len(written) == 2 and load_samples(task, "demo", None, None).source == first.source
    assert [(p.stat().st_ino, p.stat().st_mtime_ns) for p in written] == stamps  # read, not written again

    rows = task.demo_rows()
    assert isinstance(rows, dict)
    questions = "testdev_balanced_instructions"
    edited = replace(task, demo_rows=lambda: {**rows, questions: rows[questions][1:]})
    changed = load_samples(edited, "demo", None, None)
    assert changed.source != first.source and len(changed.samples) == len(first.samples) - 1
    assert [s.id for s in changed.samples] == [s.id for s in first.samples][1:]
    assert load_samples(task, "demo", None, None).fingerprint() == first.fingerprint()
