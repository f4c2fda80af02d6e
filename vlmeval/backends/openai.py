"""A backend that asks a model served behind an OpenAI-compatible chat-completions API.

Each request becomes one user message (after a `--system-prompt` turn): text parts and every
image as a PNG data URL, in the sample's order. `--model-arg` fields go into the request body
(vLLM's `extra_body`), `--chat-template-arg` into its `chat_template_kwargs`. Only the reply's
`content` is the answer; a reasoning parser's `reasoning_content` is kept apart. Per-sample HTTP failures come back as SampleError; the API key never appears in them.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from vlmeval.backends.base import (
    BackendOptions,
    Generation,
    GenerationSettings,
    Reply,
    Request,
    SampleError,
    too_many_images,
)
from vlmeval.backends.kind import BackendKind, BackendOption, at_least
from vlmeval.engine.images import to_rgb
from vlmeval.openai_client import ChatCall, ChatClient, ChatError, ChatReply, display_url

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


def request_messages(request: Request, system_prompt: str | None = None) -> list[dict[str, Any]]:
    """The chat messages for one request: text and `image_url` parts in the sample's order
    (every image first where the sample places none), after a system turn when one is given."""
    content: list[dict[str, Any]] = []
    for part in request.parts():
        if isinstance(part, int):
            content.append({"type": "image_url", "image_url": {"url": image_data_url(request.images[part])}})
        else:
            content.append({"type": "text", "text": part})
    system = [{"role": "system", "content": system_prompt}] if system_prompt is not None else []
    return [*system, {"role": "user", "content": content}]


# vLLM's refusal of a prompt over `--limit-mm-per-prompt`: "At most 1 image(s) may be provided in one request".
_IMAGE_LIMIT = re.compile(r"at most (\d+) image", re.IGNORECASE)


def _sample_error(error: ChatError, images: int) -> SampleError:
    """A failed request; a server's image limit becomes the counted `too_many_images` failure."""
    limit = _IMAGE_LIMIT.search(error.detail) if error.status == 400 else None
    if limit is not None and images > int(limit.group(1)):
        return too_many_images(images, int(limit.group(1)), f"the server ({error.detail})")
    return SampleError(str(error))


def _generation(reply: ChatReply) -> Generation:
    return Generation(text=reply.content or "", finish_reason=reply.finish_reason,
                      prompt_tokens=reply.prompt_tokens, generated_tokens=reply.completion_tokens,
                      reasoning_tokens=reply.reasoning_tokens, reasoning=reply.reasoning)


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
        body_args: Mapping[str, Any] | None = None,
        chat_template_args: Mapping[str, Any] | None = None,
        system_prompt: str | None = None,
        max_images: int | None = None,
    ) -> None:
        self.model = model
        self.name = f"openai:{model}"
        self.body_args = dict(body_args or {})  # `--model-arg`: extra request body fields
        self.chat_template_args = dict(chat_template_args or {})  # vLLM/SGLang `chat_template_kwargs`
        self.system_prompt = system_prompt
        self.max_images = max_images  # the runner refuses samples with more, before any request
        self.client = ChatClient(
            base_url,
            model,
            api_key_env=api_key_env,
            timeout=timeout,
            max_retries=max_retries,
            concurrency=concurrency,
        )

    def generate(self, requests: Sequence[Request], settings: GenerationSettings) -> list[Reply]:
        top_p, extra = sampling_fields(settings)
        extra.update(self.body_args)
        if self.chat_template_args:
            extra["chat_template_kwargs"] = {**extra.get("chat_template_kwargs", {}), **self.chat_template_args}
        calls = [
            ChatCall(
                request_messages(request, self.system_prompt),
                temperature=settings.temperature,
                max_tokens=settings.max_new_tokens,
                top_p=top_p,
                extra=extra or None,
            )
            for request in requests
        ]
        results = self.client.reply_many(calls)
        return [_sample_error(r, len(q.images)) if isinstance(r, ChatError) else _generation(r)
                for q, r in zip(requests, results, strict=True)]

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "openai",
            "model": self.model,
            "base_url": display_url(self.client.base_url),
            "concurrency": self.client.concurrency,
            "timeout_s": self.client.timeout,
            "max_retries": self.client.max_retries,
            "image_format": "png",
            "model_args": self.body_args,
            "chat_template_args": self.chat_template_args,
            "system_prompt": self.system_prompt,
            "max_images": self.max_images,
        }

    def close(self) -> None:
        self.client.close()


def _build(model: str, options: BackendOptions) -> OpenAIBackend:
    from vlmeval.errors import UsageError

    if not options.base_url:
        raise UsageError(f"--model openai:{model} needs --base-url (e.g. http://localhost:8000/v1)")
    try:
        return OpenAIBackend(
            model, options.base_url, concurrency=options.concurrency, api_key_env=options.api_key_env,
            timeout=options.timeout, max_retries=options.max_retries, body_args=options.model_args,
            chat_template_args=options.chat_template_args, system_prompt=options.system_prompt,
            max_images=options.max_images,
        )
    except ValueError as exc:  # the message shows the URL without its credentials
        raise UsageError(f"--base-url / --concurrency / --max-retries: {exc}") from exc


def _identity(model: str, options: BackendOptions) -> Mapping[str, Any]:
    """What decides a served model's answers beyond the model name and the decoding settings:
    the server (`fingerprint.url_identity`: two servers behind one model name answer apart) and
    what the user adds to every request."""
    from vlmeval.engine.fingerprint import url_identity

    return {"endpoint": url_identity(options.base_url) if options.base_url else None,
            "model_args": dict(options.model_args), "chat_template_args": dict(options.chat_template_args),
            "system_prompt": options.system_prompt, "max_images": options.max_images}


KIND = BackendKind(
    name="openai",
    prefix="openai:",
    build=_build,
    identity=_identity,
    options=(
        BackendOption("--base-url", "OpenAI-compatible endpoint for --model openai:NAME"),
        BackendOption("--api-key-env", "environment variable holding the API key (default OPENAI_API_KEY)",
                      default="OPENAI_API_KEY", metavar="VAR"),
        BackendOption("--concurrency", "API requests in flight (default 8)", type=int, default=8,
                      rule=at_least(1, "must be at least 1")),
        BackendOption("--max-retries", "API retries per request on 429/5xx/time-outs, with backoff (default 6)",
                      type=int, default=6, rule=at_least(0, "must be 0 or more")),
        BackendOption("--request-timeout", "seconds to wait for one API reply before retrying it (default 120)",
                      field="timeout", type=float, default=120.0, metavar="S",
                      rule=lambda s: None if 0 < s < float("inf") else "must be a positive number of seconds"),
    ),
)
