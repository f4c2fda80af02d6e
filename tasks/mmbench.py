"""MMBench v1.0 (Liu et al., "MMBench: Is Your Multi-modal Model an All-around Player?", ECCV 2024),
EN and CN, dev and test, with CircularEval.

Dataset: lmms-lab/MMBench, configs `en`/`cn`, splits `dev` (4,377 / 4,329 rows) and `test`
(6,718 / 6,666), rows of a question and its rotated copies; or the official TSV
(`mmbench_dev_20230712.tsv`, `mmbench_dev_cn_20231003.tsv`: `index, question, hint, A..D, answer,
category, l2-category, source, split, image (base64), comment`). Sample id: `index`.
Prompt: LLaVA-1.5's `llava/eval/model_vqa_mmbench.py`: `{hint}\\n{question}` (no hint when it is
None, NaN, 'nan' or 'none'), `\\n{L}. {option}` for each option up to the first missing one (the
same test), then `\\n` and the EN or CN suffix; max_new_tokens 1024. LLaVA lists A-D only; an E
option, where a file has one, is listed too (no MMBench v1.0 row has one, so prompts are identical).
Scoring: by default the official reading, VLMEvalKit's `can_infer` and judge prompt at commit
e8e78f05 (`vlmeval.answers.vlmevalkit`), over the options whose value is not empty; what it leaves
open goes to the LLM judge when one is given (three replies), else stays unresolved and wrong. The one
deliberate deviation: no random letter after three unreadable judge replies (`judge_failed`, wrong,
counted). `--answer-reading strict` uses vlmeval's stricter rules instead (`vlmeval.answers.choice`;
not official). CircularEval: rows with equal `index % 1_000_000` are one question, right only when
all its rows are. Without answers (the test split as released)
`submission.xlsx` is written instead: the TSV columns without `image`, plus `prediction`.
Reference: LLaVA-1.5-13B, EN dev 20230712: 796 of 1,176 questions, 67.69 (paper: MMB 67.7,
MMB-CN 63.6; 7B: 64.3, 58.3).

MMBench v1.1 (`mmbench_v11_{en,cn}_dev`) is the same definition with other data: VLMEvalKit's TSVs
`MMBench_DEV_EN_V11.tsv` (md5 30c05be8f2f347a50be25aa067248184) and `MMBench_DEV_CN_V11.tsv`
(593f9b5f6bea453d870a798b34ae4f37), listed in `vlmeval/dataset/image_mcq.py` at e8e78f05, read from a
local `--data` (no hub copy exists). v1.1 drops low-quality v1.0 questions and adds harder ones
(VLMEvalKit issue #833); VLMEvalKit scores every `mmbench` name with `mcq_circular_eval`, as here.
Reference: DeepSeek-VL2 MMBench-V1.1 79.2 (paper; split not stated).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from vlmeval.answers.choice import resolve_choices
from vlmeval.answers.vlmevalkit import READING_NAME, READING_REFERENCE, read_choices
from vlmeval.column_checks import OptionLetter, Text
from vlmeval.demo_data import png_bytes
from vlmeval.io import atomic_write_xlsx
from vlmeval.metrics import Metric, Record, mean_metric
from vlmeval.task import AnswerReading, DataSpec, Row, Sample, ScoreContext, Scored, Task, row_images, task

SUFFIXES = {
    "en": "Answer with the option's letter from the given choices directly.",
    "cn": "请直接回答选项字母。",
}
SIZES = {("en", "dev"): 4377, ("en", "test"): 6718, ("cn", "dev"): 4329, ("cn", "test"): 6666}
# v1.1 exists only as VLMEvalKit's TSVs (row counts not pinned): the `hub` name says which file to pass.
V11_FILES = {"en": "MMBench_DEV_EN_V11.tsv", "cn": "MMBench_DEV_CN_V11.tsv"}
V11_URL = "https://opencompass.openxlab.space/utils/benchmarks/MMBench/"
OPTION_LETTERS = "ABCDE"
CIRCULAR_BASE = 1_000_000  # a rotated copy of question q has index q + k * 1,000,000
SUBMISSION = "submission.xlsx"
STRICT = AnswerReading("strict", "vlmeval's stricter rules (articles, word boundaries, Chinese answer cues, "
                       "its own judge prompt); not the official reading", False)
READINGS = (
    AnswerReading(READING_NAME, "VLMEvalKit's can_infer, then its LLM-judge prompt (3 tries); "
                  "no random letter: unresolved answers are wrong and counted", True, READING_REFERENCE),
    STRICT,
)


def is_none(value: Any) -> bool:
    """LLaVA's `is_none`: None, NaN, and the strings 'nan' and 'none' in any case."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return isinstance(value, str) and value.lower() in ("nan", "none")


def present_options(row: Row) -> dict[str, str]:
    """The options A, B, ... up to the first missing one, as LLaVA's `get_options` reads them."""
    options: dict[str, str] = {}
    for letter in OPTION_LETTERS:
        value = row.get(letter)
        if is_none(value):
            break
        options[letter] = str(value)
    return options


def reading_choices(row: Row) -> dict[str, str]:
    """The options VLMEvalKit reads answers against: every letter whose value is not empty."""
    return {letter: str(row[letter]) for letter in OPTION_LETTERS
            if letter in row and not is_none(row[letter]) and str(row[letter]) != ""}


def _l2_category(row: Row) -> Any:
    """The hub parquet names it `L2-category`, the official TSV `l2-category`."""
    return row["L2-category"] if "L2-category" in row else row.get("l2-category")


def _optional(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def to_sample(language: str, row: Row, position: int) -> Sample:
    index = int(row["index"])
    options = present_options(row)
    hint = None if is_none(row.get("hint")) else str(row["hint"])
    question = str(row["question"])
    text = question if hint is None else f"{hint}\n{question}"
    text += "".join(f"\n{letter}. {option}" for letter, option in options.items())
    text += f"\n{SUFFIXES[language]}"
    answer = row.get("answer")
    return Sample(
        id=str(index),
        text=text,
        images=row_images(row),
        target=None if is_none(answer) else str(answer).strip(),
        meta={
            "index": index,
            "circular_id": index % CIRCULAR_BASE,
            "category": _optional(row.get("category")),
            "L2-category": _optional(_l2_category(row)),
            "question": question,
            "hint": hint,
            "options": options,
            "choices": reading_choices(row),
            "source": _optional(row.get("source")),
            "split": _optional(row.get("split")),
            "comment": _optional(row.get("comment")),
        },
    )


def score(
    samples: Sequence[Sample], predictions: Sequence[str | None], context: ScoreContext
) -> list[Scored]:
    # Without answers nothing is scored: the judge would be asked for nothing.
    judge = context.judge if any(s.target is not None for s in samples) else None
    if context.answer_reading == STRICT:  # its judge sees the hint too
        questions = [s.meta["question"] if s.meta["hint"] is None else f"{s.meta['hint']}\n{s.meta['question']}"
                     for s in samples]
        choices = resolve_choices(predictions, [s.meta["options"] for s in samples], questions, judge)
    else:  # VLMEvalKit's judge sees the question without its hint
        choices = read_choices(predictions, [s.meta["choices"] for s in samples],
                               [s.meta["question"] for s in samples], judge)
    return [Scored(choice.letter, {"correct": float(choice.letter is not None and choice.letter == sample.target),
                                   "judged": float(choice.rule == "judge")}, choice.failure)
            for sample, choice in zip(samples, choices, strict=True)]


def question_key(record: Record) -> str:
    """CircularEval's question: the rotated copies of one question share `index % 1,000,000`."""
    return str(record.meta["circular_id"])


def circular_accuracy(records: Sequence[Record]) -> float:
    """100 x the share of questions whose every row (of those given) is right."""
    all_right: dict[str, bool] = {}
    for record in records:
        key = question_key(record)
        all_right[key] = all_right.get(key, True) and record.scores.get("correct", 0.0) == 1.0
    return 100.0 * sum(all_right.values()) / len(all_right)


def _is_original(record: Record) -> bool:
    return int(record.meta["index"]) < CIRCULAR_BASE


def count_unresolved(records: Sequence[Record]) -> float:
    """Rows with a prediction read as no option: Z, unparsed, or the judge failed or erred."""
    return float(sum(r.prediction is not None and r.answer is None for r in records))


METRICS: tuple[Metric, ...] = (
    Metric(name="circular_accuracy", reduce=circular_accuracy, unit=question_key, reduces="mean"),
    mean_metric("vanilla_accuracy", "correct", where=_is_original),
    Metric(name="unresolved", reduce=count_unresolved, scale="count", reduces="sum"),
)


def write_submission(
    samples: Sequence[Sample], predictions: Sequence[str | None], context: ScoreContext
) -> list[str]:
    """`submission.xlsx`: the official TSV columns without `image`, plus the raw `prediction`."""
    letters = "ABCD" + ("E" if any("E" in s.meta["options"] for s in samples) else "")
    with_answers = any(s.target is not None for s in samples)
    rows = []
    for sample, prediction in zip(samples, predictions, strict=True):
        meta: Mapping[str, Any] = sample.meta
        row: dict[str, Any] = {"index": meta["index"], "question": meta["question"], "hint": meta["hint"]}
        row.update({letter: meta["options"].get(letter) for letter in letters})
        if with_answers:
            row["answer"] = sample.target
        row.update({"category": meta["category"], "l2-category": meta["L2-category"],
                    "source": meta["source"], "split": meta["split"], "comment": meta["comment"],
                    "prediction": prediction if prediction is not None else ""})
        rows.append(row)
    path = context.output_folder / SUBMISSION
    atomic_write_xlsx(path, rows)
    return [SUBMISSION]


# Demo rows in the hub's schema (`Task.demo_rows`: the contract test and `--data demo` read them).
FINE = "finegrained_perception (instance-level)"


def mmb_row(index: int, question: str, options: Sequence[str | None], answer: str | None = "A",
            hint: Any = None, category: str = "attribute_recognition", l2: str = FINE,
            split: str = "dev") -> dict[str, Any]:
    """One row in the lmms-lab/MMBench schema (the hub's `L2-category`)."""
    cells = list(options) + [None] * (5 - len(options))
    return {"index": index, "question": question, "hint": hint,
            **{letter: cells[i] for i, letter in enumerate("ABCDE")},
            "answer": answer, "category": category, "image": {"bytes": png_bytes(), "path": None},
            "source": "MMBench", "L2-category": l2, "comment": None, "split": split}


def demo_rows(split: str) -> list[dict[str, Any]]:
    answer = (lambda letter: letter) if split == "dev" else (lambda letter: None)
    return [mmb_row(0, "Which color?", ["red", "blue", "green"], answer("A"), split=split),
            mmb_row(1_000_000, "Which color?", ["blue", "green", "red"], answer("C"), split=split),
            mmb_row(2_000_000, "Which color?", ["green", "red", "blue"], answer("B"), split=split),
            mmb_row(1, "Is it round?", ["yes", "no"], answer("B"), hint="Look closely.", split=split,
                    category="shape", l2="coarse_perception"),
            mmb_row(1_000_001, "Is it round?", ["no", "yes"], answer("A"), hint="Look closely.", split=split,
                    category="shape", l2="coarse_perception")]


def mmbench(language: str, split: str, version: str = "v1.0") -> Task:
    """MMBench `version` ("v1.0": lmms-lab/MMBench; "v1.1": VLMEvalKit's dev TSVs, local only)."""
    v11 = version == "v1.1"
    data = DataSpec(
        hub=V11_URL + V11_FILES[language] if v11 else "lmms-lab/MMBench",
        config=None if v11 else language,
        split=split,
        size=None if v11 else SIZES[language, split],
        columns=("index", "question", "hint", "A", "B", "category"),
        checks=(Text("question"), OptionLetter("answer", tuple(OPTION_LETTERS), nullable=split == "test")),
    )
    return Task(
        description=f"MMBench-{language.upper()} {split} ({version}), CircularEval, LLaVA-1.5 prompt"
                    + (f"; data: --data {V11_FILES[language]}" if v11 else ""),
        data=data,
        demo_rows=partial(v11_demo_rows, language) if v11 else partial(demo_rows, split),
        to_sample=partial(to_sample, language),
        scorer=score,
        metrics=METRICS,
        max_new_tokens=1024,
        breakdowns=("category", "L2-category"),
        write_artifacts=write_submission,
        answer_readings=READINGS,
    )


def v11_demo_rows(language: str) -> list[dict[str, Any]]:
    """Rows in the v1.1 TSV's columns: one question and its three rotations (CircularEval)."""
    from vlmeval.demo_data import image_cell, png_bytes

    options = ["cat", "dog", "bird", "fish"] if language == "en" else ["猫", "狗", "鸟", "鱼"]
    rows = []
    for k in range(4):
        rotated = options[k:] + options[:k]
        rows.append({"index": 7 + k * CIRCULAR_BASE, "question": "What animal is shown?", "hint": None,
                     **dict(zip("ABCD", rotated)), "answer": "ABCD"[(4 - k) % 4], "category": "object_localization",
                     "l2-category": "finegrained_perception (instance-level)", "split": "dev",
                     "image": image_cell(png_bytes())})
    return rows


for _language in SUFFIXES:
    for _split in ("dev", "test"):
        task(f"mmbench_{_language}_{_split}")(partial(mmbench, _language, _split))
    task(f"mmbench_v11_{_language}_dev")(partial(mmbench, _language, "dev", "v1.1"))
