"""MathVista (Lu et al., "MathVista: Evaluating Mathematical Reasoning of Foundation Models in Visual
Contexts", ICLR 2024), testmini, scored in the official two steps.

Dataset: AI4Math/MathVista, split testmini (1,000 rows): `pid`, `query` (the official zero-shot prompt:
hint, question, choices), `decoded_image`, `choices` (null for free-form), `precision` (float, for float
answers), `answer`, `question_type` (multi_choice | free_form), `answer_type` (text | integer | float |
list), `metadata` (category, context, grade, language, skills (a list), source, task, ...). Sample id: `pid`.
Prompt: the `query` column (`generate_response.py`); greedy, max_new_tokens 512.
Scoring (`vlmeval_tasks._mathvista_reading`, lupantech/MathVista@53d52587): step 1 `extract_answer`: the rules
(an exact choice text, an integer or float response as such), else the LLM with the official extraction
prompt (5 examples, byte for byte; temperature 0, max_tokens 1024), asked only with `--judge`. Without
one, an answer the rules cannot read is wrong and counted (`needs_judge`), never guessed. Step 2
`calculate_score.py` (e999481e): multiple choice by `(X)` or a letter, else the nearest choice by edit
distance (kept, counted in `nearest_choice`); integers `str(int(float(x)))`; floats rounded to the row's
precision; lists as strings; string equality with `answer`. `--ignore_empty_extractions` is on: an
empty extraction is wrong (`empty`), not the nearest (shortest) choice. A failed judge request is
`judge_error` (the official code stores ""). Breakdowns: question and answer type, language, source,
category, task, context, grade and skills (a question counts in every skill it lists).
Reference: LLaVA-1.5-13B 27.6 (official leaderboard); Phi-3.5-vision 43.9 (card); DeepSeek-VL2 62.8 (paper).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from vlmeval_tasks._mathvista_reading import (
    DEMO_PROMPT,
    EXTRACTION_MAX_TOKENS,
    EXTRACTION_TEMPERATURE,
    Problem,
    extraction_prompt,
    normalise,
    rule_extraction,
)
from vlmeval.column_checks import OneOf, Text
from vlmeval.demo_data import image_cell, png_bytes
from vlmeval.failure import Failure
from vlmeval.metrics import Metric, Record, mean_metric
from vlmeval.task import JUDGE_ERROR, AnswerReading, DataSpec, Row, Sample, ScoreContext, Scored, Task, task

METADATA_KEYS = ("category", "context", "grade", "language", "skills", "source", "task")


def to_sample(row: Row, position: int) -> Sample:
    metadata = row.get("metadata") or {}
    image = row.get("decoded_image")
    choices = row.get("choices")
    precision = row.get("precision")
    return Sample(
        id=str(row["pid"]),
        text=str(row["query"]),
        images=(image,) if image is not None else (),
        target=str(row["answer"]),
        meta={
            "query": str(row["query"]),
            "question_type": row["question_type"],
            "answer_type": row["answer_type"],
            "choices": [str(c) for c in choices] if choices is not None else None,
            "precision": None if precision is None or math.isnan(precision) else float(precision),
            **{key: (list(metadata.get(key) or []) if key == "skills" else metadata.get(key))
               for key in METADATA_KEYS},
        },
    )


def problem_of(sample: Sample) -> Problem:
    meta = sample.meta
    return Problem(meta["query"], meta["question_type"], meta["answer_type"], meta["choices"], meta["precision"])


def score(samples: Sequence[Sample], predictions: Sequence[str | None], context: ScoreContext) -> list[Scored]:
    """Rules for every answer; the LLM (one batched round) for the rest when a judge is given."""
    from vlmeval.judge import JudgeQuery

    extractions: list[str | None] = []
    for sample, prediction in zip(samples, predictions, strict=True):
        extractions.append(None if prediction is None else rule_extraction(prediction, problem_of(sample)))
    pending = [i for i, e in enumerate(extractions) if e is None and predictions[i] is not None]
    judged: dict[int, str | None] = {}
    if context.judge is not None and pending:
        context.judge.declare_prompt("mathvista-ext_ans", DEMO_PROMPT)
        queries = [JudgeQuery(extraction_prompt(samples[i].meta["query"], str(predictions[i])),
                              temperature=EXTRACTION_TEMPERATURE, max_tokens=EXTRACTION_MAX_TOKENS) for i in pending]
        for i, reply in zip(pending, context.judge.ask_many(queries), strict=True):
            judged[i] = None if reply.text is None else reply.text.strip()
    return [_verdict(samples[i], predictions[i], extractions[i], i in judged, judged.get(i))
            for i in range(len(samples))]


def _verdict(sample: Sample, prediction: str | None, ruled: str | None, asked: bool, judged: str | None) -> Scored:
    if prediction is None:
        return Scored(None, {"correct": 0.0, "nearest_choice": 0.0}, "error")
    if ruled is None and not asked:
        return Scored(None, {"correct": 0.0, "nearest_choice": 0.0}, Failure.NEEDS_JUDGE)
    if ruled is None and judged is None:
        return Scored(None, {"correct": 0.0, "nearest_choice": 0.0}, JUDGE_ERROR)
    extraction = ruled if ruled is not None else str(judged)
    normalised = normalise(extraction, problem_of(sample))
    correct = normalised.prediction is not None and normalised.prediction == sample.target
    failure = None
    if normalised.prediction is None:
        failure = "empty" if not extraction.strip() else "unparsed"
    return Scored(normalised.prediction, {"correct": float(correct), "nearest_choice": float(normalised.by_distance),
                                          "judged": float(ruled is None)}, failure)


def _count(field: str) -> Metric:
    def reduce(records: Sequence[Record]) -> float:
        return float(sum(r.scores.get(field, 0.0) for r in records))

    return Metric(name=field, reduce=reduce, scale="count", reduces="sum")


READINGS = (AnswerReading("official", "extract_answer rules, the LLM extraction with --judge (else needs_judge), "
                         "calculate_score normalisation (--ignore_empty_extractions)", True,
                         "lupantech/MathVista@53d52587 evaluation/ (calculate_score.py at e999481e)"),)

METRICS: tuple[Metric, ...] = (mean_metric("accuracy", "correct"), _count("nearest_choice"))


def summary_line(metrics: Mapping[str, float], n_samples: int) -> str:
    correct = round(metrics["accuracy"] * n_samples / 100)
    return f"Correct: {correct}/{n_samples} - Accuracy: {metrics['accuracy']:.2f}%"


def demo_rows() -> list[dict[str, Any]]:
    """Rows in AI4Math/MathVista's schema: one of each answer type."""
    def meta(task_name: str, skills: list[str]) -> dict[str, Any]:
        return {"category": "math-targeted-vqa", "context": "geometry diagram", "grade": "high school",
                "img_height": 32, "img_width": 32, "language": "english", "skills": skills, "source": "Geometry3K",
                "split": "testmini", "task": task_name}

    mc_hint = "Hint: Please answer the question and provide the correct option letter, e.g., A, B, C, D, at the end."
    int_hint = ("Hint: Please answer the question requiring an integer answer and provide the final value, "
                "e.g., 1, 2, 3, at the end.")
    float_hint = ("Hint: Please answer the question requiring a floating-point number with two decimal places and "
                  "provide the final value, e.g., 1.23, 1.34, 1.45, at the end.")
    items = [
        ("5", "Find $m\\angle H$", ["97", "102", "107", "122"], None, "97", "multi_choice", "text",
         f"{mc_hint}\nQuestion: Find $m\\angle H$\nChoices:\n(A) 97\n(B) 102\n(C) 107\n(D) 122",
         meta("geometry problem solving", ["geometry reasoning", "algebraic reasoning"])),
        ("6", "How many squares are there?", None, None, "3", "free_form", "integer",
         f"{int_hint}\nQuestion: How many squares are there?", meta("figure question answering", ["arithmetic reasoning"])),
        ("7", "What is the price?", None, 2.0, "1.45", "free_form", "float",
         f"{float_hint}\nQuestion: What is the price? (Unit: $)", meta("math word problem", ["arithmetic reasoning"])),
    ]
    return [{"pid": pid, "question": q, "image": f"images/{pid}.jpg", "decoded_image": image_cell(png_bytes()),
             "choices": choices, "unit": None, "precision": precision, "answer": answer, "question_type": qt,
             "answer_type": at, "metadata": md, "query": query}
            for pid, q, choices, precision, answer, qt, at, query, md in items]


@task("mathvista_testmini")
def mathvista_testmini() -> Task:
    return Task(
        description="MathVista testmini, official query, rule extraction (LLM extraction with --judge), official scoring",
        data=DataSpec(
            hub="AI4Math/MathVista",
            split="testmini",
            size=1000,
            image_column="decoded_image",
            columns=("pid", "query", "answer", "question_type", "answer_type", "choices", "precision", "metadata"),
            checks=(Text("query"), OneOf("question_type", ("multi_choice", "free_form")),
                    OneOf("answer_type", ("text", "integer", "float", "list"))),
        ),
        to_sample=to_sample,
        scorer=score,
        metrics=METRICS,
        max_new_tokens=512,
        breakdowns=("question_type", "answer_type", "language", "source", "category", "task", "context", "grade",
                    "skills"),
        summary_line=summary_line,
        answer_readings=READINGS,
        demo_rows=demo_rows,
    )
