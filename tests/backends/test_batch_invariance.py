"""Greedy answers must not depend on the batch size (left padding, mixed image/text batches)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import COLORS
from tests.tiny_models import BY_NAME, checkpoint
from vlmeval.backends import BackendOptions
from vlmeval.backends.base import GenerationSettings, PreparingBackend, Reply, Request, SampleError
from vlmeval.backends.transformers import TransformersBackend


def _requests() -> list[Request]:
    from PIL import Image

    words = ["red", "green blue", "Which color fills the picture?", "a b c d e f g h", "yes"]
    requests = []
    for i in range(20):
        rgb = list(COLORS.values())[i % 4]
        images = (Image.new("RGB", (32, 32), rgb),) if i % 3 else ()
        text = " ".join(words[: 1 + i % 5]) + f" question {i}\nAnswer with the option's letter."
        requests.append(Request(sample_id=str(i), text=text, images=images))
    return requests


@pytest.mark.slow
def test_batch_1_equals_batch_16(tiny_llava: Path) -> None:
    import torch

    backend = TransformersBackend(str(tiny_llava), BackendOptions(device="cpu"))
    # The saved init is so small that every prompt gets the same tokens; wider random weights
    # make answers depend on the input, which is what this test needs to see.
    generator = torch.Generator().manual_seed(0)
    for parameter in backend.model.parameters():
        parameter.data.normal_(0.0, 0.2, generator=generator)
    settings = GenerationSettings(max_new_tokens=12)
    requests = _requests()
    one_by_one = [backend.generate([r], settings)[0] for r in requests]
    batched = backend.generate(requests[:16], settings) + backend.generate(requests[16:], settings)
    assert batched == one_by_one
    assert len(set(one_by_one)) > 1  # a model that always says the same thing proves nothing


@pytest.mark.slow
def test_demo_model_is_batch_invariant() -> None:
    from vlmeval.demo import CHECKPOINT_DIR

    backend = TransformersBackend(str(CHECKPOINT_DIR), BackendOptions(device="cpu"))
    settings = GenerationSettings(max_new_tokens=4)
    requests = _requests()
    assert backend.generate(requests[:16], settings) == [backend.generate([r], settings)[0] for r in requests[:16]]


def mixed_requests(n: int) -> list[Request]:
    """Prompts of different lengths; images of different sizes and shapes, and none every third."""
    from PIL import Image

    sizes = [(32, 32), (40, 24), (64, 64), (24, 48)]
    requests = []
    for i in range(n):
        rgb = list(COLORS.values())[i % 4]
        images = (Image.new("RGB", sizes[i % 4], rgb),) if i % 3 != 2 else ()
        text = "Which color fills the picture? " * (1 + i % 3) + f"({i})\nA. red\nB. green"
        requests.append(Request(sample_id=str(i), text=text, images=images))
    return requests


# Each takes another road through the backend: tiles (LLaVA-NeXT, Idefics3's nested image lists),
# a processor that writes its own image prompt (PaliGemma, which also refuses text-only prompts;
# Florence-2, an encoder-decoder), a second vision tower (DeepSeek-VL-Hybrid).
# PaliGemma's processor hands torch tensors to numpy.array (a numpy 2 deprecation, not ours).
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
@pytest.mark.parametrize("name", ["LLaVA-NeXT", "Idefics3", "PaliGemma", "DeepSeek-VL-Hybrid", "Florence-2"])
def test_other_architectures_are_batch_invariant(name: str) -> None:
    import torch

    arch = BY_NAME[name]
    backend = TransformersBackend(str(checkpoint(arch)), BackendOptions(device="cpu", prompt_style=arch.prompt_style))
    generator = torch.Generator().manual_seed(0)
    for parameter in backend.model.parameters():  # wide enough that every model's answers vary
        parameter.data.normal_(0.0, 1.0, generator=generator)
    settings = GenerationSettings(max_new_tokens=5)
    requests = mixed_requests(6)

    def comparable(answers: list[Reply]) -> list[str]:
        return [f"error: {a}" if isinstance(a, SampleError) else a.text for a in answers]  # type: ignore[union-attr]

    batched = comparable(backend.generate(requests, settings))
    assert batched == comparable([backend.generate([r], settings)[0] for r in requests])
    assert len(set(batched)) > 2  # answers depend on the input
    errors = [a for a in batched if a.startswith("error:")]
    assert len(errors) == (2 if arch.image_only else 0)  # requests 2 and 5 have no image


@pytest.mark.slow
def test_runner_with_prepared_batches_equals_one_by_one(tmp_path: Path) -> None:
    """The runner's path (length-sorted batches, preprocessing ahead in a thread) changes no answer."""
    from vlmeval.demo import CHECKPOINT_DIR
    from vlmeval.engine.runner import generate
    from vlmeval.engine.samples import load_samples
    from vlmeval.engine.store import AnswerStore
    from vlmeval.registry import load_registry

    samples = load_samples(load_registry().get("sqa"), "demo", None, 30).samples
    backend = TransformersBackend(str(CHECKPOINT_DIR), BackendOptions(device="cpu"))
    settings = GenerationSettings(max_new_tokens=4)
    store = AnswerStore(tmp_path)
    summary = generate(samples, lambda: backend, settings, store, batch_size=7, show_progress=False)
    assert summary.answered == 30 and summary.input_wait_s <= summary.wall_s
    through_runner = {i: a.prediction for i, a in store.read().answers.items()}
    requests = [Request(s.id, s.text, tuple(im.load() for im in s.images)) for s in samples]
    one_by_one = {r.sample_id: backend.generate([r], settings)[0] for r in requests}
    assert through_runner == {i: g.text for i, g in one_by_one.items()}  # type: ignore[union-attr]
    assert backend.generate_prepared(backend.prepare(requests[:5], settings), settings) == [
        one_by_one[r.sample_id] for r in requests[:5]]
    assert isinstance(backend, PreparingBackend)  # so the runner does take the prefetch path
    import torch

    assert torch.is_grad_enabled()  # generation ran under inference_mode; nothing was switched off globally
