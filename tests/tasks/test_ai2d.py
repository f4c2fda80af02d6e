"""AI2D (mask and no mask): both readings against oracles written here.

`vlmevalkit`: VLMEvalKit `can_infer` (e8e78f05), the oracle transcribed in tests/answers/test_vlmevalkit.py.
`lmms-eval`: EvolvingLMMs-Lab/lmms-eval@bbddc790 `lmms_eval/tasks/ai2d/ai2d.yaml` (filter
`^\\s*([A-Z])\\.` via re.match, else the response) and `exact_match` with ignore_case and
ignore_punctuation (`string.punctuation` removed from prediction and reference), re-written below.
"""

from __future__ import annotations

import json
import re
import string
from pathlib import Path
from typing import Any

import pytest
from vlmeval_tasks.ai2d import demo_rows

from tests.helpers import write_jsonl, write_parquet
from tests.answers.test_vlmevalkit import HANDWRITTEN, official_can_infer
from vlmeval.cli import main
from vlmeval.engine.samples import load_samples
from vlmeval.registry import load_registry


def official_lmms_eval(prediction: str, target: str) -> bool:
    match = re.match(r"^\s*([A-Z])\.", prediction)
    filtered = match.group(1) if match else prediction
    table = str.maketrans("", "", string.punctuation)
    return filtered.lower().translate(table) == target.lower().translate(table)


def build(tmp_path: Path) -> tuple[list[dict[str, Any]], Path, Path]:
    base = demo_rows()
    rows = [dict(base[i % len(base)]) for i in range(len(HANDWRITTEN))]
    for i, row in enumerate(rows):
        row["answer"] = str(i % len(row["options"]))
    data = write_parquet(tmp_path / "ai2d" / "test-00000-of-00001.parquet", rows)
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": str(i), "prediction": p} for i, p in enumerate(HANDWRITTEN)])
    return rows, data, preds


def run(tmp_path: Path, task: str, *extra: str) -> dict[str, Any]:
    _, data, preds = build(tmp_path)
    out = tmp_path / "out"
    assert main(["score", "--task", task, "--predictions", str(preds), "--data", str(data),
                 "--output", str(out), *extra]) == 0
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("task", ["ai2d", "ai2d_no_mask"])
def test_vlmevalkit_reading_equals_can_infer(tmp_path: Path, task: str) -> None:
    rows = build(tmp_path)[0]
    report = run(tmp_path, task)
    right = [official_can_infer(p, dict(zip("ABCD", row["options"]))) == "ABCD"[int(row["answer"])]
             for p, row in zip(HANDWRITTEN, rows, strict=True)]
    assert 0 < sum(right) < len(right)
    assert report["metrics"]["accuracy"] == pytest.approx(100 * sum(right) / len(right))
    assert report["answer_reading"]["name"] == "vlmevalkit"


def test_lmms_eval_reading_equals_exact_match(tmp_path: Path) -> None:
    rows = build(tmp_path)[0]
    report = run(tmp_path, "ai2d", "--answer-reading", "lmms-eval")
    right = [official_lmms_eval(p, "ABCD"[int(row["answer"])]) for p, row in zip(HANDWRITTEN, rows, strict=True)]
    assert 0 < sum(right) < len(right)
    assert report["metrics"]["accuracy"] == pytest.approx(100 * sum(right) / len(right))


def test_prompt_lists_options_and_hub_ids(tmp_path: Path) -> None:
    data = write_parquet(tmp_path / "a.parquet", demo_rows())
    samples = load_samples(load_registry().get("ai2d"), str(data), None, None).samples
    assert samples[1].text == ("What does the arrow from grass point to?\nA. rabbit\nB. sun\nC. soil\n"
                               "Answer with the option's letter from the given choices directly.")
    assert [s.target for s in samples] == ["C", "A", "B"] and samples[0].id == "0"
    assert load_registry().get("ai2d_no_mask").data.hub == "lmms-lab/ai2d-no-mask"
