"""Append-only answer files: what makes a run resumable and shardable.

Each shard appends to its own `answers/shard-K-of-N.jsonl`, one line per sample, flushed after
every batch, so a killed process loses at most the batch in flight. Reading takes every file in
the folder, whatever the shard count that wrote it, and the last line for an id wins. A line cut
off by a crash (whatever byte it ends on) is skipped and its sample is answered again.
"""

from __future__ import annotations

import errno
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vlmeval.failure import retried_on_resume
from vlmeval.limits import MAX_ANSWER_CHARS, cut

ANSWERS_DIR = "answers"
log = logging.getLogger(__name__)


# Per-sample facts a backend may report beside the text (`Generation`), stored when known.
USAGE_FIELDS = ("finish_reason", "prompt_tokens", "generated_tokens", "reasoning_tokens", "server_reasoning_chars")


@dataclass(frozen=True)
class Answer:
    """A model's answer to one sample (its raw text), or the error that stopped it.

    `failure` names a permanent per-sample failure (`too_many_images`): counted, not retried.
    A server's separate reasoning text is never the answer; only its length is kept.
    """

    id: str
    prediction: str | None
    error: str | None = None
    full_length: int | None = None  # set where the prediction was cut to MAX_ANSWER_CHARS
    failure: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    generated_tokens: int | None = None
    reasoning_tokens: int | None = None
    server_reasoning_chars: int | None = None  # the length of a server's separate reasoning_content

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def oversized(self) -> bool:
        return self.full_length is not None

    @property
    def settled(self) -> bool:
        """Needs no new attempt: answered, or failed for a reason a retry cannot mend."""
        return self.ok or (self.failure is not None and not retried_on_resume(self.failure))

    def to_json(self) -> dict[str, object]:
        line: dict[str, object] = {"id": self.id, "prediction": self.prediction, "error": self.error}
        for name in ("full_length", "failure", *USAGE_FIELDS):
            if getattr(self, name) is not None:
                line[name] = getattr(self, name)
        return line


def bounded(sample_id: str, prediction: str | None, error: str | None = None,
            full_length: int | None = None, **usage: Any) -> Answer:
    """An Answer whose prediction is at most MAX_ANSWER_CHARS long (cut, and marked, where longer).

    `usage`: the `failure` code and `USAGE_FIELDS` a backend reported, kept as they are.
    """
    if prediction is None:
        return Answer(sample_id, None, error, full_length, **usage)
    text, cut_from = cut(prediction, MAX_ANSWER_CHARS)
    return Answer(sample_id, text, error, full_length if cut_from is None else cut_from, **usage)


@dataclass(frozen=True)
class StoreState:
    answers: dict[str, Answer]
    torn_lines: list[str]


def warn_torn(state: StoreState) -> None:
    if state.torn_lines:
        log.warning("%d unreadable answer lines skipped (first: %s); their samples are answered again",
                    len(state.torn_lines), state.torn_lines[0])


class AnswerStore:
    def __init__(self, run_dir: Path) -> None:
        self.folder = run_dir / ANSWERS_DIR

    def shard_file(self, shard: int, n_shards: int) -> Path:
        return self.folder / f"shard-{shard:05d}-of-{n_shards:05d}.jsonl"

    def read(self) -> StoreState:
        answers: dict[str, Answer] = {}
        torn: list[str] = []
        if not self.folder.is_dir():
            return StoreState(answers, torn)
        for file in sorted(self.folder.glob("shard-*.jsonl")):
            for line_no, answer in enumerate(_answers_in(file.read_bytes()), 1):
                if answer is None:
                    torn.append(f"{file}:{line_no}")
                    continue
                previous = answers.get(answer.id)
                if previous is None or not previous.settled or answer.settled:
                    answers[answer.id] = answer
        return StoreState(answers, torn)

    def writer(self, shard: int, n_shards: int) -> AnswerWriter:
        self.folder.mkdir(parents=True, exist_ok=True)
        return AnswerWriter(self.shard_file(shard, n_shards))

    def claim_file(self, shard: int, n_shards: int) -> Path:
        """Held by the one process answering that shard (`vlmeval.engine.claims`)."""
        return self.folder / f"shard-{shard:05d}-of-{n_shards:05d}.claim"


def _answers_in(data: bytes) -> list[Answer | None]:
    """Every line of an answer file, None for one that cannot be used.

    Bytes, not text: a line cut by a crash or a full disk may end inside a multi-byte character,
    which must cost that line only, not the whole file.
    """
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the file ends with a newline: no tail
    parsed: list[Answer | None] = []
    for raw in lines:
        try:
            parsed.append(_parse_line(raw.decode("utf-8")))
        except UnicodeDecodeError:
            parsed.append(None)
    return parsed


def _parse_line(line: str) -> Answer | None:
    try:
        obj = json.loads(line)
        prediction = obj["prediction"]
        if prediction is not None and not isinstance(prediction, str):
            return None
        full_length = obj.get("full_length")
        usage = {name: obj[name] for name in ("failure", *USAGE_FIELDS) if obj.get(name) is not None}
        return bounded(str(obj["id"]), prediction, obj.get("error"),
                       full_length if isinstance(full_length, int) else None, **usage)
    except (json.JSONDecodeError, KeyError, TypeError):
        return None


class AnswerWriter:
    """Appends answers to one shard file; a torn tail from a crash is closed off first.

    Unbuffered bytes: each batch reaches the file in one `write` call or raises there, so a full
    disk is reported once, at that batch, and closing has nothing left to flush.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = open(path, "ab+", buffering=0)  # noqa: SIM115 - kept open
        end = self._file.seek(0, os.SEEK_END)
        if end > 0:
            self._file.seek(end - 1)
            if self._file.read(1) != b"\n":
                self._write_all(b"\n")

    def write(self, answers: Iterable[Answer]) -> None:
        lines = [json.dumps(a.to_json(), ensure_ascii=False) for a in answers]
        if lines:
            self._write_all(("\n".join(lines) + "\n").encode("utf-8"))

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = self._file.write(view)
            if not written:
                raise OSError(errno.EIO, "the write made no progress")
            view = view[written:]

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> AnswerWriter:  # noqa: PYI034 - Self needs Python 3.11
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
