"""Bundled demo model: a tiny LLaVA trained on synthetic ScienceQA-style questions.

`CHECKPOINT_DIR` holds the trained checkpoint (written by `scripts/train_demo.py`);
`build_tiny_llava` makes a fresh random-weight one. Nothing heavy is imported here.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

CHECKPOINT_DIR: Path = Path(__file__).resolve().parent / "checkpoint"

__all__ = ["CHECKPOINT_DIR", "build_tiny_llava"]


def build_tiny_llava(
    out_dir: str | Path,
    *,
    seed: int = 0,
    image_size: int = 32,
    corpus: Iterable[str] | None = None,
) -> Path:
    """Save a random-weight tiny LLaVA into `out_dir`; see `vlmeval.demo.tiny.build_tiny_llava`."""
    # Imported here so `import vlmeval.demo` does not pull in torch/transformers.
    from vlmeval.demo.tiny import build_tiny_llava as build

    return build(out_dir, seed=seed, image_size=image_size, corpus=corpus)
