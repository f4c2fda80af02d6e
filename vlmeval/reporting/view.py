"""`vlmeval view RUN [RUN_B]`: one self-contained HTML page to browse a run, or what changed between two.

The page is `view_page.html` with the run(s) embedded as compact JSON that its script renders a page
of rows at a time; every text from data, models and judges is set with textContent (never parsed
as markup), the JSON is embedded with `<`, `>` and `&` escaped, and a Content-Security-Policy lets
only the page's own script run and load no URL but its embedded `data:` thumbnails.

Compactness, for VQAv2 val's 214,354 samples (benchmarks/view_large.py): rows are arrays, not
objects; every cell but the id is an index into a table of distinct values or lists (answers,
targets and group names repeat, and the two runs share them); the prefix and suffix every prompt
shares are stored once. Thumbnails are downscaled JPEGs of at most --thumbnails images, chosen
flipped samples first, then samples not right, then the rest in file order; the browser decodes
only those of the rows on screen.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from vlmeval.errors import UsageError, VlmevalError
from vlmeval.metrics import Record
from vlmeval.reporting.compare import Run, runs_by_task, sample_notes

THUMBNAILS = 2000  # default cap on embedded images: ~3 KB each, so ~6 MB at most
THUMB_PIXELS = 160  # longest side of a thumbnail
IMAGES_PER_SAMPLE = 3
# Verdicts: the sample's primary per-sample score is 0, in between, full (1), or there is none.
WRONG, PARTIAL, RIGHT, UNSCORED = 0, 1, 2, 3


def pick_run(path: Path, task: str | None, prefer: str | None = None) -> Run:
    """The one task run under `path` (a task folder, report file, or a folder holding one task);
    `prefer`: the task to take from a folder of several when `task` is not given."""
    runs = runs_by_task(path)
    task = task or (prefer if prefer in runs else None)
    if task is not None:
        if task not in runs:
            raise UsageError(f"{path} holds no run of task {task} (it has: {', '.join(runs)})")
        return runs[task]
    if len(runs) > 1:
        raise UsageError(f"{path} holds runs of {len(runs)} tasks ({', '.join(runs)}); pass --task NAME")
    return next(iter(runs.values()))


def score_key(run: Run, registry_dirs: Sequence[str]) -> str | None:
    """The per-sample score behind the verdict: the primary metric's field, else the first score."""
    from vlmeval.registry import load_registry

    try:
        field = load_registry(registry_dirs).get(run.task).metrics[0].score_field
    except VlmevalError:
        field = None  # a task that is not installed here: its records still say enough
    if field is not None:
        return field
    return next((k for r in run.records for k in r.scores), None)


def verdict(record: Record, key: str | None, scored: bool) -> int:
    value = record.scores.get(key) if key is not None else None
    if not scored or value is None:
        return UNSCORED
    return RIGHT if value >= 1.0 - 1e-9 else WRONG if value <= 1e-9 else PARTIAL


class ValueTable:
    """Distinct values, each stored once. A cell is an index into `values` (a scalar or an object) or,
    for a list, -1 - its index in `lists`, where each distinct list of cells is stored once (VQA's ten
    answers, or a row's tuple of field values, repeat across samples and across the two runs)."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.lists: list[list[int]] = []
        self._values: dict[Any, int] = {}
        self._lists: dict[tuple[int, ...], int] = {}

    def __call__(self, value: Any) -> int:
        if isinstance(value, (list, tuple)):
            return self.list([self(v) for v in value])
        # The type is part of the key: 1, 1.0 and True are equal as dict keys but not as JSON.
        if isinstance(value, (str, int, float, type(None))):
            key: Any = (type(value), value)
        elif isinstance(value, dict) and all(isinstance(v, (str, int, float)) for v in value.values()):
            key = (dict, tuple(sorted((str(k), type(v), v) for k, v in value.items())))  # per-sample scores
        else:
            key = json.dumps(value, sort_keys=True, default=str)
        found = self._values.get(key)
        if found is None:
            found = self._values[key] = len(self.values)
            self.values.append(value)
        return found

    def list(self, cells: list[int]) -> int:
        key = tuple(cells)
        found = self._lists.get(key)
        if found is None:
            found = self._lists[key] = len(self.lists)
            self.lists.append(cells)
        return -1 - found


def shared_ends(prompts: Sequence[str]) -> tuple[str, str]:
    """The prefix and suffix every prompt has (not overlapping), stored once on the page."""
    if not prompts:
        return "", ""
    prefix = os.path.commonprefix(list(prompts))
    rests = [p[len(prefix):] for p in prompts]
    suffix = os.path.commonprefix([r[::-1] for r in rests])[::-1]
    return prefix, suffix


def encode_rows(run: Run, key: str | None, table: ValueTable, ends: tuple[str, str],
                meta_keys: Sequence[str]) -> list[list[Any]]:
    """[id, prompt, prediction, answer, target, score, verdict, failure, error, scores, fields]: cells
    of `table` but the id, the score and the verdict; fields: a list cell, one cell per `meta_keys`."""
    scored = run.report.scored
    cut_start, cut_end = len(ends[0]), len(ends[1])
    rows = []
    for r in run.records:
        prompt = r.prompt[cut_start:len(r.prompt) - cut_end]
        score = r.scores.get(key) if key is not None else None
        rows.append([r.id, table(prompt), table(r.prediction), table(r.answer), table(r.target), score,
                     verdict(r, key, scored), table(r.failure), table(r.error), table(dict(r.scores)),
                     table.list([table(r.meta.get(k)) for k in meta_keys])])
    return rows


def thumbnail_order(runs: Sequence[Run], key: str | None) -> list[str]:
    """Ids in the order thumbnails are given: flipped, then not right in some run, then the rest."""
    verdicts: dict[str, list[int]] = {}
    for run in runs:
        scored = run.report.scored
        for r in run.records:
            verdicts.setdefault(r.id, []).append(verdict(r, key, scored))
    flipped = [i for i, v in verdicts.items() if len(set(v)) > 1]
    not_right = [i for i, v in verdicts.items() if len(set(v)) == 1 and v[0] != RIGHT]
    rest = [i for i, v in verdicts.items() if len(set(v)) == 1 and v[0] == RIGHT]
    return flipped + not_right + rest


def data_source(run: Run, override: str | None) -> tuple[str | None, str | None, int | None]:
    """(data, split, limit) as the run was given them: run.json's invocation, or score.json's for a
    folder `vlmeval score` wrote. The split is the one given (None: the task's own), so a file whose
    name names no split is read as the run read it."""
    from vlmeval.engine.scored import read_score_file

    recorded: dict[str, Any] = {}
    run_file = run.folder / "run.json"
    if run_file.is_file():
        recorded = json.loads(run_file.read_text(encoding="utf-8")).get("invocation", {})
    else:
        recorded = read_score_file(run.folder).get("invocation", {})
    data = override or recorded.get("data")
    if data is None and not recorded:  # scored before score.json was written: the source file, if it is one
        source = str(run.report.spec.dataset.get("source", ""))
        data = source if source and Path(source).exists() else None
    return data, recorded.get("split"), recorded.get("limit")


def thumbnails(run: Run, ids: Iterable[str], cap: int, override: str | None,
               registry_dirs: Sequence[str]) -> tuple[dict[str, list[str]], str]:
    """{id: [base64 JPEG]} for the first `cap` images of `ids`, and a line saying what the page has."""
    if cap <= 0:
        return {}, "No thumbnails (--thumbnails 0)."
    from vlmeval.engine.samples import load_samples
    from vlmeval.registry import load_registry

    data, split, limit = data_source(run, override)
    where = data or "the hub copy (cache only)"
    if data is None:  # never download a dataset to draw thumbnails: only a cached hub copy is used
        if "datasets" in sys.modules:  # imported already: its offline switch can no longer be set
            return {}, "No thumbnails: the run read the hub copy; pass --data PATH (a local copy)."
        os.environ["HF_DATASETS_OFFLINE"] = os.environ["HF_HUB_OFFLINE"] = "1"  # read at import
    try:
        sample_set = load_samples(load_registry(registry_dirs).get(run.task), data, split, limit)
    except Exception as exc:  # noqa: BLE001 - any reason: the page is still written, and says why
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return {}, f"No thumbnails: the run's data ({where}) cannot be read: {reason}. Pass --data PATH."
    samples = {s.id: s for s in sample_set.samples}
    out: dict[str, list[str]] = {}
    count = failed = 0
    for sample_id in ids:
        sample = samples.get(sample_id)
        if sample is None or count >= cap:
            continue
        for image in sample.images[:IMAGES_PER_SAMPLE]:
            try:
                picture = image.load(max_side=THUMB_PIXELS)
            except VlmevalError:
                failed += 1
                continue
            buffer = io.BytesIO()
            picture.save(buffer, format="JPEG", quality=72)
            out.setdefault(sample_id, []).append(base64.b64encode(buffer.getvalue()).decode("ascii"))
            count += 1
    note = (f"Thumbnails ({THUMB_PIXELS} px) of {len(out)} samples from {sample_set.source}"
            + (f", capped at {cap} images (--thumbnails)" if count >= cap else "")
            + (f"; {failed} images could not be decoded" if failed else "") + ".")
    if sample_set.fingerprint() != run.report.spec.dataset.get("fingerprint"):
        note += " Warning: this data's fingerprint differs from the run's: images may not match."
    return out, note


def describe(run: Run, label: str) -> dict[str, Any]:
    report = run.report
    return {"label": label, "folder": str(run.folder), "task": run.task, "model": report.model,
            "n": len(run.records), "primary_metric": report.primary_metric,
            "value": report.metrics.get(report.primary_metric), "metrics": report.metrics,
            "source": report.spec.dataset.get("source"), "split": report.spec.dataset.get("split"),
            "created": report.created, "complete": report.complete, "failures": report.counts.failures,
            "judge": (report.judge or {}).get("model")}


def build_page_data(runs: Sequence[Run], labels: Sequence[str], registry_dirs: Sequence[str] = (),
                    thumbnail_cap: int = THUMBNAILS, data: str | None = None) -> dict[str, Any]:
    key = score_key(runs[0], registry_dirs)
    notes: list[str] = []
    if len(runs) == 2:
        if runs[0].task != runs[1].task:
            notes.append(f"different tasks ({runs[0].task} vs {runs[1].task})")
        notes += sample_notes(runs[0], runs[1])  # the same checks as `vlmeval compare`
    meta_keys = sorted({k for run in runs for r in run.records for k in r.meta})
    ends = shared_ends([r.prompt for run in runs for r in run.records])
    table = ValueTable()
    rows = [encode_rows(run, key, table, ends, meta_keys) for run in runs]
    order = thumbnail_order(runs, key)
    thumbs, thumb_note = thumbnails(runs[0], order, thumbnail_cap, data, registry_dirs)
    if not thumbs and len(runs) == 2 and thumbnail_cap > 0:
        thumbs, note_b = thumbnails(runs[1], order, thumbnail_cap, data, registry_dirs)
        thumb_note = note_b if thumbs else thumb_note
    breakdowns = [b for b in runs[0].report.breakdown if b in meta_keys]
    return {"schema": 1, "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "runs": [describe(run, label) for run, label in zip(runs, labels, strict=True)],
            "score_key": key, "notes": notes, "thumb_note": thumb_note, "breakdowns": breakdowns,
            "meta_keys": meta_keys, "prefix": ends[0], "suffix": ends[1], "values": table.values, "lists": table.lists,
            "rows": rows, "thumbs": thumbs}


def safe_json(obj: Any) -> str:
    """JSON that cannot end a <script> element or open a comment inside it."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return text


def render_page(page_data: dict[str, Any]) -> str:
    template = resources.files("vlmeval.reporting").joinpath("view_page.html").read_text(encoding="utf-8")
    script = re.search(r"<script>(.*?)</script>", template, re.DOTALL)
    if script is None:
        raise RuntimeError("vlmeval/reporting/view_page.html has no inline <script>: the package is damaged")
    digest = base64.b64encode(hashlib.sha256(script.group(1).encode("utf-8")).digest()).decode("ascii")
    policy = (f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
              f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'")
    return template.replace("{{CSP}}", policy).replace("{{DATA}}", safe_json(page_data))


def write_view(paths: Sequence[Path], output: Path, task: str | None = None, registry_dirs: Sequence[str] = (),
               thumbnail_cap: int = THUMBNAILS, data: str | None = None) -> Path:
    from vlmeval.io import atomic_write_text

    if len(paths) not in (1, 2):
        raise UsageError("vlmeval view takes one run folder, or two to compare")
    if thumbnail_cap < 0:
        raise UsageError(f"--thumbnails must be at least 0 (got {thumbnail_cap})")
    runs = [pick_run(paths[0], task)]
    if len(paths) == 2:
        runs.append(pick_run(paths[1], task, prefer=runs[0].task))
    page = build_page_data(runs, [str(p) for p in paths], registry_dirs, thumbnail_cap, data)
    atomic_write_text(output, render_page(page))
    return output
