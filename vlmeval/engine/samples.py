"""A task's samples from its data: rows through the task's prompt, ids checked, a fingerprint."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from vlmeval.demo_data import demo_rows_path
from vlmeval.engine.data import load_table
from vlmeval.errors import DataError, UsageError
from vlmeval.io import json_encoder
from vlmeval.task import Sample, Task

DEMO = "demo"


@dataclass(frozen=True)
class SampleSet:
    source: str
    split: str
    samples: list[Sample]
    files: tuple[Path, ...] = ()  # the local data files the samples were read from
    note: str | None = None  # what a reader of the report should know about the data (size changed)
    subset: dict[str, Any] | None = None  # `--subset`: name, n, of, ids_hash (engine/subsets.py)
    repeated_ids: tuple[str, ...] = ()  # ids given to rows whose id repeats (DataSpec.repeated_ids)

    def fingerprint(self) -> str:
        """A hash of what the model is asked and what it is scored against (images excluded)."""
        # The text json.dumps(..., default=str) gives, sample by sample: stored fingerprints stay valid.
        encode = json_encoder(ensure_ascii=True)
        digest = hashlib.sha256()
        digest.update("".join([encode([s.id, s.text, s.target]) for s in self.samples]).encode())
        return digest.hexdigest()[:16]

    def image_fingerprint(self, what: str) -> str | None:
        """A hash of the encoded bytes of every sample's images, in order; None when no sample has one.

        Kept apart from `fingerprint` (which reports, compare and `score` use): reading every image
        costs seconds per GB, so only a run's identity asks for it, once per state of the data files
        (`fingerprint.memo`, keyed by `what`, the task and version, the split, and which samples:
        `--limit 100` and a `--subset` of 100 read the same files but not the same images).
        """
        if not any(s.images for s in self.samples):
            return None
        from vlmeval.engine.fingerprint import memo

        def compute() -> tuple[str, bool]:
            digest = hashlib.sha256()
            elsewhere = False  # an image read from a file a cell names: not covered by the memo's key
            for sample in self.samples:
                digest.update(f"\0{sample.id}\0".encode())
                for image in sample.images:
                    data, outside = image.encoded()
                    elsewhere |= outside
                    digest.update(f"{len(data)}:".encode() + data)
            return digest.hexdigest()[:16], not elsewhere

        which = hashlib.sha256("\0".join(f"{s.id}\0{len(s.images)}" for s in self.samples).encode())
        key = f"images:{what}:{self.split}:{len(self.samples)}:{which.hexdigest()[:16]}"
        return memo(key, self.files, compute)

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "source": self.source,
            "split": self.split,
            "n_rows": len(self.samples),
            "fingerprint": self.fingerprint(),
        }
        if self.note is not None:
            described["note"] = self.note
        if self.repeated_ids:  # rows whose id repeats, made unique: counted in the report
            described["repeated_ids"] = {"count": len(self.repeated_ids), "ids": list(self.repeated_ids[:20])}
        return described


def load_samples(task: Task, data: str | None, split: str | None, limit: int | None) -> SampleSet:
    """The samples of `task` from `data` (a path, `demo`, or None for the hub copy)."""
    split_given = split is not None and data != DEMO
    split = split or task.data.split
    if data == DEMO:
        if task.data.demo is None and task.demo_rows is None:
            raise UsageError(f"task {task.name} has no bundled demo split; pass --data PATH")
        data = str(task.data.demo if task.data.demo is not None else demo_rows_path(task))
    return _build_samples(task, data, split, limit, split_given)


def _build_samples(
    task: Task, data: str | None, split: str, limit: int | None, split_given: bool = False
) -> SampleSet:
    table = load_table(task.data, data, split, split_given)
    image_column = task.data.image_column
    count = len(table.rows) if limit is None else min(limit, len(table.rows))
    samples = []
    for index in range(count):
        row = table.rows[index]
        if image_column is not None:  # in place: the rows are this call's own (a copy each cost ~0.25 s on VQAv2 val)
            row[image_column] = table.lazy_image(index)
        try:
            samples.append(task.to_sample(row, index))
        except Exception as exc:
            raise DataError(
                f"{table.source} row {index}: cannot build a {task.name} sample ({type(exc).__name__}: {exc})"
            ) from exc
    duplicates = [i for i, n in Counter(s.id for s in samples).items() if n > 1]
    repeated: list[str] = []
    if duplicates and task.data.repeated_ids:
        samples, repeated = unique_ids(samples)
    elif duplicates:
        shown = ", ".join(duplicates[:5])
        raise DataError(f"{table.source}: duplicate sample ids ({len(duplicates)}): {shown}")
    return SampleSet(source=table.source, split=split, samples=samples, files=table.files,
                     note=_size_note(task, data, split, len(table.rows)), repeated_ids=tuple(repeated))


REPEAT_MARK = "#"


def unique_ids(samples: list[Sample]) -> tuple[list[Sample], list[str]]:
    """Samples whose ids repeat get `#2`, `#3`... in row order (the first keeps its id), so the same
    data always gives the same ids; returns the samples and the new ids. Each row stays a sample of
    its own, scored on its own, as the official scorers count rows."""
    seen: Counter[str] = Counter()
    taken = {s.id for s in samples}
    out, renamed = [], []
    for sample in samples:
        seen[sample.id] += 1
        if seen[sample.id] == 1:
            out.append(sample)
            continue
        new_id = f"{sample.id}{REPEAT_MARK}{seen[sample.id]}"
        if new_id in taken:
            raise DataError(f"sample id {sample.id} repeats and {new_id} is taken by another row")
        taken.add(new_id)
        renamed.append(new_id)
        out.append(replace(sample, id=new_id))
    return out, renamed


def _size_note(task: Task, data: str | None, split: str, rows: int) -> str | None:
    """A note when the hub copy of the task's split has another number of rows than the task declares."""
    declared = task.data.size
    if data is not None or split != task.data.split or declared is None or rows == declared:
        return None
    return (f"the hub copy of split {split!r} has {rows:,} rows where {task.name} declares {declared:,}: "
            f"the dataset on the hub has changed; compare with published numbers with care")
