"""Greedy answers must not depend on the batch size (left padding, mixed image/text batches)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import COLORS
from vlmeval.backends import BackendOptions
from vlmeval.backends.base import GenerationSettings, Request
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


def test_demo_model_is_batch_invariant() -> None:
    from vlmeval.demo import CHECKPOINT_DIR

    backend = TransformersBackend(str(CHECKPOINT_DIR), BackendOptions(device="cpu"))
    settings = GenerationSettings(max_new_tokens=4)
    requests = _requests()
    assert backend.generate(requests[:16], settings) == [backend.generate([r], settings)[0] for r in requests[:16]]
