"""DocVQA (Mathew et al., WACV 2021, SP-DocVQA Task 1) and InfographicVQA (Mathew et al., WACV 2022).

Dataset: lmms-lab/DocVQA, config DocVQA (validation 5,349, test 5,188) and config InfographicVQA
(validation 2,801, test 3,288); test splits hide the answers. Sample id: `questionId`.
Prompt: the question and the short-answer suffix (`\\nAnswer the question using a single word or
phrase.`, lmms-eval `_default_template_docvqa_yaml` and VLMEvalKit `ImageVQADataset`), image first;
max_new_tokens 32 (lmms-eval).
Score: ANLS exactly as the RRC script computes it (QwenLM/Qwen-VL `eval_mm/infographicsvqa_eval.py`
`evaluate_method`, downloaded from rrc.cvc.uab.es): Levenshtein distance of the normalised strings
(strip, lower-case, whitespace runs -> one space) over the larger *raw upper-cased* length, best
answer kept, strictly below 0.5 -> 0; mean over questions, x100. Not pix2struct's `anls_metric`.
Deviation: the generation is stripped once before scoring (the server scores the raw string).
Breakdowns: DocVQA per `question_types` (the nine types of the DocVQA paper; a question counts
in every type it lists, as the InfoVQA script does for its types: the RRC site's own per-type
code is not public, so unverified); InfoVQA per answer type and reasoning (the script's `-a`
breakdowns; no evidence breakdown: the hub has no evidence column; an empty type has no metric).
Test splits write RRC's `submission.json`: a list of `{"questionId": int, "answer": str}`, one per
question, "" where there is no answer.
Reference (test ANLS, DeepSeek-VL2 paper): DocVQA 88.9 / 92.3 / 93.3, InfoVQA 66.1 / 75.8 / 78.1
(Tiny / Small / base).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vlmeval_tasks._vqa_common import SHORT_ANSWER, bare_question_token, write_submission

from vlmeval.answers.distance import levenshtein
from vlmeval.demo_data import image_cell, png_bytes
from vlmeval.failure import Failure
from vlmeval.errors import DataError
from vlmeval.metrics import Metric, Record, mean_metric
from vlmeval.task import DataSpec, Row, Sample, ScoreContext, Scored, Task, per_sample, task
from vlmeval.column_checks import Strings, Text

HUB = "lmms-lab/DocVQA"
ANLS_THRESHOLD = 0.5
DOCVQA_TYPES = ("handwritten", "form", "table/list", "layout", "free_text", "Image/Photo",
                "figure/diagram", "Yes/No", "others")
INFOVQA_ANSWER_TYPES = ("image span", "question span", "multiple spans", "non span")
INFOVQA_REASONING = ("comparison", "arithmetic", "counting")



def _normalised(text: str) -> str:
    return " ".join(text.strip().lower().split())


def anls(prediction: str, answers: Sequence[str]) -> float:
    """One question's ANLS: distance on normalised strings, denominator on the raw upper-cased lengths."""
    detected = _normalised(prediction)
    distances = []
    for answer in answers:
        length = max(len(answer.upper()), len(prediction.upper()))
        distances.append(0.0 if length == 0 else levenshtein(_normalised(answer), detected) / length)
    value = 1 - min(distances)
    return 0.0 if value < ANLS_THRESHOLD else value


def score_one(sample: Sample, prediction: str | None) -> Scored:
    if prediction is None:
        return Scored(None, {"anls": 0.0}, Failure.ERROR)
    answer = prediction.strip()
    value = anls(answer, sample.target) if sample.target is not None else 0.0  # test: scored by RRC
    return Scored(answer, {"anls": value}, None if answer else Failure.EMPTY)


@dataclass(frozen=True, eq=False)
class Lists:
    """The predicate `value in meta[key]`: a question counts in every type it lists."""

    key: str
    value: str

    def __call__(self, record: Record) -> bool:
        return self.value in (record.meta.get(self.key) or ())


def _snake(label: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in label.lower()).strip("_")


def _strings(cell: Any) -> list[str]:
    return [str(x) for x in cell] if cell is not None else []


def to_sample(row: Row, index: int) -> Sample:
    image = row.get("image")
    answers = _strings(row.get("answers"))
    return Sample(
        id=str(row["questionId"]),
        text=f"{row['question']}\n{SHORT_ANSWER}",
        images=(image,) if image is not None else (),
        target=answers or None,
        meta={**{key: _strings(row.get(column)) for key, column in
                 (("question_types", "question_types"), ("answer_type", "answer_type"),
                  ("reasoning", "operation/reasoning")) if column in row},
              **bare_question_token(str(row["question"]))},
    )


def rrc_submission(samples: Sequence[Sample], predictions: Sequence[str | None]) -> list[dict[str, Any]]:
    """RRC's list: every question once, `questionId` an int, `answer` a string ("" where none)."""
    entries = []
    for sample, prediction in zip(samples, predictions, strict=True):
        try:
            question_id = int(sample.id)
        except ValueError as exc:
            raise DataError(f"questionId {sample.id!r}: RRC submissions need integer question ids") from exc
        entries.append({"questionId": question_id, "answer": (prediction or "").strip()})
    validate_rrc_submission(entries, [int(s.id) for s in samples])
    return entries


def validate_rrc_submission(entries: Any, question_ids: Sequence[int]) -> None:
    """The RRC script's `validate_data` rules: a list, as many entries as questions, an `answer`
    key on each, no list answers, and the sorted question ids equal to the split's."""
    if not isinstance(entries, list):
        raise DataError("submission.json: the root must be a list")
    if len(entries) != len(question_ids):
        raise DataError(f"submission.json: {len(entries)} answers for {len(question_ids)} questions")
    for entry in entries:
        if not isinstance(entry, dict) or "answer" not in entry:
            raise DataError(f"submission.json: entry {entry!r} has no answer key")
        if isinstance(entry["answer"], list):
            raise DataError(f"submission.json: question {entry.get('questionId')} has a list as answer")
    if sorted(e.get("questionId") for e in entries) != sorted(question_ids):
        raise DataError("submission.json: its question ids are not the split's, each once")


def write_rrc_submission(samples: Sequence[Sample], predictions: Sequence[str | None],
                         context: ScoreContext) -> list[str]:
    return write_submission(context.output_folder, rrc_submission(samples, predictions))


def _metrics(config: str) -> tuple[Metric, ...]:
    groups = ((("question_types", DOCVQA_TYPES),) if config == "DocVQA"
              else (("answer_type", INFOVQA_ANSWER_TYPES), ("reasoning", INFOVQA_REASONING)))
    return (mean_metric("anls", "anls"),
            *(mean_metric(_snake(label), "anls", where=Lists(key, label)) for key, labels in groups
              for label in labels))


def demo_rows(config: str, answered: bool) -> list[dict[str, Any]]:
    """Rows in the hub schema of the config (DocVQA or InfographicVQA)."""
    questions = [("What is the date?", ["February 24", "February 24 1966"], ["form"], ["non span"]),
                 ("Who signed it?", ["A. C. Monk"], ["handwritten", "layout"], ["image span"]),
                 ("How many rows?", ["3"], ["table/list"], ["non span"])]
    rows = []
    for i, (question, answers, types, answer_type) in enumerate(questions):
        row: dict[str, Any] = {"questionId": str(49153 + i), "question": question,
                               "answers": answers if answered else [], "image": image_cell(png_bytes()),
                               "data_split": "val" if answered else "test"}
        if config == "DocVQA":
            row.update(question_types=types if answered else None, docId=14465 + i,
                       ucsf_document_id="pybv0228", ucsf_document_page_no=str(81 + i))
        else:
            row.update({"answer_type": answer_type if answered else None, "image_url": f"https://x/{i}.jpeg",
                        "operation/reasoning": ["counting"] if answered and i == 2 else None,
                        "ocr": "{}"})
        rows.append(row)
    return rows


def _anls_task(name: str, config: str, split: str, size: int) -> Task:
    answered = split == "validation"
    label = "DocVQA" if config == "DocVQA" else "InfographicVQA"
    return Task(
        description=f"{label} {split}, short-answer prompt, RRC ANLS" + ("" if answered else " (RRC submission)"),
        data=DataSpec(hub=HUB, config=config, split=split, size=size,
                      columns=("questionId", "question", "answers"),
                      checks=(Text("question"), Strings("answers", nullable=not answered))),
        to_sample=to_sample,
        scorer=per_sample(score_one),
        metrics=_metrics(config),
        max_new_tokens=32,
        write_artifacts=None if answered else write_rrc_submission,
        demo_rows=lambda: demo_rows(config, answered),
    )


@task("docvqa_val")
def docvqa_val() -> Task:
    return _anls_task("docvqa_val", "DocVQA", "validation", 5349)


@task("docvqa_test")
def docvqa_test() -> Task:
    return _anls_task("docvqa_test", "DocVQA", "test", 5188)


@task("infovqa_val")
def infovqa_val() -> Task:
    return _anls_task("infovqa_val", "InfographicVQA", "validation", 2801)


@task("infovqa_test")
def infovqa_test() -> Task:
    return _anls_task("infovqa_test", "InfographicVQA", "test", 3288)
