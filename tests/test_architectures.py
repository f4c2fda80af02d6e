"""Compatibility matrix: a tiny random checkpoint of each architecture runs `sqa` through the CLI.

Each checkpoint (tests/tiny_models.py) is saved with `save_pretrained` and loaded back by the
backend exactly as a downloaded one would be. The samples are two demo questions with an image
and one without, in one batch. `python -m tests.test_architectures` prints docs/models.md's table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import read_jsonl
from tests.tiny_models import ARCHITECTURES, Architecture, checkpoint
from vlmeval.cli import main

DEMO_ROWS = (0, 1, 40)  # rows 0 and 1 have an image, row 40 has none
NEEDS_TORCHVISION = "model and batching only, processor built in memory (no torchvision here)"


def _status(arch: Architecture) -> str:
    return NEEDS_TORCHVISION if "torchvision" in arch.requires else "`sqa` from a saved checkpoint"


def architecture_table() -> str:
    """docs/models.md's table: what the matrix below runs, architecture by architecture."""
    lines = [
        "| architecture | transformers class | `--prompt-style` | tested here | notes |",
        "|---|---|---|---|---|",
    ]
    for arch in ARCHITECTURES:
        lines.append(f"| {arch.name} | `{arch.model_class}` | `{arch.prompt_style}` | {_status(arch)} | {arch.notes} |")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def demo_three(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import pyarrow.parquet as pq

    from vlmeval.registry import load_registry

    demo = load_registry([]).get("sqa").data.demo
    table = pq.read_table(demo).take(list(DEMO_ROWS))
    path = tmp_path_factory.mktemp("sqa") / "test.parquet"
    pq.write_table(table, path)
    return path


def _run(model: Path, data: Path, out: Path, prompt_style: str) -> tuple[int, dict[str, Any], dict[str, Any]]:
    code = main(["run", "--task", "sqa", "--model", str(model), "--data", str(data), "--output", str(out),
                 "--run-name", "run", "--max-new-tokens", "4", "--batch-size", "3", "--device", "cpu",
                 "--prompt-style", prompt_style, "--no-progress"])
    report = json.loads((out / "run" / "sqa" / "report.json").read_text())
    records = {r["id"]: r for r in read_jsonl(out / "run" / "sqa" / "predictions.jsonl")}
    return code, report, records


# PaliGemma's processor hands torch tensors to numpy.array (a numpy 2 deprecation, not ours).
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
@pytest.mark.parametrize("arch", ARCHITECTURES, ids=[a.name for a in ARCHITECTURES])
def test_architecture_runs_sqa(arch: Architecture, demo_three: Path, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Without torchvision (CI installs none), its architectures run the in-memory variant instead."""
    missing = arch.missing()
    if missing == ["torchvision"]:
        answers_batches_without_torchvision(arch, monkeypatch)
        return
    if missing:
        pytest.skip(f"{arch.name}: {', '.join(missing)} not installed ({arch.notes})")
    code, report, records = _run(checkpoint(arch), demo_three, tmp_path, arch.prompt_style)
    assert report["backend"]["architecture"] == arch.model_class
    assert report["backend"]["prompt_style"] == arch.prompt_style
    assert report["n_samples"] == 3
    for sample_id in ("0", "1"):  # the samples with an image
        assert records[sample_id]["error"] is None and records[sample_id]["prediction"] is not None
    text_only = records["2"]
    if arch.image_only:
        assert code == 3 and "only prompts with an image" in text_only["error"]
    else:
        assert code == 0 and text_only["error"] is None and text_only["prediction"] is not None


def answers_batches_without_torchvision(arch: Architecture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the processor cannot be loaded (no torchvision), the backend still answers batches.

    transformers refuses to build these processors without their video processor, which needs
    torchvision; only that refusal is bypassed here, in memory, so the model, the image processor
    and the backend's batching are the real ones.
    """
    import importlib.util
    import types

    import torch
    from transformers.processing_utils import ProcessorMixin

    from tests.test_batch_invariance import mixed_requests
    from vlmeval.backends import BackendOptions
    from vlmeval.backends import transformers as backend_module
    from vlmeval.backends.base import Generation, GenerationSettings

    assert importlib.util.find_spec("torchvision") is None
    check = ProcessorMixin.check_argument_for_proper_class
    monkeypatch.setattr(ProcessorMixin, "check_argument_for_proper_class",
                        lambda self, name, value: None if name == "video_processor" else check(self, name, value))
    stand_in = types.SimpleNamespace(num_frames=1, fps=1)  # SmolVLM's chat template reads these
    model, processor, _ = arch.make(**({"video_processor": stand_in} if arch.name == "SmolVLM" else {}))
    monkeypatch.setattr(backend_module, "_load_processor", lambda *args: processor)
    monkeypatch.setattr(backend_module, "_load_model", lambda *args: model)
    backend = backend_module.TransformersBackend(arch.name, BackendOptions(device="cpu"))
    generator = torch.Generator().manual_seed(0)
    for parameter in backend.model.parameters():  # wider weights: answers that depend on the input
        parameter.data.normal_(0.0, 0.3, generator=generator)
    settings = GenerationSettings(max_new_tokens=5)
    requests = mixed_requests(6)
    batched = backend.generate(requests, settings)
    assert batched == [backend.generate([r], settings)[0] for r in requests]
    assert all(isinstance(answer, Generation) for answer in batched)
    assert len({answer.text for answer in batched}) > 1  # type: ignore[union-attr]


def test_models_page_carries_the_matrix_table() -> None:
    page = (Path(__file__).resolve().parents[1] / "docs" / "models.md").read_text(encoding="utf-8")
    stale = "docs/models.md's architecture table is stale: python -m tests.test_architectures"
    assert architecture_table() in page, stale


if __name__ == "__main__":
    print(architecture_table())
