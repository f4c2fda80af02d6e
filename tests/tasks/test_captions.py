"""Caption tasks against the real pycocoevalcap 1.2, run here as its `eval.py` runs it (SPICE aside):
PTBTokenizer on references and results, then Bleu(4), Meteor, Rouge, Cider on the tokens.
Needs Java (default-jre-headless); skipped with the reason when it is absent.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import read_jsonl, write_jsonl, write_parquet
from vlmeval.cli import main
from vlmeval.demo_data import image_cell, png_bytes

pytest.importorskip("pycocoevalcap.cider.cider", reason="pip install 'vlmeval[captions]'")
pytestmark = [pytest.mark.slow,  # every test starts JVMs (tokenizer, METEOR)
              pytest.mark.skipif(shutil.which("java") is None and not os.environ.get("CI"),
                                 reason="caption metrics need Java (default-jre-headless)")]

REFS = [
    ["A man riding a wave on top of a surfboard.", "A surfer rides a large wave.", "Man surfing in the ocean."],
    ["Two dogs play with a frisbee in the park.", "Dogs chasing a red frisbee on grass.", "two dogs running"],
    ["A plate of food with broccoli and rice.", "Broccoli, rice and chicken on a white plate.", "a dinner plate"],
    ["A red double-decker bus on a city street.", "A bus drives down the road.", "Red bus in London."],
]
# adversarial: punctuation and case, a caption with "|||" (METEOR's separator), non-ASCII, an empty one
CAPTIONS = ["A MAN riding a wave, on a surfboard!!", "dogs ||| frisbee -- park", "café plate: “broccoli” & rice", ""]


def official(refs: list[list[str]], captions: list[str]) -> dict[str, float]:
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    gts = PTBTokenizer().tokenize({i: [{"caption": r} for r in rs] for i, rs in enumerate(refs)})
    res = PTBTokenizer().tokenize({i: [{"caption": c}] for i, c in enumerate(captions)})
    out = {f"bleu_{n + 1}": s for n, s in enumerate(Bleu(4).compute_score(gts, res, verbose=0)[0])}
    out["meteor"] = Meteor().compute_score(gts, res)[0]
    out["rouge_l"] = Rouge().compute_score(gts, res)[0]
    out["cider"] = Cider().compute_score(gts, res)[0]
    return {name: 100 * value for name, value in out.items()}


def nocaps_rows(refs: list[list[str]]) -> list[dict[str, Any]]:
    return [{"image": image_cell(png_bytes()), "image_coco_url": "u", "image_date_captured": "d",
             "image_file_name": f"{i}.jpg", "image_height": 32, "image_width": 32, "image_id": 100 + i,
             "image_license": 0, "image_open_images_id": "x", "annotations_ids": [1], "annotations_captions": r}
            for i, r in enumerate(refs)]


def score(tmp_path: Path, captions: list[str | None], refs: list[list[str]] = REFS) -> tuple[int, Path]:
    data = write_parquet(tmp_path / "nocaps" / "validation-00000-of-00001.parquet", nocaps_rows(refs))
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": str(100 + i), "prediction": c}
                                               for i, c in enumerate(captions) if c is not None])
    out = tmp_path / "out"
    code = main(["score", "--task", "nocaps_val", "--predictions", str(preds), "--data", str(data),
                 "--output", str(out)])
    return code, out


def test_metrics_equal_pycocoevalcap_run_as_eval_py(tmp_path: Path) -> None:
    code, out = score(tmp_path, CAPTIONS)
    assert code == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    expected = official(REFS, CAPTIONS)
    for name, value in expected.items():
        assert report["metrics"][name] == pytest.approx(value, abs=1e-9), name
    assert "spice" not in report["metrics"] and "SPICE: not computed" in report["summary"]
    assert report["counts"]["failures"] == {"empty": 1}
    # corpus-level metrics: a jackknife over real recomputations; METEOR has no interval
    assert report["ci_method"]["method"]["cider"].startswith("delete-a-group jackknife")
    assert report["ci_method"]["method"]["rouge_l"] == "percentile bootstrap"
    assert "meteor" not in report["ci"]


def test_line_breaks_are_replaced_and_counted_instead_of_shifting_captions(tmp_path: Path) -> None:
    broken = ["A man riding a wave\ron a surfboard.", "Two dogs play\u2028with a frisbee in the park.",
              "A plate of food with broccoli and rice.", "A red double-decker bus on a city street."]
    code, out = score(tmp_path, broken)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    spaced = [c.replace("\r", " ").replace("\u2028", " ") for c in broken]
    assert report["metrics"]["cider"] == pytest.approx(official(REFS, spaced)["cider"], abs=1e-9)
    assert report["counts"]["failures"] == {"control_chars": 2}
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    shifted = PTBTokenizer().tokenize({i: [{"caption": c}] for i, c in enumerate(broken)})
    assert shifted[1] == ["on a surfboard"]  # the official wrapper puts image 0's words on image 1


def test_missing_caption_is_scored_empty_and_the_run_tokenised_once(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from pycocoevalcap.tokenizer import ptbtokenizer

    calls = []
    original = ptbtokenizer.PTBTokenizer.tokenize
    monkeypatch.setattr(ptbtokenizer.PTBTokenizer, "tokenize", lambda self, c: calls.append(1) or original(self, c))
    code, out = score(tmp_path, [*CAPTIONS[:3], None])
    assert code == 3 and len(calls) == 1  # incomplete; intervals re-used the tokens
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["metrics"]["cider"] == pytest.approx(official(REFS, [*CAPTIONS[:3], ""])["cider"], abs=1e-9)
    record = read_jsonl(out / "predictions.jsonl")[0]
    assert record["answer"]["caption"] == "a man riding a wave on a surfboard !!"  # tokens kept; `!!` is no PTB punctuation


def test_karpathy_reads_coco_ids_and_local_images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vlmeval.engine.samples import load_samples
    from vlmeval.errors import ImageError
    from vlmeval.registry import load_registry
    from vlmeval_tasks.captions import karpathy_demo

    data = write_parquet(tmp_path / "k" / "test-00000-of-00001.parquet", karpathy_demo())
    samples = load_samples(load_registry().get("coco_karpathy_test"), str(data), None, None).samples
    assert [s.id for s in samples] == ["391895", "391896", "391897"]
    assert samples[0].text == "Describe the image briefly." and samples[0].meta["task_token"] == "<CAPTION>"
    monkeypatch.delenv("VLMEVAL_COCO_IMAGES", raising=False)
    with pytest.raises(ImageError, match="VLMEVAL_COCO_IMAGES"):
        samples[0].images[0].load()
    (tmp_path / "val2014").mkdir()
    (tmp_path / "val2014" / "COCO_val2014_000000391895.jpg").write_bytes(png_bytes((1, 2, 3)))
    monkeypatch.setenv("VLMEVAL_COCO_IMAGES", str(tmp_path / "val2014"))
    assert samples[0].images[0].load().getpixel((0, 0)) == (1, 2, 3)


def test_nocaps_test_writes_the_evalai_submission_for_every_image(tmp_path: Path) -> None:
    rows = [{**row, "annotations_captions": []} for row in nocaps_rows(REFS)]
    data = write_parquet(tmp_path / "nocaps" / "test-00000-of-00001.parquet", rows)
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "100", "prediction": " A man\rsurfing. "},
                                               {"id": "102", "prediction": "food"}])
    out = tmp_path / "out"
    assert main(["score", "--task", "nocaps_test", "--predictions", str(preds), "--data", str(data),
                 "--output", str(out)]) == 3  # two images unanswered
    submission = json.loads((out / "submission.json").read_text(encoding="utf-8"))
    assert submission == [{"image_id": 100, "caption": "A man surfing."}, {"image_id": 101, "caption": ""},
                          {"image_id": 102, "caption": "food"}, {"image_id": 103, "caption": ""}]


def test_spice_only_with_corenlp_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SPICE itself cannot run offline (no CoreNLP 3.6.0 jars): its wiring is checked with the jar's
    reply stood in; what pycocoevalcap's Spice reads from the jar is per-image `scores["All"]["f"]`."""
    from pycocoevalcap.spice import spice

    from vlmeval_tasks import _captions

    assert not _captions.corenlp_present()  # this machine: not computed (first test above)
    seen: list[dict[int, list[str]]] = []

    def fake_compute(self: object, gts: dict[int, list[str]], res: dict[int, list[str]]) -> tuple[float, list]:
        seen.append(res)
        per_image = [{"All": {"f": 0.1 * (i + 1), "pr": 0.0, "re": 0.0}} for i in sorted(gts)]
        return sum(s["All"]["f"] for s in per_image) / len(per_image), per_image

    monkeypatch.setattr(_captions, "corenlp_present", lambda: True)
    monkeypatch.setattr(spice.Spice, "__init__", lambda self: None)
    monkeypatch.setattr(spice.Spice, "compute_score", fake_compute)
    code, out = score(tmp_path, CAPTIONS)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["metrics"]["spice"] == pytest.approx(100 * (0.1 + 0.2 + 0.3 + 0.4) / 4)
    assert seen[0][0] == ["a man riding a wave on a surfboard !!"]  # tokenised, as eval.py passes them
    assert "SPICE 25.0" in report["summary"]


def test_jackknife_subsets_are_scored_by_the_real_scorers(tmp_path: Path) -> None:
    """The corpus metrics of any subset of records equal Bleu(4) and Cider() run on that subset's tokens."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider

    from vlmeval.metrics import Record
    from vlmeval_tasks._captions import METRICS

    _, out = score(tmp_path, CAPTIONS)
    records = [Record.from_json(r) for r in read_jsonl(out / "predictions.jsonl")]
    by_name = {m.name: m for m in METRICS}
    for subset in (records[1:], records[:2] + records[3:], records):
        gts = {r.id: r.answer["references"] for r in subset}
        res = {r.id: [r.answer["caption"]] for r in subset}
        bleu = Bleu(4).compute_score(gts, res, verbose=0)[0]
        assert by_name["cider"].reduce(subset) == pytest.approx(100 * Cider().compute_score(gts, res)[0], abs=1e-9)
        assert by_name["bleu_3"].reduce(subset) == pytest.approx(100 * bleu[2], abs=1e-9)
    with pytest.raises(ValueError, match="METEOR"):
        by_name["meteor"].reduce(records[1:])


def test_cider_is_not_a_percent() -> None:
    from vlmeval_tasks._captions import METRICS

    scales = {m.name: m.scale for m in METRICS}
    assert scales["cider"] == "points"  # above 100 for good models: its interval must not be clipped at 100
    assert scales["bleu_4"] == scales["rouge_l"] == "percent"
