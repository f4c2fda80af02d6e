"""Bundled demo model: a tiny LLaVA trained on synthetic ScienceQA-style questions.

`CHECKPOINT_DIR` holds the trained checkpoint (written by `scripts/train_demo.py`);
`build_tiny_llava` (from `vlmeval.demo.tiny`) makes a fresh random-weight one. It is resolved on
first use so that importing this package does not import torch or transformers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHECKPOINT_DIR: Path = Path(__file__).resolve().parent / "checkpoint"

__all__ = ["CHECKPOINT_DIR", "build_tiny_llava"]


def __getattr__(name: str) -> Any:
    if name == "build_tiny_llava":
        from vlmeval.demo.tiny import build_tiny_llava

        return build_tiny_llava
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
