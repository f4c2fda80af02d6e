"""Bundled demo model: a tiny LLaVA trained on synthetic ScienceQA-style questions.

`CHECKPOINT_DIR` holds the trained checkpoint, written by `scripts/train_demo.py` from a fresh
random-weight one (`scripts/tiny_llava.py`, outside the package: only training and tests use it).
"""

from __future__ import annotations

from pathlib import Path

CHECKPOINT_DIR: Path = Path(__file__).resolve().parent / "checkpoint"

__all__ = ["CHECKPOINT_DIR"]
