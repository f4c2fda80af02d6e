"""Loading a Hugging Face checkpoint for the transformers backend: processor, model, device and dtype.

`--model-arg KEY=VALUE` goes to `AutoProcessor.from_pretrained`, `--model-arg model.KEY=VALUE` to the
model's `from_pretrained`. A checkpoint that brings its own code is refused unless
`--trust-remote-code`; every loading failure is one line naming what to do where that is known.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlmeval.backends.base import BackendOptions
from vlmeval.errors import ModelError, UsageError

if TYPE_CHECKING:
    import torch

# Tried in order when a checkpoint brings its own code (`auto_map`): a remote-code VLM such as
# Phi-3.5-vision registers itself as a causal LM.
_REMOTE_MODEL_CLASSES = ("AutoModelForImageTextToText", "AutoModelForVision2Seq", "AutoModelForCausalLM")


def _quantization(options: BackendOptions) -> str | None:
    import importlib.util

    if options.load_in_4bit and options.load_in_8bit:
        raise UsageError("--load-in-4bit and --load-in-8bit: choose one")
    if not (options.load_in_4bit or options.load_in_8bit):
        return None
    flag = "--load-in-4bit" if options.load_in_4bit else "--load-in-8bit"
    if importlib.util.find_spec("bitsandbytes") is None:
        raise UsageError(f"{flag} needs the bitsandbytes package, which is not installed (pip install bitsandbytes)")
    return "4bit" if options.load_in_4bit else "8bit"


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


def remote_code_files(folder: Path) -> list[str]:
    """The JSON files of a local checkpoint that point at the checkpoint's own Python code."""
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("auto_map"):
            found.append(path.name)
    return found


def _remote_code_error(checkpoint: str, where: str) -> ModelError:
    return ModelError(
        f"--model {checkpoint}: the checkpoint brings its own Python code ({where}); nothing of it was run. "
        "Pass --trust-remote-code to run it if you trust its source"
    )


def _load_processor(checkpoint: str, options: BackendOptions) -> Any:
    import transformers

    folder = Path(checkpoint).expanduser()
    # A hub id is "name" or "org/name"; anything else that does not exist is a wrong path.
    looks_local = checkpoint.startswith((".", "/", "~")) or checkpoint.count("/") > 1
    if looks_local and not folder.exists():
        raise ModelError(f"--model {checkpoint}: no such checkpoint folder")
    if folder.is_dir() and not options.trust_remote_code and (files := remote_code_files(folder)):
        raise _remote_code_error(checkpoint, f"auto_map in {', '.join(files)}")
    try:
        return transformers.AutoProcessor.from_pretrained(
            checkpoint, trust_remote_code=options.trust_remote_code, **processor_args(options.model_args))
    except Exception as exc:
        raise _loading_error(checkpoint, options, exc) from exc


def _load_model(
    checkpoint: str, options: BackendOptions, dtype: torch.dtype, device: torch.device, quantization: str | None
) -> Any:
    import transformers

    extra: dict[str, Any] = {"trust_remote_code": options.trust_remote_code, "dtype": dtype}
    if options.attn_implementation:
        extra["attn_implementation"] = options.attn_implementation
    if quantization is not None:
        extra["quantization_config"] = transformers.BitsAndBytesConfig(
            load_in_4bit=quantization == "4bit", load_in_8bit=quantization == "8bit", bnb_4bit_compute_dtype=dtype
        )
        extra["device_map"] = {"": str(device)}  # quantized weights are placed while loading
    if options.device_map is not None:
        extra["device_map"] = options.device_map  # one model over this shard's GPUs (accelerate)
    extra.update(model_load_args(options.model_args))
    try:
        config = transformers.AutoConfig.from_pretrained(checkpoint, trust_remote_code=options.trust_remote_code)
        return _model_class(transformers, config, options.trust_remote_code).from_pretrained(checkpoint, **extra)
    except Exception as exc:
        raise _loading_error(checkpoint, options, exc) from exc


MODEL_ARG_PREFIX = "model."


def processor_args(model_args: Mapping[str, Any]) -> dict[str, Any]:
    """`--model-arg KEY=VALUE` for AutoProcessor.from_pretrained: every key without the `model.` prefix."""
    return {k: v for k, v in model_args.items() if not k.startswith(MODEL_ARG_PREFIX)}


def model_load_args(model_args: Mapping[str, Any]) -> dict[str, Any]:
    """`--model-arg model.KEY=VALUE` for the model's from_pretrained, prefix removed."""
    return {k.removeprefix(MODEL_ARG_PREFIX): v for k, v in model_args.items() if k.startswith(MODEL_ARG_PREFIX)}


def _loading_error(checkpoint: str, options: BackendOptions, exc: Exception) -> ModelError:
    """Every loading failure in one line, naming what to do where that is known."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "trust_remote_code" in str(exc) and not options.trust_remote_code:
        return _remote_code_error(checkpoint, reason)
    if "torchvision" in str(exc).lower() or "VIDEO_PROCESSOR_MAPPING" in str(exc):
        reason = f"its processor needs torchvision, which is not installed: {reason}"
    return ModelError(f"--model {checkpoint}: cannot load it as an image-text-to-text model ({reason})")


def _model_class(transformers: Any, config: Any, trust_remote_code: bool) -> Any:
    auto_map = getattr(config, "auto_map", None) or {}
    if trust_remote_code and auto_map:
        for name in _REMOTE_MODEL_CLASSES:
            if name in auto_map:
                return getattr(transformers, name)
    return transformers.AutoModelForImageTextToText
