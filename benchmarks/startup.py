"""Start-up time of the `vlmeval` command: `vlmeval --help` and `vlmeval tasks`, fresh processes.

Each figure is the median of `--runs` fresh interpreters after one untimed warm-up run (which
writes bytecode caches where Python is allowed to). The command is the installed console script
beside this interpreter (what `vlmeval` runs after `pip install`), without any shell shim; a bare
interpreter (`python -c pass`) is timed the same way as the floor no Python command gets under.

Where PYTHONDONTWRITEBYTECODE is set (it is on this project's machines) nothing is cached and
every run compiles vlmeval's own modules again; `--bytecode` also times the runs with caches
written to a temporary PYTHONPYCACHEPREFIX, as on a user's normal install.

It also says which heavy packages (torch, transformers, accelerate, datasets, matplotlib) `--help`,
`tasks`, `score`, `compare` and `leaderboard` import: none, with every package installed.

Run: ``python benchmarks/startup.py [--runs N] [--no-bytecode]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import median, print_header, run_process, spread

TARGETS = {"--help": 0.3, "tasks": 1.0}


def console_script() -> list[str]:
    """The installed entry point next to this interpreter, else `python -m vlmeval`."""
    script = Path(sys.executable).parent / "vlmeval"
    if script.is_file():
        return [str(script)]
    found = shutil.which("vlmeval")
    return [found] if found else [sys.executable, "-m", "vlmeval"]


def time_command(command: list[str], env: dict[str, str], runs: int) -> tuple[list[float], list[float]]:
    """(wall seconds, CPU seconds) of `runs` fresh processes after one warm-up."""
    run_process(command, env=env).check()  # warm-up: file cache, bytecode where allowed
    done = [run_process(command, env=env).check() for _ in range(runs)]
    return [r.wall_s for r in done], [r.cpu_s for r in done]


def measure(label: str, env: dict[str, str], runs: int) -> dict[str, float]:
    vlmeval = console_script()
    print(f"-- {label}")
    floor, floor_cpu = time_command([sys.executable, "-c", "pass"], env, runs)
    print(f"  python -c pass (floor)   {spread(floor)}; CPU median {median(floor_cpu):.3f} s")
    medians = {}
    for args in (["--help"], ["tasks"]):
        walls, cpus = time_command([*vlmeval, *args], env, runs)
        medians[args[0]] = median(walls)
        target = TARGETS[args[0]]
        verdict = "met" if medians[args[0]] < target else "MISSED"
        print(f"  vlmeval {args[0]:<16} {spread(walls)}; CPU median {median(cpus):.3f} s; "
              f"target < {target} s wall: {verdict}")
    return medians


HEAVY = ("torch", "transformers", "accelerate", "datasets", "matplotlib")
_PROBE = ("import sys, time\nstart = time.perf_counter()\nfrom vlmeval.cli import main\n"
          "try:\n    code = main(sys.argv[1:])\nexcept SystemExit as exit:\n    code = exit.code\n"
          f"print('PROBE', time.perf_counter() - start, code, ','.join(m for m in {HEAVY!r} if m in sys.modules),"
          " file=sys.stderr)\n")


def heavy_imports(runs: int) -> None:
    """Which heavy packages `--help`, `tasks`, `score`, `compare`, `leaderboard` import (none is the aim)."""
    import subprocess

    print(f"-- heavy packages imported ({', '.join(HEAVY)}); in-process seconds, median of {runs}")
    with tempfile.TemporaryDirectory(prefix="vlmeval-startup-") as scratch:
        work = Path(scratch)
        from vlmeval.engine.samples import load_samples
        from vlmeval.registry import load_registry

        samples = load_samples(load_registry().get("sqa"), "demo", None, None).samples
        predictions = work / "p.jsonl"
        predictions.write_text("".join(f'{{"id": "{s.id}", "prediction": "A"}}\n' for s in samples))
        score = ["score", "--task", "sqa", "--data", "demo", "--predictions", str(predictions)]
        commands = {"--help": ["--help"], "tasks": ["tasks"], "score": [*score, "--output", str(work / "a")],
                    "compare": ["compare", str(work / "a"), str(work / "a")],
                    "leaderboard": ["leaderboard", str(work / "a")]}
        for name, args in commands.items():
            seconds, loaded = [], set()
            for _ in range(runs):
                child = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True,
                                       check=False)
                line = next(x for x in child.stderr.splitlines() if x.startswith("PROBE"))
                _, took, code, names = (line.split(" ") + [""])[:4]
                if code != "0":
                    raise SystemExit(f"vlmeval {name} failed: {child.stderr[-1000:]}")
                seconds.append(float(took))
                loaded.update(filter(None, names.split(",")))
            print(f"  vlmeval {name:<12} {median(seconds):.3f} s; imports: {', '.join(sorted(loaded)) or 'none of them'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-bytecode", dest="bytecode", action="store_false",
                        help="skip the runs with bytecode caches written")
    args = parser.parse_args()
    print_header("start-up", {"runs": args.runs, "command": " ".join(console_script()),
                              "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE", "unset")})
    measure("as this environment is configured", dict(os.environ), args.runs)
    heavy_imports(max(1, min(args.runs, 3)))
    if args.bytecode:
        with tempfile.TemporaryDirectory(prefix="vlmeval-pycache-") as cache:
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            env["PYTHONPYCACHEPREFIX"] = cache
            measure("with bytecode caches (a normal install)", env, args.runs)


if __name__ == "__main__":
    main()
