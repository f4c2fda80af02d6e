"""Any Hugging Face image-text-to-text checkpoint, through AutoProcessor and AutoModel.

Prompts follow `--prompt-style` (see `_prompt_styles`); what differs between architectures is
read off the processor and the config, not looked up by model name: images go to the processor
as one list per prompt (Idefics3/SmolVLM need that nesting, the others accept it), a processor
that formats image prompts itself (PaliGemma, Florence-2) gets the bare text and its image and
text-only prompts in separate calls, a prompt without an image goes to a processor that refuses
those (PaliGemma) as a per-sample error, one that refuses two images (Florence-2) sets the image
limit, a cross-attention model (Mllama) gets its text-only prompts apart from those with images, and
an encoder-decoder (Florence-2) gets right-padded prompts and its whole output is the answer. Other
batches are left-padded. Decoding is greedy unless the settings say otherwise, and every setting is
passed to `generate` explicitly. Each reply comes with its token counts and finish reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vlmeval.backends._hf_loading import (
    _device,
    _dtype,
    _load_model,
    _load_processor,
    _quantization,
)
from vlmeval.backends._prompt_styles import (
    PROMPT_STYLES,
    ProcessorTraits,
    PromptOptions,
    check_system_turn,
    missing_task_token,
    quiet,
    render,
)
from vlmeval.backends.base import BackendOptions, Generation, GenerationSettings, Reply, Request, SampleError
from vlmeval.backends.kind import BackendKind, BackendOption
from vlmeval.errors import ModelError, UsageError

_DTYPES = ("auto", "float32", "bfloat16", "float16")
_NOT_MODEL_INPUTS = ("labels", "text_replacement_offsets")


class TransformersBackend:
    name = "transformers"

    def __init__(self, checkpoint: str, options: BackendOptions) -> None:
        if options.dtype not in _DTYPES:
            raise UsageError(f"--dtype {options.dtype}: choose one of {', '.join(_DTYPES)}")
        if options.prompt_style not in PROMPT_STYLES:
            raise UsageError(f"--prompt-style {options.prompt_style}: choose one of {', '.join(PROMPT_STYLES)}")
        self.checkpoint = checkpoint
        self.options = options
        self.quantization = _quantization(options)
        self.device = _device(options.device)
        self.dtype = _dtype(options.dtype, self.device)
        self.processor = _load_processor(checkpoint, options)
        if options.prompt_style == "chat" and not getattr(self.processor, "chat_template", None):
            raise ModelError(
                f"{checkpoint}: the processor has no chat template; pass --prompt-style plain "
                "(or vicuna_v1 for an original-LLaVA-format checkpoint)"
            )
        self.read_processor()
        self.model = _load_model(checkpoint, options, self.dtype, self.device, self.quantization)
        if options.device_map is not None:
            self.device = self.model.device  # inputs go where the first layers are
        elif self.quantization is None:
            self.model.to(self.device)
        self.model.eval()
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        # A decoder continues each prompt from its last token, so prompts are padded on the left;
        # an encoder (learned absolute positions in BART) reads them from position 0: right.
        self.encoder_decoder = bool(getattr(self.model.config, "is_encoder_decoder", False))
        self.tokenizer.padding_side = "right" if self.encoder_decoder else "left"

    def read_processor(self) -> None:
        """What the prompts need from the processor: its traits, the user's system turn and template
        arguments (checked once here), and the image limit; before the model loads, to fail fast."""
        options = self.options
        if options.system_prompt is not None and options.prompt_style in ("plain", "task_token"):
            raise UsageError(f"--system-prompt: --prompt-style {options.prompt_style} has no system turn; "
                             "use chat or vicuna_v1")
        self.prompt_options = PromptOptions(options.system_prompt, dict(options.chat_template_args))
        self.traits = ProcessorTraits.probe(self.processor)
        check_system_turn(options.prompt_style, self.processor, self.traits, self.prompt_options)
        limits = [n for n in (options.max_images, self.traits.max_images) if n is not None]
        self.max_images = min(limits) if limits else None  # the runner refuses samples with more

    @property
    def text_only_apart(self) -> bool:
        """Whether text-only prompts are answered in calls of their own.

        A processor that writes its own image tokens would add them to every prompt of a call that
        has images; a model that reads images through cross-attention (Mllama) runs those layers on
        a text-only prompt batched with images, not alone.
        """
        return self.traits.inserts_image_tokens or _cross_attends(self.model.config)

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "checkpoint": self.checkpoint,
            "architecture": type(self.model).__name__,
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": str(self.device),
            "quantization": self.quantization,
            "attn_implementation": self.options.attn_implementation,
            "prompt_style": self.options.prompt_style,
            "trust_remote_code": self.options.trust_remote_code,
            "model_args": dict(self.options.model_args),
            "chat_template_args": dict(self.options.chat_template_args),
            "system_prompt": self.options.system_prompt,
            "max_images": self.max_images,
        }

    def render(self, request: Request) -> str:
        return render(self.options.prompt_style, self.processor, self.traits, request, self.prompt_options)

    def generate(self, requests: Sequence[Request], settings: GenerationSettings) -> list[Reply]:
        return self.generate_prepared(self.prepare(requests, settings), settings)

    def prepare(self, requests: Sequence[Request], settings: GenerationSettings) -> _Prepared:
        """Templating, tokenising and image preprocessing: CPU work the runner does ahead."""
        errors: dict[int, SampleError] = {}
        runnable: list[int] = []
        for index, request in enumerate(requests):
            if self.traits.needs_image and not request.images:
                errors[index] = SampleError(
                    f"{type(self.processor).__name__} takes only prompts with an image; this sample has none"
                )
            elif (refusal := missing_task_token(self.options.prompt_style, request)) is not None:
                errors[index] = SampleError(refusal)
            else:
                runnable.append(index)
        if self.text_only_apart:
            groups = [[i for i in runnable if requests[i].images], [i for i in runnable if not requests[i].images]]
        else:
            groups = [runnable]
        prepared = [(group, self._inputs([requests[i] for i in group])) for group in groups if group]
        return _Prepared(size=len(requests), errors=errors, groups=prepared)

    def generate_prepared(self, prepared: _Prepared, settings: GenerationSettings) -> list[Reply]:
        answers: dict[int, Reply] = dict(prepared.errors)
        for group, inputs in prepared.groups:
            for index, text in zip(group, self._run(inputs, settings), strict=True):
                answers[index] = text
        return [answers[i] for i in range(prepared.size)]

    def _inputs(self, requests: Sequence[Request]) -> Any:
        import torch

        texts = [self.render(r) for r in requests]
        images = [list(r.images) for r in requests] if any(r.images for r in requests) else None
        extra: dict[str, Any] = {}
        bos = getattr(self.tokenizer, "bos_token", None)
        if bos and all(text.startswith(bos) for text in texts):
            extra["add_special_tokens"] = False  # the template wrote the BOS token already
        with quiet(self.processor, enabled=self.traits.inserts_image_tokens):
            inputs = self.processor(text=texts, images=images, padding=True, return_tensors="pt", **extra)
        for key in _NOT_MODEL_INPUTS:
            inputs.pop(key, None)
        for key, value in inputs.items():
            if torch.is_tensor(value) and value.is_floating_point() and value.dtype != self.dtype:
                inputs[key] = value.to(self.dtype)
        return inputs

    def _run(self, inputs: Any, settings: GenerationSettings) -> list[Generation]:
        import torch

        inputs = inputs.to(self.device)
        torch.manual_seed(settings.seed)
        try:
            # no autograd state for generation, without turning gradients off process-wide
            with torch.inference_mode():
                output = self.model.generate(**inputs, **generation_kwargs(settings, self.tokenizer))
        except torch.cuda.OutOfMemoryError:
            # Give the memory back before the runner retries this batch in halves.
            del inputs
            torch.cuda.empty_cache()
            raise
        if not self.encoder_decoder:
            output = output[:, inputs["input_ids"].shape[1] :]  # a decoder-only output repeats the prompt
        decoded = self.decode(output.tolist())
        prompt_tokens = inputs["attention_mask"].sum(dim=1).tolist() if "attention_mask" in inputs else None
        ends = self._eos_ids()
        replies = []
        for row, text in enumerate(decoded):
            generated, stopped = _generated_length(output[row].tolist(), ends, self.tokenizer.pad_token_id,
                                                   skip_first=self.encoder_decoder)
            replies.append(Generation(
                text=text.strip(),
                finish_reason="stop" if stopped or generated < settings.max_new_tokens else "length",
                prompt_tokens=int(prompt_tokens[row]) if prompt_tokens is not None else None,
                generated_tokens=generated,
                reasoning_tokens=self._reasoning_tokens(text),
            ))
        return replies

    def decode(self, rows: list[list[int]]) -> list[str]:
        """Generated ids as text without special tokens, except reasoning tags the tokenizer marks
        special (decoding would drop them, and with them where the reasoning ends)."""
        special = set(getattr(self.tokenizer, "all_special_tokens", ()))
        kept = {self.tokenizer.convert_tokens_to_ids(tag) for tag in self.options.reasoning_tags if tag in special}
        if not kept:
            return list(self.tokenizer.batch_decode(rows, skip_special_tokens=True))
        dropped = set(self.tokenizer.all_special_ids) - kept
        return [self.tokenizer.decode([i for i in row if i not in dropped], skip_special_tokens=False)
                for row in rows]

    def _eos_ids(self) -> set[int]:
        """The tokens that end a reply: the generation config's (one or a list) and the tokenizer's."""
        found: set[int] = set()
        for source in (getattr(self.model, "generation_config", None), self.tokenizer):
            value = getattr(source, "eos_token_id", None)
            found.update(value if isinstance(value, list) else [value] if isinstance(value, int) else [])
        return found

    def _reasoning_tokens(self, text: str) -> int | None:
        """Tokens of the reasoning block (to its closing tag, or to the end of a block never closed),
        counted by re-tokenising that text; None for a reply without one."""
        opening, closing = self.options.reasoning_tags
        end = text.rfind(closing)
        if end >= 0:
            reasoning = text[: end + len(closing)]
        elif (start := text.find(opening)) >= 0:
            reasoning = text[start:]
        else:
            return None
        return len(self.tokenizer(reasoning, add_special_tokens=False)["input_ids"])


def _cross_attends(config: Any) -> bool:
    """Whether the model reads images through cross-attention layers (Mllama's `cross_attention_layers`)."""
    text = getattr(config, "text_config", config)
    return bool(getattr(text, "cross_attention_layers", None))


def _generated_length(tokens: list[int], ends: set[int], pad: int | None, skip_first: bool) -> tuple[int, bool]:
    """(tokens the model generated for one row, whether it ended on an end token).

    A finished row of a batch is padded after its end token; an encoder-decoder's output starts
    with its decoder start token, which was not generated.
    """
    if skip_first:
        tokens = tokens[1:]
    for index, token in enumerate(tokens):
        if token in ends:
            return index + 1, True
    while tokens and pad is not None and tokens[-1] == pad:
        tokens = tokens[:-1]
    return len(tokens), False


@dataclass(frozen=True)
class _Prepared:
    """A batch ready for the model: per-sample refusals and the processor's inputs per call."""

    size: int
    errors: dict[int, SampleError]
    groups: list[tuple[list[int], Any]]


def generation_kwargs(settings: GenerationSettings, tokenizer: Any) -> dict[str, Any]:
    """`model.generate` arguments: every setting explicit, so a checkpoint's defaults never apply."""
    kwargs: dict[str, Any] = {
        "max_new_tokens": settings.max_new_tokens,
        "num_beams": settings.num_beams,
        "repetition_penalty": settings.repetition_penalty,
        "pad_token_id": tokenizer.pad_token_id,
    }
    if settings.temperature > 0:
        kwargs.update(do_sample=True, temperature=settings.temperature, top_p=settings.top_p, top_k=None)
    else:
        # Overrides a checkpoint's own sampling defaults: greedy means greedy.
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    return kwargs


def _build(checkpoint: str, options: BackendOptions) -> TransformersBackend:
    from vlmeval.backends import resolve_checkpoint
    from vlmeval.extras import require

    require("hf", f"--model {checkpoint} (a local model, run with transformers)")
    return TransformersBackend(resolve_checkpoint(checkpoint), options)


def _identity(checkpoint: str, options: BackendOptions) -> Mapping[str, Any]:
    """The checkpoint's content identity and every option that changes what it answers."""
    from vlmeval.backends import resolve_checkpoint
    from vlmeval.engine.identity import checkpoint_identity

    return {
        "checkpoint": checkpoint_identity(resolve_checkpoint(checkpoint)),
        "dtype": options.dtype,
        "quantization": "4bit" if options.load_in_4bit else "8bit" if options.load_in_8bit else None,
        "attn_implementation": options.attn_implementation,
        "prompt_style": options.prompt_style,
        "model_args": dict(options.model_args),
        "chat_template_args": dict(options.chat_template_args),
        "system_prompt": options.system_prompt,
        "max_images": options.max_images,
    }


def _check_model(model: str) -> None:
    """A predictions file given as --model is a common slip: point to `replay:` before any hub look-up."""
    if model.endswith(".jsonl"):
        where = "" if Path(model).expanduser().is_file() else " (and there is no such file)"
        raise UsageError(f"--model {model}: a .jsonl file is a predictions file, not a model{where}; "
                         f"to answer from saved predictions pass --model replay:{model}, "
                         f"or score them with `vlmeval score --predictions {model}`")


_DEVICE_RULE = "must be auto, cpu, cuda, cuda:N or mps"


def _device_rule(value: str) -> str | None:
    import re

    return None if re.fullmatch(r"auto|cpu|mps|cuda(?::\d+)?", value) else _DEVICE_RULE


KIND = BackendKind(
    name="transformers",
    prefix=None,  # every --model value no other kind claims: a checkpoint folder, a hub id or `demo`
    build=_build,
    identity=_identity,
    uses_gpus=lambda options: options.device != "cpu",
    check_model=_check_model,
    options=(
        BackendOption("--dtype", "weights' dtype (default auto: bfloat16/float16 on a GPU, float32 on a CPU)",
                      default="auto", choices=_DTYPES),
        BackendOption("--device", "auto, cpu, cuda or cuda:N", default="auto", rule=_device_rule),
        BackendOption("--attn-implementation", "e.g. sdpa, eager, flash_attention_2"),
        BackendOption("--prompt-style", "chat: the processor's chat template (default); vicuna_v1: LLaVA-1.5's "
                      "original conversation text; plain: image tokens then the text; task_token: the sample's "
                      "task token alone, e.g. <CAPTION> (Florence-2)", default="chat", choices=PROMPT_STYLES),
        BackendOption("--load-in-4bit", "quantised loading (needs bitsandbytes)", switch=True),
        BackendOption("--load-in-8bit", "quantised loading (needs bitsandbytes)", switch=True),
        BackendOption("--trust-remote-code", "allow checkpoint code to run", switch=True),
    ),
)
