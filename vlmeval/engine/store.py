"""Append-only answer files: what makes a run resumable and shardable.

Each shard appends to its own `answers/shard-K-of-N.jsonl`, one line per sample, flushed after
every batch, so a killed process loses at most the batch in flight. Reading takes every file in
the folder, whatever the shard count that wrote it, and the last line for an id wins. A line cut
off by a crash is skipped and its sample is answered again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ANSWERS_DIR = "answers"


@dataclass(frozen=True)
class Answer:
    """A model's answer to one sample, or the error that stopped it."""

    id: str
    prediction: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class StoreState:
    answers: dict[str, Answer]
    torn_lines: list[str]


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
            for line_no, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
                answer = _parse_line(line)
                if answer is None:
                    torn.append(f"{file}:{line_no}")
                    continue
                previous = answers.get(answer.id)
                if previous is None or not previous.ok or answer.ok:
                    answers[answer.id] = answer
        return StoreState(answers, torn)

    def writer(self, shard: int, n_shards: int) -> AnswerWriter:
        self.folder.mkdir(parents=True, exist_ok=True)
        return AnswerWriter(self.shard_file(shard, n_shards))


def _parse_line(line: str) -> Answer | None:
    try:
        obj = json.loads(line)
        prediction = obj["prediction"]
        if prediction is not None and not isinstance(prediction, str):
            return None
        return Answer(id=str(obj["id"]), prediction=prediction, error=obj.get("error"))
    except (json.JSONDecodeError, KeyError, TypeError):
        return None


class AnswerWriter:
    """Appends answers to one shard file; a torn tail from a crash is closed off first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - kept open
        self._file.seek(0, os.SEEK_END)
        if self._file.tell() > 0:
            self._file.seek(self._file.tell() - 1)
            if self._file.read(1) != "\n":
                self._file.write("\n")

    def write(self, answers: Iterable[Answer]) -> None:
        lines = [
            json.dumps({"id": a.id, "prediction": a.prediction, "error": a.error}, ensure_ascii=False)
            for a in answers
        ]
        if lines:
            self._file.write("\n".join(lines) + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> AnswerWriter:  # noqa: PYI034 - Self needs Python 3.11
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
