"""Builders for a task's demo rows (`Task.demo_rows`): image cells as the hub's parquet files store them."""

from __future__ import annotations

import io
from typing import Any


def png_bytes(rgb: tuple[int, int, int] = (200, 30, 30), size: int = 32) -> bytes:
    """A plain PNG of one colour."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def image_cell(data: bytes | None) -> dict[str, Any] | None:
    """An image cell as the hub's parquet files store it (None for a row without an image)."""
    return None if data is None else {"bytes": data, "path": None}
