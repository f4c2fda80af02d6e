"""Multiple-choice answer extraction, written once for every task that names it."""

from __future__ import annotations

import re

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# LLaVA-1.5's llava/eval/eval_science_qa.py: the options it accepts and its fallback pattern.
# The pattern's final "." matches any character, so a bare "The answer is B" at the very end
# of the text does not match; that is the official behaviour and is kept.
_LLAVA_OPTIONS = "ABCDE"
_LLAVA_ANSWER_IS = re.compile(r"The answer is ([A-Z]).")


def llava_choice_letter(prediction: str) -> str | None:
    """The letter LLaVA's ScienceQA scorer reads from a prediction, or None for FAILED.

    Rules in order: the stripped prediction is exactly one of A-E; or it is at least 3
    characters, starts with one of A-E and continues with ". "; or "The answer is X." matches
    exactly once (any capital letter). The caller checks the letter against the choices.
    """
    text = prediction.strip()
    if text in _LLAVA_OPTIONS and len(text) == 1:
        return text
    if len(text) >= 3 and text[0] in _LLAVA_OPTIONS and text[1:3] == ". ":
        return text[0]
    matches = _LLAVA_ANSWER_IS.findall(text)
    if len(matches) == 1:
        return str(matches[0])
    return None


def option_lines(options: list[str]) -> str:
    """`A. first\\nB. second...`: how LLaVA lists options under a question."""
    return "\n".join(f"{LETTERS[i]}. {text}" for i, text in enumerate(options))
