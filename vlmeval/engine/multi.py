"""Several tasks in one command (`--tasks a,b`, `--suite NAME`): per-task data, one model, one summary.

`--data` values: `TASK=PATH` gives one task its data (repeatable); a bare value is, with one task,
that task's data as always, and with several, a folder holding one subfolder per task, named after
the task or after its hub dataset (the part of the hub id after `/`, as `hf download OWNER/NAME
--local-dir DIR/NAME` writes it; tasks on one dataset share it), or `demo` (every task's bundled
demo split). A task whose data is not there is reported as missing, counted,
and makes the exit status non-zero; the other tasks run. Without `--data` every task reads its hub copy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vlmeval import console
from vlmeval.engine.samples import DEMO
from vlmeval.errors import UsageError, VlmevalError
from vlmeval.task import Task

EXIT_OK = 0
EXIT_DATA = 2


@dataclass(frozen=True)
class TaskData:
    """Where one task's data is: `path` (None: the hub copy), or why there is none (`missing`)."""

    path: str | None
    missing: str | None = None


def resolve_data(tasks: Sequence[Task], values: Sequence[str]) -> dict[str, TaskData]:
    """Each task's data from the `--data` values (see the module docstring)."""
    names = {t.name for t in tasks}
    explicit: dict[str, str] = {}
    bare: list[str] = []
    for value in values:
        name, sep, path = value.partition("=")
        if sep and name in names:
            if name in explicit:  # last-wins would run on data the user may not have meant
                raise UsageError(f"--data gives task {name} twice ({explicit[name]} and {path}); give it once")
            explicit[name] = path
        elif sep and name and "/" not in name and not Path(value).exists():
            raise UsageError(f"--data {value}: {name!r} is not one of the tasks run ({', '.join(sorted(names))})")
        else:
            bare.append(value)
    if len(bare) > 1:
        raise UsageError(f"--data takes one folder for all tasks (got {', '.join(bare)}); "
                         f"give the others as TASK=PATH")
    root = bare[0] if bare else None
    resolved = {}
    for task in tasks:
        if task.name in explicit:
            resolved[task.name] = TaskData(explicit[task.name])
        elif root is None or len(tasks) == 1:
            resolved[task.name] = TaskData(root)
        else:
            resolved[task.name] = _under_root(task, root)
    return resolved


def _under_root(task: Task, root: str) -> TaskData:
    if root == DEMO:
        if task.data.demo is None and task.demo_rows is None:
            return TaskData(None, missing="no bundled demo split")
        return TaskData(DEMO)
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise UsageError(f"--data {root}: with several tasks, a bare --data names a folder holding one "
                         f"subfolder per task or dataset (or use TASK=PATH)")
    candidates = [task.name, task.data.hub.rsplit("/", 1)[-1]]
    for name in candidates:
        for child in (folder / name, *(p for p in folder.iterdir() if p.name.lower() == name.lower())):
            if child.exists():
                return TaskData(str(child))
    looked = " or ".join(str(folder / name) for name in dict.fromkeys(candidates))
    return TaskData(None, missing=f"no data: looked for {looked}")


@dataclass
class TaskOutcome:
    task: str
    status: str  # done, incomplete, missing data, failed
    exit_code: int
    detail: str = ""


def run_tasks(tasks: Sequence[Task], data: dict[str, TaskData], run_one: Callable[[Task, str | None], int]) -> int:
    """Run each task in order with `run_one(task, data path)`; report every outcome; the exit status.

    A task's missing data or error is reported and counted, and the next task runs. Exit 0 when every
    task is done; 2 when any task's data was missing or a task stopped with an error; otherwise the
    largest exit status of the tasks (3: answers missing, 4: a shard failed).
    """
    outcomes = []
    for task in tasks:
        where = data[task.name]
        if where.missing is not None:
            console.error_line(f"vlmeval: error: task {task.name}: {where.missing}; skipped")
            outcomes.append(TaskOutcome(task.name, "missing data", EXIT_DATA, where.missing))
            continue
        print(f"== {task.name} ==")
        try:
            code = run_one(task, where.path)
        except VlmevalError as exc:
            console.error_line(f"vlmeval: error: task {task.name}: {exc}")
            outcomes.append(TaskOutcome(task.name, "failed", EXIT_DATA, str(exc).splitlines()[0]))
            continue
        outcomes.append(TaskOutcome(task.name, "done" if code == EXIT_OK else "incomplete", code))
    _print_outcomes(outcomes)
    if any(o.status in ("missing data", "failed") for o in outcomes):
        return EXIT_DATA
    return max((o.exit_code for o in outcomes), default=EXIT_OK)


def _print_outcomes(outcomes: Sequence[TaskOutcome]) -> None:
    width = max(len(o.task) for o in outcomes)
    counts = {status: sum(o.status == status for o in outcomes)
              for status in ("done", "incomplete", "missing data", "failed")}
    print("\ntasks: " + ", ".join(f"{n} {status}" for status, n in counts.items() if n))
    for o in outcomes:
        detail = f"  ({o.detail})" if o.detail else ""
        print(f"  {o.task:<{width}}  {o.status}{detail}")
