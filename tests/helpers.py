"""Small builders for tests: data files in the real hub schemas, images, CLI calls."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vlmeval.demo_data import image_cell, png_bytes  # noqa: F401  (re-exported for the tests)
# Each task's demo-row builders live in its task file (Task.demo_rows); re-exported for the tests.
from vlmeval_tasks.gqa import GQA_IMAGES, gqa_image_rows, gqa_row  # noqa: F401
from vlmeval_tasks.llava_bench import llava_bench_row  # noqa: F401
from vlmeval_tasks.mmbench import FINE, mmb_row  # noqa: F401
from vlmeval_tasks.mme import mme_row  # noqa: F401
from vlmeval_tasks.mmvet import mmvet_row  # noqa: F401
from vlmeval_tasks.pope import pope_row  # noqa: F401
from vlmeval_tasks.seedbench import seed_row  # noqa: F401
from vlmeval_tasks.textvqa import textvqa_row  # noqa: F401
from vlmeval_tasks.vizwiz import vizwiz_row  # noqa: F401
from vlmeval_tasks.vqav2 import vqa_row  # noqa: F401

COLORS = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220), "yellow": (230, 230, 30)}


def sqa_row(
    question: str = "Which color fills the picture?",
    choices: Sequence[str] = ("red", "green", "blue", "yellow"),
    answer: int = 0,
    hint: str = "",
    image: bytes | None = None,
    subject: str = "natural science",
    grade: str = "grade3",
) -> dict[str, Any]:
    """One row in the lmms-lab/ScienceQA (ScienceQA-FULL, test) schema."""
    return {
        "image": image_cell(image),
        "question": question,
        "choices": list(choices),
        "answer": answer,
        "hint": hint,
        "task": "closed choice",
        "grade": grade,
        "subject": subject,
        "topic": "colors",
        "category": "Identify colors",
        "skill": "Identify colors",
        "lecture": "",
        "solution": "",
    }


def write_parquet(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(list(rows)), path)
    return path


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def vlmeval(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the `vlmeval` command in a fresh interpreter, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "vlmeval", *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout, check=False,
    )


def answered_every_sample(code: int, report: dict[str, Any]) -> bool:
    """A run that answered every sample: exit 0, or exit 3 only because its metrics are missing (a tiny
    random model's answers are unreadable, so no metric has a valid input; see docs/reports.md)."""
    counts = report.get("counts", {})
    if counts.get("errors") != 0 or counts.get("missing") != 0:
        return False
    return code == 0 or (code == 3 and bool(report.get("missing_metrics")))
