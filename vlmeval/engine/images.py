"""Decoded images to the RGB that every backend takes, without losing what the file holds.

PIL's `convert("RGB")` alone is wrong for three kinds of files that datasets do contain:
16-bit grayscale (medical, depth maps, some PNGs) is clipped at 255 instead of scaled, so most
of the picture turns white; transparent pixels (RGBA, LA, palette with a transparent index) keep
whatever colour lies under the alpha, often black; and such an image, once converted, can no
longer be corrected. So the scaling and the compositing onto white (as Qwen-VL's `fetch_image`
does) come first, and RGB last.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_WIDE_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})


def has_alpha(image: Image) -> bool:
    return image.mode in _ALPHA_MODES or "transparency" in image.info


def to_rgb(image: Image) -> Image:
    """An 8-bit RGB copy of `image`: 16-bit values scaled, transparency composited onto white."""
    from PIL import Image as PILImage

    if image.mode == "RGB":
        return image
    if image.mode in _WIDE_MODES:
        return _wide_to_gray(image).convert("RGB")
    if has_alpha(image):
        rgba = image.convert("RGBA")
        background = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
        return PILImage.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _wide_to_gray(image: Image) -> Image:
    """8-bit grayscale from a 16- or 32-bit integer image.

    16-bit modes scale the full 0-65535 range; a 32-bit "I" image (what PIL gives for many
    16-bit PNGs) is scaled the same way when a value exceeds 255, else taken as 8-bit.
    """
    import numpy as np
    from PIL import Image as PILImage

    values = np.asarray(image).astype(np.float64)
    peak = float(values.max()) if values.size else 0.0
    scale = 255.0 / 65535.0 if image.mode != "I" or peak > 255 else 1.0
    gray = np.clip(np.rint(values * scale), 0, 255).astype(np.uint8)
    return PILImage.fromarray(gray, mode="L")
