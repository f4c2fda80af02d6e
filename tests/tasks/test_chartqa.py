"""ChartQA: pix2struct's `relaxed_correctness` (google-research/pix2struct 5b086ef5 `metrics.py`),
re-written here, against vlmeval's scores on adversarial answers; parts reported apart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import pytest

from tests.helpers import write_jsonl, write_parquet
from vlmeval.cli import main
from vlmeval.demo_data import image_cell, png_bytes


def p2s_relaxed_correctness(target: str, prediction: str, max_relative_change: float = 0.05) -> bool:
    def _to_float(text: str) -> Optional[float]:  # noqa: UP045 - as the source writes it
        try:
            if text.endswith("%"):
                return float(text.rstrip("%")) / 100.0
            else:
                return float(text)
        except ValueError:
            return None

    prediction_float = _to_float(prediction)
    target_float = _to_float(target)
    if prediction_float is not None and target_float:
        relative_change = abs(prediction_float - target_float) / abs(target_float)
        return relative_change <= max_relative_change
    else:
        return prediction.lower() == target.lower()


# (part, target, raw generation)
CASES = [
    ("human_test", "45%", "45"), ("human_test", "45%", "0.45"), ("human_test", "100", "105"),
    ("human_test", "100", "105.01"), ("human_test", "0", "0.0"), ("human_test", "1000", "1_000"),
    ("human_test", "12", " 12 "), ("human_test", "12", "12."), ("augmented_test", "nan", "nan"),
    ("augmented_test", "1000", "1,000"), ("augmented_test", "-5", "5"), ("augmented_test", "Yes", "yes"),
    ("augmented_test", "Asia", "Asia "), ("augmented_test", "45%", "45% "), ("augmented_test", "3", ""),
    ("augmented_test", "0", "0"),
]


def test_adversarial_cases_behave_as_the_spec_checked() -> None:
    verdicts = [p2s_relaxed_correctness(t, p) for _, t, p in CASES]
    assert verdicts[:10] == [False, True, True, False, False, True, True, True, False, False]
    assert p2s_relaxed_correctness("45%", "45% ") is False  # raw: '%' test fails and float() refuses


def test_relaxed_accuracy_and_parts_equal_pix2struct(tmp_path: Path) -> None:
    rows = [{"type": kind, "question": f"q{i}?", "answer": target, "image": image_cell(png_bytes())}
            for i, (kind, target, _) in enumerate(CASES)]
    data = write_parquet(tmp_path / "chartqa" / "test-00000-of-00001.parquet", rows)
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": str(i), "prediction": p} for i, (_, _, p) in enumerate(CASES)])
    out = tmp_path / "out"
    assert main(["score", "--task", "chartqa", "--predictions", str(preds), "--data", str(data),
                 "--output", str(out)]) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    # the task's one whitespace rule: the generation is stripped, then pix2struct's function applies
    verdicts = [(kind, p2s_relaxed_correctness(t, p.strip())) for kind, t, p in CASES]
    assert report["metrics"]["relaxed_accuracy"] == pytest.approx(100 * sum(v for _, v in verdicts) / len(CASES))
    for name, kind in (("human", "human_test"), ("augmented", "augmented_test")):
        part = [v for k, v in verdicts if k == kind]
        assert report["metrics"][name] == pytest.approx(100 * sum(part) / len(part))
    assert report["counts"]["failures"] == {"empty": 1}
    assert report["summary"].startswith("ChartQA relaxed accuracy: ")


def test_lmms_variant_is_a_named_task_with_its_own_suffix(tmp_path: Path) -> None:
    from vlmeval.engine.samples import load_samples
    from vlmeval.registry import load_registry

    data = write_parquet(tmp_path / "c" / "test-00000-of-00001.parquet",
                         [{"type": "human_test", "question": "How many?", "answer": "3", "image": image_cell(png_bytes())}])
    registry = load_registry()
    default = load_samples(registry.get("chartqa"), str(data), None, None).samples[0]
    lmms = load_samples(registry.get("chartqa_lmms"), str(data), None, None).samples[0]
    assert default.text == "How many?\nAnswer the question using a single word or phrase."
    assert lmms.text == "How many?\nAnswer the question with a single word."
    assert (registry.get("chartqa").max_new_tokens, registry.get("chartqa_lmms").max_new_tokens) == (32, 16)
