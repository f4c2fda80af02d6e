"""Images are read a parquet row group at a time, and the runner asks for them in near file order.

The runner sorts prompts by length only within windows of the dataset order, and the reader keeps
recent row groups: together each row group is read about once, instead of once per image. The
answers must not change: every sample still gets its own image, at any batch size.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import COLORS, image_cell, png_bytes, sqa_row
from vlmeval.backends.base import GenerationSettings, Request, SampleError
from vlmeval.engine.runner import SORT_WINDOW_BATCHES, SORT_WINDOW_MIN, generate, length_order
from vlmeval.engine.store import AnswerStore
from vlmeval.task import Sample

NAMES = list(COLORS)


def _parquet(path: Path, n: int, group_rows: int) -> Path:
    """ScienceQA rows whose image colour is NAMES[i % 4]; every fifth row has no image."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = []
    for i in range(n):
        row = sqa_row(question=f"Which color? {'x' * (i * 7 % 23)}", answer=i % 4)
        row["image"] = None if i % 5 == 4 else image_cell(png_bytes(COLORS[NAMES[i % 4]], size=8))
        rows.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=group_rows)
    return path


def _samples(path: Path) -> list[Sample]:
    from vlmeval.engine.samples import load_samples
    from vlmeval.registry import load_registry

    return load_samples(load_registry().get("sqa"), str(path), None, None).samples


class ColourBackend:
    """Answers with the colour of the sample's image ("none" without one)."""

    name = "colour"

    def generate(self, requests: Sequence[Request], settings: GenerationSettings) -> list[str | SampleError]:
        answers: list[str | SampleError] = []
        for request in requests:
            if not request.images:
                answers.append("none")
                continue
            pixel = request.images[0].getpixel((0, 0))
            answers.append(next(name for name, rgb in COLORS.items() if rgb == pixel))
        return answers

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name}


def test_each_row_group_is_read_once_in_shuffled_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow.parquet as pq

    samples = _samples(_parquet(tmp_path / "sqa" / "test.parquet", 120, group_rows=10))
    reads: list[int] = []
    original = pq.ParquetFile.read_row_group

    def counting(self: Any, group: int, *args: Any, **kwargs: Any) -> Any:
        reads.append(group)
        return original(self, group, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", counting)
    shuffled = list(enumerate(samples))
    random.Random(0).shuffle(shuffled)
    for index, sample in shuffled:
        if sample.images:
            assert sample.images[0].load().getpixel((0, 0)) == COLORS[NAMES[index % 4]]
    assert sorted(reads) == list(range(12))


def test_a_full_cache_evicts_and_still_returns_the_right_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import vlmeval.engine.data

    monkeypatch.setattr(vlmeval.engine.data, "ROW_GROUP_CACHE_BYTES", 1)  # keeps one group only
    samples = _samples(_parquet(tmp_path / "sqa" / "test.parquet", 60, group_rows=7))
    for index in random.Random(1).sample(range(60), 60):
        if samples[index].images:
            assert samples[index].images[0].load().getpixel((0, 0)) == COLORS[NAMES[index % 4]]


def test_length_order_sorts_within_windows_of_dataset_order() -> None:
    rng = random.Random(0)
    samples = [Sample(id=str(i), text="x" * rng.randrange(200)) for i in range(2500)]
    batch_size = 8
    window = max(SORT_WINDOW_MIN, SORT_WINDOW_BATCHES * batch_size)
    ordered = length_order(samples, batch_size)
    assert sorted(s.id for s in ordered) == sorted(s.id for s in samples)
    for start in range(0, len(samples), window):
        chunk = ordered[start : start + window]
        assert {s.id for s in chunk} == {s.id for s in samples[start : start + window]}
        lengths = [len(s.text) for s in chunk]
        assert lengths == sorted(lengths, reverse=True)


@pytest.mark.parametrize("batch_size", [1, 7, 32])
def test_every_sample_gets_its_own_image_at_any_batch_size(tmp_path: Path, batch_size: int) -> None:
    samples = _samples(_parquet(tmp_path / "sqa" / "test.parquet", 150, group_rows=10))
    store = AnswerStore(tmp_path / f"run-{batch_size}")
    summary = generate(samples, ColourBackend, GenerationSettings(), store, batch_size, show_progress=False)
    assert summary.answered == 150
    answers = store.read().answers
    expected = {str(i): ("none" if i % 5 == 4 else NAMES[i % 4]) for i in range(150)}
    assert {k: a.prediction for k, a in answers.items()} == expected
