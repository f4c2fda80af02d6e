"""Everyday CLI habits: -v/-q anywhere, --version, status lines, resume counts, labels and leaderboard
rows, the tasks table in narrow terminals, the replay: hint, plain-language console output."""

from __future__ import annotations

import json
import os
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.fakes.scripted import ScriptedBackend
from tests.helpers import vlmeval, write_jsonl
from vlmeval.cli import build_parser, main
from vlmeval.console import counts_text, plural
from vlmeval.engine.runner import GenerationSummary
from vlmeval.metrics import natural_key
from vlmeval.registry import load_registry
from vlmeval.reporting.compare import distinct_names
from vlmeval.reporting.leaderboard import build_leaderboard
from vlmeval.reporting.leaderboard_formats import render


@pytest.mark.parametrize("argv", [["-v", "tasks"], ["tasks", "-v"], ["--verbose", "tasks"], ["tasks", "--verbose"]])
def test_verbose_is_accepted_before_and_after_the_subcommand(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.verbose is True and args.quiet is False


@pytest.mark.parametrize("argv", [["-q", "leaderboard", "x"], ["leaderboard", "x", "-q"]])
def test_quiet_is_accepted_before_and_after_the_subcommand(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.quiet is True and args.verbose is False


def test_verbose_and_quiet_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["tasks", "-v", "-q"])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"vlmeval {version('vlmeval')}"


def test_generation_summary_reads_as_a_sentence() -> None:
    summary = GenerationSummary(pending=60, answered=58, errors=2, wall_s=2.0, generate_s=1.5, input_wait_s=0.25)
    assert summary.describe() == ("answered 58 of 60 samples (2 failed) in 2.0 s, 29.0 samples/s; the model "
                                  "generated for 1.5 s and waited 0.2 s for images")


def _replay_file(tmp_path: Path, count: int) -> Path:
    return write_jsonl(tmp_path / "preds.jsonl", [{"id": str(i), "prediction": "A"} for i in range(count)])


@pytest.mark.slow
def test_run_says_what_it_does_then_resumes_with_counts(tmp_path: Path) -> None:
    predictions = _replay_file(tmp_path, 5)
    common = ["run", "--task", "sqa", "--model", f"replay:{predictions}", "--data", "demo",
              "--output", str(tmp_path / "out"), "--no-progress"]
    first = vlmeval(*common, "--limit", "3", "-v")
    assert first.returncode == 0, first.stderr
    lines = first.stderr.splitlines()
    demo = load_registry([]).get("sqa").data.demo
    assert lines[:4] == [f"vlmeval run: task sqa, model replay:{predictions}",
                         "reading the sqa samples from the bundled demo split ...",
                         f"read 3 samples from {demo} (split test)",  # -v
                         "answering 3 samples"]
    assert f"loading the model replay:{predictions} ..." in lines
    assert f"the model is ready: backend replay, file {predictions}" in lines  # -v
    # -v logs the generation in words, not as a dataclass repr.
    assert "answered 3 of 3 samples (0 failed)" in first.stderr and "GenerationSummary(" not in first.stderr

    more = vlmeval(*common, "--limit", "5", "-v")
    assert more.returncode == 0, more.stderr
    run_dir = tmp_path / "out" / default_name(predictions) / "sqa"
    assert f"kept 3 of 5 answers in {run_dir}; answering 2" in more.stderr
    again = vlmeval(*common, "--limit", "5", "-v")
    assert f"kept 5 of 5 answers in {run_dir}; nothing left to answer" in again.stderr
    assert "loading the model" not in again.stderr

    # Into a pipe (not a terminal) a plain run prints no status lines; -q none anywhere.
    for flags in ((), ("-q",)):
        plain = vlmeval(*common, "--limit", "5", *flags)
        assert plain.returncode == 0 and plain.stderr == ""
        assert "results:" in plain.stdout


def test_status_lines_show_on_a_terminal_or_with_verbose(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from vlmeval import console

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for stream, quiet, verbose, shown in ((Terminal(), False, False, True), (io.StringIO(), False, False, False),
                                          (io.StringIO(), False, True, True), (Terminal(), True, False, False)):
        monkeypatch.setattr("sys.stderr", stream)
        console.configure(quiet=quiet, verbose=verbose)
        console.status("loading the model demo ...")
        assert (stream.getvalue() == "loading the model demo ...\n") is shown
    console.configure()


def default_name(predictions: Path) -> str:
    from vlmeval.engine.plan import default_run_name

    return default_run_name(f"replay:{predictions}")


def test_label_is_recorded_and_names_the_console_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    predictions = _replay_file(tmp_path, 60)
    code = main(["run", "--task", "sqa", "--model", f"replay:{predictions}", "--data", "demo", "--output",
                 str(tmp_path / "out"), "--run-name", "always-a", "--label", "step-2000", "--no-progress"])
    assert code == 0
    report = json.loads((tmp_path / "out" / "always-a" / "sqa" / "report.json").read_text())
    assert report["spec"]["label"] == "step-2000" and report["spec"]["run_name"] == "always-a"
    out = capsys.readouterr().out
    assert "sqa: step-2000" in out and f"model: replay:{predictions}\n" in out
    assert "{" not in out  # no Python dicts in what people read
    # The demo split's grades come out in natural order in the breakdown.
    grades = list(report["breakdown"]["grade"])
    assert grades == sorted(grades, key=lambda g: int(g.removeprefix("grade")))
    assert "| grade2 |" in (tmp_path / "out" / "always-a" / "sqa" / "report.md").read_text()


def test_unusable_answers_are_counted_in_words(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    predictions = write_jsonl(tmp_path / "p.jsonl", [{"id": str(i), "prediction": ""} for i in range(4)])
    assert main(["score", "--task", "sqa", "--data", "demo", "--limit", "4", "--predictions", str(predictions),
                 "--output", str(tmp_path / "scored")]) == 3  # no usable answer: accuracy is missing, not 0
    out = capsys.readouterr().out
    assert "answered 4 of 4; errors: 0, missing: 0, unusable answers: 4 (empty 4)" in out
    assert counts_text({"empty": 59, "judge_error": 2}) == "empty 59, judge error 2"


@pytest.mark.slow
def test_a_predictions_file_as_model_points_to_replay(tmp_path: Path) -> None:
    predictions = _replay_file(tmp_path, 2)
    result = vlmeval("run", "--task", "sqa", "--model", str(predictions), "--data", "demo")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [(
        f"vlmeval: error: --model {predictions}: a .jsonl file is a predictions file, not a model; to answer "
        f"from saved predictions pass --model replay:{predictions}, or score them with "
        f"`vlmeval score --predictions {predictions}`")]
    assert not (Path("results") / predictions.name).exists()


@pytest.mark.slow
@pytest.mark.parametrize("columns", [80, 120])
def test_tasks_table_fits_the_terminal(columns: int) -> None:
    result = vlmeval("tasks", env={**os.environ, "COLUMNS": str(columns)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= columns
    registry = load_registry([])
    for name in registry.names():  # every task is listed on a line of its own, unbroken
        assert any(line.startswith((f" {name} ", f"{name} ")) for line in lines), name
    # Descriptions wrap rather than being cut: every word of every description is there (a word longer
    # than the column is folded over lines: the column's text is read without its line breaks).
    start = next(line.index("description") for line in lines if "description" in line)
    column = "".join(line[start:].strip() for line in lines)
    words = {w for name in registry.names() for w in registry.get(name).description.split()}
    assert [w for w in words if w not in column] == []


def _report(folder: Path, model: str, value: float, created: str, **extra: object) -> None:
    from vlmeval.io import atomic_write_json

    atomic_write_json(folder / "sqa" / "report.json", {
        "schema_version": 2, "task": "sqa", "model": model, "n_samples": 60, "scored": True, "complete": True,
        "counts": {"answered": 60, "errors": 0, "missing": 0, "failures": {}}, "primary_metric": "accuracy",
        "metrics": {"accuracy": value}, "metrics_n": {"accuracy": 60}, "metric_scales": {"accuracy": "percent"},
        "created": created, "breakdown": {}, **extra})


@pytest.mark.slow
def test_leaderboard_rows_by_model_run_or_label(tmp_path: Path) -> None:
    _report(tmp_path / "ckpt-a", "my/model", 60.0, "2026-01-01", run_name="ckpt-a", label="step-1000")
    _report(tmp_path / "ckpt-b", "my/model", 70.0, "2026-01-02", run_name="ckpt-b", label="step-2000")
    _report(tmp_path / "old-run", "my/model", 50.0, "2025-12-01")  # written before run names were recorded

    by_model = build_leaderboard([tmp_path])
    assert [(r.name, r.entries["sqa"].value) for r in by_model.rows] == [("my/model", 70.0)]
    assert any("--row run" in w for w in by_model.warnings)

    by_run = build_leaderboard([tmp_path], row_by="run")
    assert [r.name for r in by_run.rows] == ["ckpt-b", "ckpt-a", "old-run"]
    by_label = build_leaderboard([tmp_path], row_by="label")
    assert [r.name for r in by_label.rows] == ["step-2000", "step-1000", "old-run"]
    assert not by_label.warnings
    markdown = render(by_label, "md")
    assert markdown.splitlines()[0] == "| # | label | sqa (accuracy) |"
    data = json.loads(render(by_label, "json"))
    assert data["rows_by"] == "label" and [m["model"] for m in data["models"]] == ["my/model"] * 3

    result = vlmeval("leaderboard", str(tmp_path), "--row", "run", "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "rank,run,average,sqa (accuracy)"


def test_natural_order_of_breakdown_keys() -> None:
    keys = ["grade10", "grade2", "grade1", "Grade11", "g7_12", "g1_6", "other"]
    assert sorted(keys, key=natural_key) == ["g1_6", "g7_12", "grade1", "grade2", "grade10", "Grade11", "other"]


def test_plain_units_and_distinct_run_names(tmp_path: Path) -> None:
    assert plural(1.0, "point") == "1 point" and plural(5.0, "point") == "5 points"
    assert plural(0.5, "point") == "0.5 points" and plural(2, "metric") == "2 metrics"
    a, b = tmp_path / "results" / "baselines" / "demo-sqa", tmp_path / "results" / "demo" / "sqa"
    assert distinct_names(a, b) == ("baselines/demo-sqa", "demo/sqa")


def test_compare_headings_name_the_runs_not_the_model(tmp_path: Path) -> None:
    import shutil

    from vlmeval.reporting.compare import compare, render_markdown

    baseline = Path(__file__).resolve().parents[2] / "results" / "baselines" / "demo-sqa"
    runs = {}
    for name, label in (("old", "baseline"), ("new", None)):
        folder = tmp_path / name / "demo" / "sqa"
        shutil.copytree(baseline, folder)
        report = json.loads((folder / "report.json").read_text())
        report["label"] = label  # the committed baseline is a schema 2 report: flat run fields
        (folder / "report.json").write_text(json.dumps(report))
        runs[name] = folder
    text = render_markdown(compare(runs["old"], runs["new"], threshold=1.0))
    assert "### sqa: A = baseline (demo), B = demo" in text
    assert "more than 1 point with" in text and "1 points" not in text
    # The same names on both sides: the paths tell them apart.
    report = json.loads((runs["new"] / "report.json").read_text())
    report["label"] = "baseline"
    (runs["new"] / "report.json").write_text(json.dumps(report))
    text = render_markdown(compare(runs["old"], runs["new"]))
    assert "### sqa: A = old/demo/sqa, B = new/demo/sqa" in text


def test_a_label_is_written_once_in_the_spec_and_reaches_every_reader(
        tmp_path: Path, scripted: ScriptedBackend, capsys: pytest.CaptureFixture[str]) -> None:
    from vlmeval.reporting.compare import compare, render_markdown
    from vlmeval.reporting.trend import build_trend

    for run_name, label in (("ckpt-a", "step-1000"), ("ckpt-b", "step-2000")):
        assert main(["run", "--task", "sqa", "--model", "scripted", "--data", "demo", "--limit", "4", "--output",
                     str(tmp_path), "--run-name", run_name, "--label", label, "--no-progress"]) == 0
        report = json.loads((tmp_path / run_name / "sqa" / "report.json").read_text())
        run_file = json.loads((tmp_path / run_name / "sqa" / "run.json").read_text())
        # The label is the spec's field; outside the spec (and the command line it records) nothing names it.
        assert report["spec"]["label"] == run_file["label"] == label
        assert label not in json.dumps({k: v for k, v in report.items() if k != "spec"})
        assert label not in json.dumps({k: v for k, v in report["spec"].items() if k not in ("label", "command")})
    capsys.readouterr()
    text = render_markdown(compare(tmp_path / "ckpt-a" / "sqa", tmp_path / "ckpt-b" / "sqa"))
    assert "### sqa: A = step-1000 (scripted), B = step-2000 (scripted)" in text
    board = build_leaderboard([tmp_path], row_by="label")
    assert sorted(row.name for row in board.rows) == ["step-1000", "step-2000"]
    trend = build_trend([tmp_path / "ckpt-b", tmp_path / "ckpt-a"], primary_only=True)
    assert [(p.step, p.label) for p in trend.metrics[0].points] == [(1000, "step-1000"), (2000, "step-2000")]


def test_a_later_label_renames_the_run_and_no_label_keeps_it(tmp_path: Path, scripted: ScriptedBackend) -> None:
    args = ["run", "--task", "sqa", "--model", "scripted", "--data", "demo", "--limit", "2", "--output",
            str(tmp_path), "--run-name", "r", "--no-progress"]
    labels = []
    for extra in (["--label", "first"], ["--label", "second"], []):
        assert main([*args, *extra]) == 0
        labels.append(json.loads((tmp_path / "r" / "sqa" / "report.json").read_text())["spec"].get("label"))
    assert labels == ["first", "second", "second"]
