"""One function per `vlmeval` subcommand: turn parsed flags into calls of the engine."""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlmeval.backends import BackendOptions
from vlmeval.backends.base import GenerationSettings
from vlmeval.errors import UsageError
from vlmeval.reasoning import DEFAULT_TAGS, REASONING_MAX_NEW_TOKENS, ReplyReading, parse_tags
from vlmeval.redact import redact_argv
from vlmeval.registry import load_registry
from vlmeval.task import ScoreContext, Task

if TYPE_CHECKING:
    from vlmeval.reporting.compare import Comparison


def _task(args: argparse.Namespace) -> Task:
    return load_registry(args.tasks_dir).get(args.task)


def _positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise UsageError(f"{name} must be at least 1 (got {value})")


def _positive_seconds(name: str, value: float) -> None:
    if not value > 0 or value == float("inf"):
        raise UsageError(f"{name} must be a positive number of seconds (got {value})")


def _check_generation_flags(args: argparse.Namespace) -> None:
    """Values the backends would misuse silently or reject with a traceback deep inside generate."""
    _positive("--num-beams", args.num_beams)
    checks = (
        ("--temperature", args.temperature, args.temperature >= 0, "must be 0 (greedy) or more"),
        ("--top-p", args.top_p, 0 < args.top_p <= 1, "must be above 0 and at most 1"),
        ("--repetition-penalty", args.repetition_penalty, args.repetition_penalty > 0, "must be above 0"),
    )
    for flag, value, valid, rule in checks:
        if not valid or (isinstance(value, float) and not math.isfinite(value)):
            raise UsageError(f"{flag} {rule} (got {value})")


def _reply_reading(args: argparse.Namespace) -> ReplyReading:
    """`--reasoning-tags`, `--stop` and `--reasoning` (vlmeval.reasoning); defaults where a command has none."""
    tags = getattr(args, "reasoning_tags", None)
    try:
        pair = parse_tags(tags) if tags is not None else DEFAULT_TAGS
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    stop = tuple(getattr(args, "stop", None) or ())
    if any(not s for s in stop):
        raise UsageError("--stop takes a non-empty string")
    return ReplyReading(tags=pair, stop=stop, reasoning=bool(getattr(args, "reasoning", False)))


def _score_context(args: argparse.Namespace, task: Task | None) -> ScoreContext:
    reading = _reply_reading(args)
    _positive("--judge-runs", args.judge_runs)
    _positive_seconds("--judge-request-timeout", args.judge_request_timeout)
    _positive("--judge-concurrency", args.judge_concurrency)
    # The reading a task's scorer gets; without a task (run, merge) each task's is set where it is known.
    answer_reading = task.answer_reading(args.answer_reading) if task is not None else None
    if args.judge is None:
        return ScoreContext(judge_runs=args.judge_runs, answer_reading=answer_reading, reply_reading=reading)
    from vlmeval.judge import Judge
    from vlmeval.openai_client import ChatClient

    try:
        client = ChatClient(args.judge_base_url, args.judge, api_key_env=args.judge_api_key_env,
                            concurrency=args.judge_concurrency, timeout=args.judge_request_timeout)
    except ValueError as exc:  # the message shows the URL without its credentials
        raise UsageError(f"--judge-base-url: {exc}") from exc
    return ScoreContext(judge=Judge(client, None), judge_runs=args.judge_runs, answer_reading=answer_reading,
                        reply_reading=reading)


def parse_key_values(flag: str, items: Sequence[str]) -> dict[str, Any]:
    """`KEY=VALUE` pairs; VALUE is read as JSON where it parses (`true`, `3`, `[1,2]`), else kept as text."""
    parsed: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{flag} takes KEY=VALUE (got {item!r})")
        try:
            parsed[key.strip()] = json.loads(value)
        except ValueError:
            parsed[key.strip()] = value
    return parsed


def system_prompt(value: str | None) -> str | None:
    """`--system-prompt TEXT`, or the text of FILE for `@FILE`."""
    if value is None or not value.startswith("@"):
        return value
    path = Path(value[1:]).expanduser()
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--system-prompt {value}: cannot read {path} ({exc})") from exc


def backend_options(args: argparse.Namespace, reasoning_tags: tuple[str, str]) -> BackendOptions:
    """The options of every backend kind's flags (each kind declares and checks its own), plus the model arguments."""
    from dataclasses import fields

    from vlmeval.backends import backend_kinds

    known = {f.name for f in fields(BackendOptions)}
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for kind in backend_kinds():
        for option in kind.options:
            value = getattr(args, option.dest)
            if (broken := option.broken_rule(value)) is not None:
                raise UsageError(broken)
            (values if option.dest in known else extra)[option.dest] = value
    return BackendOptions(
        **values,
        extra=extra,
        device_map="auto" if args.gpus_per_shard > 1 else None,
        model_args=parse_key_values("--model-arg", args.model_arg),
        chat_template_args=parse_key_values("--chat-template-arg", args.chat_template_arg),
        system_prompt=system_prompt(args.system_prompt),
        max_images=args.max_images,
        reasoning_tags=reasoning_tags,
    )


def _selected_tasks(args: argparse.Namespace) -> list[Task]:
    """The tasks of `--task`, `--tasks a,b` or `--suite NAME`, in order."""
    registry = load_registry(args.tasks_dir)
    if args.suite:
        names = registry.suite(args.suite).tasks
    elif args.tasks:
        names = [name.strip() for name in args.tasks.split(",") if name.strip()]
    else:
        names = [args.task]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UsageError(f"--tasks names {', '.join(repeated)} more than once")
    if not names:
        raise UsageError("--tasks names no task")
    return [registry.get(name) for name in names]


def _what_runs(args: argparse.Namespace) -> str:
    if args.suite:
        return f"suite {args.suite}"
    return f"tasks {args.tasks}" if args.tasks else f"task {args.task}"


def cmd_run(args: argparse.Namespace) -> int:
    from vlmeval import console
    from vlmeval.backends import backend_kind

    for flag in ("--limit", "--max-new-tokens", "--shards", "--gpus-per-shard", "--max-batch-size", "--max-images"):
        _positive(flag, getattr(args, flag[2:].replace("-", "_")))
    auto_batch = args.batch_size == "auto"
    if auto_batch:
        from vlmeval.engine.runner import AUTO_BATCH_START

        batch_size = args.max_batch_size or AUTO_BATCH_START
    else:
        _positive("--batch-size", args.batch_size)
        if args.max_batch_size is not None:
            raise UsageError("--max-batch-size applies to --batch-size auto only")
        batch_size = args.batch_size
    kind, reference = backend_kind(args.model)
    if kind.check_model is not None:
        kind.check_model(reference)
    _check_generation_flags(args)
    context = _score_context(args, None)
    options = backend_options(args, context.reply_reading.tags)
    from vlmeval.engine.evaluate import run
    from vlmeval.engine.multi import resolve_data, run_tasks
    from vlmeval.engine.plan import BackendCache, Execution, RunPlan
    from vlmeval.engine.shards import SHARD_ENV

    if SHARD_ENV not in os.environ:  # workers of `--shards N` say only what their shard does
        console.status(f"vlmeval run: {_what_runs(args)}, model {args.model}")
    tasks = _selected_tasks(args)
    if args.split and len(tasks) > 1:
        raise UsageError("--split applies to one task; with several tasks each runs on its own split")
    data = resolve_data(tasks, args.data)
    readings = {t.name: t.answer_reading(args.answer_reading) for t in tasks}  # a wrong name: before any work
    if args.subset is not None:
        from vlmeval.engine.subsets import subset_size

        subset_size(args.subset, 0)  # an unknown name fails before the model loads
    if args.log_to:
        from vlmeval.integrations.loggers import check_targets

        check_targets(args.log_to)
    backends = BackendCache()  # one model load for all the tasks
    run_dirs: list[Path] = []

    def run_one(task: Task, path: str | None) -> int:
        settings = GenerationSettings(
            max_new_tokens=args.max_new_tokens or (REASONING_MAX_NEW_TOKENS if args.reasoning else task.max_new_tokens),
            temperature=args.temperature,
            top_p=args.top_p,
            num_beams=args.num_beams,
            repetition_penalty=args.repetition_penalty,
            seed=args.seed,
        )
        plan = RunPlan(
            task=task,
            model=args.model,
            data=path,
            split=args.split,
            limit=args.limit,
            output=Path(args.output),
            run_name=args.run_name,
            settings=settings,
            backend_options=options,
            context=replace(context, answer_reading=readings[task.name]),
            execution=Execution(batch_size=batch_size, auto_batch=auto_batch, shards=args.shards,
                                gpus_per_shard=args.gpus_per_shard, restart=args.restart,
                                show_progress=not (args.no_progress or args.quiet), charts=args.charts,
                                backend_cache=backends),
            tasks_dirs=tuple(args.tasks_dir),
            command=redact_argv(["vlmeval", *args.argv]),
            label=args.label,
            subset=args.subset,
        )
        run_dirs.append(plan.run_dir)
        return run(plan, worker_argv=tuple(args.argv))

    if args.task is not None:  # one task: its errors stop the command, as ever
        status = run_one(tasks[0], data[tasks[0].name].path)
    else:
        status = run_tasks(tasks, data, run_one)
    if args.log_to and SHARD_ENV not in os.environ:
        from vlmeval.integrations.loggers import log_reports

        log_reports(args.log_to, run_dirs, args.step, args.label)
    return status


def cmd_merge(args: argparse.Namespace) -> int:
    from vlmeval.engine.evaluate import merge

    return merge(Path(args.run_dir), _score_context(args, None), args.answer_reading, charts=args.charts)


def cmd_score(args: argparse.Namespace) -> int:
    from vlmeval.engine.evaluate import score_file

    _positive("--limit", args.limit)
    task = _task(args)
    from vlmeval.engine.scored import default_score_folder

    output = Path(args.output) if args.output else default_score_folder(args.predictions, task.name)
    return score_file(task, args.predictions, args.data, args.split, args.limit, output,
                      _score_context(args, task), label=args.label, charts=args.charts,
                      command=redact_argv(["vlmeval", *args.argv]))


def cmd_judge_check(args: argparse.Namespace) -> int:
    from vlmeval import console
    from vlmeval.engine.samples import load_samples
    from vlmeval.failure import Failure
    from vlmeval.judge_check import check, load_anchors, render

    task = _task(args)
    if args.judge is None:
        raise UsageError("judge-check needs the candidate judge: --judge MODEL --judge-base-url URL")
    if args.max_diff is not None and not (math.isfinite(args.max_diff) and args.max_diff >= 0):
        raise UsageError(f"--max-diff must be a number of points, 0 or more (got {args.max_diff})")
    anchors = load_anchors(task.name, args.anchors)
    context = _score_context(args, task)
    samples = load_samples(task, args.data, args.split, None).samples  # every anchor must be there: no --limit
    console.status(f"judging {len(anchors.items)} anchors of {task.name} with {args.judge} ...")
    result = check(task, samples, anchors, context)
    text = render(result)
    print(text, end="")
    if args.output:
        from vlmeval.io import atomic_write_text

        atomic_write_text(Path(args.output), text)
    if result.failures.get(Failure.JUDGE_ERROR):
        console.error_line(f"vlmeval: incomplete: {result.failures[Failure.JUDGE_ERROR]} judge requests failed; "
                           "re-run the same command to ask them again (replies so far are cached)")
        return 3
    difference = result.primary_difference()
    if args.max_diff is not None and (difference is None or abs(difference) > args.max_diff):
        shown = "missing" if difference is None else f"{difference:+.2f}"
        console.error_line(f"vlmeval: error: {result.metrics[0][0]} on the anchors differs from the recorded "
                           f"value by {shown} (allowed: {args.max_diff:g})")
        return 1
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    import sys

    from rich import box
    from rich.console import Console
    from rich.table import Table

    from vlmeval.reporting import escape

    registry = load_registry(args.tasks_dir)
    # Rich measures the real terminal (COLUMNS where set, 80 when piped). Below 150 columns the
    # dataset and split go under the description, so nothing is cut; the metrics column shows the
    # primary metric and how many more there are (the report lists them all).
    console = Console()
    wide = console.width >= 150
    table = Table(title="vlmeval tasks", box=box.SIMPLE_HEAD, pad_edge=False, expand=True, leading=1)
    table.add_column("task", no_wrap=True, style="bold")
    if wide:
        table.add_column("dataset", overflow="fold", max_width=28)
        table.add_column("split", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    if wide:
        table.add_column("subsets", no_wrap=True)
    table.add_column("metrics", no_wrap=True)
    table.add_column("description", ratio=1, min_width=20, overflow="fold")
    for name in registry.names():
        task = registry.get(name)
        data = task.data
        dataset = data.hub + (f" ({data.config})" if data.config else "")
        size = f"{data.size:,}" if data.size else "?"
        names = [m.name for m in task.metrics]
        metrics = names[0] + (f" +{len(names) - 1}" if len(names) > 1 else "")
        # Task plugins are third-party text: a `[` in a description would be read as Rich markup.
        cells = [escape.rich(cell) for cell in (name, dataset, data.split, size, metrics, task.description)]
        subsets = _subset_sizes(data.size)
        if wide:
            table.add_row(*cells[:4], subsets, *cells[4:])
        else:
            table.add_row(cells[0], cells[3], cells[4],
                          f"{cells[5]}\n[dim]{cells[1]}, split {cells[2]}; subsets: {subsets}[/dim]")
    console.print(table)
    for name in sorted(registry.suites):
        suite = registry.suite(name)
        console.print(f"suite {name}: {suite.description}: {', '.join(suite.tasks)}", highlight=False, markup=False)
    for problem in registry.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return 0


def _subset_sizes(size: int | None) -> str:
    """`quick 500`: each `--subset` with its number of questions in a task of `size` (None: unknown)."""
    from vlmeval.engine.subsets import SUBSETS, subset_size

    return ", ".join(f"{name} {subset_size(name, size):,}" if size else f"{name} <={most}"
                     for name, most in SUBSETS.items())


def cmd_compare(args: argparse.Namespace) -> int:
    from vlmeval.reporting.compare import compare, render_markdown, write_chart

    _positive("--resamples", args.resamples)
    if not 0.0 < args.alpha < 1.0:
        raise UsageError(f"--alpha must be between 0 and 1 (got {args.alpha})")
    if args.fail_on_regression is not None and not (
            math.isfinite(args.fail_on_regression) and args.fail_on_regression >= 0):
        raise UsageError(f"--fail-on-regression must be at least 0 (got {args.fail_on_regression})")
    comparison = compare(Path(args.run_a), Path(args.run_b), args.tasks_dir, args.fail_on_regression,
                         args.alpha, args.primary_only, args.resamples)
    text = render_markdown(comparison)
    print(text, end="")
    if args.output:
        from vlmeval.io import atomic_write_text

        atomic_write_text(Path(args.output), text)
    if args.chart:
        from vlmeval.extras import plots_or_note

        if plots_or_note(f"--chart {args.chart}"):
            write_chart(comparison, Path(args.chart))
    if args.view:
        _write_compare_views(comparison, Path(args.view), args.tasks_dir)
    return comparison.exit_code


def _write_compare_views(comparison: Comparison, page: Path, tasks_dirs: list[str]) -> None:
    """One page per shared task: FILE.html for one task, FILE-<task>.html for each of several."""
    import sys

    from vlmeval.reporting.view import write_view

    for item in comparison.tasks:
        output = page if len(comparison.tasks) == 1 else page.with_name(f"{page.stem}-{item.task}{page.suffix}")
        write_view([item.a.folder, item.b.folder], output, item.task, tasks_dirs)
        print(f"\nBrowse the samples of {item.task}: {output}", file=sys.stderr)


def cmd_view(args: argparse.Namespace) -> int:
    from vlmeval.reporting.view import write_view

    if len(args.runs) > 2:
        raise UsageError(f"vlmeval view takes one run folder, or two to compare (got {len(args.runs)})")
    paths = [Path(p) for p in args.runs]
    output = Path(args.output) if args.output else _default_view_path(paths)
    written = write_view(paths, output, args.task, args.tasks_dir, args.thumbnails, args.data)
    print(f"wrote {written} ({written.stat().st_size / 2**20:.1f} MiB); open it in a browser")
    return 0


def _default_view_path(paths: list[Path]) -> Path:
    folder = paths[-1] if paths[-1].is_dir() else paths[-1].parent
    return folder / ("view.html" if len(paths) == 1 else "view-compare.html")


def cmd_leaderboard(args: argparse.Namespace) -> int:
    import sys

    from vlmeval.reporting.leaderboard import build_leaderboard
    from vlmeval.reporting.leaderboard_formats import render

    layout = load_registry(args.tasks_dir).suite(args.suite) if args.suite else None
    board = build_leaderboard([Path(d) for d in args.dirs], layout, row_by=args.row, references=args.reference)
    for warning in board.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    text = render(board, args.format)
    if args.output:
        from vlmeval.io import atomic_write_text

        atomic_write_text(Path(args.output), text)
    else:
        print(text, end="")
    return 0


def cmd_trend(args: argparse.Namespace) -> int:
    from vlmeval.io import atomic_write_text
    from vlmeval.reporting.trend import build_trend, render_markdown, write_charts

    _positive("--resamples", args.resamples)
    trend = build_trend([Path(p) for p in args.runs], args.tasks_dir, args.alpha, args.primary_only, args.resamples)
    if args.format == "md":
        text = render_markdown(trend)
        if args.output:
            atomic_write_text(Path(args.output), text)
        else:
            print(text, end="")
    else:
        from vlmeval.reporting.trend_page import render_html

        page = Path(args.output or "trend.html")
        atomic_write_text(page, render_html(trend))
        print(f"wrote {page}; open it in a browser")
    if args.charts:
        from vlmeval.extras import plots_or_note

        if plots_or_note(f"--charts {args.charts}"):
            for path in write_charts(trend, Path(args.charts)):
                print(f"wrote {path}")
    return 0
