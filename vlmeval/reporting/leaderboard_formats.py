"""A leaderboard as Markdown, CSV, LaTeX, a self-contained HTML page, or JSON.

Every model name, task name and text is escaped for its format (`vlmeval.escape`; `html.escape` in
HTML, whose charts are inline PNG data URLs so the page needs no other file): a report cannot break
a table, inject markup or plant a spreadsheet formula.

Markdown, CSV and LaTeX are written here, not through pandas (`DataFrame.to_markdown`, `to_csv`,
`Styler.to_latex`; issue 18 asked for them unless a measured reason said otherwise). Measured by
benchmarks/leaderboard_tables.py (2 shared cores, 20 models x 6 tasks): `vlmeval leaderboard
--format md|csv|latex` takes ~0.12-0.13 s and imports no pandas; `import pandas` alone adds ~0.40-0.44 s,
`tabulate` (to_markdown's dependency, not installed today) ~0.01-0.08 s more, and a pandas build of
these three renderers took the command to 0.43-0.65 s (4x). It saved no lines either: the escaping
(`vlmeval.escape`) and the bold best value stay ours, and `Styler.to_latex` would add jinja2 to the
core. CSV already goes through the stdlib `csv` module.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from typing import Any

from vlmeval.errors import UsageError
from vlmeval.metrics import natural_key
from vlmeval.reporting import escape
from vlmeval.reporting.leaderboard import Column, Leaderboard, Row

MISSING = "missing"  # the text of a cell whose metric has no value (the report says why)
CHART_MODELS = 6  # models per breakdown chart in the HTML page (the top of the table)


def _header(column: Column) -> str:
    if column.label is not None:  # a suite's column: the published table's name
        return column.label if column.scale == "percent" else f"{column.label} ({column.scale})"
    unit = "" if column.scale == "percent" else f", {column.scale}"
    return f"{column.task} ({column.metric}{unit})"


def _best(board: Leaderboard, column: Column) -> float | None:
    if column.scale not in ("percent", "points"):  # higher is not better: no best to mark
        return None
    values = [value for row in board.rows if column.task in row.entries and row.reference is None  # published rows
              and (value := row.entries[column.task].value) is not None]                   # are not marked
    return max(values) if values else None


def _cells(board: Leaderboard, row: Row) -> list[tuple[str, bool]]:
    """(text, is best) per task column; empty text where the model has no run of the task."""
    cells = []
    for column in board.columns:
        entry = row.entries.get(column.task)
        if entry is None:
            cells.append(("", False))
        elif entry.value is None:
            cells.append((MISSING, False))
        else:
            best = row.reference is None and entry.value == _best(board, column)
            cells.append((f"{entry.value:.{column.decimals}f}", best))
    return cells


def _average(row: Row) -> str:
    return "" if row.average is None else f"{row.average:.2f}"


def _summary_head(board: Leaderboard) -> list[str]:
    """The average column (and a ranked suite's average rank) before the task columns."""
    return (["average"] + (["avg rank"] if board.ranked else [])) if board.averaged else []


def _summary_cells(board: Leaderboard, row: Row) -> list[str]:
    if not board.averaged:
        return []
    rank = "" if row.average_rank is None else f"{row.average_rank:.2f}"
    return [_average(row), *([rank] if board.ranked else [])]


def _rank_label(rank: int, row: Row) -> str:
    return "ref" if row.reference is not None else str(rank)


def _legend(board: Leaderboard) -> str:
    if board.ranked:
        text = (f"average: mean over {', '.join(board.averaged)} (points as a percentage of their full score); "
                f"avg rank: mean rank over them (rows without all of them have neither)")
    elif board.averaged:
        text = (f"average: mean over {', '.join(board.averaged)} (percentages only; "
                f"rows without all of them have none)")
    else:
        text = "no average column: fewer than two tasks report a percentage"
    sources = [f"{row.name}: {row.reference}" for row in board.rows if row.reference is not None]
    return text + (f"; ref rows are published numbers ({'; '.join(sources)})" if sources else "")


def markdown(board: Leaderboard) -> str:
    md = escape.markdown
    head = ["#", board.row_by, *_summary_head(board), *(_header(c) for c in board.columns)]
    lines = ["| " + " | ".join(md(h) for h in head) + " |",
             "|" + "|".join(["---:", "---", *(["---:"] * (len(head) - 2))]) + "|"]
    for rank, row in enumerate(board.rows, 1):
        cells = [f"**{text}**" if best else text for text, best in _cells(board, row)]
        values = [_rank_label(rank, row), md(row.name), *_summary_cells(board, row), *cells]
        lines.append("| " + " | ".join(values) + " |")
    return "\n".join(lines) + f"\n\n{md(_legend(board))}.\n"


def csv_text(board: Leaderboard) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    ranked = ["avg rank"] if board.ranked else []
    writer.writerow(["rank", board.row_by, "average", *ranked, *(escape.csv_cell(_header(c)) for c in board.columns)])
    for rank, row in enumerate(board.rows, 1):
        summary = _summary_cells(board, row) or [_average(row)]
        writer.writerow([_rank_label(rank, row), escape.csv_cell(row.name), *summary,
                         *(text for text, _ in _cells(board, row))])
    return buffer.getvalue()


def latex(board: Leaderboard) -> str:
    head = [board.row_by.capitalize(), *(h.capitalize() for h in _summary_head(board)),
            *(_header(c) for c in board.columns)]
    lines = [r"% vlmeval leaderboard; needs \usepackage{booktabs}",
             r"\begin{tabular}{l" + "r" * (len(head) - 1) + "}", r"\toprule",
             " & ".join(escape.latex(h) for h in head) + r" \\", r"\midrule"]
    for row in board.rows:
        cells = [rf"\textbf{{{text}}}" if best else text for text, best in _cells(board, row)]
        values = [escape.latex(row.name), *_summary_cells(board, row), *cells]
        lines.append(" & ".join(values) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def json_text(board: Leaderboard) -> str:
    out: dict[str, Any] = {
        "tasks": [{"task": c.task, "metric": c.metric, "scale": c.scale, "averaged": c.task in board.averaged}
                  for c in board.columns],
        "average_over": board.averaged,
        "rows_by": board.row_by,
        "models": [
            {"rank": None if row.reference is not None else rank, "row": row.name, "model": row.models,
             "average": row.average, "average_rank": row.average_rank, "reference": row.reference,
             "results": {task: {"metric": e.metric, "value": e.value, "ci": e.ci, "n": e.n, "scale": e.scale,
                                "report": e.source, **({"missing": e.missing} if e.missing else {})}
                         for task, e in sorted(row.entries.items())}}
            for rank, row in enumerate(board.rows, 1)
        ],
        "warnings": board.warnings,
    }
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{padding:.35em .8em;border-bottom:1px solid #ddd}
th{background:#f4f6f8;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#fafafa}.best{font-weight:700}.note{color:#666;font-size:.9em}
img{max-width:100%;display:block;margin:1em 0}"""


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def _charts(board: Leaderboard) -> list[str]:
    from vlmeval.reporting.plots import bar_chart, grouped_bar_chart

    parts = []
    for column in board.columns:
        rows = [row for row in board.rows if column.task in row.entries and row.reference is None]
        if not rows:
            continue
        entries = [row.entries[column.task] for row in rows]
        title = f"{column.task}: {column.metric}"
        parts += [f"<h3>{html.escape(title)}</h3>",
                  _img(bar_chart([r.name for r in rows], [e.value for e in entries], [e.ci for e in entries],
                                 title, f"{column.metric}, 95% CI"), title)]
        top = rows[:CHART_MODELS]
        for by in sorted({by for e in entries for by in e.breakdown}):
            groups = sorted({g for r in top for g in r.entries[column.task].breakdown.get(by, {})},
                            key=natural_key)
            if not groups:
                continue
            series = {r.name: [r.entries[column.task].breakdown.get(by, {}).get(g, {}).get(column.metric)
                                for g in groups] for r in top}
            heading = f"{column.task}: {column.metric} by {by}"
            parts += [f"<h3>{html.escape(heading)}</h3>",
                      _img(grouped_bar_chart(groups, series, heading, column.metric), heading)]
    return parts


def html_page(board: Leaderboard) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in ["#", board.row_by, *_summary_head(board),
                                                *(_header(c) for c in board.columns)])
    body = []
    for rank, row in enumerate(board.rows, 1):
        cells = [f'<td class="num">{_rank_label(rank, row)}</td>', f"<td>{e(row.name)}</td>"]
        cells += [f'<td class="num">{text}</td>' for text in _summary_cells(board, row)]
        for column, (text, best) in zip(board.columns, _cells(board, row)):
            entry = row.entries.get(column.task)
            tip = "" if entry is None else (f"missing: {entry.missing}; " if entry.missing else "") + f"n={entry.n}" + (
                f", 95% CI [{entry.ci[0]:.2f}, {entry.ci[1]:.2f}]" if entry.ci else "") + f"; {entry.source}"
            css = "num best" if best else "num"
            cells.append(f'<td class="{css}" title="{e(tip)}">{text}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    from vlmeval.extras import plots_or_note

    try:
        charts = _charts(board) if plots_or_note("the leaderboard's charts") else [
            '<p class="note">charts not drawn: matplotlib is not installed (pip install \'vlmeval[plots]\')</p>']
    except Exception as exc:  # noqa: BLE001 - the table is the page; charts are a bonus
        charts = [f'<p class="note">charts not drawn: {e(str(exc))}</p>']
    warnings = "".join(f"<li>{e(w)}</li>" for w in board.warnings)
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>vlmeval leaderboard</title>", f"<style>{_CSS}</style></head><body>",
        "<h1>vlmeval leaderboard</h1>",
        f'<p class="note">Primary metric per task; {e(_legend(board))}. Hover a cell for n, CI and report.</p>',
        f"<table><thead><tr>{head}</tr></thead><tbody>", *body, "</tbody></table>",
        *(["<h2>Charts</h2>", *charts] if charts else []),
        *([f'<h2>Notes</h2><ul class="note">{warnings}</ul>'] if warnings else []),
        "</body></html>",
    ]) + "\n"


def render(board: Leaderboard, fmt: str) -> str:
    renderers = {"md": markdown, "csv": csv_text, "latex": latex,
                 "html": html_page, "json": json_text}
    if fmt not in renderers:
        raise UsageError(f"unknown leaderboard format {fmt!r} (md, csv, latex, html, json)")
    return renderers[fmt](board)
