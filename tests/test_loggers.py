"""`--log-to`: a run's metrics as scalars at a step, read back from the TensorBoard event file."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.helpers import sqa_row, write_jsonl, write_parquet
from tests.tensorboard_events import read_scalars
from vlmeval.cli import main
from vlmeval.errors import UsageError
from vlmeval.integrations.loggers import check_targets, log_scalars

pytest.importorskip("tensorboardX")


def _replay_run(tmp_path: Path, *extra: str) -> Path:
    rows = [sqa_row(answer=i % 4, question=f"Which color? ({i})") for i in range(12)]
    data = write_parquet(tmp_path / "sqa" / "test-00000-of-00001.parquet", rows)
    predictions = write_jsonl(tmp_path / "p.jsonl", [{"id": str(i), "prediction": "A"} for i in range(12)])
    assert main(["run", "--task", "sqa", "--data", str(data), "--model", f"replay:{predictions}", "--output",
                 str(tmp_path / "out"), "--run-name", "r", "--no-progress", *extra]) == 0
    return tmp_path / "out" / "r" / "sqa"


def test_run_logs_its_metrics_at_the_step_of_its_label(tmp_path: Path) -> None:
    folder = _replay_run(tmp_path, "--label", "step-1500", "--log-to", f"tensorboard:{tmp_path / 'tb'}")
    metrics = json.loads((folder / "report.json").read_text())["metrics"]
    events = read_scalars(tmp_path / "tb")
    assert set(events) == {f"vlmeval/sqa/{name}" for name in metrics}
    assert events["vlmeval/sqa/accuracy"] == [(1500, pytest.approx(metrics["accuracy"]))]


def test_step_flag_wins_over_the_label(tmp_path: Path) -> None:
    _replay_run(tmp_path, "--label", "step-1500", "--step", "7", "--log-to", f"tensorboard:{tmp_path / 'tb'}")
    assert [step for step, _ in read_scalars(tmp_path / "tb")["vlmeval/sqa/accuracy"]] == [7]


def test_calls_at_two_steps_make_two_points(tmp_path: Path) -> None:
    log_scalars([f"tensorboard:{tmp_path}"], {"vlmeval/t/m": 1.5}, 10)
    log_scalars([f"tensorboard:{tmp_path}"], {"vlmeval/t/m": 2.5}, 20)
    assert read_scalars(tmp_path)["vlmeval/t/m"] == [(10, 1.5), (20, 2.5)]


def test_bad_targets_fail_before_any_work() -> None:
    with pytest.raises(UsageError, match="use tensorboard:DIR or wandb"):
        check_targets(["mlflow:x"])
    with pytest.raises(UsageError, match="name the folder"):
        check_targets(["tensorboard"])


@pytest.mark.slow
def test_wandb_offline_run_receives_the_scalars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # wandb is in the [test] extra: this test runs in CI, never skips there.
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    log_scalars(["wandb:vlmeval-test"], {"vlmeval/sqa/accuracy": 42.5}, 7)
    runs = list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1
    # wandb 0.31 reads its own log format only in its Go core: look for the history item's bytes
    # (key and JSON value, as protobuf strings) in the offline run file instead.
    expected = b"\x12\x14vlmeval/sqa/accuracy\x82\x01\x0442.5"  # key (field 2), value_json (field 16)
    deadline = time.monotonic() + 30  # wandb's service process may still be flushing the file
    while expected not in runs[0].read_bytes() and time.monotonic() < deadline:
        time.sleep(0.2)
    data = runs[0].read_bytes()
    assert expected in data
