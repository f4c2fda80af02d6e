"""EvalCallback: a tiny LLaVA trained a few steps on CPU is evaluated in memory at two steps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.tensorboard_events import read_scalars
from vlmeval.cli import main
from vlmeval.errors import UsageError
from vlmeval.reporting.trend import build_trend

pytest.importorskip("transformers")


def _train_rows(processor: Any, n: int) -> list[dict[str, Any]]:
    """Colour questions in the demo's chat frame, every token of the answer labelled."""
    from PIL import Image

    colors = {"A": (230, 30, 30), "B": (30, 200, 30), "C": (30, 30, 230), "D": (230, 230, 30)}
    rows = []
    for i in range(n):
        letter = "ABCD"[i % 4]
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text":
                    "Which color fills the picture?\nA. red\nB. green\nC. blue\nD. yellow"}]}]
        text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        encoded = processor(text=[text + f" {letter}</s>"], images=[Image.new("RGB", (32, 32), colors[letter])],
                            return_tensors="pt", add_special_tokens=False)
        row = {key: value[0] for key, value in encoded.items()}
        row["labels"] = row["input_ids"].clone()
        rows.append(row)
    return rows


@pytest.mark.slow
def test_callback_evaluates_at_two_steps_and_logs_through_the_trainer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers

    from vlmeval.demo import CHECKPOINT_DIR
    from vlmeval.integrations.hf import EvalCallback
    from vlmeval.reporting.record import load_report

    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tmp_path / "tb"))
    # The trained demo model: its answers are letters, so accuracy is a number at every step (a random
    # model's unreadable answers leave the metric missing, and nothing is logged for it).
    checkpoint = CHECKPOINT_DIR
    model = transformers.AutoModelForImageTextToText.from_pretrained(str(checkpoint))
    processor = transformers.AutoProcessor.from_pretrained(str(checkpoint))
    callback = EvalCallback(tasks=["sqa"], every=2, data="demo", limit=8, max_new_tokens=2, quiet=True)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=4, per_device_train_batch_size=4, learning_rate=1e-3,
        logging_steps=1, save_strategy="no", report_to=["tensorboard"],
        use_cpu=True, dataloader_num_workers=0, disable_tqdm=True)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=_train_rows(processor, 16),
                                   processing_class=processor, callbacks=[callback])
    trainer.train()

    assert callback.evaluated_steps == [2, 4]
    logged = [entry for entry in trainer.state.log_history if "vlmeval/sqa/accuracy" in entry]
    assert [entry["step"] for entry in logged] == [2, 4]
    for step, entry in zip((2, 4), logged, strict=True):
        report = load_report(tmp_path / "out" / "vlmeval" / f"step-{step}" / "sqa" / "report.json")
        assert report.spec.label == f"step-{step}" and report.n_samples == 8
        assert entry["vlmeval/sqa/accuracy"] == report.metrics["accuracy"]
        assert report.spec.backend["in_memory"] is True
    # The two runs are two states of the weights: their identities differ.
    identities = [json.loads((tmp_path / "out" / "vlmeval" / f"step-{s}" / "sqa" / "run.json").read_text())
                  ["identity"]["checkpoint"] for s in (2, 4)]
    assert identities[0] != identities[1]
    assert model.training  # the Trainer's model is back in train mode
    # `vlmeval trend` draws the two runs in step order.
    assert main(["trend", str(tmp_path / "out" / "vlmeval"), "-o", str(tmp_path / "trend.html")]) == 0
    trend = build_trend([tmp_path / "out" / "vlmeval"], primary_only=True)
    assert [p.step for p in trend.metrics[0].points] == [2, 4]
    assert (tmp_path / "trend.html").read_text().count("<svg") == 9  # one chart per sqa metric
    # report_to=tensorboard received them through Trainer.log at the training step (the Trainer's
    # TensorBoardCallback files logs other than eval_* under train/).
    events = read_scalars(tmp_path / "tb")
    assert [step for step, _ in events["train/vlmeval/sqa/accuracy"]] == [2, 4]
    assert [value for _, value in events["train/vlmeval/sqa/accuracy"]] == pytest.approx(
        [entry["vlmeval/sqa/accuracy"] for entry in logged])


def test_callback_refuses_what_it_sets_itself() -> None:
    from vlmeval.integrations.hf import EvalCallback

    with pytest.raises(UsageError, match="sets run_name= itself"):
        EvalCallback(tasks="sqa", run_name="x")
    with pytest.raises(UsageError, match="every must be at least 1"):
        EvalCallback(tasks="sqa", every=0)


def test_without_every_it_evaluates_at_the_chosen_event_once_per_step(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers

    import vlmeval.api
    from vlmeval.api import Evaluation
    from vlmeval.integrations.hf import EvalCallback

    calls: list[dict[str, Any]] = []

    def fake_evaluate(model: Any, tasks: Any, **options: Any) -> Evaluation:
        calls.append({"model": model, "tasks": tasks, **options})
        return Evaluation(reports={})

    monkeypatch.setattr(vlmeval.api, "evaluate", fake_evaluate)
    args = transformers.TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[])
    control = transformers.TrainerControl()
    on_save = EvalCallback(tasks="sqa", at="save", limit=4)
    state = transformers.TrainerState(global_step=10)
    on_save.on_evaluate(args, state, control, model="m", processing_class="p")
    assert calls == []
    on_save.on_save(args, state, control, model="m", processing_class="p")
    on_save.on_save(args, state, control, model="m", processing_class="p")  # the same step again
    assert len(calls) == 1 and on_save.evaluated_steps == [10]
    call = calls[0]
    assert call["output"] == tmp_path / "vlmeval" and call["run_name"] == call["label"] == "step-10"
    assert call["processor"] == "p" and call["tasks"] == ["sqa"] and call["limit"] == 4
    # No Trainer on the call stack: the (here empty) scalars still reach the log history at the step.
    assert state.log_history == [{"step": 10}]
    with pytest.raises(UsageError, match="pass processor="):
        EvalCallback(tasks="sqa").on_evaluate(args, transformers.TrainerState(global_step=3), control, model="m")
