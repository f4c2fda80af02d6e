"""POPE: prompt, LLaVA's eval_pope.py reading and metrics against an oracle written from the script."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import pope_row, read_jsonl, write_jsonl, write_parquet
from vlmeval.answers.yesno import llava_pope_yes_no
from vlmeval.cli import main
from vlmeval.engine.samples import load_samples
from vlmeval.registry import load_registry

# Adversarial answers: the official reading splits on single spaces after cutting at the first
# period and dropping commas, so "No\nthere is" and "NO" read yes, "There is no dog." reads no.
ANSWERS = ["Yes", "No", "no.", "Not at all", "There is no dog.", "Yes, there is not.", "No\nthere is",
           "Yes. No.", "", "NO", "yes,no", "I don't know", "Yes there is a cat", "no", "nope", None]


def oracle_reading(text: str) -> int:
    """eval_pope.py, written from its description: 1 for yes, 0 for no."""
    if text.find(".") != -1:
        text = text.split(".")[0]
    words = text.replace(",", "").split(" ")
    return 0 if ("No" in words or "not" in words or "no" in words) else 1


def oracle_metrics(labels: list[int], preds: list[int]) -> dict[str, float]:
    pairs = list(zip(preds, labels))
    tp, fp = pairs.count((1, 1)), pairs.count((1, 0))
    tn, fn = pairs.count((0, 0)), pairs.count((0, 1))
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return {"f1": 2 * precision * recall / (precision + recall), "accuracy": (tp + tn) / len(pairs),
            "precision": precision, "recall": recall, "yes_ratio": preds.count(1) / len(preds)}


def build(tmp_path: Path) -> tuple[Path, Path, list[dict[str, Any]], list[str | None]]:
    rows, predictions = [], []
    for c, category in enumerate(("adversarial", "popular", "random")):
        for k, answer in enumerate(ANSWERS[c:] + ANSWERS[:c]):
            i = c * 100 + k
            rows.append(pope_row(i, category, "yes" if (i * 7) % 3 else "no"))
            predictions.append(answer)
    data = write_parquet(tmp_path / "POPE" / "data" / "test-00000-of-00001.parquet", rows)
    lines = [{"id": r["id"], "prediction": p} for r, p in zip(rows, predictions) if p is not None]
    return data, write_jsonl(tmp_path / "preds.jsonl", lines), rows, predictions


def test_reading_matches_the_official_rule() -> None:
    for answer in ANSWERS[:-1]:
        assert (llava_pope_yes_no(str(answer)) == "yes") == bool(oracle_reading(str(answer).strip())), answer


def test_prompt_and_ids(tmp_path: Path) -> None:
    data, _, rows, _ = build(tmp_path)
    samples = load_samples(load_registry().get("pope"), str(data), None, None).samples
    assert [s.id for s in samples] == [r["id"] for r in rows]  # `id`, not the repeating question_id
    assert samples[0].text == "Is there a dog in the image? (0)\nAnswer the question using a single word or phrase."
    assert samples[0].meta["category"] == "adversarial" and len(samples[0].images) == 1


def test_metrics_equal_the_oracle(tmp_path: Path) -> None:
    data, predictions, rows, answers = build(tmp_path)
    out = tmp_path / "out"
    assert main(["score", "--task", "pope", "--predictions", str(predictions), "--data", str(data),
                 "--output", str(out)]) == 3  # one answer is missing: scored wrong, report incomplete
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    metrics = report["metrics"]
    f1s, correct = [], 0
    for category in ("adversarial", "popular", "random"):
        members = [(r, a) for r, a in zip(rows, answers) if r["category"] == category]
        labels = [int(r["answer"] == "yes") for r, _ in members]
        # a missing answer is wrong: the opposite of its label
        preds = [oracle_reading(a) if a is not None else 1 - lab for (_, a), lab in zip(members, labels)]
        expected = oracle_metrics(labels, preds)
        for name, value in expected.items():
            assert metrics[f"{category}_{name}"] == pytest.approx(100 * value), (category, name)
        f1s.append(expected["f1"])
        correct += sum(p == lab for p, lab in zip(preds, labels))
    assert metrics["f1"] == pytest.approx(100 * sum(f1s) / 3)
    assert metrics["accuracy"] == pytest.approx(100 * correct / len(rows))
    assert report["primary_metric"] == "f1"
    assert report["counts"]["failures"] == {"empty": 3, "missing": 3}
    assert set(report["breakdown"]["category"]) == {"adversarial", "popular", "random"}
    lines = read_jsonl(out / "predictions.jsonl")
    assert lines[0]["answer"] == "yes" and lines[1]["answer"] == "no"
