"""Files are written with the user's umask through one atomic writer; images reach RGB intact."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import vlmeval, write_jsonl
from vlmeval.engine.data import LazyImage
from vlmeval.io import atomic_file, atomic_write_bytes, atomic_write_text

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_writes_follow_the_umask(tmp_path: Path, umask_022: None) -> None:
    atomic_write_text(tmp_path / "a.txt", "x")
    atomic_write_bytes(tmp_path / "b.png", b"\x89PNG")
    assert _mode(tmp_path / "a.txt") == 0o644 and _mode(tmp_path / "b.png") == 0o644
    os.umask(0o027)
    atomic_write_text(tmp_path / "a.txt", "y")
    assert _mode(tmp_path / "a.txt") == 0o640 and (tmp_path / "a.txt").read_text() == "y"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(target) as file:
        file.write(b"half")
        raise RuntimeError("disk gone")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]


def test_one_atomic_writer_in_the_code() -> None:
    """mkstemp (which creates 0600 files) is called in vlmeval/io.py only."""
    users = [p.relative_to(ROOT).as_posix() for folder in ("vlmeval", "tasks")
             for p in (ROOT / folder).rglob("*.py") if "mkstemp" in p.read_text(encoding="utf-8")]
    assert users == ["vlmeval/io.py"]


@pytest.mark.slow
def test_score_writes_readable_reports(tmp_path: Path, umask_022: None) -> None:
    predictions = write_jsonl(tmp_path / "p.jsonl", [{"id": str(i), "prediction": "A"} for i in range(60)])
    out = tmp_path / "out"
    result = vlmeval("score", "--task", "sqa", "--data", "demo", "--predictions", str(predictions),
                     "--output", str(out))
    assert result.returncode == 0, result.stderr
    written = [p for p in out.rglob("*") if p.is_file()]
    assert {"report.json", "report.md", "predictions.jsonl"} <= {p.name for p in written}
    assert all(_mode(p) == 0o644 for p in written), {p.name: oct(_mode(p)) for p in written}


def _lazy(image: object, **save: object) -> LazyImage:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **save)  # type: ignore[attr-defined]
    data = buffer.getvalue()
    return LazyImage(lambda: {"bytes": data, "path": None}, "test row 0")


def test_sixteen_bit_grayscale_is_scaled_not_clipped() -> None:
    import numpy as np
    from PIL import Image

    values = np.array([[0, 16384, 32768, 65535]], dtype=np.uint16)
    loaded = _lazy(Image.fromarray(values)).load()
    assert loaded.mode == "RGB"
    assert [loaded.getpixel((x, 0)) for x in range(4)] == [(v, v, v) for v in (0, 64, 128, 255)]


def test_transparency_is_composited_onto_white() -> None:
    from PIL import Image

    rgba = Image.new("RGBA", (2, 1), (0, 0, 0, 0))
    rgba.putpixel((1, 0), (255, 0, 0, 255))
    loaded = _lazy(rgba).load()
    assert loaded.getpixel((0, 0)) == (255, 255, 255) and loaded.getpixel((1, 0)) == (255, 0, 0)

    gray_alpha = Image.new("LA", (1, 1), (0, 0))
    assert _lazy(gray_alpha).load().getpixel((0, 0)) == (255, 255, 255)


def test_palette_with_a_transparent_index_is_composited() -> None:
    from PIL import Image

    palette = Image.new("P", (2, 1), 0)
    palette.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    palette.putpixel((1, 0), 1)
    loaded = _lazy(palette, transparency=0).load()
    assert loaded.getpixel((0, 0)) == (255, 255, 255) and loaded.getpixel((1, 0)) == (0, 0, 255)
    opaque = _lazy(palette).load()
    assert opaque.getpixel((0, 0)) == (0, 0, 0) and opaque.getpixel((1, 0)) == (0, 0, 255)


def test_spreadsheet_text_stays_text(tmp_path: Path) -> None:
    """A model answer starting with `=` is not a formula (pandas would read it back as empty)."""
    import pandas as pd

    from vlmeval.io import atomic_write_xlsx

    rows: list[dict[str, Any]] = [{"index": 0, "prediction": "=HYPERLINK(\"http://x\")"}, {"index": 1, "prediction": "a\x01b"},
            {"index": 2, "prediction": None}]
    atomic_write_xlsx(tmp_path / "s.xlsx", rows)
    sheet = pd.read_excel(tmp_path / "s.xlsx", engine="openpyxl")
    assert sheet["index"].tolist() == [0, 1, 2]
    assert sheet["prediction"].tolist()[:2] == ["=HYPERLINK(\"http://x\")", "ab"]
