"""Compatibility matrix: a tiny random checkpoint of each architecture runs `sqa` through the CLI.

Each checkpoint (tests/tiny_models.py) is saved with `save_pretrained` and loaded back by the
backend exactly as a downloaded one would be. The samples are two demo questions with an image
and one without, in one batch. `python -m tests.backends.test_transformers_architectures` prints docs/models.md's table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import read_jsonl
from tests.tiny_models import ARCHITECTURES, Architecture, checkpoint
from tests.tiny_models_recent import RECENT
from vlmeval.cli import main

DEMO_ROWS = (0, 1, 40)  # rows 0 and 1 have an image, row 40 has none
NEEDS_TORCHVISION = "model and batching only, processor built in memory (no torchvision here)"
ALL_ARCHITECTURES = ARCHITECTURES + RECENT
SAVED = [arch for arch in ALL_ARCHITECTURES if "torchvision" not in arch.requires]  # loaded from save_pretrained


def _status(arch: Architecture) -> str:
    return NEEDS_TORCHVISION if "torchvision" in arch.requires else "`sqa` from a saved checkpoint"


def architecture_table() -> str:
    """docs/models.md's table: what the matrix below runs, architecture by architecture."""
    lines = [
        "| architecture | transformers class | `--prompt-style` | tested here | several images | notes |",
        "|---|---|---|---|---|---|",
    ]
    several = {True: "yes", False: "no", None: "untested"}
    for arch in ALL_ARCHITECTURES:
        lines.append(f"| {arch.name} | `{arch.model_class}` | `{arch.prompt_style}` | {_status(arch)} | "
                     f"{several[arch.several_images]} | {arch.notes} |")
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
@pytest.mark.parametrize("arch", ALL_ARCHITECTURES, ids=[a.name for a in ALL_ARCHITECTURES])
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
    assert report["spec"]["backend"]["architecture"] == arch.model_class
    assert report["spec"]["backend"]["prompt_style"] == arch.prompt_style
    assert report["n_samples"] == 3
    for sample_id in ("0", "1"):  # the samples with an image
        assert records[sample_id]["error"] is None and records[sample_id]["prediction"] is not None
    text_only = records["2"]
    if arch.image_only:
        assert "only prompts with an image" in text_only["error"]
    else:
        assert text_only["error"] is None and text_only["prediction"] is not None
    # Random weights answer no letter: the metrics are missing (exit 3) whatever the architecture, so
    # what is checked is that every sample was answered, or refused as the processor must refuse it.
    assert code in (0, 3) and report["counts"]["errors"] == int(arch.image_only)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
@pytest.mark.parametrize("arch", SAVED, ids=[a.name for a in SAVED])
def test_architecture_runs_mmmu_with_two_images_in_place(arch: Architecture, tmp_path: Path) -> None:
    """MMMU's demo question citing two images goes through `vlmeval run` to the saved checkpoint."""
    if missing := arch.missing():
        pytest.skip(f"{arch.name}: {', '.join(missing)} not installed ({arch.notes})")
    main(["run", "--task", "mmmu_val", "--model", str(checkpoint(arch)), "--data", "demo", "--output",
          str(tmp_path), "--run-name", "run", "--max-new-tokens", "3", "--device", "cpu",
          "--prompt-style", arch.prompt_style, "--no-progress"])
    two = {r["id"]: r for r in read_jsonl(tmp_path / "run" / "mmmu_val" / "predictions.jsonl")}["validation_Art_1"]
    if arch.several_images:
        assert two["error"] is None and two["usage"]["generated_tokens"] >= 1
    else:
        assert two["failure"] == "too_many_images" and "at most 1" in two["error"]


def answers_batches_without_torchvision(arch: Architecture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the processor cannot be loaded (no torchvision), the backend still answers batches.

    transformers refuses to build these processors without their video processor, which needs
    torchvision; only that refusal is bypassed here, in memory, so the model, the image processor
    and the backend's batching are the real ones.
    """
    from tests.backends.test_batch_invariance import mixed_requests
    from vlmeval.backends.base import Generation, GenerationSettings

    backend = _in_memory_backend(arch, monkeypatch)
    settings = GenerationSettings(max_new_tokens=5)
    requests = mixed_requests(6)
    batched = backend.generate(requests, settings)
    assert batched == [backend.generate([r], settings)[0] for r in requests]
    assert all(isinstance(answer, Generation) for answer in batched)
    assert len({answer.text for answer in batched}) > 1  # type: ignore[union-attr]


def _in_memory_backend(arch: Architecture, monkeypatch: pytest.MonkeyPatch) -> Any:
    import importlib.util
    import types

    from transformers.processing_utils import ProcessorMixin

    from tests.backends.test_batch_invariance import mixed_requests
    from vlmeval.backends import BackendOptions
    from vlmeval.backends import transformers as backend_module

    assert importlib.util.find_spec("torchvision") is None
    check = ProcessorMixin.check_argument_for_proper_class
    monkeypatch.setattr(ProcessorMixin, "check_argument_for_proper_class",
                        lambda self, name, value: None if name == "video_processor" else check(self, name, value))
    stand_in = types.SimpleNamespace(num_frames=1, fps=1)  # SmolVLM's chat template reads these
    model, processor, _ = arch.make(**({"video_processor": stand_in} if arch.name == "SmolVLM" else {}))
    monkeypatch.setattr(backend_module, "_load_processor", lambda *args: processor)
    monkeypatch.setattr(backend_module, "_load_model", lambda *args: model)
    return _widened(backend_module.TransformersBackend(arch.name, BackendOptions(device="cpu")))


def _widened(backend: Any) -> Any:
    import torch

    generator = torch.Generator().manual_seed(0)
    for parameter in backend.model.parameters():  # wider weights: answers that depend on the input
        parameter.data.normal_(0.0, 0.3, generator=generator)
    return backend


def _backend(arch: Architecture, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The backend on the saved checkpoint, or on the in-memory one where only torchvision is missing."""
    from vlmeval.backends import BackendOptions
    from vlmeval.backends.transformers import TransformersBackend

    missing = arch.missing()
    if missing == ["torchvision"]:
        return _in_memory_backend(arch, monkeypatch)
    if missing:
        pytest.skip(f"{arch.name}: {', '.join(missing)} not installed ({arch.notes})")
    options = BackendOptions(device="cpu", prompt_style=arch.prompt_style)
    return _widened(TransformersBackend(str(checkpoint(arch)), options))


TWO_IMAGES = "Compare <image 1> with <image 2>. Which is red?"


def _requests() -> list[Any]:
    """One image, two images in their places, none, and one image again: one batch of four."""
    from PIL import Image

    from vlmeval.backends.base import Request

    red, blue = Image.new("RGB", (32, 32), (220, 20, 20)), Image.new("RGB", (40, 24), (20, 20, 220))
    offsets = (TWO_IMAGES.index("<image 1>"), TWO_IMAGES.index("<image 2>"))
    return [Request("one", "Which color fills the picture?", (red,)),
            Request("two", TWO_IMAGES, (red, blue), image_offsets=offsets),
            Request("none", "Which of these is a solid?"),
            Request("other", "Which color fills the picture?", (blue,))]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
@pytest.mark.parametrize("arch", ALL_ARCHITECTURES, ids=[a.name for a in ALL_ARCHITECTURES])
def test_one_two_and_no_image_answers_do_not_depend_on_the_batch(arch: Architecture,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Batch 1 vs 4 over one, two and no image; whether two images are taken is what the table says."""
    from vlmeval.backends.base import Generation, GenerationSettings, SampleError

    backend = _backend(arch, monkeypatch)
    settings = GenerationSettings(max_new_tokens=4)
    requests = _requests() if arch.several_images else [r for r in _requests() if len(r.images) < 2]
    def comparable(replies: list[Any]) -> list[Any]:  # two SampleErrors are equal when their messages are
        return [f"error: {r}" if isinstance(r, SampleError) else r for r in replies]

    batched = backend.generate(requests, settings)
    assert comparable(batched) == comparable([backend.generate([r], settings)[0] for r in requests])
    by_id = dict(zip([r.sample_id for r in requests], batched, strict=True))
    assert isinstance(by_id["none"], SampleError) == arch.image_only
    assert all(isinstance(by_id[i], Generation) for i in ("one", "other"))
    if arch.several_images:
        assert isinstance(by_id["two"], Generation) and by_id["two"].prompt_tokens > by_id["one"].prompt_tokens
    else:
        assert backend.max_images == 1  # so the runner refuses such samples as too_many_images
        try:
            refused = backend.generate([_requests()[1]], settings)[0]
        except Exception:  # noqa: BLE001 - the runner records a raising sample as its error
            refused = None
        assert not isinstance(refused, Generation), f"{arch.name} takes two images: set several_images=True"


def test_models_page_carries_the_matrix_table() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "models.md").read_text(encoding="utf-8")
    stale = "docs/models.md's architecture table is stale: python -m tests.backends.test_transformers_architectures"
    assert architecture_table() in page, stale


if __name__ == "__main__":
    print(architecture_table())
