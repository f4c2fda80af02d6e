"""A backend that asks a model served behind an OpenAI-compatible chat-completions API.

Each request becomes one user message: every image as a PNG data URL (in order), then the
text. Per-sample HTTP failures come back as SampleError; the API key never appears in them.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from vlmeval.backends.base import GenerationSettings, Request, SampleError
from vlmeval.engine.images import to_rgb
from vlmeval.openai_client import ChatCall, ChatClient, ChatError, display_url

if TYPE_CHECKING:
    from PIL.Image import Image

# Defaults of GenerationSettings that the API also assumes when the field is absent;
# sending them anyway would break servers that reject unknown fields.
_DEFAULT_SETTINGS = GenerationSettings()


def image_data_url(image: Image) -> str:
    """The image as a `data:image/png;base64,...` URL (lossless, after `to_rgb`)."""
    buffer = io.BytesIO()
    to_rgb(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def request_messages(request: Request) -> list[dict[str, Any]]:
    """The chat messages for one request: images first, then the text."""
    content: list[dict[str, Any]] = [
        {"type": "image_url", "image_url": {"url": image_data_url(image)}} for image in request.images
    ]
    content.append({"type": "text", "text": request.text})
    return [{"role": "user", "content": content}]


def sampling_fields(settings: GenerationSettings) -> tuple[float | None, dict[str, Any]]:
    """(top_p, extra body fields) for `settings`; only non-default values are sent."""
    if settings.num_beams != 1:
        raise ValueError(
            f"OpenAIBackend: num_beams={settings.num_beams} is not supported by "
            "chat-completions endpoints; use num_beams=1"
        )
    top_p = settings.top_p if settings.top_p != _DEFAULT_SETTINGS.top_p else None
    extra: dict[str, Any] = {}
    if settings.repetition_penalty != _DEFAULT_SETTINGS.repetition_penalty:
        extra["repetition_penalty"] = settings.repetition_penalty  # vLLM / SGLang extension
    if settings.seed != _DEFAULT_SETTINGS.seed:
        extra["seed"] = settings.seed
    return top_p, extra


class OpenAIBackend:
    """Backend for vLLM, SGLang, TGI or a hosted API; see the module docstring."""

    def __init__(
        self,
        model: str,
        base_url: str,
        *,
        concurrency: int = 8,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 120.0,
        max_retries: int = 6,
    ) -> None:
        self.model = model
        self.name = f"openai:{model}"
        self.client = ChatClient(
            base_url,
            model,
            api_key_env=api_key_env,
            timeout=timeout,
            max_retries=max_retries,
            concurrency=concurrency,
        )

    def generate(self, requests: Sequence[Request], settings: GenerationSettings) -> list[str | SampleError]:
        top_p, extra = sampling_fields(settings)
        calls = [
            ChatCall(
                request_messages(request),
                temperature=settings.temperature,
                max_tokens=settings.max_new_tokens,
                top_p=top_p,
                extra=extra or None,
            )
            for request in requests
        ]
        results = self.client.complete_many(calls)
        return [SampleError(str(r)) if isinstance(r, ChatError) else r for r in results]

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "openai",
            "model": self.model,
            "base_url": display_url(self.client.base_url),
            "concurrency": self.client.concurrency,
            "timeout_s": self.client.timeout,
            "max_retries": self.client.max_retries,
            "image_format": "png",
        }

    def close(self) -> None:
        self.client.close()
