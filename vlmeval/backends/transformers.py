"""Any Hugging Face image-text-to-text checkpoint, through AutoProcessor and AutoModel.

Prompts are rendered with the processor's chat template (the image placeholders first, then the
task's text), batches are left-padded and decoded greedily unless the settings say otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from vlmeval.backends import BackendOptions
from vlmeval.backends.base import GenerationSettings, Request, SampleError
from vlmeval.errors import ModelError, UsageError

if TYPE_CHECKING:
    import torch

_DTYPES = ("auto", "float32", "bfloat16", "float16")
PROMPT_STYLES = ("chat", "plain")


class TransformersBackend:
    name = "transformers"

    def __init__(self, checkpoint: str, options: BackendOptions) -> None:
        import torch

        if options.dtype not in _DTYPES:
            raise UsageError(f"--dtype {options.dtype}: choose one of {', '.join(_DTYPES)}")
        if options.prompt_style not in PROMPT_STYLES:
            raise UsageError(f"--prompt-style {options.prompt_style}: choose one of {', '.join(PROMPT_STYLES)}")
        self.checkpoint = checkpoint
        self.options = options
        self.device = _device(options.device)
        self.dtype = _dtype(options.dtype, self.device)
        self.processor, self.model = _load(checkpoint, options, self.dtype)
        self.model.to(self.device).eval()
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        self.tokenizer.padding_side = "left"
        if options.prompt_style == "chat" and not getattr(self.processor, "chat_template", None):
            raise ModelError(
                f"{checkpoint}: the processor has no chat template; pass --prompt-style plain"
            )
        torch.set_grad_enabled(False)

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "checkpoint": self.checkpoint,
            "architecture": type(self.model).__name__,
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": str(self.device),
            "prompt_style": self.options.prompt_style,
            "trust_remote_code": self.options.trust_remote_code,
        }

    def render(self, request: Request) -> str:
        if self.options.prompt_style == "plain":
            token = getattr(self.processor, "image_token", "<image>")
            return "".join(f"{token}\n" for _ in request.images) + request.text
        content: list[dict[str, str]] = [{"type": "image"} for _ in request.images]
        content.append({"type": "text", "text": request.text})
        messages = [{"role": "user", "content": content}]
        return str(
            self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        )

    def generate(
        self, requests: Sequence[Request], settings: GenerationSettings
    ) -> list[str | SampleError]:
        import torch

        texts = [self.render(r) for r in requests]
        images = [image for r in requests for image in r.images]
        inputs = self.processor(
            text=texts, images=images or None, padding=True, return_tensors="pt"
        ).to(self.device)
        if "pixel_values" in inputs and self.dtype != torch.float32:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        if settings.seed is not None:
            torch.manual_seed(settings.seed)
        output = self.model.generate(**inputs, **_generation_kwargs(settings, self.tokenizer))
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        decoded = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        return [text.strip() for text in decoded]


def _generation_kwargs(settings: GenerationSettings, tokenizer: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "max_new_tokens": settings.max_new_tokens,
        "num_beams": settings.num_beams,
        "repetition_penalty": settings.repetition_penalty,
        "pad_token_id": tokenizer.pad_token_id,
    }
    if settings.temperature > 0:
        kwargs.update(do_sample=True, temperature=settings.temperature, top_p=settings.top_p)
    else:
        # Overrides a checkpoint's own sampling defaults: greedy means greedy.
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    return kwargs


def _device(requested: str) -> torch.device:
    import torch

    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {requested}: no CUDA device is available here")
    return torch.device(requested)


def _dtype(requested: str, device: torch.device) -> torch.dtype:
    import torch

    if requested == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return getattr(torch, requested)  # type: ignore[no-any-return]


def _load(checkpoint: str, options: BackendOptions, dtype: torch.dtype) -> tuple[Any, Any]:
    from transformers import AutoModelForImageTextToText, AutoProcessor

    # A hub id is "name" or "org/name"; anything else that does not exist is a wrong path.
    looks_local = checkpoint.startswith((".", "/", "~")) or checkpoint.count("/") > 1
    if looks_local and not Path(checkpoint).expanduser().exists():
        raise ModelError(f"--model {checkpoint}: no such checkpoint folder")
    extra: dict[str, Any] = {"trust_remote_code": options.trust_remote_code}
    try:
        processor = AutoProcessor.from_pretrained(checkpoint, **extra)
        model_extra = dict(extra, dtype=dtype)
        if options.attn_implementation:
            model_extra["attn_implementation"] = options.attn_implementation
        model = AutoModelForImageTextToText.from_pretrained(checkpoint, **model_extra)
    except Exception as exc:  # noqa: BLE001 - every loading failure gets the same one-line form
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"--model {checkpoint}: cannot load it as an image-text-to-text model ({reason})") from exc
    return processor, model
