"""VQA answer normalisation and accuracy against the official rules.

Expected values were worked out by hand from GT-Vision-Lab/VQA vqaEval.py (master) and LLaVA's
EvalAIAnswerProcessor (llava/eval/m4c_evaluator.py). A small, deliberately naive re-statement of
the official loop (sequential replace() calls, explicit leave-one-out lists, the official contraction
table copied in tests/official_tables.py) cross-checks the optimised module on random answers; the
oracles of tests/tasks/test_official_oracles.py do the same for VQAv2 and VizWiz end to end.
"""

from __future__ import annotations

import random
import re

import pytest

from tests.official_tables import VIZWIZ_CONTRACTIONS as OFFICIAL_VIZWIZ_CONTRACTIONS
from tests.official_tables import VQA_CONTRACTIONS
from vlmeval.answers.vqa import (
    CONTRACTIONS,
    VIZWIZ_CONTRACTIONS,
    evalai_normalize,
    process_digit_article,
    process_punctuation,
    vqa_accuracies,
    vqa_accuracy,
    vqa_score,
)


def official_normalize(text: str) -> str:
    return process_digit_article(process_punctuation(text))


# --- official normalisation (processPunctuation + processDigitArticle) -------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("two dogs", "2 dogs"),  # number words become digits
        ("None", "0"),
        ("ten", "10"),
        ("eleven", "eleven"),  # only none/zero..ten are mapped
        ("the dog", "dog"),  # articles dropped
        ("An Apple", "apple"),
        ("a", ""),  # a lone article leaves nothing
        ("dont", "don't"),  # contractions
        ("isnt", "isn't"),
        ("Dont", "don't"),  # lower-cased before the lookup
        ("don't", "don't"),  # the apostrophe is no punctuation mark and the key is absent: unchanged
        ("Im", "im"),  # key "Im" has a capital, looked up after lower(): never applies
        ("somebody'd", "somebodyd"),  # the table's reversed entry
        ("1,000", "1000"),  # digit-comma-digit: commas deleted
        ("3.5", "3.5"),  # a period before a digit stays
        ("3.", "3"),  # trailing period goes
        (".5", ".5"),
        ("U.S.A.", "usa"),
        ("yes.", "yes"),
        ("well-known", "well known"),  # mark not next to a space: becomes a space
        ("well - known", "well known"),  # next to a space: deleted (then spaces collapse)
        ("red,white", "red white"),
        ("red, white", "red white"),
        ("yes!", "yes"),
        ("1,000-2,000", "10002000"),  # digit-comma-digit deletes EVERY mark, the hyphen too
        ("a,b 1,2", "ab 12"),
        ("(left)", "left"),
        ("t-shirt/jeans", "t shirt jeans"),
        ("10:30", "10:30"),  # ':' is not in the list
        ("  The   Two  ", "2"),
    ],
)
def test_official_normalisation(raw: str, expected: str) -> None:
    assert official_normalize(raw) == expected


def test_period_strip_removes_at_most_32_periods() -> None:
    # vqaEval passes re.UNICODE (32) in sub()'s count position.
    assert process_punctuation("." * 40) == "." * 8
    assert process_punctuation("a." * 33) == "a" * 32 + "a."


def test_contraction_tables_are_the_official_ones() -> None:
    # copied in tests/official_tables.py from vqaEval.py (master) and the VizWiz API's vqaEval.py
    assert CONTRACTIONS == VQA_CONTRACTIONS and list(CONTRACTIONS) == list(VQA_CONTRACTIONS)
    assert VIZWIZ_CONTRACTIONS == OFFICIAL_VIZWIZ_CONTRACTIONS
    assert VIZWIZ_CONTRACTIONS["dont"] == "don\u2019t" and VIZWIZ_CONTRACTIONS["weve"] == "we've"


# --- EvalAI answer processor ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Yes.", "yes"),
        ("Two", "2"),
        ("The man's hat?", "man 's hat"),  # "'s" -> " 's", "?" removed, article dropped
        ("IT'S", "it 's"),
        ("Hello, World!", "hello world"),
        ("1,000", "1000"),
        ("1,000-2,000", "1000 2000"),  # commas gone first, so the digit-comma-digit rule never fires
        ("red,white", "redwhite"),  # commas are deleted outright, not turned into spaces
        ("  yes\n", "yes"),
        ("\tno\tway\n", "no way"),
        ("A.", ""),
        ("Dont", "don't"),
        ("isnt", "isn't"),
        ("10% discount", "10% discount"),
        ("U.S.A.", "usa"),
        ("3.5", "3.5"),
        ("a dog; a cat", "dog cat"),
    ],
)
def test_evalai_normalize(raw: str, expected: str) -> None:
    assert evalai_normalize(raw) == expected


# --- accuracy arithmetic ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n_matching", "expected"),
    # k matching annotators each see k-1 matches among the other 9, the 10-k others see k:
    # k=1: (1*0 + 9*1/3)/10 = 0.3; k=2: (2*1/3 + 8*2/3)/10 = 0.6; k=3: (3*2/3 + 7*1)/10 = 0.9;
    # k=4: (4*1 + 6*1)/10 = 1.0.
    [(0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (7, 1.0), (10, 1.0)],
)
def test_leave_one_out_accuracy(n_matching: int, expected: float) -> None:
    gts = ["cat"] * n_matching + ["dog", "bird"] * 5
    gts = gts[:10]
    assert vqa_accuracy("cat", gts) == pytest.approx(expected, abs=1e-12)
    # positions of the matching annotators do not change the value
    assert vqa_accuracy("cat", list(reversed(gts))) == pytest.approx(expected, abs=1e-12)


def test_accuracy_with_other_than_ten_answers() -> None:
    # 3 answers, 1 match: matching one sees 0, two others see 1 -> (0 + 2/3) / 3
    assert vqa_accuracy("cat", ["cat", "dog", "dog"]) == pytest.approx(2 / 9)
    with pytest.raises(ValueError):
        vqa_accuracy("cat", [])
    with pytest.raises(TypeError):
        vqa_accuracy("cat", "cat")


def test_normalises_both_sides_when_answers_differ() -> None:
    gts = ["Two", "2", "two", "2.", "2", "3", "three", "2", "two", "2"]
    # after normalisation 8 answers are "2" -> 1.0; "3" matches the two "3"s -> 0.6
    assert vqa_accuracy("two", gts) == 1.0
    assert vqa_accuracy("THREE", gts) == pytest.approx(0.6)
    assert vqa_accuracy("The dog.", ["dog"] * 9 + ["a dog"]) == 1.0


def test_identical_answers_are_not_normalised() -> None:
    # all 10 identical: raw, case-sensitive comparison after whitespace cleaning only
    assert vqa_accuracy("yes", ["Yes"] * 10) == 0.0
    assert vqa_accuracy("Yes", ["Yes"] * 10) == 1.0
    assert vqa_accuracy("2", ["two"] * 10) == 0.0
    assert vqa_score("two", ["two"] * 10) == 0.0  # EvalAI turns the prediction into "2"
    assert vqa_accuracy("yes.", ["yes"] * 10) == 0.0
    assert vqa_score("Yes.", ["yes"] * 10) == 1.0
    # one differing answer switches normalisation on for everyone
    assert vqa_accuracy("yes", ["Yes"] * 9 + ["yes"]) == 1.0


def test_newlines_and_tabs() -> None:
    # ground truths are cleaned BEFORE the identical-answers test
    assert vqa_accuracy(" yes\n", ["yes"] * 9 + ["yes\t"]) == 1.0
    assert vqa_accuracy("red\tcar", ["red car"] * 10) == 1.0
    assert vqa_accuracy("red\ncar", ["red car"] * 3 + ["blue car"] * 7) == pytest.approx(0.9)


def test_score_composes_normalize_and_accuracy() -> None:
    gts = ["2 dogs"] * 4 + ["dogs"] * 6
    assert vqa_score("Two dogs.", gts) == vqa_accuracy(evalai_normalize("Two dogs."), gts) == 1.0
    assert vqa_score("The man's hat?", ["man 's hat"] * 3 + ["hat"] * 7) == pytest.approx(0.9)


# --- cross-check against a naive re-statement of the official loop ----------------------------
_MARKS = [";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!"]


def _naive_punct(text: str) -> str:
    out = text
    for p in _MARKS:
        if p + " " in text or " " + p in text or re.search(r"(\d)(\,)(\d)", text) is not None:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return re.sub(r"(?!<=\d)(\.)(?!\d)", "", out, count=32)


def _naive_digit_article(text: str) -> str:
    words_0_to_10 = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    numbers = {w: str(i) for i, w in enumerate(words_0_to_10)}
    numbers["none"] = "0"
    words = [numbers.get(w, w) for w in text.lower().split()]
    words = [w for w in words if w not in ("a", "an", "the")]
    return " ".join(VQA_CONTRACTIONS.get(w, w) for w in words)  # the official table, not vlmeval's


def _naive_accuracy(prediction: str, gt_answers: list[str]) -> float:
    res = prediction.replace("\n", " ").replace("\t", " ").strip()
    answers = [
        {"answer": a.replace("\n", " ").replace("\t", " ").strip(), "answer_id": str(i)}
        for i, a in enumerate(gt_answers)
    ]
    if len({a["answer"] for a in answers}) > 1:
        for a in answers:
            a["answer"] = _naive_digit_article(_naive_punct(a["answer"]))
        res = _naive_digit_article(_naive_punct(res))
    accs = []
    for own in answers:
        others = [a for a in answers if a != own]
        accs.append(min(1, len([a for a in others if a["answer"] == res]) / 3))
    total = 0.0
    for acc in accs:
        total += acc
    return total / len(accs)


def test_matches_naive_official_loop_on_random_answers() -> None:
    rng = random.Random(1234)
    pieces = ["Two", "dogs", "the", "A", "1,000", "3.5", "U.S.A.", "well-known", "dont", " - ", ",", "?", "!",
              "(red)", "yes", "No", "isnt", "\n", "\t", ".", "5", "t-shirt", "/", "a,b", "none", "'s"]
    for _ in range(3000):
        vocab = ["".join(rng.choice(pieces) + rng.choice(["", " "]) for _ in range(rng.randint(1, 4)))
                 for _ in range(rng.randint(1, 4))]
        gts = [rng.choice(vocab) for _ in range(10)]
        pred = rng.choice(vocab + [rng.choice(pieces)])
        assert vqa_accuracy(pred, gts) == _naive_accuracy(pred, gts), (pred, gts)
        normed = evalai_normalize(pred)
        naive_evalai = pred.lower().replace(",", "").replace("?", "").replace("'s", " 's").strip()
        naive_evalai = _naive_digit_article(_naive_punct(naive_evalai.replace("\n", " ").replace("\t", " ").strip()))
        assert normed == naive_evalai, pred


@pytest.mark.parametrize("ragged", [False, True])
def test_bulk_accuracies_equal_the_official_loop_bit_for_bit(ragged: bool) -> None:
    """`vqa_accuracies` (numbered strings, numpy) against the naive loop and `vqa_accuracy`, exactly:
    the float sums must match to the last bit, with 10 answers each (one column per annotator) and
    with 1 to 12 (the general path)."""
    rng = random.Random(99 + ragged)
    pieces = ["Two", "two", "2", "dogs", "the", "A", "1,000", "yes", "Yes", "yes.", "No", "isnt", "\n", "\t",
              "t-shirt", "none", "'s", "red", " red"]
    predictions, gt_lists = [], []
    for _ in range(4000):
        vocab = ["".join(rng.choice(pieces) + rng.choice(["", " "]) for _ in range(rng.randint(1, 3)))
                 for _ in range(rng.randint(1, 4))]
        gt_lists.append([rng.choice(vocab) for _ in range(rng.randint(1, 12) if ragged else 10)])
        predictions.append(evalai_normalize(rng.choice(vocab + [rng.choice(pieces)])))
    bulk = vqa_accuracies(predictions, gt_lists)
    assert bulk == [vqa_accuracy(p, g) for p, g in zip(predictions, gt_lists)]
    assert bulk == [_naive_accuracy(p, g) for p, g in zip(predictions, gt_lists)]
    assert {round(a * 30) for a in bulk} >= {0, 9, 18, 27, 30}  # 0, 0.3, 0.6, 0.9 and 1 all occur


def test_bulk_accuracies_refuse_what_the_single_one_refuses() -> None:
    assert vqa_accuracies([], []) == []
    with pytest.raises(ValueError, match="gt_answers 1 is empty"):
        vqa_accuracies(["a", "b"], [["a"], []])
    with pytest.raises(TypeError, match="gt_answers 0 must be a sequence"):
        vqa_accuracies(["a"], ["a"])
    with pytest.raises(TypeError, match="prediction 0 must be str"):
        vqa_accuracies([None], [["a"]])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="2 predictions for 1"):
        vqa_accuracies(["a", "b"], [["a"]])
