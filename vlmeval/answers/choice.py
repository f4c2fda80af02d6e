"""Multiple-choice answer extraction, written once for every task that names it.

Two readings live in vlmeval.answers: LLaVA's ScienceQA letter rules and vlmeval's own stricter
shared extraction here (MMBench's `--answer-reading strict`, not official), and VLMEvalKit's
official `can_infer` reading in `vlmeval.answers.vlmevalkit`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vlmeval.failure import Failure

if TYPE_CHECKING:
    from vlmeval.judge import Judge, JudgeQuery

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


# ---------------------------------------------------------------------------------------------
# Shared multiple-choice extraction (MMBench and every later multiple-choice task).
#
# Order, as in VLMEvalKit's `can_infer` (open-compass/VLMEvalKit vlmeval/utils/matching_util.py,
# `can_infer_option` then `can_infer_text`), with its random-letter fallback removed:
#   1. exactly one option letter standing alone in the answer ("B", "B.", "(B)", "The answer is B");
#   2. else exactly one option's text found in the answer;
#   3. else, when a judge is given, an LLM judge on the question, the options and the answer;
#   4. else unresolved: no letter, failure "unparsed" (scored wrong and counted; never guessed).
# ---------------------------------------------------------------------------------------------

# A capital letter with no letter or digit on either side ("B", "(B)", "B.", "答案是B").
_STANDALONE = re.compile(r"(?<![A-Za-z0-9])[A-Z](?![A-Za-z0-9])")
# Capital letters that are also English words: the article "A" and the pronoun "I".
_WORD_LETTERS = frozenset("AI")
# The next word on the same line, after spaces.
_NEXT_WORD = re.compile(r"[ \t]+([A-Za-z]+)")
# Words an article is never followed by: "A is correct", "A and B" use the letter.
_NOT_AFTER_ARTICLE = frozenset({"and", "or", "nor", "is", "was", "seems", "would", "should", "because"})
# Text right before a letter that makes it an option letter even when a word follows it.
_ANSWER_CUE = re.compile(
    r"(?:answer|option|choice|choose|select)\s*(?:is|would be|should be|will be)?\s*[:(\[]?\s*$",
    re.IGNORECASE,
)
# VLMEvalKit's `can_infer_text` guard: an answer over twice the options' total length is an
# explanation, in which an option text may well occur without being chosen.
_TEXT_LENGTH_FACTOR = 2


@dataclass(frozen=True)
class Choice:
    """The option an answer resolves to: `letter` and the rule that found it (`letter`, `text`,
    `judge`), or no letter and the `failure` ("empty", "unparsed", "judge_failed", "error")."""

    letter: str | None
    rule: str | None = None
    failure: str | None = None


def standalone_letter(text: str, letters: str) -> str | None:
    """The one option letter of `letters` that stands alone in `text`, else None.

    A letter counts when no letter or digit touches it. The article "A" (and the pronoun "I")
    followed on the same line by a word does not count ("A cat is on the mat"), unless an answer
    cue precedes it ("The answer is A because") or the word cannot follow an article ("A is
    right"). Two different letters refuse ("A or B"); the same letter twice is one letter.
    """
    found = set()
    for match in _STANDALONE.finditer(text):
        letter = match.group()
        if letter not in letters:
            continue
        if letter in _WORD_LETTERS and _reads_as_word(text, match.start(), match.end()):
            continue
        found.add(letter)
    return found.pop() if len(found) == 1 else None


def _reads_as_word(text: str, start: int, end: int) -> bool:
    following = _NEXT_WORD.match(text, end)
    if following is None:  # end of text, a newline or punctuation next: "A", "A.", "(A)", "A)"
        return False
    if following.group(1).lower() in _NOT_AFTER_ARTICLE:
        return False
    return _ANSWER_CUE.search(text[:start]) is None


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def _contains(text: str, phrase: str) -> bool:
    """`phrase` occurs in `text` not glued to an ASCII letter or digit (so "cat" is not in
    "category"; CJK text has no word boundaries and is matched as a substring)."""
    pattern = rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])"
    return re.search(pattern, text) is not None


def option_text_letter(text: str, options: Mapping[str, str]) -> str | None:
    """The letter of the one option whose text (case-insensitive) occurs in `text`, else None.

    Refuses when several options match (also when one option's text lies inside another's and
    the answer holds the longer one: "dark red" holds both "red" and "dark red"), and when the
    answer is over twice as long as all option texts together (VLMEvalKit's guard).
    """
    answer = _normalise(text)
    cleaned = {letter: _normalise(str(option)).rstrip(".。") for letter, option in options.items()}
    if not answer or len(answer) > _TEXT_LENGTH_FACTOR * sum(len(o) for o in cleaned.values()):
        return None
    hits = [letter for letter, option in cleaned.items() if option and _contains(answer, option)]
    return hits[0] if len(hits) == 1 else None


def match_choice(prediction: str | None, options: Mapping[str, str]) -> Choice:
    """Rules 1 and 2: a standalone option letter, else exactly one option text."""
    if prediction is None:
        return Choice(None, failure=Failure.ERROR)
    if not prediction.strip():
        return Choice(None, failure=Failure.EMPTY)
    letter = standalone_letter(prediction, "".join(options))
    if letter is not None:
        return Choice(letter, rule="letter")
    letter = option_text_letter(prediction, options)
    if letter is not None:
        return Choice(letter, rule="text")
    return Choice(None, failure=Failure.UNPARSED)


JUDGE_PROMPT_NAME = "choice"
JUDGE_PROMPT = (
    "You are checking which option a model chose when answering a multiple-choice question.\n"
    "Below are the question, its options and the model's answer. Decide which single option the "
    "answer chooses, by its letter or by its content.\n"
    "Reply with that option's letter and nothing else. Reply Z if the answer chooses no option, "
    "more than one option, or cannot be matched to an option with confidence.\n\n"
    "Question: {question}\n"
    "Options:\n{options}\n"
    "Model's answer: {prediction}\n\n"
    "Letter:"
)
JUDGE_MAX_TOKENS = 16
NO_OPTION = "Z"


def judge_prompt(question: str, options: Mapping[str, str], prediction: str) -> str:
    lines = "\n".join(f"{letter}. {text}" for letter, text in options.items())
    return JUDGE_PROMPT.format(question=question, options=lines, prediction=prediction)


def judge_letter(reply: str, options: Mapping[str, str]) -> str | None:
    """The option letter in a judge's reply; None for Z (no option) or a reply without one letter."""
    letter = standalone_letter(reply, "".join(options) + NO_OPTION)
    return None if letter == NO_OPTION else letter


def resolve_choices(
    predictions: Sequence[str | None],
    options: Sequence[Mapping[str, str]],
    questions: Sequence[str],
    judge: Judge | None = None,
) -> list[Choice]:
    """Rules 1-2 for every answer; the judge (one batched `ask_many`) for what they leave open.

    The judge prompt's hash is declared on the judge (`Judge.declare_prompt`), so the report names
    the judge model and prompt. A judge request that fails leaves the answer unresolved with
    failure "judge_error" (the report is incomplete: a re-run asks again); a Z or unreadable reply
    leaves it "unparsed".
    """
    choices = [match_choice(p, o) for p, o in zip(predictions, options, strict=True)]
    if judge is None:
        return choices
    from vlmeval.judge import JudgeQuery

    judge.declare_prompt(JUDGE_PROMPT_NAME, JUDGE_PROMPT)
    pending = [i for i, choice in enumerate(choices) if choice.failure == Failure.UNPARSED]
    outcome = ask_until_read(
        judge, pending,
        lambda i, attempt: JudgeQuery(judge_prompt(questions[i], options[i], str(predictions[i])),
                                      max_tokens=JUDGE_MAX_TOKENS),
        lambda i, reply: judge_letter(reply, options[i]), tries=1)
    for i, letter in outcome.read.items():
        choices[i] = Choice(letter, rule="judge")
    for i, failure in outcome.failed.items():
        choices[i] = Choice(None, failure=failure)
    for i in outcome.unread:
        choices[i] = Choice(None, failure=Failure.UNPARSED)
    return choices


@dataclass(frozen=True)
class JudgeOutcome:
    """Per pending index: the letter read from the judge's reply, a reply that never came (a request
    that failed for good, not cached: a re-run asks again; or one over the size limit), with its
    failure, or replies that never read as a letter."""

    read: dict[int, str]
    failed: dict[int, Failure]
    unread: list[int]


def ask_until_read(
    judge: Judge, pending: Sequence[int], query: Callable[[int, int], JudgeQuery],
    read: Callable[[int, str], str | None], tries: int,
) -> JudgeOutcome:
    """The judge fall-back of choice readings: ask about every pending answer in one batched round
    (`query(index, attempt)`), read each reply (`read(index, text)`, None when it names no letter),
    and ask again about the unread ones, `tries` rounds in all."""
    letters: dict[int, str] = {}
    failed: dict[int, Failure] = {}
    for attempt in range(tries):
        if not pending:
            break
        replies = judge.ask_many([query(i, attempt) for i in pending])
        still_open = []
        for i, reply in zip(pending, replies, strict=True):
            if reply.text is None:
                failed[i] = reply.failure or Failure.JUDGE_ERROR
                continue
            letter = read(i, reply.text)
            if letter is None:
                still_open.append(i)
            else:
                letters[i] = letter
        pending = still_open
    return JudgeOutcome(letters, failed, list(pending))
