"""What rendering the leaderboard's Markdown/CSV/LaTeX through pandas would cost `vlmeval leaderboard`.

Issue 18 asked for `DataFrame.to_markdown` / `to_csv` / `Styler.to_latex` unless a measured reason
says otherwise. This prints that measurement: fresh-process wall times of `vlmeval leaderboard
--format md|csv|latex` as shipped (stdlib `csv` and string joins; pandas is not imported), whether
the command imports pandas, and what the pandas route would add on top: `import pandas`, plus
`tabulate` (which `to_markdown` needs) and `pandas.io.formats.style` with jinja2 (`Styler.to_latex`).

Each figure is the median of `--runs` fresh interpreters after one untimed warm-up run. The
leaderboard reads `--models` synthetic runs of 6 tasks each, built on the spot.

Run: ``python benchmarks/leaderboard_tables.py [--runs N] [--models N]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import bench_env, median, print_header, run_process, spread, workdir

TASKS = ("gqa", "mmb", "mme", "pope", "sqa", "textvqa")
_PROBE = ("import sys\nfrom vlmeval.cli import main\ncode = main(sys.argv[1:])\n"
          "print('PANDAS', 'pandas' in sys.modules, 'jinja2' in sys.modules, 'tabulate' in sys.modules,"
          " file=sys.stderr)\nraise SystemExit(code)\n")


def write_runs(root: Path, models: int) -> None:
    from vlmeval.io import atomic_write_json

    for m in range(models):
        for t, task in enumerate(TASKS):
            points = task == "mme"
            value = 1200.0 + 10 * m + t if points else 40.0 + m + t / 3
            metric = "perception" if points else "accuracy"
            atomic_write_json(root / f"model-{m}" / task / "report.json", {
                "schema_version": 2, "n_samples": 100, "complete": True, "counts": {"answered": 100},
                "task": task, "model": f"model-{m}", "scored": True, "primary_metric": metric,
                "metrics": {metric: value}, "metrics_n": {metric: 100}, "ci": {metric: [value - 2, value + 2]},
                "metric_scales": {metric: "points" if points else "percent"},
                "created": "2026-01-01T00:00:00+00:00", "breakdown": {}})


def time_command(command: list[str], runs: int) -> list[float]:
    env = bench_env()
    run_process(command, env=env).check()  # warm-up: file cache, bytecode where allowed
    return [run_process(command, env=env).check().wall_s for _ in range(runs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--workdir", default=None, help="keep the synthetic runs here")
    args = parser.parse_args()
    print_header("leaderboard tables", {"runs": args.runs, "models": args.models, "tasks": len(TASKS)})
    python = sys.executable
    floor = time_command([python, "-c", "pass"], args.runs)
    print(f"  python -c pass (floor)                 {spread(floor)}")
    with workdir(args.workdir, "vlmeval-leaderboard-") as root:
        write_runs(root, args.models)
        for fmt in ("md", "csv", "latex"):
            command = [python, "-c", _PROBE, "leaderboard", str(root), "--format", fmt]
            walls = time_command(command, args.runs)
            probe = run_process(command, env=bench_env()).check().stderr.split("PANDAS ")[-1].split()
            print(f"  vlmeval leaderboard --format {fmt:<6}     {spread(walls)}; imports pandas {probe[0]}, "
                  f"jinja2 {probe[1]}, tabulate {probe[2]}")
    added = {"import pandas": "import pandas",
             "pandas + tabulate (to_markdown)": "import pandas, tabulate",
             "pandas + Styler, jinja2 (to_latex)": "import pandas\nfrom pandas.io.formats.style import Styler"}
    base = median(floor)
    for label, code in added.items():
        if run_process([python, "-c", code]).returncode != 0:  # tabulate is no dependency of vlmeval
            print(f"  {label:<38} not measured: a module is not installed (pip install tabulate)")
            continue
        walls = time_command([python, "-c", code], args.runs)
        print(f"  {label:<38} {spread(walls)}; +{median(walls) - base:.3f} s over the floor")


if __name__ == "__main__":
    main()
