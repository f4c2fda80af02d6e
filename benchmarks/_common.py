"""Helpers shared by the benchmark scripts: the machine, timing fresh processes, synthetic data.

Every script prints `machine_lines()` first, then its settings, then its figures. Figures are
wall-clock times on whatever else the machine is doing, so the load average is printed with them.
"""

from __future__ import annotations

import io
import os
import platform
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `python benchmarks/x.py` from a checkout

# ScienceQA-FULL test: 4,241 questions, 2,017 of them with an image (lmms-lab/ScienceQA).
SQA_QUESTIONS = 4241
SQA_IMAGE_SHARE = 2017 / 4241


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> str:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        return f"{pages * size / 2**30:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        return "?"


def accelerator(import_torch: bool) -> str:
    """The device a `--device auto` run would use; importing torch only when asked (it is slow)."""
    if not import_torch:
        return "not probed"
    try:
        import torch
    except ImportError:
        return "no torch"
    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)} (x{torch.cuda.device_count()})"
    return f"cpu (torch threads {torch.get_num_threads()})"


def machine_lines(import_torch: bool = False) -> list[str]:
    return [
        (f"machine: {platform.platform()} | {_cpu_model()} | {usable_cpus()} usable CPUs "
         f"(os.cpu_count {os.cpu_count()}) | {_memory_gib()} RAM"),
        (f"python {platform.python_version()} | torch {_package('torch')} | transformers "
         f"{_package('transformers')} | vlmeval {_package('vlmeval')} | device: {accelerator(import_torch)}"),
        load_average(),
    ]


def print_header(title: str, settings: Mapping[str, Any], import_torch: bool = False) -> None:
    print(f"== {title} ==")
    for line in machine_lines(import_torch):
        print(line)
    print("settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    sys.stdout.flush()


@dataclass(frozen=True)
class ProcessRun:
    command: str
    wall_s: float
    peak_rss_mib: float  # the child's own maximum resident set (wait4), not earlier children's
    cpu_s: float  # user + system CPU seconds of the child: less sensitive to other load than wall
    returncode: int
    stdout: str
    stderr: str

    def check(self) -> ProcessRun:
        if self.returncode != 0:
            raise SystemExit(f"command failed ({self.returncode}): {self.command}\n{self.stderr[-3000:]}")
        return self


def run_process(command: Sequence[str], env: Mapping[str, str] | None = None,
                cwd: Path | None = None, timeout: float | None = None) -> ProcessRun:
    """Run `command` in a fresh process: wall time and that process's own peak memory."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(list(command), stdout=out, stderr=err, cwd=cwd or REPO,
                                   env=dict(env) if env is not None else None)
        deadline = None if timeout is None else start + timeout
        while True:  # wait4 rather than Popen.wait: it returns this child's rusage
            pid, status, usage = os.wait4(process.pid, os.WNOHANG if deadline else 0)
            if pid:
                break
            if deadline and time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.01)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        scale = 1024 if sys.platform != "darwin" else 1  # ru_maxrss: KiB on Linux, bytes on macOS
        return ProcessRun(shlex.join(command), wall, usage.ru_maxrss * scale / 2**20,
                          usage.ru_utime + usage.ru_stime, process.returncode, out.read().decode(errors="replace"),
                          err.read().decode(errors="replace"))


def vlmeval_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "vlmeval", *args]


def bench_env(**extra: str) -> dict[str, str]:
    """This environment, with the checkout importable, plus `extra`."""
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float]) -> str:
    return f"median {median(values):.3f} s (min {min(values):.3f}, max {max(values):.3f}, n={len(values)})"


@contextmanager
def workdir(path: str | Path | None, prefix: str) -> Iterator[Path]:
    """`path` when given (kept), else a temporary folder removed afterwards."""
    if path is not None:
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
        yield Path(scratch)


def require_tasks() -> None:
    """The built-in tasks are an entry point: they need `pip install -e .` once."""
    try:
        import vlmeval_tasks  # noqa: F401
    except ImportError:
        raise SystemExit("vlmeval is not installed: run `pip install -e .` in the checkout first") from None


def tasks_from_checkout() -> str:
    """The built-in tasks, installed (`pip install -e .`) or else imported from this checkout's tasks/.

    On a machine where vlmeval cannot be installed (a borrowed GPU machine without network),
    `vlmeval_tasks` is made the checkout's tasks/ folder and its task files are imported, which
    registers them as the entry points would. Returns how the tasks were found.
    """
    import importlib
    import importlib.util

    try:
        import vlmeval_tasks  # noqa: F401
        return "installed"
    except ImportError:
        pass
    folder = REPO / "tasks"
    spec = importlib.util.spec_from_file_location("vlmeval_tasks", folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    if spec is None or spec.loader is None:
        raise SystemExit(f"vlmeval is not installed and {folder} is not a task package")
    package = importlib.util.module_from_spec(spec)
    sys.modules["vlmeval_tasks"] = package
    spec.loader.exec_module(package)
    for file in sorted(folder.glob("*.py")):
        if not file.name.startswith("_"):
            importlib.import_module(f"vlmeval_tasks.{file.stem}")
    return f"imported from {folder} (vlmeval is not installed)"


# --- a synthetic ScienceQA split in the lmms-lab/ScienceQA (ScienceQA-FULL, test) schema ---------

_SUBJECTS = ("natural science", "social science", "language science")
_WORDS = ("which", "of", "these", "is", "the", "most", "likely", "map", "animal", "force", "magnet",
          "state", "sentence", "word", "capital", "colder", "heavier", "liquid", "solid", "gas",
          "picture", "shows", "select", "best", "answer", "property", "material", "trait", "inherited")


def png(rng: random.Random, size: int) -> bytes:
    """A small PNG with a few coloured rectangles (not a flat colour, so it does not compress away)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size, size), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x0, y0 = rng.randrange(size), rng.randrange(size)
        draw.rectangle((x0, y0, x0 + size // 3, y0 + size // 4), fill=tuple(rng.randrange(256) for _ in range(3)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _sentence(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(low, high))).capitalize()


def sqa_rows(n: int, image_share: float = SQA_IMAGE_SHARE, image_size: int = 32,
             seed: int = 0) -> list[dict[str, Any]]:
    """`n` rows in the hub schema: 2-5 choices, hints on about half, images on `image_share`."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        choices = [_sentence(rng, 1, 4) for _ in range(rng.randint(2, 5))]
        has_image = rng.random() < image_share
        rows.append({
            "image": {"bytes": png(rng, image_size), "path": None} if has_image else None,
            "question": _sentence(rng, 5, 16) + "?",
            "choices": choices,
            "answer": rng.randrange(len(choices)),
            "hint": _sentence(rng, 6, 40) + "." if rng.random() < 0.5 else "",
            "task": "closed choice",
            "grade": f"grade{rng.randint(1, 12)}",
            "subject": rng.choice(_SUBJECTS),
            "topic": "synthetic",
            "category": "synthetic",
            "skill": "synthetic",
            "lecture": _sentence(rng, 10, 30),
            "solution": _sentence(rng, 5, 20),
        })
    return rows


_STRING = {"dtype": "string", "_type": "Value"}
# The `datasets` features the hub's files carry in their schema metadata: with them `datasets`
# (and so lmms-eval) decodes the image column to PIL images, as it does for the real split.
SQA_FEATURES = {
    "image": {"_type": "Image"}, "question": _STRING, "choices": {"feature": _STRING, "_type": "List"},
    "answer": {"dtype": "int64", "_type": "Value"},
    **{name: _STRING for name in ("hint", "task", "grade", "subject", "topic", "category", "skill",
                                  "lecture", "solution")},
}


def write_sqa_parquet(folder: Path, n: int, image_share: float = SQA_IMAGE_SHARE,
                      image_size: int = 32, seed: int = 0, row_group_size: int = 100) -> Path:
    """A hub-layout file `folder/test-00000-of-00001.parquet`, in row groups of 100 rows as
    `datasets` 2.x wrote image splits (its PARQUET_ROW_GROUP_SIZE_FOR_IMAGE_DATASETS)."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "test-00000-of-00001.parquet"
    table = pa.Table.from_pylist(sqa_rows(n, image_share, image_size, seed))
    table = table.replace_schema_metadata({"huggingface": json.dumps({"info": {"features": SQA_FEATURES}})})
    pq.write_table(table, path, row_group_size=row_group_size)
    return path
