"""How a task's text and images meet a checkpoint's processor (`--prompt-style`).

`chat` renders the processor's own chat template (one user turn: the images, then the text).
`vicuna_v1` is LLaVA-1.5's original conversation text, for checkpoints trained in the original
LLaVA format: `conv_vicuna_v1` of haotian-liu/LLaVA `llava/conversation.py` (SeparatorStyle.TWO,
sep " ", roles USER/ASSISTANT), which LLaVA-1.5's evaluation scripts select with
`--conv-mode vicuna_v1`; `llava/eval/model_vqa_science.py` puts `<image>\\n` before the question
of a sample with an image and nothing before one without.
`plain` is the text with the image placeholders before it and nothing else.
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
        return cls(image_token=token, needs_image=needs_image, inserts_image_tokens=inserts)


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


def render(style: str, processor: Any, traits: ProcessorTraits, request: Request) -> str:
    """The prompt text for one request; image placeholders follow the processor's traits."""
    if style == "chat":
        content: list[dict[str, str]] = [{"type": "image"} for _ in request.images]
        content.append({"type": "text", "text": request.text})
        messages = [{"role": "user", "content": content}]
        return str(processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))
    placeholders = "" if traits.inserts_image_tokens else f"{traits.image_token}\n" * len(request.images)
    if style == "task_token":
        if request.task_token is None:
            raise ValueError(f"sample {request.sample_id} has no task token")
        return placeholders + request.task_token
    if style == "vicuna_v1":
        return f"{VICUNA_V1_SYSTEM} USER: {placeholders}{request.text} ASSISTANT:"
    return placeholders + request.text


def missing_task_token(style: str, request: Request) -> str | None:
    """Why a request cannot be rendered in `style` (the task has no task token), or None."""
    if style != "task_token" or request.task_token is not None:
        return None
    return ("its task has no task token (no prompt for task-token models such as Florence-2); "
            "--prompt-style plain sends the task's text instead, an unofficial prompt")
