"""VQAv2 (Goyal et al., "Making the V in VQA Matter", CVPR 2017), as evaluated by LLaVA-1.5.

Dataset: lmms-lab/VQAv2, splits validation (214,354 questions, 10 human answers each), testdev
(107,394) and test (447,793: the whole test2015 list; answers hidden on both test splits).
Prompt: LLaVA-1.5's short-answer suffix. Score: the EvalAI answer processor on the prediction, then
the official accuracy (GT-Vision-Lab/VQA `vqaEval.py`), overall and per `answer_type`, as the
EvalAI server reports them. Test splits write EvalAI's `submission.json`
(`[{"question_id": int, "answer": str}]`, as LLaVA's `scripts/convert_vqav2_for_submission.py`);
test-dev results must list every test2015 question, "" where none was asked: `vqav2_testdev`
reads that list from the `test` shards in the `--data` folder, or from $VLMEVAL_VQAV2_TEST_QUESTIONS.
Reference: LLaVA-1.5 test-dev accuracy 78.5 (7B), 80.0 (13B).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from vlmeval_tasks._vqa_common import SHORT_ANSWER, gt_answers, submitted_answers, vqa_task, write_submission

from vlmeval.answers.vqa import vqa_accuracies
from vlmeval.column_checks import Strings
from vlmeval.demo_data import image_cell, png_bytes
from vlmeval.errors import DataError
from vlmeval.metrics import mean_metric, meta_equals
from vlmeval.task import (
    ArtifactWriter,
    DataSpec,
    Row,
    Sample,
    ScoreContext,
    Task,
    has_split,
    read_rows,
    row_images,
    task,
)

HUB = "lmms-lab/VQAv2"
TEST_QUESTIONS_ENV = "VLMEVAL_VQAV2_TEST_QUESTIONS"
ANSWER_TYPES = ("yes/no", "number", "other")
TEST2015_QUESTIONS = 447_793

log = logging.getLogger(__name__)


def to_sample(row: Row, index: int) -> Sample:
    return Sample(
        id=str(row["question_id"]),
        text=f"{row['question']}\n{SHORT_ANSWER}",
        images=row_images(row),
        target=gt_answers(row.get("answers")),
        meta={"answer_type": row.get("answer_type"), "question_type": row.get("question_type")},
    )


def test2015_question_ids(data: str | None) -> list[int]:
    """Every test2015 question id, in file order.

    From the file or folder named by $VLMEVAL_VQAV2_TEST_QUESTIONS when set, else from the `test`
    shards beside test-dev's in the `--data` folder (the hub's layout). Accepted files: the `test`
    split of lmms-lab/VQAv2 (parquet file or hub folder), the official
    `v2_OpenEnded_mscoco_test2015_questions.json`, or a JSON list / JSONL of `question_id` objects
    (LLaVA's `llava_vqav2_mscoco_test2015.jsonl`).
    """
    value = os.environ.get(TEST_QUESTIONS_ENV)
    if value:
        where = f"{TEST_QUESTIONS_ENV}={value}"
        path = Path(value).expanduser()
    elif data is not None and Path(data).is_dir() and has_split(Path(data), "test"):
        where, path = f"--data {data} (split test)", Path(data)
    else:
        raise DataError(
            "vqav2_testdev: EvalAI wants an answer line for every test2015 question; pass --data a folder "
            "holding the lmms-lab/VQAv2 test split beside testdev (test-*.parquet), or set "
            f"{TEST_QUESTIONS_ENV} to that split or the official v2_OpenEnded_mscoco_test2015_questions.json, "
            "and re-run (answers are kept)"
        )
    ids = list(dict.fromkeys(_question_ids(path, where)))
    if len(ids) != TEST2015_QUESTIONS:
        log.warning("%s lists %d questions; test2015 has %d", where, len(ids), TEST2015_QUESTIONS)
    return ids


def _question_ids(path: Path, where: str) -> list[int]:
    if not path.exists():
        raise DataError(f"{where}: no such file or folder")
    try:
        if path.suffix in {".json", ".jsonl"}:
            text = path.read_text(encoding="utf-8")
            if path.suffix == ".jsonl":
                objs = [json.loads(line) for line in text.splitlines() if line.strip()]
            else:
                loaded = json.loads(text)
                objs = loaded["questions"] if isinstance(loaded, dict) else loaded
            return [int(obj["question_id"]) for obj in objs]
        spec = DataSpec(hub=HUB, split="test", columns=("question_id",))
        return [int(row["question_id"]) for row in read_rows(spec, str(path), "test")]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{where}: cannot read question ids ({exc})") from exc


def check_test2015(samples: Sequence[Sample], context: ScoreContext) -> None:
    """Before any answer: the test2015 question list is there and holds every asked question."""
    ids = set(test2015_question_ids(context.data))
    unknown = sorted(int(s.id) for s in samples if int(s.id) not in ids)
    if unknown:
        raise DataError(f"vqav2_testdev: {len(unknown)} asked questions are not in the test2015 list, "
                        f"e.g. {unknown[:3]}; it must name the full test split")


def submission_writer(every_test2015_question: bool) -> ArtifactWriter:
    def write(samples: Sequence[Sample], predictions: Sequence[str | None], context: ScoreContext) -> list[str]:
        answers = dict(zip((int(s.id) for s in samples), submitted_answers(predictions), strict=True))
        ids = list(answers)
        if every_test2015_question:
            ids = test2015_question_ids(context.data)
            unknown = answers.keys() - set(ids)
            if unknown:
                raise DataError(
                    f"vqav2_testdev: {len(unknown)} asked questions are not in the test2015 "
                    f"list, e.g. {sorted(unknown)[:3]}; it must name the full test split"
                )
        entries = [{"question_id": i, "answer": answers.get(i, "")} for i in ids]
        return write_submission(context.output_folder, entries)

    return write


# Demo rows in the hub's schema (`Task.demo_rows`: the contract test and `--data demo` read them).
def vqa_row(qid: int, answers: list[str] | None, answer_type: str | None = "other",
            question: str = "What is it?", image: bytes | None = None) -> dict[str, Any]:
    """One row in the lmms-lab/VQAv2 schema; `answers=None` as on the test splits."""
    return {
        "question_type": "what is" if answers is not None else None,
        "multiple_choice_answer": answers[0] if answers else None,
        "answers": None if answers is None else [
            {"answer": a, "answer_confidence": "yes", "answer_id": i + 1} for i, a in enumerate(answers)
        ],
        "image_id": qid // 1000,
        "answer_type": answer_type if answers is not None else None,
        "question_id": qid,
        "question": question,
        "image": image_cell(image),
    }


def demo_rows(with_answers: bool) -> list[dict[str, Any]]:
    answers = ["yes"] * 10 if with_answers else None
    return [vqa_row(1000 + i, answers if i != 1 else (["2"] * 10 if with_answers else None),
                    answer_type=("yes/no", "number", "other")[i % 3], question=f"Question {i}?",
                    image=png_bytes()) for i in range(4)]


def _vqav2(split: str, size: int, answered: bool) -> Task:
    return vqa_task(
        description=f"VQAv2 {split}, LLaVA-1.5 prompt, EvalAI-normalised VQA accuracy",
        hub=HUB, split=split, size=size, answered=answered, answer_columns=("answers", "answer_type"),
        answers=Strings("answers", field="answer", nullable=not answered),
        list_fields=(("answers", "answer"),),  # 2.1 M answer dicts on val: read the strings only
        to_sample=to_sample, accuracies=vqa_accuracies,
        metrics=tuple(mean_metric(t, "accuracy", where=meta_equals("answer_type", t)) for t in ANSWER_TYPES),
        demo_rows=partial(demo_rows, answered),
        write_artifacts=submission_writer(every_test2015_question=split == "testdev"),
        preflight=check_test2015 if split == "testdev" else None,
    )


@task("vqav2_val")
def vqav2_val() -> Task:
    return _vqav2("validation", 214_354, answered=True)


@task("vqav2_testdev")
def vqav2_testdev() -> Task:
    return _vqav2("testdev", 107_394, answered=False)


@task("vqav2_test")
def vqav2_test() -> Task:
    return _vqav2("test", 447_793, answered=False)
