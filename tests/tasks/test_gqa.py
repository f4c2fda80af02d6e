"""GQA: the two hub configs joined on imageId, LLaVA's conversion and GQA eval.py's accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import COLORS, GQA_IMAGES, gqa_image_rows, gqa_row, png_bytes, write_jsonl, write_parquet
from vlmeval.cli import main
from vlmeval.engine.samples import load_samples
from vlmeval.registry import load_registry

# (answer, structural, semantic, prediction as generated): LLaVA strips trailing periods and
# lower-cases; GQA's eval.py wants exact equality, so inner spaces and articles stay wrong.
CASES = [
    ("yes", "verify", "attr", "Yes."), ("no", "compare", "rel", "no"), ("table", "query", "obj", "The table."),
    ("table", "query", "cat", "table.."), ("left", "choose", "rel", "Left"), ("yes", "logical", "obj", "yes ."),
    ("red", "query", "attr", "RED"), ("no", "compare", "attr", ""), ("man", "query", "global", "a man"),
    ("right", "choose", "rel", "right"),
]
def build(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "GQA"
    rows = [gqa_row(i, *case[:3]) for i, case in enumerate(CASES)]
    rows.append(gqa_row(len(CASES), "yes", "verify", "attr", balanced=False))  # not counted by eval.py
    write_parquet(root / "testdev_balanced_instructions" / "testdev-00000-of-00001.parquet", rows)
    write_parquet(root / "testdev_balanced_images" / "testdev-00000-of-00001.parquet", gqa_image_rows())
    preds = [{"id": r["id"], "prediction": case[3]} for r, case in zip(rows, CASES)]
    return root, write_jsonl(tmp_path / "preds.jsonl", preds)


def test_configs_are_joined_on_image_id(tmp_path: Path) -> None:
    root, _ = build(tmp_path)
    samples = load_samples(load_registry().get("gqa"), str(root), None, None).samples
    assert len(samples) == len(CASES)  # the unbalanced row is no sample
    assert samples[0].text == "Question 0?\nAnswer the question using a single word or phrase."
    for sample in samples[:9]:
        color = GQA_IMAGES[sample.meta["image_id"]]
        assert sample.images[0].load().getpixel((5, 5)) == COLORS[color]
    with pytest.raises(Exception, match="no testdev_balanced_images row has id 'n404'"):
        samples[9].images[0].load()


def test_accuracy_equals_the_oracle(tmp_path: Path) -> None:
    root, preds = build(tmp_path)
    out = tmp_path / "out"
    assert main(["score", "--task", "gqa", "--predictions", str(preds), "--data", str(root),
                 "--output", str(out)]) == 0
    metrics = json.loads((out / "report.json").read_text(encoding="utf-8"))["metrics"]
    # convert_gqa_for_eval.py then eval.py, from their description
    right = [p.rstrip(".").lower() == a for a, _, _, p in CASES]
    assert metrics["accuracy"] == pytest.approx(100 * sum(right) / len(CASES))
    open_ = [ok for ok, case in zip(right, CASES) if case[1] == "query"]
    binary = [ok for ok, case in zip(right, CASES) if case[1] != "query"]
    assert metrics["open"] == pytest.approx(100 * sum(open_) / len(open_))
    assert metrics["binary"] == pytest.approx(100 * sum(binary) / len(binary))
    for kind in ("verify", "query", "choose", "logical", "compare"):
        group = [ok for ok, case in zip(right, CASES) if case[1] == kind]
        assert metrics[f"structural_{kind}"] == pytest.approx(100 * sum(group) / len(group))
    rel = [ok for ok, case in zip(right, CASES) if case[2] == "rel"]
    assert metrics["semantic_rel"] == pytest.approx(100 * sum(rel) / len(rel))


def test_hub_configs_are_joined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fakes.hub import FakeHub

    hub = FakeHub(tmp_path / "hub").install(monkeypatch)
    repo = hub.repo("lmms-lab/GQA")
    write_parquet(repo / "testdev_balanced_instructions" / "testdev-00000-of-00001.parquet",
                  [gqa_row(i, *case[:3]) for i, case in enumerate(CASES[:3])])
    write_parquet(repo / "testdev_balanced_images" / "testdev-00000-of-00001.parquet",
                  [{"id": key, "image": {"bytes": png_bytes(COLORS[color]), "path": None}}
                   for key, color in GQA_IMAGES.items()])
    samples = load_samples(load_registry().get("gqa"), None, None, None).samples
    assert [s.images[0].load().getpixel((1, 1)) for s in samples] == [COLORS[c] for c in GQA_IMAGES.values()]
