"""The image handle of the task API: an image cell of a dataset row, decoded only when a backend
(or the view page) asks for it, in whichever layout the hub, a parquet file or a TSV stores it."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlmeval.engine.images import to_rgb
from vlmeval.errors import ImageError

if TYPE_CHECKING:
    from PIL.Image import Image

ImageCell = Any


class LazyImage:
    """An image cell that is decoded on `load()`; `where` names it in errors."""

    __slots__ = ("_fetch", "where")

    def __init__(self, fetch: Callable[[], ImageCell], where: str) -> None:
        self._fetch = fetch
        self.where = where

    def encoded(self) -> tuple[bytes, bool]:
        """The image's encoded bytes, and whether they were read from a file the cell names (outside
        the data files); an unreadable cell gives the reason's bytes (that sample fails when run)."""
        try:
            cell = self._fetch()
            return cell_bytes(cell) or b"", isinstance(cell, dict) and cell.get("bytes") is None
        except Exception as exc:
            return f"unreadable: {exc}".encode(), True

    def frame(self, choose: Callable[[int], int]) -> LazyImage:
        """The image of a list cell (a video's frames) that `choose(number of frames)` picks; a cell
        that is one image is that image."""
        fetch = self._fetch

        def chosen() -> ImageCell:
            cell = fetch()
            if isinstance(cell, (list, tuple)) and cell:
                return cell[choose(len(cell))]
            return cell

        return LazyImage(chosen, self.where)

    def load(self, max_side: int | None = None) -> Image:
        """The image in RGB; with `max_side`, a thumbnail at most that long (JPEGs are decoded at a
        reduced scale, several times faster than decoding them whole)."""
        from PIL import Image as PILImage

        try:
            data = cell_bytes(self._fetch())
            if data is None:
                raise ValueError("the image cell is empty")
            image = PILImage.open(io.BytesIO(data))
            if max_side is not None:
                scale = min(1.0, max_side / max(image.size))
                image.draft("RGB", (round(image.width * scale), round(image.height * scale)))
                image.thumbnail((max_side, max_side))
            image.load()
            return to_rgb(image)
        except Exception as exc:
            raise ImageError(f"{self.where}: cannot decode image ({exc})") from exc


def cell_bytes(cell: ImageCell) -> bytes | None:
    """The encoded bytes of an image cell in any layout the hub or a TSV uses."""
    if cell is None:
        return None
    if isinstance(cell, bytes):
        return cell
    if isinstance(cell, dict):
        if cell.get("bytes") is not None:
            return bytes(cell["bytes"])
        if cell.get("path"):
            return Path(cell["path"]).read_bytes()
        return None
    if isinstance(cell, str):
        return base64.b64decode(cell)
    if isinstance(cell, (list, tuple)):  # a sequence-of-images column holding one image
        if len(cell) > 1:
            raise ValueError(f"the cell holds {len(cell)} images; one is expected")
        return cell_bytes(cell[0]) if cell else None
    raise TypeError(f"unsupported image cell of type {type(cell).__name__}")
