"""The shared multiple-choice extraction: every rule, every refusal, the judge, and no guessing."""

from __future__ import annotations

import random
import string
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, FakeResponse, last_user_text
from vlmeval.answers.choice import (
    JUDGE_PROMPT,
    Choice,
    judge_letter,
    judge_prompt,
    match_choice,
    option_text_letter,
    resolve_choices,
    standalone_letter,
)
from vlmeval.judge import Judge, prompt_hash
from vlmeval.openai_client import ChatClient

ABCD = "ABCD"
COLORS = {"A": "red", "B": "green", "C": "blue", "D": "yellow"}


@pytest.mark.parametrize(
    ("answer", "letter"),
    [
        ("B", "B"),
        ("B.", "B"),
        ("(B)", "B"),
        ("B)", "B"),
        ("[C]", "C"),
        ("**D**", "D"),
        ("The answer is B", "B"),
        ("The answer is B.", "B"),
        ("B. green", "B"),
        ("B. B is the answer", "B"),  # the same letter twice is one letter
        ("I think C", "C"),  # "I" is no option here
        ("答案是B。", "B"),
        ("选C", "C"),
        ("A", "A"),
        ("A.", "A"),
        ("A. red", "A"),
        ("(A) red", "A"),
        ("A: red", "A"),
        ("Option A", "A"),
        ("A is correct", "A"),  # no article is followed by "is"
        ("The answer is A because the car is red", "A"),  # an answer cue before it
        ("A\nThe car is red.", "A"),  # alone on its line
    ],
)
def test_standalone_letter_accepts(answer: str, letter: str) -> None:
    assert standalone_letter(answer, ABCD) == letter


@pytest.mark.parametrize(
    "answer",
    [
        "A or B",  # two letters
        "A and B are both possible",
        "B is wrong, C is right",
        "A. red\nB. green",
        "A cat is on the mat",  # the article
        "The picture shows A cat.",
        "A red car",
        "E",  # not an option of this question
        "AB",  # glued letters are a word
        "B2",
        "b",  # lower case is never a letter
        "",
    ],
)
def test_standalone_letter_refuses(answer: str) -> None:
    assert standalone_letter(answer, ABCD) is None


@pytest.mark.parametrize(
    ("answer", "options", "letter"),
    [
        ("green", COLORS, "B"),
        ("The color is Green.", COLORS, "B"),
        ("it is  blue", COLORS, "C"),
        ("the sign says cat", {"A": "cat", "B": "category"}, "A"),
        ("a category", {"A": "cat", "B": "category"}, "B"),  # "cat" is not inside "category"
        ("是红色的", {"A": "红色", "B": "蓝色"}, "A"),  # CJK: plain substring
        ("red", {"A": "red", "B": "dark red"}, "A"),
    ],
)
def test_option_text_accepts(answer: str, options: Mapping[str, str], letter: str) -> None:
    assert option_text_letter(answer, options) == letter


@pytest.mark.parametrize(
    ("answer", "options"),
    [
        ("red or green", COLORS),  # two options
        ("dark red", {"A": "red", "B": "dark red"}),  # an option text inside another: both match
        ("purple", COLORS),
        ("reddish", COLORS),
        ("Looking at the picture carefully, the car in the middle is clearly red", COLORS),  # too long
    ],
)
def test_option_text_refuses(answer: str, options: Mapping[str, str]) -> None:
    assert option_text_letter(answer, options) is None


def test_rules_apply_in_order_and_report_which_one_resolved() -> None:
    assert match_choice("C", COLORS) == Choice("C", rule="letter")
    assert match_choice("C. green", COLORS) == Choice("C", rule="letter")  # the letter wins over text
    assert match_choice("green", COLORS) == Choice("B", rule="text")
    # An article is no letter, but its sentence can still name one option.
    assert match_choice("A cat", {"A": "a dog", "B": "a cat"}) == Choice("B", rule="text")
    assert match_choice("  \n", COLORS) == Choice(None, failure="empty")
    assert match_choice(None, COLORS) == Choice(None, failure="error")
    assert match_choice("A or B", COLORS) == Choice(None, failure="unparsed")


def test_unresolvable_answers_never_get_a_letter() -> None:
    """No fallback guesses: text with no option letter or option text stays unresolved."""
    rng = random.Random(0)
    for _ in range(300):
        words = [
            "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 7)))
            for _ in range(rng.randint(1, 6))
        ]
        answer = " ".join(words)
        if any(color in words for color in COLORS.values()):
            continue
        assert match_choice(answer, COLORS) == Choice(None, failure="unparsed"), answer


@pytest.mark.parametrize(
    ("reply", "letter"),
    [("B", "B"), ("B.", "B"), (" The answer is C", "C"), ("Z", None), ("A or B", None), ("", None),
     ("E", None)],
)
def test_judge_reply_parsing(reply: str, letter: str | None) -> None:
    assert judge_letter(reply, COLORS) == letter


def _fake_judge(body: dict, headers: Mapping[str, str]) -> FakeResponse | str:
    prompt = last_user_text(body)
    if "Model's answer: the second one" in prompt:
        return "B"
    if "Model's answer: broken" in prompt:
        return FakeResponse.error(400, "judge refused")
    return "Z"


def test_judge_resolves_only_what_the_rules_leave_open(tmp_path: Path) -> None:
    options = [COLORS] * 5
    predictions = ["C", "green", "the second one", "no idea", "broken"]
    questions = [f"What color is car {i}?" for i in range(5)]
    with FakeOpenAIServer(_fake_judge) as server:
        client = ChatClient(server.base_url, "judge-1", max_retries=0,
                            api_key_env="NO_SUCH_KEY")
        judge = Judge(client, tmp_path)
        choices = resolve_choices(predictions, options, questions, judge)
    assert choices == [
        Choice("C", rule="letter"),
        Choice("B", rule="text"),
        Choice("B", rule="judge"),
        Choice(None, failure="unparsed"),  # the judge said Z
        Choice(None, failure="judge_error"),  # the request failed: re-run
    ]
    sent = sorted(last_user_text(r.body) for r in server.requests)
    expected = [judge_prompt(questions[i], COLORS, predictions[i]) for i in (2, 3, 4)]  # rows 2-4 only
    assert sent == sorted(expected)
    assert "Question: What color is car 4?\nOptions:\nA. red\nB. green\nC. blue\nD. yellow\n" \
        "Model's answer: broken\n" in expected[2]
    assert all(r.body["temperature"] == 0.0 for r in server.requests)
    assert judge.describe()["prompts"] == {"choice": prompt_hash(JUDGE_PROMPT)}


def test_without_a_judge_nothing_is_asked() -> None:
    assert resolve_choices(["no idea"], [COLORS], ["q"], None) == [Choice(None, failure="unparsed")]
