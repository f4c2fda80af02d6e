"""Hostile names (paths, models, tasks, dataset groups) cannot break any output people read."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from tests.helpers import vlmeval, write_jsonl
from tests.reporting.test_compare import baseline, sqa_records, write_run
from tests.reporting.test_leaderboard import write_report
from vlmeval.cli import main
from vlmeval.metrics import Record
from vlmeval.registry import load_registry
from vlmeval.reporting import escape
from vlmeval.reporting.leaderboard import build_leaderboard
from vlmeval.reporting.leaderboard_formats import render
from vlmeval.run_spec import RunSpec
from vlmeval.reporting.report import build_report, render_markdown

HOSTILE = "m|x\n# evil `tick` [link](javascript:x) <img src=x> $x$ [/bold]"


def _cells(line: str) -> list[str]:
    """A Markdown table row split at its unescaped pipes."""
    return re.split(r"(?<!\\)\|", line.strip().strip("|"))


@pytest.mark.slow
def test_a_rich_markup_path_does_not_crash_score(tmp_path: Path) -> None:
    folder = tmp_path / "runs[" / "bold] [red]x"  # the path reads `runs[/bold] [red]x/p.jsonl`
    folder.mkdir(parents=True)
    predictions = write_jsonl(folder / "p.jsonl", [{"id": str(i), "prediction": "A"} for i in range(60)])
    result = vlmeval("score", "--task", "sqa", "--data", "demo", "--predictions", str(predictions),
                     "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "runs[/b" in result.stdout  # printed as written (the console table may wrap it), not as markup
    assert "Traceback" not in result.stderr


def test_report_markdown_keeps_its_structure(tmp_path: Path) -> None:
    task = load_registry().get("sqa")
    records = [Record(id=str(i), prompt="q", prediction="A", answer="A", target="A", scores={"correct": 1.0},
                      meta={"subject": HOSTILE, "grade": "grade1", "n_choices": 4, "has_image": False,
                            "has_hint": False}) for i in range(4)]
    report = build_report(task, records, HOSTILE, True, RunSpec(dataset={"source": HOSTILE, "split": "t|x"}))
    text = render_markdown(report)
    assert text.splitlines()[0].startswith("# sqa: m\\|x # evil")
    for line in text.splitlines():
        assert not re.search(r"(?<!\\)<img|(?<!\\)\]\(javascript", line), line
        if line.startswith("|"):
            assert len(_cells(line)) == 4, line  # every table row keeps its 4 columns
    assert any(line.startswith("| m\\|x # evil") for line in text.splitlines())


def test_leaderboard_formats_escape_names(tmp_path: Path) -> None:
    formula = "=HYPERLINK(\"http://x\",\"y\")"
    write_report(tmp_path / "a", formula, "sqa", "accuracy", 70.0)
    write_report(tmp_path / "b", HOSTILE, "sqa", "accuracy", 60.0)
    board = build_leaderboard([tmp_path])

    rows = list(csv.reader(io.StringIO(render(board, "csv"))))
    models = [row[1] for row in rows[1:]]
    assert models[0] == "'" + formula and not any(m.startswith(("=", "+", "-", "@")) for m in models)

    md = render(board, "md").splitlines()
    assert all(len(_cells(line)) == len(_cells(md[0])) for line in md[:4]), md

    latex = render(board, "latex")
    body = latex.split(r"\midrule")[1]
    assert "$x$" not in latex and r"\$x\$" in body and HOSTILE.split("\n")[0] not in latex
    assert r"m\textbar{}x # evil" not in body and r"m\textbar{}x \# evil" in body

    page = render(board, "html")
    assert "<img src=x>" not in page and "&lt;img src=x&gt;" in page


def test_escape_functions() -> None:
    assert escape.markdown("a|b\nc`d") == "a\\|b c\\`d"
    assert escape.markdown_code("x `y` z") == "``x `y` z``"
    assert escape.csv_cell("-1+1") == "'-1+1" and escape.csv_cell("llava") == "llava"
    assert escape.rich("[/bold]") == "\\[/bold]"


def test_compare_names_runs_in_code_spans(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a`b|c" / "sqa", tmp_path / "new" / "sqa"
    write_run(a, "base", sqa_records(baseline(40)))
    write_run(b, "x|y\nz", sqa_records(baseline(40)))
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert f"- **A**: ``{str(a).replace('|', chr(92) + '|')}``" in out.splitlines()
    heading = next(line for line in out.splitlines() if line.startswith("### "))
    assert heading.endswith("B = x\\|y z")  # the model names run B (no label or run name recorded)
