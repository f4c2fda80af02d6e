"""How a task's text and images meet a checkpoint's processor (`--prompt-style`).

`chat` renders the processor's own chat template (one user turn: text and images in the sample's
order, after a system turn when `--system-prompt` gives one).
`vicuna_v1` is LLaVA-1.5's original conversation text, for checkpoints trained in the original
LLaVA format: `conv_vicuna_v1` of haotian-liu/LLaVA `llava/conversation.py` (SeparatorStyle.TWO,
sep " ", roles USER/ASSISTANT), which LLaVA-1.5's evaluation scripts select with
`--conv-mode vicuna_v1`; `llava/eval/model_vqa_science.py` puts `<image>\\n` before the question
of a sample with an image and nothing before one without.
`plain` is the text with the image placeholders in their places and nothing else (it has no
system turn: `--system-prompt` is refused with it).
`task_token` sends a task-token model its sample's task token as the whole prompt (Florence-2's card:
`<CAPTION>`, `<DETAILED_CAPTION>`, `<OCR>`; its processor expands the token into its fixed prompt, and
passes other text through). Benchmarks without an official token may carry their bare question instead
(an unofficial prompt, which the report names); a sample of a task with neither is refused.

What the processor can do is found out by asking it (`ProcessorTraits.probe`), not by model name:
whether it takes a prompt with no image, and whether it inserts the image tokens itself
(PaliGemma and Florence-2 build their own `<image>...<bos>text` prompts).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from vlmeval.backends.base import Request

PROMPT_STYLES = ("chat", "vicuna_v1", "plain", "task_token")

VICUNA_V1_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)


@dataclass(frozen=True)
class ProcessorTraits:
    image_token: str | None  # the placeholder a prompt carries per image, if the processor has one
    needs_image: bool  # the processor refuses a prompt without an image (PaliGemma)
    inserts_image_tokens: bool  # the processor writes the image tokens into the prompt itself
    max_images: int | None = None  # images it takes per prompt, where it says (None: no limit found)

    @classmethod
    def probe(cls, processor: Any) -> ProcessorTraits:
        from PIL import Image

        image = Image.new("RGB", (64, 64), (127, 127, 127))
        token = getattr(processor, "image_token", None)
        token = token if isinstance(token, str) and token else None
        with quiet(processor):
            needs_image = not _accepts(processor, text=["probe"])
            # A processor that takes an image with a prompt lacking placeholders formats it itself.
            inserts = token is None or _accepts(processor, text=["probe"], images=[[image]])
            # Such a processor places the images itself: one that refuses two (Florence-2) takes one.
            single = inserts and not _accepts(processor, text=["probe"], images=[[image, image]])
        return cls(image_token=token, needs_image=needs_image, inserts_image_tokens=inserts,
                   max_images=1 if single else None)


def _accepts(processor: Any, **inputs: Any) -> bool:
    try:
        processor(**inputs)
    except Exception:  # noqa: BLE001 - a refusal of any kind answers the question
        return False
    return True


@contextmanager
def quiet(processor: Any, enabled: bool = True) -> Iterator[None]:
    """Silence the processor module's own warnings (PaliGemma warns on every prompt it formats)."""
    if not enabled:
        yield
        return
    logger = logging.getLogger(type(processor).__module__)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@dataclass(frozen=True)
class PromptOptions:
    """What the user adds to every prompt: `--system-prompt` and `--chat-template-arg` values."""

    system_prompt: str | None = None
    chat_template_args: Mapping[str, Any] = field(default_factory=dict)


def render(style: str, processor: Any, traits: ProcessorTraits, request: Request,
           options: PromptOptions = PromptOptions()) -> str:
    """The prompt text for one request; images go where the sample places them (`Request.parts`).

    `chat` gives the template one image part per image, in order among the text parts; `plain` and
    `vicuna_v1` write the processor's image token at each place (followed by a newline where the
    images all come first, as LLaVA's scripts write `<image>\\n`). A processor that inserts its own
    image tokens gets the text alone.
    """
    if style == "chat":
        content: list[dict[str, str]] = [
            {"type": "image"} if isinstance(part, int) else {"type": "text", "text": part}
            for part in request.parts()
        ]
        messages: list[dict[str, Any]] = [{"role": "user", "content": content}]
        if options.system_prompt is not None:
            messages.insert(0, {"role": "system", "content": [{"type": "text", "text": options.system_prompt}]})
        return str(processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False,
                                                 **options.chat_template_args))
    token = None if traits.inserts_image_tokens else traits.image_token
    if style == "task_token":
        if request.task_token is None:
            raise ValueError(f"sample {request.sample_id} has no task token")
        return (f"{token}\n" * len(request.images) if token else "") + request.task_token
    text = _with_image_tokens(request, token)
    if style == "vicuna_v1":
        system = VICUNA_V1_SYSTEM if options.system_prompt is None else options.system_prompt
        return f"{system} USER: {text} ASSISTANT:"
    return text


def check_system_turn(style: str, processor: Any, traits: ProcessorTraits, options: PromptOptions) -> None:
    """Refuse a `--system-prompt` the chat template cannot place (one raising on a system role) before
    any sample is asked, instead of failing every sample alike."""
    if options.system_prompt is None or style != "chat":
        return
    from vlmeval.errors import UsageError

    try:
        render(style, processor, traits, Request("probe", "probe"), options)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"--system-prompt: this model's chat template takes no system turn ({reason}); "
                         "put the instruction in the prompt instead") from exc


def _with_image_tokens(request: Request, token: str | None) -> str:
    if token is None:
        return request.text
    if request.image_offsets is None:
        return f"{token}\n" * len(request.images) + request.text
    return "".join(token if isinstance(part, int) else part for part in request.parts())


def missing_task_token(style: str, request: Request) -> str | None:
    """Why a request cannot be rendered in `style` (the task has no task token), or None."""
    if style != "task_token" or request.task_token is not None:
        return None
    return ("its task has no task token (no prompt for task-token models such as Florence-2); "
            "--prompt-style plain sends the task's text instead, an unofficial prompt")
