"""The `vlmeval` command. Parsing only: heavy modules load inside the command that needs them."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from vlmeval.backends import backend_kinds
from vlmeval.engine.shards import Terminated
from vlmeval.errors import VlmevalError
from vlmeval.reasoning import REASONING_MAX_NEW_TOKENS
from vlmeval.redact import install_log_redaction, redact, redacted_output

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
EXIT_TERMINATED = 143  # 128 + SIGTERM


def _add_task_source(parser: argparse.ArgumentParser, several: bool = False) -> None:
    if not several:
        parser.add_argument("--task", required=True, help="task name (see `vlmeval tasks`)")
        parser.add_argument("--data", help="local parquet file or folder, MMBench TSV, or `demo`; "
                            "default: the hub copy")
    else:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--task", help="task name (see `vlmeval tasks`)")
        which.add_argument("--tasks", metavar="A,B,...", help="several tasks, run in this order with one model load")
        which.add_argument("--suite", metavar="NAME", help="a named suite of tasks (see `vlmeval tasks`), "
                           "e.g. llava_v1.5")
        parser.add_argument("--data", action="append", default=[], metavar="PATH|TASK=PATH",
                            help="local parquet file or folder, MMBench TSV, or `demo`; with several tasks a "
                            "folder with one subfolder per task or dataset, and/or TASK=PATH (repeatable); "
                            "default: the hub copy")
    parser.add_argument("--split", help="dataset split (default: the task's)")
    parser.add_argument("--limit", type=int, help="only the first N samples")
    parser.add_argument("--tasks-dir", action="append", default=[], metavar="DIR",
                        help="also load task files from DIR (repeatable; also VLMEVAL_TASKS_PATH)")


def _batch_size(value: str) -> int | str:
    """--batch-size: a number, or `auto` (lm-evaluation-harness's spelling)."""
    if value == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or auto, got {value!r}") from None


def _add_judge(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--judge", metavar="MODEL", help="LLM judge model on an OpenAI-compatible endpoint")
    parser.add_argument("--judge-base-url", metavar="URL", default="https://api.openai.com/v1",
                        help="the judge's OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 "
                        "for a local vLLM/SGLang server (default: OpenAI's API)")
    parser.add_argument("--judge-api-key-env", default="OPENAI_API_KEY", metavar="VAR",
                        help="environment variable holding the judge's API key (default OPENAI_API_KEY)")
    parser.add_argument("--judge-concurrency", type=int, default=8, help="judge requests in flight (default 8)")
    parser.add_argument("--judge-request-timeout", type=float, default=120.0, metavar="S",
                        help="seconds to wait for one judge reply before retrying it (default 120)")
    parser.add_argument("--judge-runs", type=int, default=1, help="score N judge runs, report mean and std")
    parser.add_argument("--charts", action="store_true",
                        help="also draw a PNG bar chart per breakdown beside report.md (needs matplotlib)")
    parser.add_argument("--answer-reading", metavar="NAME",
                        help="how answers are read, for tasks that offer several readings (default: the "
                        "task's official one; e.g. `strict` for MMBench; see docs/tasks.md)")


def _add_reply_reading(parser: argparse.ArgumentParser, run: bool) -> None:
    """How replies are read before a task sees them (vlmeval.reasoning)."""
    parser.add_argument("--reasoning-tags", metavar="OPEN,CLOSE", help="the tags around a reasoning block, "
                        "removed before the task reads the answer (default <think>,</think>)")
    parser.add_argument("--stop", action="append", default=[], metavar="TEXT",
                        help="cut the answer at TEXT, only after any reasoning block has closed (repeatable)")
    budget = f"default --max-new-tokens {REASONING_MAX_NEW_TOKENS}, and " if run else ""
    parser.add_argument("--reasoning", action="store_true",
                        help=f"the model reasons before answering: {budget}a reply cut by the token limit "
                        "before a closing tag is unfinished_reasoning")


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """What every model backend takes: arguments, template switches, a system turn, an image limit."""
    group = parser.add_argument_group("model arguments (every backend that runs a model)")
    group.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                       help="passed to the backend (repeatable; VALUE read as JSON where it parses): the "
                       "processor's from_pretrained for a checkpoint (min_pixels, max_pixels, use_fast; "
                       "model.KEY for the model's), request body fields for openai:NAME")
    group.add_argument("--chat-template-arg", action="append", default=[], metavar="KEY=VALUE",
                       help="passed to apply_chat_template (a server's chat_template_kwargs), e.g. "
                       "enable_thinking=false (repeatable)")
    group.add_argument("--system-prompt", metavar="TEXT|@FILE", help="a system turn before every prompt "
                       "(chat and vicuna_v1 styles, servers); @FILE reads it from FILE")
    group.add_argument("--max-images", type=int, metavar="N", help="images the model or server takes per "
                       "prompt (vLLM's --limit-mm-per-prompt); a sample with more fails as too_many_images")


def _add_verbosity(parser: argparse.ArgumentParser, top_level: bool) -> None:
    """-v/-q on the main parser and on every subcommand, so they work before or after it.

    A subcommand's copy defaults to SUPPRESS: it sets the value only when given there, and never
    overwrites what the main parser already set.
    """
    default = False if top_level else argparse.SUPPRESS
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="store_true", default=default,
                       help="log more detail (what each step did, in sentences)")
    group.add_argument("-q", "--quiet", action="store_true", default=default,
                       help="print only results, warnings and errors (no progress)")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vlmeval")
    except PackageNotFoundError:
        return "unknown (not installed)"


class _Subcommands(argparse._SubParsersAction):
    """Subparsers that all get -v/-q."""

    def add_parser(self, name: str, **kwargs: object) -> argparse.ArgumentParser:  # type: ignore[override]
        parser = super().add_parser(name, **kwargs)  # type: ignore[arg-type]
        _add_verbosity(parser, top_level=False)
        return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vlmeval", description="Evaluate vision-language models.")
    parser.add_argument("--version", action="version", version=f"vlmeval {_version()}")
    _add_verbosity(parser, top_level=True)
    parser.register("action", "parsers", _Subcommands)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="evaluate a model on tasks and write a report per task")
    _add_task_source(run, several=True)
    run.add_argument("--model", required=True,
                     help="checkpoint folder or hub id, `demo`, `openai:NAME`, or `replay:FILE.jsonl`")
    run.add_argument("--batch-size", type=_batch_size, default=8, metavar="N|auto",
                     help="samples per generate call (default 8); auto: start at --max-batch-size and halve "
                     "whenever a batch runs out of GPU memory, keeping the largest size that fits")
    run.add_argument("--max-batch-size", type=int, metavar="N",
                     help="where --batch-size auto starts (default 64, as lm-evaluation-harness's --max_batch_size)")
    run.add_argument("--max-new-tokens", type=int, help="default: the task's")
    run.add_argument("--temperature", type=float, default=0.0, help="0 means greedy (default)")
    run.add_argument("--top-p", type=float, default=1.0)
    run.add_argument("--num-beams", type=int, default=1)
    run.add_argument("--repetition-penalty", type=float, default=1.0)
    run.add_argument("--seed", type=int, default=0)
    _add_reply_reading(run, run=True)
    _add_model_arguments(run)
    for kind in backend_kinds():  # each kind declares its own options (vlmeval.backends.kind)
        group = run.add_argument_group(f"{kind.name} backend")
        for option in kind.options:
            option.add_to(group)
    run.add_argument("--output", default="results", help="results folder (default results/)")
    run.add_argument("--run-name", help="subfolder of --output (default: from the model name)")
    run.add_argument("--label", help="a name for this run in leaderboards (`leaderboard --row label`), "
                     "e.g. step-2000; recorded in report.json")
    run.add_argument("--subset", metavar="NAME", help="a fixed stratified subset of each task, the same "
                     "questions at every step: quick (about 500 questions; `vlmeval tasks` lists them)")
    run.add_argument("--log-to", action="append", default=[], metavar="TARGET",
                     help="also log the metrics as scalars: tensorboard:DIR or wandb[:PROJECT] (repeatable)")
    run.add_argument("--step", type=int, help="the step --log-to logs at (default: N of a --label step-N, else 0)")
    run.add_argument("--restart", action="store_true", help="delete the run folder's answers and "
                     "reports first and start over (needed to change what decides the answers)")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    run.add_argument("--shards", type=int, help="worker processes, each with its own model replica "
                     "(default: one per visible GPU, one on a CPU); ignored under torchrun/Slurm")
    run.add_argument("--gpus-per-shard", type=int, default=1, help="GPUs per shard, for models "
                     "that do not fit on one (default 1)")
    _add_judge(run)

    score = commands.add_parser("score", help="score a predictions file without a model")
    _add_task_source(score)
    score.add_argument("--predictions", required=True, help="JSONL with `id` and `prediction` per line")
    score.add_argument("--output", help="folder for report.json and predictions.jsonl "
                       "(default: results/scored/<predictions file name>/<task>; a folder holds the "
                       "scores of one predictions file)")
    score.add_argument("--label", help="a name for these predictions in leaderboards (see `run --label`)")
    _add_reply_reading(score, run=False)
    _add_judge(score)

    check = commands.add_parser("judge-check", help="re-judge a task's anchor set (answers with the official "
                                "judge's recorded verdicts) with a candidate judge and report the agreement")
    _add_task_source(check)
    check.add_argument("--anchors", metavar="FILE", help="an anchor file (default: the one the task ships)")
    check.add_argument("--max-diff", type=float, metavar="X", help="exit 1 when the task's primary metric on "
                       "the anchors differs from the recorded one by more than X points")
    check.add_argument("-o", "--output", metavar="FILE", help="also write the Markdown to FILE")
    _add_judge(check)

    merge = commands.add_parser("merge", help="merge a sharded run's answers and score them")
    merge.add_argument("run_dir", metavar="RUN_DIR", help="a task folder written by `vlmeval run`")
    _add_judge(merge)

    tasks = commands.add_parser("tasks", help="list the available tasks and suites")
    tasks.add_argument("--tasks-dir", action="append", default=[], metavar="DIR")
    _add_report_commands(commands)
    return parser


def _add_report_commands(commands: argparse._SubParsersAction) -> None:
    compare = commands.add_parser("compare", help="compare two runs per task and metric (Markdown)")
    compare.add_argument("run_a", metavar="RUN_A", help="run folder, report.json, or a folder of runs")
    compare.add_argument("run_b", metavar="RUN_B", help="the same for the run to check against RUN_A")
    compare.add_argument("--fail-on-regression", type=float, metavar="X",
                         help="exit 1 when a metric drops by more than X points with p < --alpha")
    compare.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    compare.add_argument("--primary-only", action="store_true", help="only each task's primary metric")
    compare.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    compare.add_argument("-o", "--output", metavar="FILE", help="also write the Markdown to FILE")
    compare.add_argument("--chart", metavar="FILE.png", help="write a chart of the differences")
    compare.add_argument("--view", metavar="FILE.html", help="also write the two-run browser page "
                         "(`vlmeval view RUN_A RUN_B`) of each shared task")
    compare.add_argument("--tasks-dir", action="append", default=[], metavar="DIR")

    view = commands.add_parser("view", help="one self-contained HTML page of a run's samples, or of "
                               "what changed between two runs")
    view.add_argument("runs", nargs="+", metavar="RUN_DIR", help="a run folder; a second one to see "
                      "the samples whose verdict flipped between them")
    view.add_argument("-o", "--output", metavar="FILE.html",
                      help="the page (default: view.html in the (last) run folder)")
    view.add_argument("--task", help="the task to show when a folder holds runs of several")
    view.add_argument("--data", help="where the samples' images are, when not where the run read them")
    view.add_argument("--thumbnails", type=int, default=2000, metavar="N",
                      help="embed at most N downscaled images (default 2000; 0: none)")
    view.add_argument("--tasks-dir", action="append", default=[], metavar="DIR")

    board = commands.add_parser("leaderboard", help="one table of models x tasks from run reports")
    board.add_argument("dirs", nargs="+", metavar="DIR", help="folders searched for report.json files")
    board.add_argument("--format", default="md", choices=["md", "csv", "latex", "html", "json"])
    board.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    board.add_argument("--suite", metavar="NAME", help="lay the columns out as the suite's table: its tasks "
                       "in its order, its metric and decimals per column (e.g. llava_v1.5)")
    board.add_argument("--reference", action="store_true",
                       help="with --suite: append the suite's published rows (model cards, papers), each "
                       "with its source, below the runs (marked ref, never ranked)")
    board.add_argument("--tasks-dir", action="append", default=[], metavar="DIR")
    board.add_argument("--row", default="model", choices=["model", "run", "label"],
                       help="what names a row: the model (default), the run folder name, or the --label "
                       "given at run time (the run name where none was given)")

    trend = commands.add_parser("trend", help="metrics over training steps (runs labelled step-N): charts "
                                "with 95%% intervals and the steps that moved significantly")
    trend.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders, report files or folders of runs")
    trend.add_argument("--format", default="html", choices=["html", "md"],
                       help="html: a self-contained page (default); md: the table, e.g. for a CI summary")
    trend.add_argument("-o", "--output", metavar="FILE",
                       help="where to write (default: trend.html for html, stdout for md)")
    trend.add_argument("--charts", metavar="DIR", help="also write one PNG per metric into DIR (needs matplotlib)")
    trend.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    trend.add_argument("--primary-only", action="store_true", help="only each task's primary metric")
    trend.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    trend.add_argument("--tasks-dir", action="append", default=[], metavar="DIR")


class _LogFormat(logging.Formatter):
    """-v's detail lines read as plain sentences; warnings and errors keep their level and source."""

    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage() if record.levelno == logging.INFO else super().format(record)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # workers started by --shards re-run the same command line
    from vlmeval import console

    original_stderr = console.track_stderr()  # before logging and progress bars take sys.stderr
    try:
        return _main(args)
    finally:
        sys.stderr = original_stderr


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


def _main(args: argparse.Namespace) -> int:
    import signal
    import threading

    on_main_thread = threading.current_thread() is threading.main_thread()
    # SIGTERM stops a run as SIGINT does (cleanup runs, one line says what is kept), not silently
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if on_main_thread else None
    try:
        return _command(args)
    finally:
        if on_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _command(args: argparse.Namespace) -> int:
    level = logging.INFO if args.verbose else logging.ERROR if args.quiet else logging.WARNING
    handler = logging.StreamHandler()
    handler.setFormatter(_LogFormat("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    install_log_redaction()
    from vlmeval import console

    console.configure(quiet=args.quiet, verbose=args.verbose)
    try:
        from vlmeval import commands

        from vlmeval.engine.memory import collector_paused

        handler = getattr(commands, f"cmd_{args.command.replace('-', '_')}")
        # whatever a command prints: no credentials, no query values; bulk data: no collector passes
        with redacted_output(), collector_paused():
            return int(handler(args))
    except VlmevalError as exc:
        console.error_line(f"vlmeval: error: {redact(str(exc))}")
        return EXIT_USAGE
    except (KeyboardInterrupt, Terminated) as exc:
        signal_name = "SIGINT" if isinstance(exc, KeyboardInterrupt) else "SIGTERM"
        console.error_line(f"vlmeval: stopped by {signal_name}; answers so far are kept, re-run the command "
                           "to resume")
        return EXIT_INTERRUPTED if isinstance(exc, KeyboardInterrupt) else EXIT_TERMINATED


def entry() -> None:
    sys.exit(main())

