"""Several tasks per command: `--suite llava_v1.5` end to end on demo-sized data with the tiny LLaVA,
one model load, per-task data folders, missing data reported, and the suite's leaderboard layout."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, last_user_text
from tests.helpers import (
    COLORS,
    gqa_row,
    image_cell,
    mmb_row,
    mme_row,
    mmvet_row,
    png_bytes,
    pope_row,
    seed_row,
    sqa_row,
    textvqa_row,
    vizwiz_row,
    vqa_row,
    write_parquet,
)
from tests.reporting.test_leaderboard import write_report
from vlmeval.cli import main
from vlmeval.engine import evaluate
from vlmeval.registry import load_registry

SUITE = ["vqav2_testdev", "gqa", "vizwiz_test", "sqa", "textvqa_val", "pope", "mme", "mmbench_en_dev",
         "mmbench_cn_dev", "seedbench", "llava_bench_wild", "mmvet"]


def build_root(root: Path) -> Path:
    """Three samples per dataset, each in its hub folder layout, under one root."""
    image = png_bytes(COLORS["red"])
    write_parquet(root / "VQAv2" / "testdev-00000-of-00001.parquet", [vqa_row(q, None, image=image) for q in (1, 2, 3)])
    write_parquet(root / "VQAv2" / "test-00000-of-00001.parquet", [vqa_row(q, None) for q in range(1, 6)])
    write_parquet(root / "GQA" / "testdev_balanced_instructions" / "testdev-00000-of-00001.parquet",
                  [gqa_row(i, "yes", "verify", "attr") for i in range(3)])
    write_parquet(root / "GQA" / "testdev_balanced_images" / "testdev-00000-of-00001.parquet",
                  [{"id": key, "image": image_cell(image)} for key in ("n1", "n2", "n3")])
    write_parquet(root / "VizWiz-VQA" / "test-00000-of-00001.parquet",
                  [vizwiz_row(f"VizWiz_test_{i:08d}", None, None, image=image) for i in range(3)])
    write_parquet(root / "ScienceQA" / "ScienceQA-FULL" / "test-00000-of-00001.parquet",
                  [sqa_row(answer=i, image=image) for i in range(3)])
    write_parquet(root / "textvqa" / "validation-00000-of-00001.parquet",
                  [textvqa_row(i, ["stop"] * 10) for i in range(3)])
    write_parquet(root / "POPE" / "test-00000-of-00001.parquet",
                  [pope_row(i, c, "yes") for i, c in enumerate(("adversarial", "popular", "random"))])
    write_parquet(root / "MME" / "test-00000-of-00001.parquet",
                  [mme_row("a.jpg", "Is it red? Please answer yes or no.", ans, "color") for ans in ("Yes", "No")]
                  + [mme_row("b.jpg", "Is it there? Please answer yes or no.", "Yes", "existence")])
    for config in ("en", "cn"):
        write_parquet(root / "MMBench" / config / "dev-00000-of-00001.parquet",
                      [mmb_row(i, "Which color?", ["red", "green"], "A") for i in range(3)])
    write_parquet(root / "SEED-Bench" / "test-00000-of-00001.parquet", [seed_row(i, "A", 1) for i in range(3)])
    write_parquet(root / "llava-bench-in-the-wild" / "train-00000-of-00001.parquet",
                  [{"question_id": i, "question": "Describe it.", "image": image_cell(image), "caption": "Red.",
                    "gpt_answer": "It is red.", "category": "conv", "image_id": "001"} for i in range(3)])
    write_parquet(root / "MMVet" / "test-00000-of-00001.parquet",
                  [mmvet_row(f"v1_{i}", "What color?", "red", "rec") for i in range(3)])
    return root


def judge_reply(body: dict[str, Any], headers: Any) -> str:
    return "8 6\nfine" if "[System]\n" in last_user_text(body) else "0.5"


@pytest.fixture()
def counted_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    loads: list[str] = []
    real = evaluate.make_backend

    def counting(model: str, options: Any) -> Any:
        loads.append(model)
        return real(model, options)

    monkeypatch.setattr(evaluate, "make_backend", counting)
    return loads


def run_suite(root: Path, out: Path, model: Path, server: FakeOpenAIServer, *extra: str) -> int:
    return main(["run", "--suite", "llava_v1.5", "--model", str(model), "--data", str(root), "--output", str(out),
                 "--limit", "2", "--max-new-tokens", "4", "--batch-size", "2", "--no-progress", "--device", "cpu",
                 "--judge", "judge-model", "--judge-base-url", server.base_url,
                 "--judge-api-key-env", "NO_KEY_FOR_TESTS", *extra])


def test_suite_is_data_in_the_papers_order() -> None:
    assert load_registry().suite("llava_v1.5").tasks == SUITE


@pytest.mark.slow
def test_llava_suite_end_to_end_with_one_model_load(
    tmp_path: Path, tiny_llava: Path, counted_loads: list[str], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("VLMEVAL_CACHE", str(tmp_path / "cache"))
    root, out = build_root(tmp_path / "data"), tmp_path / "out"
    with FakeOpenAIServer(judge_reply) as server:
        # 3: on some tasks every answer of the random-weight model is unreadable, so their metrics
        # are missing (never a 0 that looks measured); every sample was answered and judged
        assert run_suite(root, out, tiny_llava, server) == 3
    assert counted_loads == [str(tiny_llava)]  # twelve tasks, one model load
    run = out / tiny_llava.name
    for name in SUITE:
        report = json.loads((run / name / "report.json").read_text(encoding="utf-8"))
        assert report["n_samples"] == 2 and report["counts"]["answered"] == 2, name
        assert report["complete"] == (not report["missing_metrics"]), name
        assert not {"error", "missing", "judge_error"} & set(report["counts"]["failures"]), name
    assert (run / "vqav2_testdev" / "submission.json").is_file()
    assert re.search(r"tasks: \d+ done, \d+ incomplete", capsys.readouterr().out)

    capsys.readouterr()
    assert main(["leaderboard", str(out), "--suite", "llava_v1.5"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header == ("| # | model | VQAv2 | GQA | VizWiz | SQA-IMG | TextVQA | POPE | MME (points) | MMBench "
                      "| MMBench-CN | SEED | LLaVA-Wild | MM-Vet |")


@pytest.mark.slow
def test_missing_data_is_reported_and_counted(
    tmp_path: Path, tiny_llava: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VLMEVAL_CACHE", str(tmp_path / "cache"))
    root, out = build_root(tmp_path / "data"), tmp_path / "out"
    shutil.rmtree(root / "SEED-Bench")
    pope_elsewhere = tmp_path / "elsewhere"
    shutil.move(str(root / "POPE"), str(pope_elsewhere))
    code = main(["run", "--tasks", "pope,seedbench_img,gqa", "--model", str(tiny_llava), "--data", str(root),
                 "--data", f"pope={pope_elsewhere}", "--output", str(out), "--limit", "2",
                 "--max-new-tokens", "4", "--no-progress", "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 2
    assert "task seedbench_img: no data: looked for" in captured.err and "SEED-Bench" in captured.err
    assert "tasks: 2 done, 1 missing data" in captured.out
    assert (out / tiny_llava.name / "pope" / "report.json").is_file()  # TASK=PATH
    assert (out / tiny_llava.name / "gqa" / "report.json").is_file()
    assert not (out / tiny_llava.name / "seedbench_img").exists()


def test_leaderboard_suite_layout_and_precision(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "runs" / "m"
    write_report(folder, "llava-13b", "sqa", "accuracy", 74.39, img_accuracy=None)
    report = json.loads((folder / "sqa" / "report.json").read_text(encoding="utf-8"))
    report["metrics"]["img_accuracy"] = 71.64  # the suite's SQA column is IMG accuracy
    report["metric_scales"]["img_accuracy"] = "percent"  # as a real report records every metric's scale
    (folder / "sqa" / "report.json").write_text(json.dumps(report), encoding="utf-8")
    write_report(folder, "llava-13b", "mme", "perception", 1531.3125, scale="points")
    write_report(folder, "llava-13b", "pope", "f1", 85.94)
    write_report(folder, "llava-13b", "not_in_suite", "accuracy", 12.0)
    assert main(["leaderboard", str(tmp_path / "runs"), "--suite", "llava_v1.5", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("rank,model,average,VQAv2,GQA,VizWiz,SQA-IMG,TextVQA,POPE,MME (points),MMBench,"
                        "MMBench-CN,SEED,LLaVA-Wild,MM-Vet")
    assert lines[1] == "1,llava-13b,,,,,71.6,,85.9,1531.3,,,,,"


def test_data_given_twice_for_one_task_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--tasks", "pope,mme", "--model", "demo", "--data", f"pope={tmp_path / 'a'}",
                 "--data", f"pope={tmp_path / 'b'}", "--output", str(tmp_path / "out")])
    error = capsys.readouterr().err
    assert code == 2 and "--data gives task pope twice" in error and str(tmp_path / "b") in error
    assert not (tmp_path / "out").exists()
