"""A transformers model already in memory (a training loop's), answered through TransformersBackend.

The model is used as it is: no reload, no copy, no `.to()`; inputs go to the device of its
first parameter in its own dtype. `borrowed` sets eval mode and left padding for the duration of
an evaluation and puts back each module's train/eval flag and the tokenizer's padding side.
Generation runs under `torch.inference_mode`, so gradient flags and `requires_grad` are untouched.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from vlmeval.backends._prompt_styles import PROMPT_STYLES
from vlmeval.backends.base import BackendOptions
from vlmeval.backends.transformers import TransformersBackend
from vlmeval.errors import ModelError, UsageError


def unwrap(model: Any) -> Any:
    """The model inside a DistributedDataParallel / DeepSpeed engine wrapper (`.module`)."""
    while hasattr(model, "module") and not hasattr(model, "generate"):
        model = model.module
    return model


def is_loaded_model(model: object) -> bool:
    """A torch module with `generate` (a transformers model), as opposed to a model name."""
    inner = unwrap(model)
    return not isinstance(model, str) and hasattr(inner, "generate") and hasattr(inner, "config")


def parameter_fingerprint(model: Any, processor: Any = None) -> str:
    """The model's config, the processor's chat template and vocabulary size, and, per parameter and
    buffer, its name, shape, dtype, sum and sum of squares.

    One reduction per tensor on its own device and one transfer: a 7B model is fingerprinted in
    about the time of one forward pass, where hashing every byte would copy 14 GB to the CPU.
    Two checkpoints that differ anywhere differ in these sums unless the change is crafted.
    """
    import torch

    digest = hashlib.sha256(model.config.to_json_string(use_diff=False).encode())
    if processor is not None:  # the prompt the model sees is the template's and the tokenizer's too
        tokenizer = getattr(processor, "tokenizer", processor)
        digest.update(f"{getattr(processor, 'chat_template', None)}\0{len(tokenizer)}\0".encode())
    sums = []
    with torch.no_grad():
        for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
            digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}\0".encode())
            wide = tensor.detach().double()
            sums.append(torch.stack([wide.sum(), wide.square().sum()]).cpu())
    if sums:
        digest.update(torch.cat(sums).numpy().tobytes())
    return "params:" + digest.hexdigest()[:16]


class LoadedModelBackend(TransformersBackend):
    """TransformersBackend over a given model and processor; describe() says it was in memory."""

    def __init__(self, model: Any, processor: Any, options: BackendOptions, name: str) -> None:
        if processor is None:
            raise UsageError("evaluating a model object needs its processor (processor=...)")
        if options.prompt_style not in PROMPT_STYLES:
            raise UsageError(f"prompt_style {options.prompt_style}: choose one of {', '.join(PROMPT_STYLES)}")
        if options.prompt_style == "chat" and not getattr(processor, "chat_template", None):
            raise ModelError(f"{name}: the processor has no chat template; pass prompt_style='plain'")
        model = unwrap(model)
        self.checkpoint = name
        self.options = options
        self.quantization = None
        self.processor = processor
        self.read_processor()
        self.model = model
        self.device = next(model.parameters()).device
        self.dtype = model.dtype
        self.tokenizer = getattr(processor, "tokenizer", processor)
        self.encoder_decoder = bool(getattr(model.config, "is_encoder_decoder", False))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "in_memory": True}

    @contextmanager
    def borrowed(self) -> Iterator[None]:
        """Eval mode and the padding side generation needs, each put back as it was afterwards."""
        modes = [(module, module.training) for module in self.model.modules()]
        padding_side = getattr(self.tokenizer, "padding_side", None)
        self.model.eval()
        self.tokenizer.padding_side = "right" if self.encoder_decoder else "left"
        try:
            yield
        finally:
            for module, training in modes:
                module.training = training
            if padding_side is not None:
                self.tokenizer.padding_side = padding_side
