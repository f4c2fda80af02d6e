"""The backend contract: one batch-shaped method, everything else has defaults.

A backend turns rendered requests into answers. It never sees a task, a shard or a rank:
the runner decides what to ask and where the answers go.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

from vlmeval.failure import Failure
from vlmeval.reasoning import DEFAULT_TAGS
from vlmeval.task import interleave

if TYPE_CHECKING:
    from PIL.Image import Image


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding settings; greedy unless the user asks otherwise. Recorded in every report."""

    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    num_beams: int = 1
    repetition_penalty: float = 1.0
    seed: int = 0

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0 and self.num_beams == 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Request:
    """What one sample asks of a model: the task's user text and its decoded images, in order.

    `image_offsets` places each image in `text` (`Sample.image_offsets`); None puts them all first.
    `task_token` is what a task-token model (Florence-2) is sent instead of the text under
    `--prompt-style task_token` (`<CAPTION>` for captioning); None where the task has none.
    """

    sample_id: str
    text: str
    images: Sequence[Image] = field(default_factory=tuple)
    task_token: str | None = None
    image_offsets: tuple[int, ...] | None = None

    def parts(self) -> list[str | int]:
        """The text and image numbers interleaved in order (`Sample.parts`)."""
        return interleave(self.text, self.image_offsets, len(self.images))


@dataclass(frozen=True)
class Generation:
    """A reply with what the model said about it; a backend may return a bare str instead.

    `finish_reason` is "stop" (the model ended it) or "length" (the token limit cut it), as
    OpenAI names them; token counts are None where the backend cannot tell. `reasoning` is a
    server's separate `reasoning_content`: kept apart, never read as the answer.
    """

    text: str
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    generated_tokens: int | None = None
    reasoning_tokens: int | None = None
    reasoning: str | None = None


class SampleError(Exception):
    """A failure that belongs to one sample (the rest of the batch is fine).

    A backend returns it in place of that sample's answer; the runner records the message
    for the sample, counts it in the report and retries the sample on the next run, unless
    `failure` names a permanent cause (`too_many_images`): that is counted under its name and kept.
    """

    def __init__(self, message: str, failure: str | None = None) -> None:
        super().__init__(message)
        self.failure = failure


Reply: TypeAlias = str | Generation | SampleError  # what `generate` returns per request
TOO_MANY_IMAGES = Failure.TOO_MANY_IMAGES


def too_many_images(count: int, limit: int, where: str) -> SampleError:
    """The failure of a sample with more images than the model or server takes per prompt."""
    return SampleError(f"{count} images, but {where} takes at most {limit} per prompt", TOO_MANY_IMAGES)


class Backend(Protocol):
    """Anything that answers a batch of requests.

    `generate` returns one entry per request, in order: the answer text, or a SampleError for
    a request that failed on its own. Raising instead means the whole batch failed; the runner
    then retries its samples in smaller batches and records what still fails.
    """

    name: str

    def generate(
        self, requests: Sequence[Request], settings: GenerationSettings
    ) -> list[Reply]: ...

    def describe(self) -> dict[str, Any]:
        """What makes this backend's answers reproducible (checkpoint, dtype, template...)."""
        ...


@runtime_checkable
class PreparingBackend(Backend, Protocol):
    """A backend whose CPU work (templating, tokenising, image preprocessing) can run ahead.

    The runner calls `prepare` in its prefetch thread for the next batch while `generate_prepared`
    runs the current one; `generate_prepared(prepare(r, s), s)` must equal `generate(r, s)`.
    """

    def prepare(self, requests: Sequence[Request], settings: GenerationSettings) -> Any: ...

    def generate_prepared(self, prepared: Any, settings: GenerationSettings) -> list[Reply]: ...


@dataclass(frozen=True)
class BackendOptions:
    """Command-line options a backend may use; each backend reads the ones it understands.

    Each kind declares its own flags (`BackendKind.options`); the values of the built-in kinds'
    flags have fields here, a new kind's go to `extra`.
    """

    dtype: str = "auto"
    device: str = "auto"
    trust_remote_code: bool = False
    attn_implementation: str | None = None
    prompt_style: str = "chat"
    load_in_4bit: bool = False
    load_in_8bit: bool = False
    device_map: str | None = None  # "auto" spreads one model over the shard's GPUs
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 8
    timeout: float = 120.0
    max_retries: int = 6
    # `--model-arg`: from_pretrained/processor keyword arguments, or request body fields for a server.
    model_args: Mapping[str, Any] = field(default_factory=dict)
    chat_template_args: Mapping[str, Any] = field(default_factory=dict)  # `--chat-template-arg`
    system_prompt: str | None = None  # `--system-prompt`
    max_images: int | None = None  # `--max-images`: samples with more fail as too_many_images
    reasoning_tags: tuple[str, str] = DEFAULT_TAGS  # `--reasoning-tags`: to count reasoning tokens
    # Values of options a kind declares that have no field here (`BackendOption.dest` -> value).
    extra: Mapping[str, Any] = field(default_factory=dict)
