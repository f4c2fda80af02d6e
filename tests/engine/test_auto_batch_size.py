"""`--batch-size auto`: start large, halve on out-of-memory, keep the largest size that fits."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.fakes.scripted import ScriptedBackend
from vlmeval.backends.base import GenerationSettings, Request, SampleError
from vlmeval.cli import main
from vlmeval.engine.runner import generate, is_out_of_memory
from vlmeval.engine.store import AnswerStore
from vlmeval.task import Sample


class TorchOutOfMemory(ScriptedBackend):
    """Raises torch's own OutOfMemoryError (as a CUDA allocation does) above `max_batch`."""

    def generate(self, requests: Sequence[Request], settings: GenerationSettings) -> list[str | SampleError]:
        import torch

        self.calls.append([r.sample_id for r in requests])
        if len(requests) > self.max_batch:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return ["A"] * len(requests)


def _samples(n: int) -> list[Sample]:
    return [Sample(id=str(i), text=f"question {i}", target="A") for i in range(n)]


def test_auto_halves_until_a_batch_fits_and_keeps_that_size(tmp_path: Path) -> None:
    backend = TorchOutOfMemory(max_batch=12)
    summary = generate(_samples(200), lambda: backend, GenerationSettings(), AnswerStore(tmp_path), 64,
                       show_progress=False, auto_batch=True)
    assert summary.answered == 200 and summary.errors == 0
    assert summary.batch_size == 8  # 64 -> 32 -> 16 -> 8, the largest halving that fits under 12
    sizes = [len(call) for call in backend.calls]
    assert sizes[:3] == [64, 32, 16]  # one failed call per halving, no more
    assert all(size <= 8 for size in sizes[3:])
    assert sum(sizes[3:]) == 200 and sizes.count(8) == 25


def test_a_fixed_size_still_retries_in_halves_and_starts_every_batch_full(tmp_path: Path) -> None:
    backend = TorchOutOfMemory(max_batch=12)
    summary = generate(_samples(64), lambda: backend, GenerationSettings(), AnswerStore(tmp_path), 32,
                       show_progress=False)
    assert summary.answered == 64 and summary.batch_size == 32
    assert [len(c) for c in backend.calls].count(32) == 2  # both batches tried at the size asked for


class RemembersHandledErrors(TorchOutOfMemory):
    """Notes, at every call, whether an exception is still being handled (its traceback alive)."""

    def __init__(self, max_batch: int) -> None:
        super().__init__(max_batch)
        self.handling: list[bool] = []

    def generate(self, requests: Sequence[Request], settings: GenerationSettings) -> list[str | SampleError]:
        self.handling.append(sys.exc_info()[0] is not None)
        return super().generate(requests, settings)


@pytest.mark.parametrize("auto", [True, False])
def test_retries_run_after_the_failed_batch_is_released(tmp_path: Path, auto: bool) -> None:
    # An exception's traceback holds the failed call's frames and tensors: a retry made inside the
    # except block would run with the failed batch's GPU memory still held.
    backend = RemembersHandledErrors(max_batch=3)
    summary = generate(_samples(16), lambda: backend, GenerationSettings(), AnswerStore(tmp_path), 16,
                       show_progress=False, auto_batch=auto)
    assert summary.answered == 16 and len(backend.handling) > 1 and not any(backend.handling)


def test_other_errors_do_not_lower_the_size(tmp_path: Path) -> None:
    backend = ScriptedBackend(max_batch=64, broken=["3"])
    summary = generate(_samples(40), lambda: backend, GenerationSettings(), AnswerStore(tmp_path), 16,
                       show_progress=False, auto_batch=True)
    assert summary.batch_size == 16 and summary.errors == 1


def test_out_of_memory_is_recognised_by_type_and_by_message() -> None:
    import torch

    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory"))
    assert is_out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 1 GB)"))
    assert not is_out_of_memory(ValueError("image out of memory range"))  # not a RuntimeError
    assert not is_out_of_memory(RuntimeError("shape mismatch"))


def _run(tmp_path: Path, *flags: str) -> int:
    return main(["run", "--task", "sqa", "--model", "scripted", "--data", "demo", "--output", str(tmp_path),
                 "--no-progress", *flags])


def test_run_records_the_size_auto_kept_in_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = TorchOutOfMemory(max_batch=5)
    monkeypatch.setattr("vlmeval.engine.evaluate.make_backend", lambda model, options: backend)
    assert _run(tmp_path, "--batch-size", "auto", "--max-batch-size", "32") == 0
    report = json.loads((tmp_path / "scripted" / "sqa" / "report.json").read_text())
    assert report["spec"]["batching"] == {"batch_size": "auto", "max_batch_size": 32, "chosen": 4}
    assert report["counts"]["errors"] == 0 and report["counts"]["answered"] == report["n_samples"]


def test_a_fixed_size_is_recorded_too(tmp_path: Path, scripted: ScriptedBackend) -> None:
    assert _run(tmp_path, "--batch-size", "4") == 0
    report = json.loads((tmp_path / "scripted" / "sqa" / "report.json").read_text())
    assert report["spec"]["batching"] == {"batch_size": 4}
    assert max(len(call) for call in scripted.calls) == 4


@pytest.mark.parametrize(("flags", "message"), [
    (("--batch-size", "0"), "--batch-size must be at least 1 (got 0)"),
    (("--batch-size", "auto", "--max-batch-size", "0"), "--max-batch-size must be at least 1 (got 0)"),
    (("--max-batch-size", "16"), "--max-batch-size applies to --batch-size auto only"),
])
def test_bad_batch_flags_are_one_line_errors(tmp_path: Path, scripted: ScriptedBackend,
                                             capsys: pytest.CaptureFixture[str], flags: tuple[str, ...],
                                             message: str) -> None:
    assert _run(tmp_path, *flags) == 2
    assert message in capsys.readouterr().err and not scripted.calls


def test_batch_size_that_is_neither_a_number_nor_auto_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--task", "sqa", "--model", "demo", "--batch-size", "big"])
    assert "expected a number or auto, got 'big'" in capsys.readouterr().err


def test_with_several_shards_the_report_keeps_the_smallest_size_any_kept(tmp_path: Path) -> None:
    from vlmeval.engine.evaluate import _record_chosen_batch_size
    from vlmeval.engine.run_folder import read_run_file, update_run_file

    update_run_file(tmp_path, {"batching": {"batch_size": "auto", "max_batch_size": 64}})
    for shard_kept, recorded in ((32, 32), (64, 32), (16, 16)):
        _record_chosen_batch_size(tmp_path, shard_kept)
        assert read_run_file(tmp_path)["batching"] == {"batch_size": "auto", "max_batch_size": 64, "chosen": recorded}


@pytest.mark.slow
def test_auto_with_the_transformers_backend_keeps_its_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real backend (prepared batches, its own out-of-memory clean-up) on the demo model."""
    import torch

    from vlmeval.backends.transformers import TransformersBackend

    assert _run_demo(tmp_path / "fixed", "--batch-size", "8") == 0
    run = TransformersBackend._run
    sizes: list[int] = []

    def limited(self: TransformersBackend, inputs: object, settings: GenerationSettings) -> list[str]:
        sizes.append(int(inputs["input_ids"].shape[0]))  # type: ignore[index]
        if sizes[-1] > 5:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")
        return run(self, inputs, settings)

    monkeypatch.setattr(TransformersBackend, "_run", limited)
    assert _run_demo(tmp_path / "auto", "--batch-size", "auto", "--max-batch-size", "16") == 0
    auto = json.loads((tmp_path / "auto" / "demo" / "sqa" / "report.json").read_text())
    assert auto["spec"]["batching"]["chosen"] == 4 and auto["counts"]["errors"] == 0
    assert sizes[:2] == [16, 8] and max(sizes[2:]) == 4

    def answers(folder: Path) -> dict[str, str]:
        lines = (folder / "demo" / "sqa" / "predictions.jsonl").read_text().splitlines()
        return {row["id"]: row["prediction"] for row in map(json.loads, lines)}

    assert answers(tmp_path / "auto") == answers(tmp_path / "fixed")


def _run_demo(output: Path, *flags: str) -> int:
    return main(["run", "--task", "sqa", "--model", "demo", "--data", "demo", "--output", str(output),
                 "--no-progress", "--device", "cpu", *flags])
