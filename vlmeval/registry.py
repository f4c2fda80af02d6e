"""Finding tasks: the `vlmeval.tasks` entry-point group and task folders named by the user.

Built-in tasks are an entry point like any third-party package's. An entry point may name a module
(its `@task` decorators register when it is imported) or a package: then every module in it not
starting with `_` is imported too, so a new file in a source checkout's `tasks/` is found without
re-installing. Folders are imported only when the user names them (`--tasks-dir`,
`VLMEVAL_TASKS_PATH`): importing a file runs its code. A name defined in two files is an error
naming both (`vlmeval.named`).
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import os
import pkgutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

from vlmeval.errors import UsageError
from vlmeval.suite import Suite, registered_suites
from vlmeval.suite import registration_conflicts as suite_conflicts
from vlmeval.task import Task, registered_factories, registration_conflicts

ENTRY_POINT_GROUP = "vlmeval.tasks"
TASKS_PATH_ENV = "VLMEVAL_TASKS_PATH"


@dataclass
class Registry:
    factories: dict[str, Callable[[], Task]]
    problems: list[str] = field(default_factory=list)
    suites: dict[str, Callable[[], Suite]] = field(default_factory=dict)

    def names(self) -> list[str]:
        return sorted(self.factories)

    def get(self, name: str) -> Task:
        factory = self.factories.get(name)
        if factory is None:
            raise UsageError(self._unknown(name))
        return factory()

    def suite(self, name: str) -> Suite:
        factory = self.suites.get(name)
        if factory is None:
            known = ", ".join(sorted(self.suites)) or "none"
            raise UsageError(f"unknown suite {name!r} (known: {known})")
        return factory()

    def _unknown(self, name: str) -> str:
        close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `vlmeval tasks` lists them"
        problems = f" ({'; '.join(self.problems)})" if self.problems else ""
        return f"unknown task {name!r}{hint}{problems}"


def load_registry(task_dirs: Sequence[str] = ()) -> Registry:
    """Import every task module from entry points and the named folders, then read the registry."""
    problems: list[str] = []
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry_point.load()
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not hide the others
            problems.append(f"task plugin {entry_point.value!r} failed to import: {_one_line(exc)}")
            continue
        if hasattr(loaded, "__path__"):  # a package: each of its modules
            problems.extend(_import_package_modules(loaded.__name__, loaded.__path__))
    for folder in [*task_dirs, *_env_dirs()]:
        problems.extend(_import_folder(Path(folder)))
    conflicts = registration_conflicts() + suite_conflicts()
    if conflicts:
        raise UsageError(conflicts[0])
    return Registry(factories=registered_factories(), problems=problems, suites=registered_suites())


def _import_package_modules(package: str, path: Sequence[str]) -> list[str]:
    problems = []
    for module in pkgutil.iter_modules(path):
        if module.name.startswith("_"):
            continue
        try:
            importlib.import_module(f"{package}.{module.name}")
        except Exception as exc:  # noqa: BLE001 - name the module, keep the other tasks
            problems.append(f"task module {package}.{module.name} failed to import: {_one_line(exc)}")
    return problems


def _env_dirs() -> list[str]:
    value = os.environ.get(TASKS_PATH_ENV, "")
    return [part for part in value.split(os.pathsep) if part]


def _import_folder(folder: Path) -> list[str]:
    if not folder.is_dir():
        raise UsageError(f"task folder {folder} does not exist")
    problems = []
    for file in sorted(folder.glob("*.py")):
        if file.name.startswith("_"):
            continue
        digest = hashlib.sha1(str(file.resolve()).encode()).hexdigest()[:10]
        module_name = f"vlmeval_user_tasks.{file.stem}_{digest}"
        if module_name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(module_name, file)
        if spec is None or spec.loader is None:
            problems.append(f"{file}: not an importable Python file")
            continue
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001 - name the file, keep the other tasks
            del sys.modules[module_name]
            problems.append(f"{file} failed to import: {_one_line(exc)}")
    return problems


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
