"""Sample.parts: where each image goes in the text (the task API for interleaved images)."""

from __future__ import annotations

import pytest

from vlmeval.task import Sample


def test_images_interleave_at_their_offsets() -> None:
    sample = Sample(id="1", text="ab<image 1>cd", images=("x", "y"), image_offsets=(2, 11))  # type: ignore[arg-type]
    assert sample.parts() == ["ab", 0, "<image 1>", 1, "cd"]


def test_without_offsets_every_image_comes_first() -> None:
    assert Sample(id="1", text="q", images=("x", "y")).parts() == [0, 1, "q"]  # type: ignore[arg-type]
    assert Sample(id="2", text="q").parts() == ["q"]


@pytest.mark.parametrize("offsets", [(5,), (1, 0), (0,)])
def test_offsets_that_do_not_place_every_image_are_refused(offsets: tuple[int, ...]) -> None:
    images = ("x",) * (2 if len(offsets) == 2 else 2 if offsets == (0,) else 1)
    with pytest.raises(ValueError, match="sample 4"):
        Sample(id="4", text="q", images=images, image_offsets=offsets)  # type: ignore[arg-type]


def test_the_data_half_of_the_task_api_keeps_its_import_paths() -> None:
    import vlmeval
    import vlmeval.task_data as task_data
    from vlmeval.task import DataSpec, ImageJoin, Row, has_split, read_rows

    assert (DataSpec, ImageJoin, Row, has_split, read_rows) == (
        task_data.DataSpec, task_data.ImageJoin, task_data.Row, task_data.has_split, task_data.read_rows)
    assert vlmeval.DataSpec is task_data.DataSpec and vlmeval.Row is task_data.Row
