"""`--subset`: fixed stratified subsets that keep their questions across runs and row orders."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers import sqa_row, write_jsonl, write_parquet
from vlmeval.cli import main
from vlmeval.engine.samples import SampleSet
from vlmeval.engine.subsets import expected_half_width, ids_hash, select, subset_size
from vlmeval.errors import UsageError
from vlmeval.registry import load_registry
from vlmeval.task import Sample

SUBJECTS = {"natural science": 700, "social science": 250, "language science": 50}


def _sqa_samples() -> list[Sample]:
    samples = []
    for subject, count in SUBJECTS.items():
        for i in range(count):
            samples.append(Sample(id=f"{subject[:3]}-{i}", text="q", target="A",
                                  meta={"subject": subject, "grade": f"grade{1 + i % 3}"}))
    return samples


def test_quick_is_500_stratified_by_breakdown_and_independent_of_row_order() -> None:
    task = load_registry([]).get("sqa")
    samples = _sqa_samples()
    chosen = select(task, SampleSet("x", "test", samples), "quick")
    shuffled = samples[:]
    random.Random(1).shuffle(shuffled)
    again = select(task, SampleSet("x", "test", shuffled), "quick")
    assert {s.id for s in chosen.samples} == {s.id for s in again.samples}
    assert len(chosen.samples) == 500
    subjects = Counter(s.meta["subject"] for s in chosen.samples)
    for subject, count in SUBJECTS.items():  # each stratum within one question of its share
        assert abs(subjects[subject] - 500 * count / 1000) <= 3  # 3 grades per subject: one each
    assert chosen.subset == {"name": "quick", "n": 500, "of": 1000, "ids_hash": ids_hash(s.id for s in chosen.samples)}
    assert [s.id for s in chosen.samples] == [s.id for s in samples if s.id in {c.id for c in chosen.samples}]


def test_a_small_task_is_its_own_quick_subset_and_unknown_names_fail() -> None:
    task = load_registry([]).get("sqa")
    samples = _sqa_samples()[:40]
    assert select(task, SampleSet("x", "test", samples), "quick").samples == samples
    with pytest.raises(UsageError, match="--subset slow: unknown subset; choose one of quick"):
        subset_size("slow", 10)


def test_circular_copies_of_a_question_are_taken_whole() -> None:
    task = load_registry([]).get("mmbench_en_dev")
    samples = [Sample(id=f"{q}-{k}", text="q", target="A", meta={"circular_id": q, "category": f"c{q % 5}",
                                                                  "L2-category": "x"})
               for q in range(400) for k in range(3)]
    chosen = select(task, SampleSet("x", "dev", samples), "quick")
    copies = Counter(s.meta["circular_id"] for s in chosen.samples)
    assert set(copies.values()) == {3} and 495 <= len(chosen.samples) <= 510


def test_expected_half_width_is_the_normal_interval() -> None:
    assert expected_half_width(50.0, 500) == pytest.approx(100 * 1.959964 * (0.25 / 500) ** 0.5)
    assert expected_half_width(100.0, 500) == 0.0


@pytest.mark.slow
def test_run_with_subset_records_it_and_the_same_questions_every_time(tmp_path: Path) -> None:
    rows = [sqa_row(answer=i % 4, subject=("natural science", "social science")[i % 2], grade=f"grade{i % 3 + 1}",
                    question=f"Which color? ({i})") for i in range(800)]
    data = write_parquet(tmp_path / "sqa" / "test-00000-of-00001.parquet", rows)
    predictions = write_jsonl(tmp_path / "p.jsonl", [{"id": str(i), "prediction": "A"} for i in range(800)])
    for name in ("a", "b"):
        assert main(["run", "--task", "sqa", "--data", str(data), "--model", f"replay:{predictions}",
                     "--subset", "quick", "--output", str(tmp_path / "out"), "--run-name", name, "--no-progress"]) == 0
    reports = [json.loads((tmp_path / "out" / n / "sqa" / "report.json").read_text()) for n in ("a", "b")]
    subset = reports[0]["spec"]["subset"]
    assert subset["name"] == "quick" and subset["n"] == 500 and subset["of"] == 800
    assert subset["ids_hash"] == reports[1]["spec"]["subset"]["ids_hash"] and reports[0]["n_samples"] == 500
    accuracy = reports[0]["metrics"]["accuracy"]
    half_width = reports[0]["expected_half_width"]  # a result, beside the spec
    assert half_width["accuracy"] == pytest.approx(expected_half_width(accuracy, 500), abs=1e-4)
    assert "expected_half_width" not in subset
    run_file = json.loads((tmp_path / "out" / "a" / "sqa" / "run.json").read_text())
    assert run_file["invocation"]["subset"] == "quick"
    assert main(["merge", str(tmp_path / "out" / "a" / "sqa")]) == 0  # merge reloads the same subset
