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
