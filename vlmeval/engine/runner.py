"""The generation loop: the samples of one shard, batched, answered and appended to the store.

Images of the next batch are decoded in a worker thread while the model answers the current
one. Batches are formed from samples sorted by prompt length (less padding) within windows of
32 batches taken in dataset order (so images are read in file order); answers are keyed by id,
so the order they are written in does not matter. A batch that raises is split in half
and retried down to single samples, so an out-of-memory batch or one bad sample costs only
that sample, which is recorded with its error and retried on the next run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from vlmeval.backends.base import (
    Backend,
    Generation,
    GenerationSettings,
    PreparingBackend,
    Reply,
    Request,
    SampleError,
    too_many_images,
)
from vlmeval.engine.shards import WHOLE_RUN, Shard
from vlmeval.engine.store import Answer, AnswerStore, AnswerWriter, warn_torn
from vlmeval.errors import ImageError, VlmevalError
from vlmeval.task import Sample

log = logging.getLogger(__name__)

SORT_WINDOW_BATCHES = 32
SORT_WINDOW_MIN = 1024


@dataclass(frozen=True)
class GenerationSummary:
    """What one shard's generation did; `input_wait_s` is time the model sat idle for input."""

    pending: int
    answered: int
    errors: int
    wall_s: float = 0.0
    generate_s: float = 0.0
    input_wait_s: float = 0.0

    def describe(self) -> str:
        """The summary as a sentence for the log (-v)."""
        rate = f", {self.answered / self.wall_s:.1f} samples/s" if self.wall_s > 0 and self.answered else ""
        return (f"answered {self.answered} of {self.pending} samples ({self.errors} failed) in "
                f"{self.wall_s:.1f} s{rate}; the model generated for {self.generate_s:.1f} s and waited "
                f"{self.input_wait_s:.1f} s for images")


def pending_samples(samples: Sequence[Sample], store: AnswerStore, shard: Shard) -> list[Sample]:
    """The shard's samples that have no successful answer yet."""
    state = store.read()
    warn_torn(state)
    done = state.answers
    return [
        s for s in samples if shard.owns(s.id) and not (s.id in done and done[s.id].settled)
    ]


def generate(
    pending: Sequence[Sample],
    backend_factory: Callable[[], Backend],
    settings: GenerationSettings,
    store: AnswerStore,
    batch_size: int,
    shard: Shard = WHOLE_RUN,
    show_progress: bool = True,
) -> GenerationSummary:
    """Answer `pending` and append every answer (or its error) to the shard's file."""
    if not pending:
        return GenerationSummary(pending=0, answered=0, errors=0)
    backend = backend_factory()
    ordered = length_order(pending, batch_size)
    batches = [ordered[i : i + batch_size] for i in range(0, len(ordered), batch_size)]
    answered = errors = 0
    generate_s = wait_s = 0.0
    from tqdm import tqdm

    progress = tqdm(total=len(ordered), unit="sample", dynamic_ncols=True, smoothing=0.1,
                    disable=not show_progress)
    started = time.perf_counter()
    with store.writer(shard.index, shard.count) as writer, ThreadPoolExecutor(1) as prefetch:
        upcoming = prefetch.submit(_load_batch, batches[0], backend, settings)
        for number in range(len(batches)):
            waited = time.perf_counter()
            requests, failed, prepared = upcoming.result()
            wait_s += time.perf_counter() - waited
            if number + 1 < len(batches):
                upcoming = prefetch.submit(_load_batch, batches[number + 1], backend, settings)
            asked = time.perf_counter()
            answers = failed + _answer(backend, requests, settings, prepared)
            generate_s += time.perf_counter() - asked
            _write(writer, answers)
            answered += sum(a.ok for a in answers)
            errors += sum(not a.ok for a in answers)
            progress.update(len(answers))
    progress.close()
    summary = GenerationSummary(
        pending=len(pending), answered=answered, errors=errors,
        wall_s=time.perf_counter() - started, generate_s=generate_s, input_wait_s=wait_s,
    )
    log.info("%s", summary.describe())
    return summary


def _write(writer: AnswerWriter, answers: Sequence[Answer]) -> None:
    try:
        writer.write(answers)
    except OSError as exc:
        raise VlmevalError(
            f"cannot write answers to {writer.path} ({exc.strerror or exc}); the answers written "
            f"before are kept: free space or fix the folder, then re-run the same command"
        ) from exc


def _cost(sample: Sample) -> int:
    return len(sample.text) + 256 * len(sample.images)


def length_order(pending: Sequence[Sample], batch_size: int) -> list[Sample]:
    """Longest prompts first within consecutive windows of `SORT_WINDOW_BATCHES` batches.

    Nearly all of a global sort's saving in padding, while the images one window needs sit in a
    few parquet row groups: a global sort fetches them in random file order, which re-reads a
    row group per image once the data outgrows the reader's cache (benchmarks/README.md).
    """
    window = max(SORT_WINDOW_MIN, SORT_WINDOW_BATCHES * batch_size)
    ordered: list[Sample] = []
    for start in range(0, len(pending), window):
        ordered += sorted(pending[start : start + window], key=_cost, reverse=True)
    return ordered


def _load_batch(
    batch: Sequence[Sample], backend: Backend, settings: GenerationSettings
) -> tuple[list[Request], list[Answer], Any]:
    """Decode images and, where the backend can, preprocess: all off the model's critical path."""
    requests: list[Request] = []
    failed: list[Answer] = []
    limit: int | None = getattr(backend, "max_images", None)
    for sample in batch:
        if limit is not None and len(sample.images) > limit:
            refusal = too_many_images(len(sample.images), limit, backend.name)
            failed.append(_to_answer(sample.id, refusal))
            continue
        try:
            images = tuple(image.load() for image in sample.images)
        except ImageError as exc:
            failed.append(Answer(id=sample.id, prediction=None, error=f"sample {sample.id}: {exc}"))
            continue
        requests.append(Request(sample_id=sample.id, text=sample.text, images=images,
                                image_offsets=sample.image_offsets))
    prepared = None
    if isinstance(backend, PreparingBackend) and requests:
        try:
            prepared = backend.prepare(requests, settings)
        except Exception:
            log.debug("preparing a batch failed; it will be generated sample by sample", exc_info=True)
    return requests, failed, prepared


def _answer(
    backend: Backend, requests: Sequence[Request], settings: GenerationSettings, prepared: Any = None
) -> list[Answer]:
    if not requests:
        return []
    try:
        if prepared is not None and isinstance(backend, PreparingBackend):
            outputs = backend.generate_prepared(prepared, settings)
        else:
            outputs = backend.generate(requests, settings)
        if len(outputs) != len(requests):
            raise RuntimeError(f"backend returned {len(outputs)} answers for {len(requests)}")
    except Exception as exc:  # noqa: BLE001 - isolate the failing samples, keep the rest
        if len(requests) == 1:
            message = f"sample {requests[0].sample_id}: {type(exc).__name__}: {_first_line(exc)}"
            log.warning(message)
            return [Answer(id=requests[0].sample_id, prediction=None, error=message)]
        half = len(requests) // 2
        log.warning("batch of %d failed (%s); retrying in halves", len(requests), _first_line(exc))
        return _answer(backend, requests[:half], settings) + _answer(
            backend, requests[half:], settings
        )
    return [_to_answer(r.sample_id, out) for r, out in zip(requests, outputs, strict=True)]


def _to_answer(sample_id: str, output: Reply) -> Answer:
    if isinstance(output, SampleError):
        return Answer(id=sample_id, prediction=None, error=f"sample {sample_id}: {output}", failure=output.failure)
    if isinstance(output, Generation):
        return Answer(id=sample_id, prediction=output.text, finish_reason=output.finish_reason,
                      prompt_tokens=output.prompt_tokens, generated_tokens=output.generated_tokens,
                      reasoning_tokens=output.reasoning_tokens, reasoning=output.reasoning)
    return Answer(id=sample_id, prediction=output)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""
