"""The backend contract: one batch-shaped method, everything else has defaults.

A backend turns rendered requests into answers. It never sees a task, a shard or a rank:
the runner decides what to ask and where the answers go.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

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

    `task_token` is what a task-token model (Florence-2) is sent instead of the text under
    `--prompt-style task_token` (`<CAPTION>` for captioning); None where the task has none.
    """

    sample_id: str
    text: str
    images: Sequence[Image] = field(default_factory=tuple)
    task_token: str | None = None


class SampleError(Exception):
    """A failure that belongs to one sample (the rest of the batch is fine).

    A backend returns it in place of that sample's answer; the runner records the message
    for the sample, counts it in the report and retries the sample on the next run.
    """


class Backend(Protocol):
    """Anything that answers a batch of requests.

    `generate` returns one entry per request, in order: the answer text, or a SampleError for
    a request that failed on its own. Raising instead means the whole batch failed; the runner
    then retries its samples in smaller batches and records what still fails.
    """

    name: str

    def generate(
        self, requests: Sequence[Request], settings: GenerationSettings
    ) -> list[str | SampleError]: ...

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

    def generate_prepared(self, prepared: Any, settings: GenerationSettings) -> list[str | SampleError]: ...


@dataclass(frozen=True)
class BackendOptions:
    """Command-line options a backend may use; each backend reads the ones it understands."""

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
