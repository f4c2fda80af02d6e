"""`vlmeval.evaluate`: the CLI's engine from Python, on a checkpoint name or a model in memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import vlmeval
from tests.tensorboard_events import read_scalars
from vlmeval.cli import main
from vlmeval.demo import CHECKPOINT_DIR
from vlmeval.errors import UsageError


def _load_demo() -> tuple[Any, Any]:
    import transformers

    model = transformers.AutoModelForImageTextToText.from_pretrained(str(CHECKPOINT_DIR))
    processor = transformers.AutoProcessor.from_pretrained(str(CHECKPOINT_DIR))
    return model, processor


def test_evaluate_is_exported() -> None:
    assert "evaluate" in vlmeval.__all__ and "Evaluation" in vlmeval.__all__
    assert vlmeval.evaluate.__module__ == "vlmeval.api"


def test_a_processor_with_a_model_name_is_refused() -> None:
    with pytest.raises(UsageError, match="processor= goes with a model object"):
        vlmeval.evaluate("demo", "sqa", processor=object(), data="demo")


def test_something_that_is_not_a_model_is_refused() -> None:
    with pytest.raises(UsageError, match="not int"):
        vlmeval.evaluate(3, "sqa", data="demo")


@pytest.mark.slow
def test_in_memory_model_equals_the_cli_byte_for_byte(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    model, processor = _load_demo()
    model.train()
    model.model.vision_tower.eval()  # a frozen tower, as in LLaVA training: its own flag must survive
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    grads = {name: p.requires_grad for name, p in model.named_parameters()}
    modes = {name: m.training for name, m in model.named_modules()}
    processor.tokenizer.padding_side = "right"

    result = vlmeval.evaluate(model, "sqa", processor=processor, data="demo", output=tmp_path / "api",
                              run_name="demo", batch_size=4)
    assert main(["run", "--model", "demo", "--task", "sqa", "--data", "demo", "--batch-size", "4",
                 "--output", str(tmp_path / "cli"), "--no-progress"]) == 0

    api_dir, cli_dir = tmp_path / "api" / "demo" / "sqa", tmp_path / "cli" / "demo" / "sqa"
    assert result.folders == {"sqa": api_dir}
    assert (api_dir / "predictions.jsonl").read_bytes() == (cli_dir / "predictions.jsonl").read_bytes()
    cli_report = vlmeval.load_report(cli_dir / "report.json")
    assert result.reports["sqa"].metrics == cli_report.metrics
    assert result.reports["sqa"].ci == cli_report.ci
    assert result.metrics["sqa"]["accuracy"] == cli_report.metrics["accuracy"]
    assert result.scalars()["vlmeval/sqa/accuracy"] == cli_report.metrics["accuracy"]
    # The model as it was: same object state, weights, flags; nothing moved or cast.
    assert {name: m.training for name, m in model.named_modules()} == modes
    assert {name: p.requires_grad for name, p in model.named_parameters()} == grads
    assert all(torch.equal(p, before[name]) for name, p in model.named_parameters())
    assert next(model.parameters()).dtype == torch.float32 and next(model.parameters()).device.type == "cpu"
    assert processor.tokenizer.padding_side == "right" and torch.is_grad_enabled()
    backend = result.reports["sqa"].spec.backend
    assert backend["in_memory"] is True and backend["architecture"] == "LlavaForConditionalGeneration"
    assert result.reports["sqa"].spec.identity.checkpoint.startswith("params:")


@pytest.mark.slow
def test_resume_keeps_answers_and_other_weights_are_refused(tmp_path: Path) -> None:
    import torch

    model, processor = _load_demo()
    first = vlmeval.evaluate(model, "sqa", processor=processor, data="demo", limit=8, output=tmp_path, quiet=True,
                             log_to=f"tensorboard:{tmp_path / 'tb'}", step=3)
    assert read_scalars(tmp_path / "tb")["vlmeval/sqa/accuracy"] == [(3, pytest.approx(first.metrics["sqa"]["accuracy"]))]
    again = vlmeval.evaluate(model, "sqa", processor=processor, data="demo", limit=8, output=tmp_path, quiet=True)
    assert again.metrics == first.metrics
    with torch.no_grad():
        next(model.parameters()).add_(1.0)  # a training step later: the folder's answers are not this model's
    with pytest.raises(UsageError, match="checkpoint"):
        vlmeval.evaluate(model, "sqa", processor=processor, data="demo", limit=8, output=tmp_path, quiet=True)


@pytest.mark.slow
def test_checkpoint_name_without_output_leaves_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = vlmeval.evaluate("demo", ["sqa"], data="demo", limit=6, quiet=True)
    assert result.folders == {} and list(tmp_path.iterdir()) == []
    assert result.reports["sqa"].n_samples == 6 and result.reports["sqa"].model == "demo"


def test_a_replay_model_string_gives_what_the_cli_gives(tmp_path: Path) -> None:
    from tests.helpers import sqa_row, write_jsonl, write_parquet

    rows = [sqa_row(answer=i % 4, question=f"Which color? ({i})") for i in range(10)]
    data = write_parquet(tmp_path / "sqa" / "test-00000-of-00001.parquet", rows)
    predictions = write_jsonl(tmp_path / "p.jsonl", [{"id": str(i), "prediction": "AB"[i % 2]} for i in range(10)])
    result = vlmeval.evaluate(f"replay:{predictions}", "sqa", data=str(data), output=tmp_path / "api",
                              run_name="r", quiet=True)
    assert main(["run", "--task", "sqa", "--data", str(data), "--model", f"replay:{predictions}",
                 "--output", str(tmp_path / "cli"), "--run-name", "r", "--no-progress"]) == 0
    api, cli = tmp_path / "api" / "r" / "sqa", tmp_path / "cli" / "r" / "sqa"
    assert (api / "predictions.jsonl").read_bytes() == (cli / "predictions.jsonl").read_bytes()
    assert result.metrics["sqa"] == vlmeval.load_report(cli / "report.json").metrics
    assert result.reports["sqa"].spec.identity == vlmeval.load_report(cli / "report.json").spec.identity
