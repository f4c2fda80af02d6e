"""VLMEvalKit's multiple-choice answer reading: MMBench's official one, for any task that names it.

Source (facts and formulas, no code copied): open-compass/VLMEvalKit at commit
e8e78f05f3080fe28154f2130321f17951c3be94 (2026), `vlmeval/utils/matching_util.py` (`can_infer`,
`can_infer_option`, `can_infer_text`) and `vlmeval/dataset/utils/multiple_choice.py`
(`build_prompt`, `build_prompt_cn`, `build_option_str`, `extract_answer_from_item`). The rules have
changed over the years (the last-tokens window, the length limit and the `answer is X` pattern came
late), so the commit is part of the name of this reading and is recorded in every report.

Rule stage (`can_infer`), over the options whose value is not empty:
1. an answer holding `Failed to obtain answer via API` is unresolved; one holding a refusal of
   `REFUSALS` is `Z` (no option: final and wrong);
2. each of ``.()[],:;!*#{}`` becomes a space and the answer is split on whitespace; if exactly one
   option letter is a token and its first occurrence is at index > len(tokens) - 5 (one of the last
   four tokens), that letter; if no option letter is a token but `Z` is, `Z`;
3. else the first match of ``(?i)(?:correct\\s+)?answer\\s+is\\s+\\**([ABCD])\\**`` whose letter
   (upper-cased) is an option (case-insensitive, so `the answer is a bird` reads A);
4. else, if the answer is at most twice as long as all option texts together, the one option whose
   lower-cased text is a plain substring of the lower-cased answer (`hotdog` holds `dog`).
What stays open goes to an LLM judge with `build_prompt` (`build_prompt_cn` when the question holds
a CJK ideograph), whose reply is read by the same rules, up to three replies. VLMEvalKit then draws a
random letter; here the answer stays unresolved (`judge_failed`), wrong and counted. A judge request
that fails for good is `judge_error` (`Failure.JUDGE_ERROR`): the report is incomplete and a
re-run asks again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from vlmeval.answers.choice import Choice, ask_until_read
from vlmeval.failure import Failure

if TYPE_CHECKING:
    from vlmeval.judge import Judge

VLMEVALKIT_COMMIT = "e8e78f05f3080fe28154f2130321f17951c3be94"
READING_NAME = "vlmevalkit"
READING_REFERENCE = f"open-compass/VLMEvalKit@{VLMEVALKIT_COMMIT} vlmeval/utils/matching_util.py can_infer"

NO_OPTION = "Z"
API_FAILURE = "Failed to obtain answer via API"
REFUSALS = (
    "Sorry, I can't help with images of people yet.",
    "I can't process this file.",
    "I'm sorry, but without the image provided",
    "Cannot determine the answer",
)
_TO_SPACE = str.maketrans({mark: " " for mark in ".()[],:;!*#{}"})
_LAST_TOKENS = 5  # the letter's first index must exceed len(tokens) - 5
_ANSWER_IS = re.compile(r"(?i)(?:correct\s+)?answer\s+is\s+\**([ABCD])\**")
_TEXT_LENGTH_FACTOR = 2
_CJK = re.compile("[\u4e00-\u9fff]")  # VLMEvalKit's `cn_string`
JUDGE_TRIES = 3
# VLMEvalKit's judge wrapper (OpenAIWrapper) defaults: temperature 0, max_tokens 2048.
JUDGE_TEMPERATURE = 0.0
JUDGE_MAX_TOKENS = 2048

# `build_prompt` and `build_prompt_cn` at the pinned commit; `{}` are question, options, answer.
JUDGE_PROMPT_EN = (
    "You are an AI assistant who will help me to match "
    "an answer with several options of a single-choice question. "
    "You are provided with a question, several options, and an answer, "
    "and you need to find which option is most similar to the answer. "
    "If the meaning of all options are significantly different from the answer, output Z. "
    "Your should output a single uppercase character in A, B, C, D (if they are valid options), and Z. \n"
    "Example 1: \n"
    "Question: What is the main object in image?\nOptions: A. teddy bear B. rabbit C. cat D. dog\n"
    "Answer: a cute teddy bear\nYour output: A\n"
    "Example 2: \n"
    "Question: What is the main object in image?\nOptions: A. teddy bear B. rabbit C. cat D. dog\n"
    "Answer: Spider\nYour output: Z\n"
    "Example 3: \n"
    "Question: {}?\nOptions: {}\nAnswer: {}\nYour output: "
)
JUDGE_PROMPT_CN = (
    "你是一个帮助我匹配答案与单选题中多个选项的 AI 助手。"
    "你会被提供：一个问题，多个选项，一个答案。你的任务是找到与答案意义最相近的选项。"
    "如果所有选项的意义都与答案显著不同，则输出 Z。"
    "你应该输出一个单个的大写字母，例如 A, B, C, D（如果它们是有效选项），或 Z。"
    "例 1:"
    "问题: 图中最主要的物体是什么?\n选项: A. 泰迪熊 B. 兔子 C. 猫 D. 狗\n答案: 一只可爱的泰迪熊\n输出: A\n"
    "例 2: \n"
    "问题: 图中最主要的物体是什么?\n选项: A. 泰迪熊 B. 兔子 C. 猫 D. 狗\n答案: 蜘蛛\n输出: Z\n"
    "例 3: \n"
    "问题: {}?\n选项: {}\n答案: {}\n输出: "
)


def can_infer_option(answer: str, choices: Mapping[str, str]) -> str | None:
    """Stage 1: an option letter, `Z`, or None (unresolved)."""
    if API_FAILURE in answer:
        return None
    if any(refusal in answer for refusal in REFUSALS):
        return NO_OPTION
    tokens = answer.translate(_TO_SPACE).split()
    present = [letter for letter in choices if letter in tokens]
    if len(present) == 1:
        if tokens.index(present[0]) > len(tokens) - _LAST_TOKENS:
            return present[0]
    elif not present and NO_OPTION in tokens:
        return NO_OPTION
    match = _ANSWER_IS.search(answer)
    if match is not None and match.group(1).upper() in choices:
        return match.group(1).upper()
    return None


def can_infer_text(answer: str, choices: Mapping[str, str]) -> str | None:
    """Stage 2: the one option whose lower-cased text is a substring of the lower-cased answer."""
    lowered = answer.lower()
    if len(lowered) > _TEXT_LENGTH_FACTOR * sum(len(text) for text in choices.values()):
        return None
    hits = [letter for letter, text in choices.items() if text.lower() in lowered]
    return hits[0] if len(hits) == 1 else None


def can_infer(answer: str, choices: Mapping[str, str]) -> str | None:
    """VLMEvalKit's `can_infer`: an option letter, `Z` (no option), or None (unresolved)."""
    letter = can_infer_option(answer, choices)
    return letter if letter is not None else can_infer_text(answer, choices)


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def option_string(choices: Mapping[str, str]) -> str:
    """`build_option_str`: a header line, then `{letter}. {text}` per option, each ending in a newline."""
    return "There are several options: \n" + "".join(f"{letter}. {text}\n" for letter, text in choices.items())


def judge_prompt(question: str, choices: Mapping[str, str], prediction: str) -> str:
    """The exact judge prompt: the CN template when the question holds a CJK ideograph."""
    template = JUDGE_PROMPT_CN if has_cjk(question) else JUDGE_PROMPT_EN
    return template.format(question, option_string(choices), prediction)


def _verdict(letter: str, rule: str) -> Choice:
    return Choice(None, rule=rule, failure=Failure.NO_OPTION) if letter == NO_OPTION else Choice(letter, rule=rule)


def read_choices(
    predictions: Sequence[str | None],
    choices: Sequence[Mapping[str, str]],
    questions: Sequence[str],
    judge: Judge | None = None,
) -> list[Choice]:
    """The rules for every answer, then the judge (one batched round per try) for what they leave open.

    Failures: `error` (no prediction), `no_option` (read as Z), `unparsed`/`empty` (open, no judge),
    `judge_failed` (three replies read as nothing), `judge_error` (a request that failed for good).
    """
    verdicts: list[Choice] = []
    for prediction, options in zip(predictions, choices, strict=True):
        if prediction is None:
            verdicts.append(Choice(None, failure=Failure.ERROR))
            continue
        letter = can_infer(prediction, options)
        if letter is not None:
            verdicts.append(_verdict(letter, "rules"))
        else:
            verdicts.append(Choice(None, failure=Failure.UNPARSED if prediction.strip() else Failure.EMPTY))
    if judge is not None:
        _judge_open(verdicts, predictions, choices, questions, judge)
    return verdicts


def _judge_open(
    verdicts: list[Choice],
    predictions: Sequence[str | None],
    choices: Sequence[Mapping[str, str]],
    questions: Sequence[str],
    judge: Judge,
) -> None:
    from vlmeval.judge import JudgeQuery

    pending = [i for i, v in enumerate(verdicts) if v.failure in (Failure.UNPARSED, Failure.EMPTY)]
    for i in pending:  # the report names the templates it used
        if has_cjk(questions[i]):
            judge.declare_prompt(f"{READING_NAME}-cn", JUDGE_PROMPT_CN)
        else:
            judge.declare_prompt(f"{READING_NAME}-en", JUDGE_PROMPT_EN)
    prompts = {i: judge_prompt(questions[i], choices[i], str(predictions[i])) for i in pending}
    outcome = ask_until_read(
        judge, pending,
        lambda i, attempt: JudgeQuery(prompts[i], temperature=JUDGE_TEMPERATURE, max_tokens=JUDGE_MAX_TOKENS,
                                      attempt=attempt),
        lambda i, reply: can_infer(reply, choices[i]), tries=JUDGE_TRIES)
    for i, letter in outcome.read.items():
        verdicts[i] = _verdict(letter, "judge")
    for i, failure in outcome.failed.items():  # failed for good (not cached: a re-run asks again), or oversized
        verdicts[i] = Choice(None, rule="judge", failure=failure)
    for i in outcome.unread:
        verdicts[i] = Choice(None, rule="judge", failure=Failure.JUDGE_FAILED)
