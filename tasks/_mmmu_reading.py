"""MMMU's official answer reading and checking, without its random letter.

Source (facts and rules, no code copied): MMMU-Benchmark/MMMU@bb0b95a9 `mmmu/utils/eval_utils.py`
(same blob since 78e9c75f): `parse_multi_choice_response`, `parse_open_response`, `extract_numbers`,
`normalize_str`, `eval_multi_choice`, `eval_open`. The one change: where the official reading draws
`random.choice(all_choices)` (seeded at import, so a score depends on what ran before it in the
process), `parse_choice` returns None and the answer is counted as unparsed and wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_STRIPPED = (",", ".", "!", "?", ";", ":", "'")  # stripped one after the other, whitespace kept
_CONTENT_MIN_WORDS = 5  # option texts are searched only in answers of more words
_KEY_INDICATORS = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ")
_TRIVIAL = (":", ",", ".", "!", "?", ";", ":", "'")
_SUB_RESPONSE = re.compile(r"\.\s(?=[A-Z])|\n")
_COMMA_NUMBER = re.compile(r"-?\b\d{1,3}(?:,\d{3})+\b")
_SCIENTIFIC = re.compile(r"-?\d+(?:\.\d+)?[eE][+-]?\d+")
_SIMPLE_NUMBER = re.compile(r"-?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d])")

Normalised = str | float


def parse_choice(response: str, letters: Sequence[str], texts: Mapping[str, str]) -> str | None:
    """`parse_multi_choice_response` without its random fallback: a letter of `letters`, or None."""
    for char in _STRIPPED:
        response = response.strip(char)
    response = f" {response} "
    candidates = [c for c in letters if f"({c})" in response]
    mode = "bracket" if candidates else "plain"
    if not candidates:
        candidates = [c for c in letters if f" {c} " in response]
    if not candidates and len(response.split()) > _CONTENT_MIN_WORDS:
        candidates = [c for c, text in texts.items() if text.lower() in response.lower()]
        mode = "content"
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]
    if mode == "bracket":
        starts = [response.rfind(f"({c})") for c in candidates]
    elif mode == "plain":
        starts = [response.rfind(f" {c} ") for c in candidates]
    else:
        starts = [response.lower().rfind(texts[c].lower()) for c in candidates]
    return candidates[starts.index(max(starts))]  # np.argmax: the first of equal maxima


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def normalize(text: str) -> list[Normalised]:
    """`normalize_str`: a number rounded to 2 decimals, else lower-cased (one character padded both ways)."""
    text = text.strip()
    if _is_number(text):
        return [round(float(text.replace(",", "")), 2)]
    text = text.lower()
    return [" " + text, text + " "] if len(text) == 1 else [text]


def extract_numbers(text: str) -> list[str]:
    return _COMMA_NUMBER.findall(text) + _SCIENTIFIC.findall(text) + _SIMPLE_NUMBER.findall(text)


def _key_responses(response: str) -> list[str]:
    response = response.strip().strip(".").lower()
    subs = _SUB_RESPONSE.split(response)  # after lower-casing only the newline branch can split
    keys = []
    for index, sub in enumerate(subs):
        indicators = _KEY_INDICATORS + (("=",) if index == len(subs) - 1 else ())
        shortest: str | None = None
        for indicator in indicators:
            if indicator in sub:
                tail = sub.split(indicator)[-1].strip()
                if not shortest or len(tail) < len(shortest):  # an empty tail counts as unset
                    shortest = tail
        if shortest and shortest.strip() not in _TRIVIAL:
            keys.append(shortest)
    return keys or [response]


def parse_open(response: str) -> list[Normalised]:
    """`parse_open_response`: key phrases and the numbers in them, normalised, without duplicates."""
    keys = _key_responses(response)
    found = keys + [number for key in keys for number in extract_numbers(key)]
    return list({value: None for item in found for value in normalize(item)})


def check_choice(gold: Any, letter: str | None) -> bool:
    """`eval_multi_choice`: the letter equals the gold, or one of a gold list."""
    return letter is not None and (letter in gold if isinstance(gold, list) else letter == gold)


def check_open(gold: Any, predictions: Sequence[Normalised]) -> bool:
    """`eval_open`: a string gold inside a string prediction, or a float prediction among the gold floats."""
    golds = [value for answer in (gold if isinstance(gold, list) else [gold]) for value in normalize(str(answer))]
    for prediction in predictions:
        if isinstance(prediction, str):
            if any(isinstance(g, str) and g in prediction for g in golds):
                return True
        elif prediction in golds:
            return True
    return False
