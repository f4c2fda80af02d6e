"""The task plugin API: what a benchmark supplies to the engine.

A task is data (where the rows come from), a prompt (row -> Sample), a scorer (samples and
predictions -> per-sample scores) and the metrics that reduce those scores. Tasks register with
the `@task` decorator; the registry finds them through the `vlmeval.tasks` entry-point group and
user folders, built-in ones included.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from vlmeval.failure import Failure
from vlmeval.metrics import Metric
from vlmeval.named import NamedRegistry
from vlmeval.reasoning import ReplyReading
from vlmeval.task_data import DataSpec, ImageJoin, Row, has_split, read_rows  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    from vlmeval.image import LazyImage
    from vlmeval.judge import Judge


# The `Sample.meta` key of a sample's task token: the whole prompt a task-token model (Florence-2)
# gets under `--prompt-style task_token`, e.g. `<CAPTION>`. A benchmark without an official token may
# put its bare question there and set TASK_TOKEN_UNOFFICIAL: the report then says "unofficial prompt".
# A task with neither has its samples refused in that style.
TASK_TOKEN = "task_token"
TASK_TOKEN_UNOFFICIAL = "task_token_unofficial"
UNOFFICIAL_PROMPT = "unofficial prompt: the bare question (no official task token for this benchmark)"


def task_prompt_note(samples: Sequence[Sample]) -> str:
    """What a task-token model was sent, for the report: the official token, or an unofficial prompt."""
    if any(sample.meta.get(TASK_TOKEN_UNOFFICIAL) for sample in samples):
        return UNOFFICIAL_PROMPT
    return "the benchmark's task token"

JUDGE_ERROR = Failure.JUDGE_ERROR  # the name judged tasks imported before `Failure` (vlmeval.failure)


@dataclass(frozen=True)
class Sample:
    """One question as the engine sees it.

    `target` is the ground truth (None where the split hides it); `meta` holds the fields that
    scorers and breakdowns read. Both must be JSON-serialisable: they go into predictions.jsonl.
    `image_offsets` says where each image goes in `text` (character offsets, one per image, in
    order): MMMU's `<image 1>` ... in question and options. None puts every image before the text,
    as single-image benchmarks and LLaVA's prompts do.
    """

    id: str
    text: str
    images: tuple[LazyImage, ...] = ()
    target: Any = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    image_offsets: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        offsets = self.image_offsets
        if offsets is None:
            return
        if len(offsets) != len(self.images) or list(offsets) != sorted(offsets) or (
                offsets and not 0 <= offsets[0] <= offsets[-1] <= len(self.text)):
            raise ValueError(f"sample {self.id}: image_offsets {offsets} must give each of its "
                             f"{len(self.images)} images a place in its text, in order")

    def parts(self) -> list[str | int]:
        """The text and images interleaved in order: strings, and image numbers (0-based) into `images`."""
        return interleave(self.text, self.image_offsets, len(self.images))


def interleave(text: str, offsets: Sequence[int] | None, count: int) -> list[str | int]:
    """`text` split at `offsets` with image numbers 0..count-1 between; None puts them all first."""
    places = offsets if offsets is not None else (0,) * count
    parts: list[str | int] = []
    start = 0
    for number, offset in enumerate(places):
        if offset > start:
            parts.append(text[start:offset])
        parts.append(number)
        start = offset
    if start < len(text) or not parts:
        parts.append(text[start:])
    return parts


def row_images(row: Row, column: str = "image") -> tuple[LazyImage, ...]:
    """A row's image as `Sample.images`: the one image in `column`, or none where the cell is empty."""
    image = row.get(column)
    return (image,) if image is not None else ()

@dataclass(frozen=True)
class Scored:
    """A scorer's verdict on one prediction.

    `failure` names why an answer could not be used (a `Failure`, or a task's own code): such
    answers are scored wrong and counted in the report, never guessed.
    """

    answer: Any
    scores: Mapping[str, float]
    failure: Failure | str | None = None


@dataclass(frozen=True)
class ScoreContext:
    """What a scorer or artifact writer may need beyond the predictions.

    `data` is the local data path the samples came from (`--data`), None for the hub copy: a task
    that must read a sibling split (VQAv2 test-dev's submission lists all of test2015) finds it there.
    `answer_reading` is the reading `--answer-reading` chose among the task's `answer_readings`
    (the engine sets the default, the first, when none was named; None for a task without readings).
    """

    judge: Judge | None = None
    judge_runs: int = 1  # `--judge-runs N`: the engine calls the scorer N times (vlmeval.engine.judge_runs)
    judge_run: int = 0  # which of those calls this is: a judged task passes it on as `JudgeQuery.run`
    output_dir: Path | None = None
    data: str | None = None
    answer_reading: AnswerReading | None = None
    reply_reading: ReplyReading = field(default_factory=ReplyReading)  # reasoning tags, stop sequences

    def reads(self, name: str) -> bool:
        """Whether the chosen answer reading is the one named `name`."""
        return self.answer_reading is not None and self.answer_reading.name == name

    @property
    def output_folder(self) -> Path:
        """Where files beside the report go; the engine always sets it before writing artifacts."""
        if self.output_dir is None:
            raise RuntimeError("this score context has no output folder")
        return self.output_dir

    def require_judge(self, task: str, official_judge: str) -> Judge:
        """The judge of a task that cannot be scored without one; a one-line error naming the fix otherwise."""
        if self.judge is None:
            from vlmeval.errors import UsageError

            raise UsageError(
                f"{task} is scored by an LLM judge and none was given; answers are kept: re-run the same "
                f"command with --judge MODEL --judge-base-url URL (the official judge is {official_judge})"
            )
        return self.judge


@dataclass(frozen=True)
class AnswerReading:
    """One way a task may read answers, named so the report says which was used.

    `official` readings reproduce an official scorer, named with its version in `reference`; the
    others are vlmeval's own and are reported as not official.
    """

    name: str
    description: str
    official: bool
    reference: str | None = None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "official": self.official,
                "reference": self.reference}



@dataclass(frozen=True)
class JudgeRuns:
    """How a judged task's per-sample scores combine over `--judge-runs N` runs, which the engine
    makes (`vlmeval.engine.judge_runs`): `mean` keys are averaged, `per_run` keys kept per run as
    `<key>_run<k>`, `summed` keys added up; the per-run answers become a list."""

    per_run: tuple[str, ...] = ()
    mean: tuple[str, ...] = ()
    summed: tuple[str, ...] = ()

class Scorer(Protocol):
    def __call__(
        self, samples: Sequence[Sample], predictions: Sequence[str | None], context: ScoreContext
    ) -> list[Scored]: ...


def per_sample(score_one: Callable[[Sample, str | None], Scored]) -> Scorer:
    """Lift a one-sample scoring function to the batch-shaped Scorer."""

    def score(
        samples: Sequence[Sample], predictions: Sequence[str | None], context: ScoreContext
    ) -> list[Scored]:
        return [score_one(s, p) for s, p in zip(samples, predictions, strict=True)]

    return score


class ArtifactWriter(Protocol):
    """Writes files a task owes beside its report (e.g. a leaderboard submission).

    Files go into `context.output_dir` (always set here); returns their file names (not paths, so
    a report stays true when its folder moves) for the report.
    """

    def __call__(
        self, samples: Sequence[Sample], predictions: Sequence[str | None], context: ScoreContext
    ) -> list[str]: ...


# Checks, before the first generation, what a task will need to write its outputs; raises DataError.
Preflight = Callable[[Sequence[Sample], ScoreContext], None]


@dataclass(frozen=True)
class Task:
    """A benchmark as the engine runs it. See tasks/scienceqa.py for a complete example.

    `name` is filled in from the `@task` decorator that registers the factory; leave it out.
    """

    description: str
    data: DataSpec
    to_sample: Callable[[Row, int], Sample]
    scorer: Scorer
    metrics: tuple[Metric, ...]
    max_new_tokens: int = 128
    breakdowns: tuple[str, ...] = ()
    has_targets: Callable[[Sequence[Sample]], bool] = lambda samples: all(
        s.target is not None for s in samples
    )
    write_artifacts: ArtifactWriter | None = None
    # Run by the engine before the first generation: a DataError for anything the task will need to
    # write its outputs (VQAv2 test-dev's test2015 question list), so that no run fails after hours.
    preflight: Preflight | None = None
    summary_line: Callable[[Mapping[str, float], int], str] | None = None
    answer_readings: tuple[AnswerReading, ...] = ()  # the first is the default
    judge_runs: JudgeRuns | None = None  # a judged task whose scorer the engine repeats for --judge-runs
    # Demo-sized data in the task's own hub schema: the rows of its split, or, for a task whose data
    # is a folder of configs (DataSpec.images), the rows of each config by config name. The contract
    # test runs every task on it; `vlmeval.demo_data` has image cells to build rows with.
    demo_rows: Callable[[], list[dict[str, Any]] | dict[str, list[dict[str, Any]]]] | None = None
    # Bump when a change to the task alters what the model is asked (prompt, rows used): stored
    # answers of the old version are then refused instead of being mixed into new reports.
    version: int = 1
    name: str = field(default="", kw_only=True)

    @property
    def primary_metric(self) -> str:
        return self.metrics[0].name

    def answer_reading(self, name: str | None) -> AnswerReading | None:
        """The reading `--answer-reading` names (None: the default); a UsageError for a name the task lacks."""
        if name is None:
            return self.answer_readings[0] if self.answer_readings else None
        for reading in self.answer_readings:
            if reading.name == name:
                return reading
        from vlmeval.errors import UsageError

        known = ", ".join(r.name for r in self.answer_readings) or "none: it has one fixed reading"
        raise UsageError(f"--answer-reading {name!r} is not a reading of task {self.name} (readings: {known})")


_TASKS: NamedRegistry[Task] = NamedRegistry("task")


def task(name: str) -> Callable[[Callable[[], Task]], Callable[[], Task]]:
    """Register a factory returning a Task under `name` (the `--task` value): the one place a task is
    named. The factory's Task leaves `name` out; the decorator fills it in (`vlmeval.named`)."""
    return _TASKS.decorator(name)


def registered_factories() -> dict[str, Callable[[], Task]]:
    return _TASKS.factories()


def registration_conflicts() -> list[str]:
    return list(_TASKS.conflicts)
