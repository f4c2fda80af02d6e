"""Yes/no answers as MME's official scorer, LLaVA's POPE script and VLMEvalKit read them.

MME's eval tool (BradyFU/Awesome-Multimodal-Large-Language-Models, branch Evaluation,
`tools/eval_tool/calculation.py`, `parse_pred_ans` after `pred_ans.lower()`): the lower-cased answer
is `yes` or `no` as it is; otherwise `yes` if its first four characters contain "yes", else `no` if
they contain "no", else `other` (scored wrong). So "Yes, it is" is yes, "Not really" is no (its first
four characters hold "no"), "There is no dog" is other.

The official tool reads answers that LLaVA's generation script has already stripped
(`outputs.strip()`); the answer is stripped here too, so " Yes" parses as it would there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vlmeval.failure import Failure

if TYPE_CHECKING:
    from vlmeval.judge import Judge

YES, NO, OTHER = "yes", "no", "other"


def mme_yes_no(prediction: str) -> str:
    """`yes`, `no` or `other`, by the official MME rule."""
    text = prediction.strip().lower()
    if text in (YES, NO):
        return text
    head = text[:4]
    if YES in head:
        return YES
    if NO in head:
        return NO
    return OTHER


def llava_pope_yes_no(prediction: str) -> str:
    """`yes` or `no`, as LLaVA's POPE scorer reads an answer (haotian-liu/LLaVA `llava/eval/eval_pope.py`).

    Keep the text before the first `.`, remove `,`, split on single spaces: `No`, `not` or `no`
    among the words means no, anything else (an empty answer included) yes. Words are split on
    spaces only, so "No\\nThere is none" is one word and reads yes, as in the official script. The
    answer is stripped first, as LLaVA's generation script writes it (`outputs.strip()`).
    """
    text = prediction.strip()
    if "." in text:
        text = text.split(".")[0]
    words = text.replace(",", "").split(" ")
    return NO if ("No" in words or "not" in words or "no" in words) else YES


# VLMEvalKit (vlmeval/dataset/utils/yorn.py and its `process_punctuation`; the spec pins e8e78f05, the text
# was read at 0c7163c9): `YOrN_Extraction`, and `YOrN_auxeval` with `YOrN_match_prompt` for what it leaves open.
VLMEVALKIT_YORN_PROMPT = (
    "You are an AI assistant who will help me to match an answer with two options of a question. "
    "The options are only Yes / No. "
    "You are provided with a question and an answer, "
    "and you need to find which option (Yes / No) is most similar to the answer. "
    "If the meaning of all options are significantly different from the answer, output Unknown. "
    "Your should output a single word among the following 3 choices: Yes, No, Unknown.\n"
    "Example 1: \n"
    "Question: Is the word in this image 'Hello'?\nAnswer: The word in this image is 'Hello'.\nYour output: Yes\n"
    "Example 2: \n"
    "Question: Is the word in this image 'Hello'?\n"
    "Answer: The word in this image is not 'Hello'.\nYour output: No\n"
    "Example 3: \n"
    "Question: {}?\nAnswer: {}\nYour output: "
)
VLMEVALKIT_YORN_TRIES = 5  # `YOrN_auxeval`: temperature 0.5 x try
_MARKS = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!")
_COMMA_NUMBER = re.compile(r"(\d)(,)(\d)")
_PERIOD = re.compile(r"(?<!\d)\.(?!\d)")
_PERIOD_COUNT = int(re.UNICODE)  # VLMEvalKit passes the flag where sub() expects a count




def vlmevalkit_yes_no(prediction: str) -> str:
    """VLMEvalKit's `YOrN_Extraction`: Yes, No or Unknown."""
    original = prediction.lower()
    text = original
    for mark in _MARKS:  # each mark's fate is decided on the original text, as `process_punctuation` does
        if (mark + " " in original or " " + mark in original) or _COMMA_NUMBER.search(original) is not None:
            text = text.replace(mark, "")
        else:
            text = text.replace(mark, " ")
    words = _PERIOD.sub("", text, count=_PERIOD_COUNT).split()
    if "yes" in words and "no" not in words:
        return "Yes"
    if "no" in words and "yes" not in words:
        return "No"
    return "Unknown"



@dataclass(frozen=True)
class YesNo:
    """`Yes` or `No`, or no answer and why (`empty`, `unparsed`, `judge_failed`, `judge_error`, `error`)."""

    answer: str | None
    failure: str | None = None


def read_yes_no_vlmevalkit(predictions: Sequence[str | None], questions: Sequence[str],
                           judge: Judge | None = None) -> list[YesNo]:
    """`YOrN_Extraction` for every answer; with a judge, `YOrN_auxeval` for the Unknown ones (up to 5 replies
    at temperature 0.5 x try, read by the same rule). VLMEvalKit keeps a final Unknown: wrong, and counted."""
    read: list[YesNo] = []
    for prediction in predictions:
        answer = None if prediction is None else vlmevalkit_yes_no(prediction)
        if prediction is None:
            read.append(YesNo(None, Failure.ERROR))
        elif answer == "Unknown":
            read.append(YesNo(None, Failure.UNPARSED if prediction.strip() else Failure.EMPTY))
        else:
            read.append(YesNo(answer))
    if judge is not None:
        _judge_unknown(read, predictions, questions, judge)
    return read


def _judge_unknown(read: list[YesNo], predictions: Sequence[str | None], questions: Sequence[str],
                   judge: Judge) -> None:
    from vlmeval.judge import JudgeQuery

    pending = [i for i, r in enumerate(read) if r.failure in (Failure.UNPARSED, Failure.EMPTY)]
    if pending:
        judge.declare_prompt("vlmevalkit-yorn", VLMEVALKIT_YORN_PROMPT)
    for attempt in range(VLMEVALKIT_YORN_TRIES):
        if not pending:
            return
        queries = [JudgeQuery(VLMEVALKIT_YORN_PROMPT.format(questions[i], predictions[i]),
                              temperature=0.5 * attempt, attempt=attempt) for i in pending]
        still = []
        for i, reply in zip(pending, judge.ask_many(queries), strict=True):
            answer = None if reply.text is None else vlmevalkit_yes_no(reply.text)
            if answer is None:
                read[i] = YesNo(None, Failure.JUDGE_ERROR)
            elif answer == "Unknown":
                still.append(i)
            else:
                read[i] = YesNo(answer)
        pending = still
    for i in pending:
        read[i] = YesNo(None, Failure.JUDGE_FAILED)
