"""MathVista's official two steps: answer extraction (rules, then an LLM) and normalisation.

Source (facts, rules and the prompt text): lupantech/MathVista@53d525874bdde205128e6b160b7357a88277d479,
`evaluation/extract_answer.py` (`extract_answer`, `create_test_prompt`), `evaluation/prompts/ext_ans.py`
(`demo_prompt`, reproduced byte for byte below: its `\\n` escapes are newlines in the official string too),
`evaluation/calculate_score.py` as last fixed in e999481e (`normalize_extracted_answer`,
`get_most_similar`, `safe_equal`), `models/gpt.py` (temperature 0, max_tokens 1024, reply stripped).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vlmeval.answers.distance import levenshtein

EXTRACTION_TEMPERATURE = 0.0
EXTRACTION_MAX_TOKENS = 1024

DEMO_PROMPT = """
Please read the following example. Then extract the answer from the model response and type it at the end of the prompt.

Hint: Please answer the question requiring an integer answer and provide the final value, e.g., 1, 2, 3, at the end.
Question: Which number is missing?

Model response: The number missing in the sequence is 14.

Extracted answer: 14

Hint: Please answer the question requiring a floating-point number with one decimal place and provide the final value, e.g., 1.2, 1.3, 1.4, at the end.
Question: What is the fraction of females facing the camera?

Model response: The fraction of females facing the camera is 0.6, which means that six out of ten females in the group are facing the camera.

Extracted answer: 0.6

Hint: Please answer the question requiring a floating-point number with two decimal places and provide the final value, e.g., 1.23, 1.34, 1.45, at the end.
Question: How much money does Luca need to buy a sour apple candy and a butterscotch candy? (Unit: $)

Model response: Luca needs $1.45 to buy a sour apple candy and a butterscotch candy.

Extracted answer: 1.45

Hint: Please answer the question requiring a Python list as an answer and provide the final list, e.g., [1, 2, 3], [1.2, 1.3, 1.4], at the end.
Question: Between which two years does the line  graph saw its maximum peak?

Model response: The line graph saw its maximum peak between 2007 and 2008.

Extracted answer: [2007, 2008]

Hint: Please answer the question and provide the correct option letter, e.g., A, B, C, D, at the end.
Question: What fraction of the shape is blue?\nChoices:\n(A) 3/11\n(B) 8/11\n(C) 6/11\n(D) 3/5

Model response: The correct answer is (B) 8/11.

Extracted answer: B
"""

_BRACKETED_LETTER = re.compile(r"\(([a-zA-Z])\)")


@dataclass(frozen=True)
class Problem:
    """What the official steps read of a problem."""

    query: str
    question_type: str  # multi_choice | free_form
    answer_type: str  # text | integer | float | list
    choices: Sequence[str] | None
    precision: float | None


def extraction_prompt(query: str, response: str) -> str:
    """`create_test_prompt`: the demo prompt stripped, the query and response, then `Extracted answer: `."""
    return f"{DEMO_PROMPT.strip()}\n\n{query}\n\n{response}\n\nExtracted answer: "


def rule_extraction(response: str, problem: Problem) -> str | None:
    """The rule paths of `extract_answer` (no quick extract); None: only the LLM can extract it."""
    if response == "":
        return ""
    if problem.question_type == "multi_choice" and problem.choices is not None and response in problem.choices:
        return response
    if problem.answer_type == "integer":
        try:
            return str(int(response))
        except ValueError:
            pass
    if problem.answer_type == "float":
        try:
            return str(float(response))
        except ValueError:
            pass
    return None



def nearest_choice(extraction: str, choices: Sequence[str]) -> str:
    """`get_most_similar`: the choice at the least edit distance, the first on ties."""
    distances = [levenshtein(extraction, choice) for choice in choices]
    return choices[distances.index(min(distances))]


@dataclass(frozen=True)
class Normalised:
    """`normalize_extracted_answer`'s result, and whether a choice was taken by edit distance."""

    prediction: str | None
    by_distance: bool = False


def normalise(extraction: Any, problem: Problem, ignore_empty: bool = True) -> Normalised:
    """`normalize_extracted_answer` at e999481e (with `--ignore_empty_extractions` by default)."""
    if problem.question_type == "multi_choice":
        choices = list(problem.choices or [])
        text = extraction.strip() if isinstance(extraction, str) else str(extraction)
        if ignore_empty and not text:
            return Normalised(None)
        letters = _BRACKETED_LETTER.findall(text)
        if letters:
            text = letters[0].upper()
        sequential = [chr(ord("A") + i) for i in range(len(choices))]
        if text in sequential:
            return Normalised(choices[sequential.index(text)])
        if text in choices:  # what the edit distance picks too (distance 0), without counting it as a guess
            return Normalised(text)
        return Normalised(nearest_choice(text, choices), by_distance=True) if choices else Normalised(None)
    try:
        if problem.answer_type == "integer":
            return Normalised(str(int(float(extraction))))
        if problem.answer_type == "float":
            return Normalised(str(round(float(extraction), int(problem.precision))))  # type: ignore[arg-type]
        if problem.answer_type == "list":
            return Normalised(str(extraction))
    except (TypeError, ValueError, OverflowError):
        return Normalised(None)
    return Normalised(extraction if isinstance(extraction, str) else None)
