"""`vlmeval judge-check`: the shipped LLaVA-Bench anchors (LLaVA's recorded GPT-4 reviews) re-judged by a
candidate judge (tests/fakes/openai_server.py), and the zoo's reduction of the recorded reviews."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, last_user_text
from tests.helpers import llava_bench_row, write_parquet
from vlmeval.cli import main
from vlmeval.judge_check import load_anchors

ANCHORS = load_anchors("llava_bench_wild")


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLMEVAL_CACHE", str(tmp_path / "cache"))


def data(tmp_path: Path) -> Path:
    rows = [llava_bench_row(int(item["id"]), item["category"], item["question"]) for item in ANCHORS.items]
    return write_parquet(tmp_path / "llava" / "train-00000-of-00001.parquet", rows)


def summarize(pairs: list[list[float]]) -> float:
    """summarize_gpt_review.py on one run: means rounded to 3 decimals, 100 x model / reference."""
    reference = round(sum(p[0] for p in pairs) / len(pairs), 3)
    model = round(sum(p[1] for p in pairs) / len(pairs), 3)
    return 100 * model / reference


def test_anchor_file_is_llavas_recorded_reviews_and_gives_the_zoos_number() -> None:
    assert len(ANCHORS.items) == 60 and ANCHORS.recorded_judge == "gpt-4-0314"
    assert "haotian-liu/LLaVA" in ANCHORS.source
    runs = [summarize([item["recorded"][k] for item in ANCHORS.items]) for k in range(3)]
    zoo = statistics.fmean(round(run, 1) for run in runs)
    assert round(zoo, 1) == 72.5  # LLaVA-1.5-13B in the model zoo
    assert round(statistics.fmean(runs), 2) == 72.55  # the unrounded mean the issue measured


def run_check(tmp_path: Path, reply: object, *extra: str) -> int:
    with FakeOpenAIServer(reply) as server:
        return main(["judge-check", "--task", "llava_bench_wild", "--data", str(data(tmp_path)),
                     "--judge", "candidate", "--judge-base-url", server.base_url,
                     "--judge-api-key-env", "NO_KEY_FOR_TESTS", *extra])


def test_a_judge_that_repeats_the_first_recorded_run_agrees(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first_run = {item["prediction"]: item["recorded"][0] for item in ANCHORS.items}

    def reply(body: dict, headers: object) -> str:
        answer = last_user_text(body).split("[Assistant 2]\n", 1)[1].split("\n\n[End of Assistant 2]", 1)[0]
        reference, model = first_run[answer]
        return f"{reference:g} {model:g}\nreasons"

    assert run_check(tmp_path, reply, "--max-diff", "1") == 0
    out = capsys.readouterr().out
    runs = [summarize([item["recorded"][k] for item in ANCHORS.items]) for k in range(3)]
    assert f"| relative | {statistics.fmean(runs):.2f} | {runs[0]:.2f} |" in out
    gaps = [abs(item["recorded"][0][1] - statistics.fmean(r[1] for r in item["recorded"])) for item in ANCHORS.items]
    assert f"| model | {statistics.fmean(gaps):.2f} |" in out
    assert "Judged: 60." in out and "recorded judge: `gpt-4-0314`" in out


def test_a_judge_that_rates_everything_alike_fails_the_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_check(tmp_path, "7 7\nall the same", "--max-diff", "5") == 1
    captured = capsys.readouterr()
    assert "| relative | 72.55 | 100.00 | +27.45 |" in captured.out
    assert "vlmeval: error: relative on the anchors differs from the recorded value by +27.45" in captured.err


def test_unreadable_candidate_is_counted_and_its_number_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_check(tmp_path, "I would rather not say.", "--max-diff", "5") == 1
    out = capsys.readouterr().out
    assert "unusable: 60 (judge_failed 60)" in out and "| relative | 72.55 | missing | — |" in out
