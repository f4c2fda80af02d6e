"""The generation loop: the samples of one shard, batched, answered and appended to the store.

Images of the next batch are decoded in a worker thread while the model answers the current
one. Batches are formed from samples sorted by prompt length (less padding) within windows of
32 batches taken in dataset order (so images are read in file order); answers are keyed by id,
so the order they are written in does not matter. A batch that raises is split in half
and retried down to single samples, so an out-of-memory batch or one bad sample costs only
that sample, which is recorded with its error and retried on the next run.

With `auto_batch` (`--batch-size auto`) the size given is where the run starts: a batch that runs
out of memory halves the size for every later batch, so the run keeps the largest size that fit.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
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
from vlmeval.engine.store import Answer, AnswerStore, AnswerWriter, bounded, warn_torn
from vlmeval.errors import ImageError, VlmevalError
from vlmeval.task import TASK_TOKEN, Sample

log = logging.getLogger(__name__)

SORT_WINDOW_BATCHES = 32
SORT_WINDOW_MIN = 1024
AUTO_BATCH_START = 64  # `--batch-size auto` without --max-batch-size (lm-evaluation-harness's default)


@dataclass(frozen=True)
class GenerationSummary:
    """What one shard's generation did; `input_wait_s` is time the model sat idle for input."""

    pending: int
    answered: int
    errors: int
    wall_s: float = 0.0
    generate_s: float = 0.0
    input_wait_s: float = 0.0
    batch_size: int = 0  # the size in use at the end: with auto batching, the largest that fit

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
    auto_batch: bool = False,
) -> GenerationSummary:
    """Answer `pending` and append every answer (or its error) to the shard's file.

    `auto_batch`: `batch_size` is the first size tried; out-of-memory errors lower it (BatchSizer).
    """
    if not pending:
        return GenerationSummary(pending=0, answered=0, errors=0, batch_size=batch_size)
    backend = backend_factory()
    ordered = length_order(pending, batch_size)
    sizer = BatchSizer(batch_size, auto_batch)
    position = 0

    def next_batch() -> Sequence[Sample]:
        nonlocal position
        batch = ordered[position : position + sizer.size]
        position += len(batch)
        return batch

    answered = errors = 0
    generate_s = wait_s = 0.0
    from tqdm import tqdm

    progress = tqdm(total=len(ordered), unit="sample", dynamic_ncols=True, smoothing=0.1,
                    disable=not show_progress)
    started = time.perf_counter()
    with store.writer(shard.index, shard.count) as writer, ThreadPoolExecutor(1) as prefetch:
        upcoming: Future[_Loaded] | None = prefetch.submit(_load_batch, next_batch(), backend, settings)
        while upcoming is not None:
            waited = time.perf_counter()
            requests, failed, prepared = upcoming.result()
            wait_s += time.perf_counter() - waited
            upcoming = None
            if position < len(ordered):
                upcoming = prefetch.submit(_load_batch, next_batch(), backend, settings)
            asked = time.perf_counter()
            answers = failed + _answer_within(backend, requests, settings, prepared, sizer)
            generate_s += time.perf_counter() - asked
            _write(writer, answers)
            answered += sum(a.ok for a in answers)
            errors += sum(not a.ok for a in answers)
            progress.update(len(answers))
    progress.close()
    summary = GenerationSummary(
        pending=len(pending), answered=answered, errors=errors,
        wall_s=time.perf_counter() - started, generate_s=generate_s, input_wait_s=wait_s,
        batch_size=sizer.size,
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


_Loaded = tuple[list[Request], list[Answer], Any]  # requests, image failures, prepared inputs


def _load_batch(batch: Sequence[Sample], backend: Backend, settings: GenerationSettings) -> _Loaded:
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
                                image_offsets=sample.image_offsets, task_token=sample.meta.get(TASK_TOKEN)))
    prepared = None
    if isinstance(backend, PreparingBackend) and requests:
        try:
            prepared = backend.prepare(requests, settings)
        except Exception:
            log.debug("preparing a batch failed; it will be generated sample by sample", exc_info=True)
    return requests, failed, prepared


class BatchSizer:
    """The batch size in use: fixed, or (auto) halved below every batch that ran out of memory."""

    def __init__(self, size: int, auto: bool) -> None:
        self.size = size
        self.auto = auto

    def out_of_memory(self, failed_size: int) -> None:
        if self.auto and failed_size > 1 and failed_size // 2 < self.size:
            self.size = failed_size // 2
            log.warning("a batch of %d ran out of memory; --batch-size auto continues with %d",
                        failed_size, self.size)


def is_out_of_memory(exc: BaseException) -> bool:
    """torch's OutOfMemoryError (CUDA), or another device's out-of-memory RuntimeError (MPS)."""
    torch = sys.modules.get("torch")  # a backend that raises torch's error has imported torch
    error_type = getattr(torch, "OutOfMemoryError", None) if torch is not None else None
    if error_type is not None and isinstance(exc, error_type):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def _answer_within(
    backend: Backend, requests: Sequence[Request], settings: GenerationSettings, prepared: Any,
    sizer: BatchSizer,
) -> list[Answer]:
    """Answer a batch, in pieces of the current size when it was cut before the size went down."""
    if len(requests) <= sizer.size:
        return _answer(backend, requests, settings, prepared, sizer)
    return _answer_in_pieces(backend, requests, settings, sizer)


def _answer_in_pieces(
    backend: Backend, requests: Sequence[Request], settings: GenerationSettings, sizer: BatchSizer
) -> list[Answer]:
    """Pieces of `sizer.size`, read again before each piece: a piece that runs out lowers it."""
    answers: list[Answer] = []
    start = 0
    while start < len(requests):
        piece = requests[start : start + sizer.size]
        answers += _answer(backend, piece, settings, None, sizer)
        start += len(piece)
    return answers


def _answer(
    backend: Backend, requests: Sequence[Request], settings: GenerationSettings, prepared: Any = None,
    sizer: BatchSizer | None = None,
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
        first_line, kind, out_of_memory = _first_line(exc), type(exc).__name__, is_out_of_memory(exc)
    else:
        return [_to_answer(r.sample_id, out) for r, out in zip(requests, outputs, strict=True)]
    # Retried only once the except block has ended: until then the exception's traceback holds the
    # failed call's frames, and with them its tensors (the GPU memory an out-of-memory retry needs).
    if len(requests) == 1:
        message = f"sample {requests[0].sample_id}: {kind}: {first_line}"
        log.warning(message)
        return [Answer(id=requests[0].sample_id, prediction=None, error=message)]
    if sizer is not None and out_of_memory:
        sizer.out_of_memory(len(requests))
        if sizer.size < len(requests):
            return _answer_in_pieces(backend, requests, settings, sizer)
    half = len(requests) // 2
    log.warning("batch of %d failed (%s); retrying in halves", len(requests), first_line)
    return _answer(backend, requests[:half], settings, None, sizer) + _answer(
        backend, requests[half:], settings, None, sizer
    )


def _to_answer(sample_id: str, output: Reply) -> Answer:
    if isinstance(output, SampleError):
        return Answer(id=sample_id, prediction=None, error=f"sample {sample_id}: {output}", failure=output.failure)
    if isinstance(output, Generation):  # a runaway generation is cut and counted (bounded)
        return bounded(sample_id, output.text, finish_reason=output.finish_reason,
                       prompt_tokens=output.prompt_tokens, generated_tokens=output.generated_tokens,
                       reasoning_tokens=output.reasoning_tokens,
                       server_reasoning_chars=len(output.reasoning) if output.reasoning else None)
    return bounded(sample_id, output)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""
