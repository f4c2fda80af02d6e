"""SEED-Bench image questions: the data_type filter, LLaVA's prompt, convert_seed_for_submission.py's scoring."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from pathlib import Path

import pytest

from tests.helpers import seed_row, write_jsonl, write_parquet
from vlmeval.cli import main
from vlmeval.engine.samples import load_samples
from vlmeval.registry import load_registry

# (answer, question_type_id, prediction): only a generated text equal to the letter counts.
CASES = [("A", 1, "A"), ("B", 1, "B."), ("C", 2, "C"), ("D", 2, " D \n"), ("A", 5, "The answer is A"),
         ("B", 5, "b"), ("C", 9, "(C)"), ("D", 9, "D"), ("A", 9, ""), ("B", 8, "B")]


def build(tmp_path: Path) -> tuple[Path, Path]:
    rows = [seed_row(i, *case[:2]) for i, case in enumerate(CASES)]
    rows.insert(3, seed_row(50, "A", 10, data_type="video"))  # not an image question
    data = write_parquet(tmp_path / "SEED-Bench" / "data" / "test-00000-of-00001.parquet", rows)
    preds = [{"id": str(100 + i), "prediction": case[2]} for i, case in enumerate(CASES)]
    return data, write_jsonl(tmp_path / "preds.jsonl", preds)


def test_image_questions_and_prompt(tmp_path: Path) -> None:
    data, _ = build(tmp_path)
    samples = load_samples(load_registry().get("seedbench_img"), str(data), None, None).samples
    assert [s.id for s in samples] == [str(100 + i) for i in range(len(CASES))]
    assert samples[0].text == ("What animal is shown? (0)\nA. a cat\nB. a dog\nC. a bird\nD. a fish\n"
                               "Answer with the option's letter from the given choices directly.")
    assert samples[0].images[0].load().size == (32, 32)  # the one image of the list
    assert samples[0].meta == {"dimension": "scene_understanding", "data_type": "image"}


def test_accuracy_equals_the_oracle(tmp_path: Path) -> None:
    data, preds = build(tmp_path)
    out = tmp_path / "out"
    # 3: both counting answers are unreadable, so that dimension has no number (reported missing)
    assert main(["score", "--task", "seedbench_img", "--predictions", str(preds), "--data", str(data),
                 "--output", str(out)]) == 3
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["missing_metrics"] == {"instances_counting": "no valid input: all 2 samples failed (unparsed 2)"}
    # convert_seed_for_submission.py: the (stripped) generated text equals the answer letter
    per_type: dict[int, list[bool]] = defaultdict(list)
    for answer, type_id, prediction in CASES:
        per_type[type_id].append(prediction.strip() == answer)
    names = {1: "scene_understanding", 2: "instance_identity", 5: "instances_counting",
             8: "visual_reasoning", 9: "text_understanding"}
    for type_id, results in per_type.items():
        if type_id == 5:
            continue
        assert report["metrics"][names[type_id]] == pytest.approx(100 * sum(results) / len(results))
    total = [ok for results in per_type.values() for ok in results]
    assert report["metrics"]["accuracy"] == pytest.approx(100 * sum(total) / len(total))
    assert report["counts"]["failures"] == {"unparsed": 4, "empty": 1}


def test_hub_copy_with_a_list_of_images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fakes.hub import FakeHub

    hub = FakeHub(tmp_path / "hub").install(monkeypatch)
    rows = [seed_row(0, "A", 1), seed_row(1, "B", 10, data_type="video")]
    write_parquet(hub.repo("lmms-lab/SEED-Bench") / "data" / "test-00000-of-00001.parquet", rows)
    samples = load_samples(load_registry().get("seedbench_img"), None, None, None).samples
    assert [s.id for s in samples] == ["100"]
    assert samples[0].images[0].load().size == (32, 32)


def test_repeated_question_id_runs_and_is_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the official list holds image question 49914 twice; each row is a sample, scored on its own
    rows = [seed_row(0, "A", 1), seed_row(1, "B", 1), seed_row(2, "C", 1)]
    rows[1]["question_id"] = rows[2]["question_id"] = "49914"
    data = write_parquet(tmp_path / "SEED-Bench" / "data" / "test-00000-of-00001.parquet", rows)
    samples = load_samples(load_registry().get("seedbench_img"), str(data), None, None).samples
    assert [s.id for s in samples] == ["100", "49914", "49914#2"]
    assert [s.target for s in samples] == ["A", "B", "C"]
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "100", "prediction": "A"}, {"id": "49914", "prediction": "B"},
                                                {"id": "49914#2", "prediction": "B"}])
    out = tmp_path / "out"
    assert main(["score", "--task", "seedbench_img", "--predictions", str(preds), "--data", str(data),
                 "--output", str(out)]) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["metrics"]["accuracy"] == pytest.approx(200 / 3)  # the repeat is a row of its own
    assert report["spec"]["dataset"]["repeated_ids"] == {"count": 1, "ids": ["49914#2"]}
    assert "1 rows repeat an earlier row's sample id" in capsys.readouterr().out
    assert "1 rows repeat" in (out / "report.md").read_text(encoding="utf-8")


def test_whole_seed_asks_video_questions_on_the_middle_frame(tmp_path: Path) -> None:
    from PIL import Image

    from vlmeval.demo_data import image_cell

    def frame(shade: int) -> dict[str, object]:
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), (shade, 0, 0)).save(buffer, format="PNG")
        return image_cell(buffer.getvalue()) or {}

    video = seed_row(60, "B", 11, data_type="video")
    video["image"] = [frame(10 * k) for k in range(8)]  # 8 frames: extract_video_frames.py takes int(7 / 2) = 3
    rows = [seed_row(0, "A", 1), video]
    data = write_parquet(tmp_path / "SEED-Bench" / "data" / "test-00000-of-00001.parquet", rows)
    whole = load_samples(load_registry().get("seedbench"), str(data), None, None).samples
    assert [(s.id, s.meta["dimension"]) for s in whole] == [("100", "scene_understanding"),
                                                            ("160", "action_prediction")]
    assert whole[1].images[0].load().getpixel((0, 0)) == (30, 0, 0)
    only_images = load_samples(load_registry().get("seedbench_img"), str(data), None, None).samples
    assert [s.id for s in only_images] == ["100"]
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "100", "prediction": "A"}, {"id": "160", "prediction": "C"}])
    out = tmp_path / "out"
    assert main(["score", "--task", "seedbench", "--predictions", str(preds), "--data", str(data),
                 "--output", str(out)]) == 0
    metrics = json.loads((out / "report.json").read_text(encoding="utf-8"))["metrics"]
    assert (metrics["accuracy"], metrics["image_accuracy"], metrics["video_accuracy"]) == (50.0, 100.0, 0.0)
