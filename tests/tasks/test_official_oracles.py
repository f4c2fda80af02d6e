"""Every scorer against an oracle: the official algorithm re-written here from its source, not from vlmeval.

Each oracle transcribes the official script (named in its docstring) in that script's own shape; the
expected values come from it, never from vlmeval's tables or functions. The answers are adversarial:
case, whitespace, punctuation, number words, articles, contractions (straight and curly), Chinese text,
refusals, several letters, verbose answers. MMBench's oracle is in tests/answers/test_vlmevalkit.py.
Where vlmeval deliberately differs (documented in docs/tasks.md), the test says so.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from collections import defaultdict
from pathlib import Path

import pytest

from tests.helpers import image_cell, png_bytes, sqa_row, write_parquet
from tests.official_tables import VIZWIZ_CONTRACTIONS, VQA_CONTRACTIONS
from vlmeval.answers.vqa import vqa_score
from vlmeval.engine.samples import load_samples
from vlmeval.engine.scoring import score_answers
from vlmeval.engine.store import Answer
from vlmeval.registry import load_registry
from vlmeval.task import ScoreContext

VERBOSE = [
    "", " ", "A", "B", "C", "D", "E", "F", "Z", "a", " B", "C ", "\nD\n", "A.", "B. ", "B. green", "C.blue",
    "(A)", "A)", "**B**", "The answer is B.", "The answer is B", "The answer is b.", "the answer is C.",
    "The answer is A. The answer is C.", "I think The answer is D, clearly", "The answer is E.", "The answer is Z.",
    "A or B", "B and C", "答案是B", "选C", "B。", "Cannot determine the answer", "I'm sorry, I can't answer.",
    "Yes", "yes", "YES.", " yes", "Yes, there is.", "No", "no.", "NO", "Not really", "nope", "None", "none",
    "noo", "yesno", "n o", "There is no dog", "I think yes", "Maybe", "y", "是", "不是", "Yes.\nNo.",
    "unanswerable", "Unanswerable.", "UNANSWERABLE", "two", "Two dogs", "2", "two.", "The answer is two",
    "dont", "don't", "don’t", "Don't know", "cant", "can’t", "it's", "its", "a cat", "the cat", "an apple",
    "coca-cola", "Coca Cola", "coca cola!", "1,000", "1000", "3.5", "3.", "U.S.A.", "t-shirt", "t shirt",
    "red/blue", "$5", "5 dollars", "five dollars", "none of them", "zero",
    "The image shows a red car parked next to a blue house with two windows, so the answer is red.", "红色", "一只狗", "unsuitable", "blurry",
]


# --- ScienceQA: haotian-liu/LLaVA llava/eval/eval_science_qa.py ----------------------------------------
def llava_sqa_pred_idx(pred_text: str, n_choices: int) -> int:
    """eval_science_qa.py on the answer model_vqa_science.py wrote (`outputs.strip()`)."""
    options = ["A", "B", "C", "D", "E"]
    if pred_text in options:
        answer = pred_text
    elif len(pred_text) >= 3 and pred_text[0] in options and pred_text[1:3] == ". ":
        answer = pred_text[0]
    else:
        res = re.compile(r"The answer is ([A-Z]).").findall(pred_text)
        answer = res[0] if len(res) == 1 else "FAILED"
    return options.index(answer) if answer in options[:n_choices] else -1  # get_pred_idx


def test_scienceqa_matches_llavas_scorer_on_stripped_answers(tmp_path: Path) -> None:
    choice_sets = [("red", "green"), ("red", "green", "blue"), ("1", "2", "3", "4"), ("a", "b", "c", "d", "e")]
    rows, predictions = [], []
    for (answer, choices), prediction in itertools.product(enumerate(choice_sets), VERBOSE):
        rows.append(sqa_row(choices=choices, answer=answer % len(choices)))
        predictions.append(prediction)
    task = load_registry().get("sqa")
    samples = load_samples(task, str(write_parquet(tmp_path / "test.parquet", rows)), None, None).samples
    records = score_answers(task, samples, {s.id: Answer(s.id, p) for s, p in zip(samples, predictions)},
                            ScoreContext())
    expected = [float(llava_sqa_pred_idx(p.strip(), len(r["choices"])) == r["answer"]) for r, p in zip(rows, predictions)]
    assert [r.scores["correct"] for r in records] == expected
    assert 0 < sum(expected) < len(expected)
    # The one deliberate difference: LLaVA's generation script strips the answer before the scorer sees
    # it; vlmeval strips too, so a raw answer with leading spaces reads differently from the raw scorer.
    assert llava_sqa_pred_idx(" B", 2) == -1 and records[VERBOSE.index(" B")].answer == "B"


# --- MME: the MME eval tool's calculation.py ------------------------------------------------------------
def mme_parse_pred_ans(pred_ans: str) -> str:
    if pred_ans in ["yes", "no"]:
        return pred_ans
    prefix_pred_ans = pred_ans[:4]
    if "yes" in prefix_pred_ans:
        return "yes"
    if "no" in prefix_pred_ans:
        return "no"
    return "other"


def mme_calculation(results: dict[str, list[str]]) -> dict[str, float]:
    """calculation.py's process_result: each subtask's results file (`img\tquestion\tgt\tpred` lines,
    as readlines gives them) in chunks of two consecutive lines, one chunk per image, asserted."""
    scores = {}
    for task_name, lines in results.items():
        chunk_lines = [lines[i:i + 2] for i in range(0, len(lines), 2)]  # divide_chunks(lines, n=2)
        img_num = len(chunk_lines)
        acc_plus_correct_num = 0
        gts, preds = [], []
        for img_items in chunk_lines:
            assert len(img_items) == 2
            img_correct_num = 0
            for img_item in img_items:
                img_name, question, gt_ans, pred_ans = img_item.split("\t")
                gt_ans = gt_ans.lower()
                pred_ans = pred_ans.lower()
                assert gt_ans in ["yes", "no"]
                pred_ans = mme_parse_pred_ans(pred_ans)
                assert pred_ans in ["yes", "no", "other"]
                gts.append(gt_ans)
                preds.append(pred_ans)
                if gt_ans == pred_ans:
                    img_correct_num += 1
            if img_correct_num == 2:
                acc_plus_correct_num += 1
        acc = sum(gt == pred for gt, pred in zip(gts, preds)) / len(gts)  # sklearn accuracy_score
        acc_plus = acc_plus_correct_num / img_num
        scores[task_name] = acc * 100 + acc_plus * 100
    return scores


def test_mme_matches_the_official_calculation(tmp_path: Path) -> None:
    """Two questions per image, as in MME; the rows are shuffled (vlmeval pairs by category and
    image), the official results files hold each image's two lines together (the tool pairs by order)."""
    rng = random.Random(7)
    answers = [a for a in VERBOSE if "\n" not in a.strip() and "\t" not in a]  # one line of the results file
    rows, predictions = [], []
    results: dict[str, list[str]] = defaultdict(list)
    for i in range(600):
        category = ["existence", "OCR", "code_reasoning"][(i // 2) % 3]
        image, truth = f"{i // 2:04d}.png", ["Yes", "No"][i % 2]
        prediction = rng.choice(answers)
        question = f"Is there a thing {i}? Please answer yes or no."
        rows.append({"question_id": image, "image": {"bytes": png_bytes(), "path": None},
                     "question": question, "answer": truth, "category": category})
        predictions.append(prediction)
        # LLaVA's generation strips answers; readlines keeps the newline
        results[category].append(f"{image}\t{question}\t{truth}\t{prediction.strip()}\n")
    order = list(range(len(rows)))
    rng.shuffle(order)
    rows, predictions = [rows[i] for i in order], [predictions[i] for i in order]
    task = load_registry().get("mme")
    samples = load_samples(task, str(write_parquet(tmp_path / "mme.parquet", rows)), None, None).samples
    records = score_answers(task, samples, {s.id: Answer(s.id, p) for s, p in zip(samples, predictions)},
                            ScoreContext())
    from vlmeval.metrics import compute_metrics

    metrics = compute_metrics(task.metrics, records)
    official = mme_calculation(results)
    assert metrics["existence"] == pytest.approx(official["existence"], abs=1e-9)
    assert metrics["ocr"] == pytest.approx(official["OCR"], abs=1e-9)
    assert metrics["code_reasoning"] == pytest.approx(official["code_reasoning"], abs=1e-9)
    # pairs formed: acc+ (both of an image's questions right) is below acc wherever one of two is wrong
    assert all(metrics[f"{t}_acc_plus"] < metrics[f"{t}_acc"] for t in ("existence", "ocr", "code_reasoning"))


# --- VQA: GT-Vision-Lab/VQA vqaEval.py (master), m4c EvalAIAnswerProcessor, VizWiz API vqaEval.py ---------
PUNCT = [";", r"/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!"]
MANUAL_MAP = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
              "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}


def process_punctuation(in_text: str, comma_strip: str = r"(\d)(\,)(\d)") -> str:
    out_text = in_text
    for p in PUNCT:
        if (p + " " in in_text or " " + p in in_text) or (re.search(comma_strip, in_text) is not None):
            out_text = out_text.replace(p, "")
        else:
            out_text = out_text.replace(p, " ")
    return re.compile(r"(?!<=\d)(\.)(?!\d)").sub("", out_text, re.UNICODE)


def process_digit_article(in_text: str, contractions: dict[str, str]) -> str:
    out_text = []
    for word in in_text.lower().split():
        word = dict(MANUAL_MAP).setdefault(word, word)
        if word not in ["a", "an", "the"]:
            out_text.append(word)
    for word_id, word in enumerate(out_text):
        if word in contractions:
            out_text[word_id] = contractions[word]
    return " ".join(out_text)


def evalai_processor(item: str) -> str:
    """m4c_evaluator.EvalAIAnswerProcessor.__call__ (LLaVA's submission converters use it)."""
    item = item.lower().replace(",", "").replace("?", "").replace("'s", " 's").strip()
    item = item.replace("\n", " ").replace("\t", " ").strip()
    item = process_punctuation(item, comma_strip=r"(?<=\d)(\,)+(?=\d)")
    return process_digit_article(item, VQA_CONTRACTIONS)


def leave_one_out(answers: list[str], res_ans: str) -> float:
    gt_acc = []
    for i in range(len(answers)):
        other = [a for j, a in enumerate(answers) if j != i]
        gt_acc.append(min(1, float(len([a for a in other if a == res_ans])) / 3))
    total = 0.0
    for acc in gt_acc:
        total += acc
    return total / len(gt_acc)


def vqav2_eval(res_ans: str, gt_answers: list[str]) -> float:
    """vqaEval.py master: clean both sides; normalise both only when the ground truths differ."""
    gts = [a.replace("\n", " ").replace("\t", " ").strip() for a in gt_answers]
    res_ans = res_ans.replace("\n", " ").replace("\t", " ").strip()
    if len(set(gts)) > 1:
        gts = [process_digit_article(process_punctuation(a), VQA_CONTRACTIONS) for a in gts]
        res_ans = process_digit_article(process_punctuation(res_ans), VQA_CONTRACTIONS)
    return leave_one_out(gts, res_ans)


def vizwiz_eval(res_ans: str, gt_answers: list[str]) -> float:
    """VizWiz API vqaEval.py: the result always cleaned and normalised, the ground truths raw."""
    res_ans = res_ans.replace("\n", " ").replace("\t", " ").strip()
    res_ans = process_digit_article(process_punctuation(res_ans), VIZWIZ_CONTRACTIONS)
    return leave_one_out(gt_answers, res_ans)


GT_VOCAB = ["unanswerable", "Unanswerable", "unsuitable", "yes", "Yes", " yes", "no", "two", "2", "dont",
            "don't", "don’t", "cant", "can’t", "coca cola", "coca-cola", "Coca Cola", "t-shirt", "1,000", "1000",
            "3.5", "a cat", "cat", "the cat", "red", "red ", "5 dollars", "$5", "its", "it's", "红色", "usa", "U.S.A."]


def ground_truth_sets(rng: random.Random) -> list[list[str]]:
    sets = [["unanswerable"] * 2 + ["Unanswerable"] * 3 + ["unsuitable"] * 5, ["yes"] * 10, ["Yes"] * 10,
            ["two"] * 10, ["dont"] * 4 + ["don’t"] * 3 + ["no"] * 3]
    for _ in range(300):
        vocab = rng.sample(GT_VOCAB, rng.randint(1, 4))
        sets.append([rng.choice(vocab) for _ in range(10)])
    return sets


def test_vqav2_matches_the_official_evaluator() -> None:
    rng = random.Random(11)
    for gts in ground_truth_sets(rng):
        for prediction in rng.sample(VERBOSE + GT_VOCAB, 40):
            assert vqa_score(prediction, gts) == vqav2_eval(evalai_processor(prediction), gts), (prediction, gts)


def test_vizwiz_val_matches_vizwizs_own_evaluator(tmp_path: Path) -> None:
    rng = random.Random(5)
    rows, predictions, expected = [], [], []
    for n, gts in enumerate(ground_truth_sets(rng)):
        for prediction in rng.sample(VERBOSE + GT_VOCAB, 12):
            rows.append({"question_id": f"VizWiz_val_{len(rows):08d}", "image": image_cell(None),
                         "question": "What is this?", "answers": gts, "category": "other"})
            predictions.append(prediction)
            expected.append(vizwiz_eval(evalai_processor(prediction), gts))  # the answer LLaVA submits
    task = load_registry().get("vizwiz_val")
    samples = load_samples(task, str(write_parquet(tmp_path / "val.parquet", rows)), None, None).samples
    records = score_answers(task, samples, {s.id: Answer(s.id, p) for s, p in zip(samples, predictions)},
                            ScoreContext())
    assert [r.scores["accuracy"] for r in records] == pytest.approx(expected, abs=1e-12)
    # The issue's example: VQAv2's rule would normalise the differing ground truths and give 1.0.
    assert vizwiz_eval("unanswerable", rows[0]["answers"]) == pytest.approx(0.6)
    assert vqav2_eval("unanswerable", rows[0]["answers"]) == 1.0
    differs = sum(vizwiz_eval(evalai_processor(p), r["answers"]) != vqav2_eval(evalai_processor(p), r["answers"])
                  for r, p in zip(rows, predictions))
    assert differs > 50  # the two evaluators really disagree on this set


# --- MM-Vet: yuweihao/MM-Vet mm-vet_evaluator.py, the judge reply ---------------------------------------
def mmvet_official_score(content: str) -> float | None:
    """The evaluator's loop body: `float(content.split(' ')[0].strip())`, out of [0, 1] asserts."""
    try:
        content = content.split(" ")[0].strip()
        score = float(content)
        if score > 1.0 or score < 0.0:
            raise AssertionError
        return score
    except (ValueError, AssertionError):
        return None


def test_mmvet_reply_parsing_matches_the_official_evaluator() -> None:
    from vlmeval_tasks.mmvet import parse_score

    replies = ["0.5", "1.0", "0", "1", "0.0 ", " 0.4", "0.4\n", "\n0.4", "0.45", "1.1", "-0.0", "-0.1", "5", "1e-1",
               "0.5 because", "Correctness: 0.5", "0,5", "½", "٠.٥", "0.5.", ".5", "1.", "inf", "-inf", "nan",
               "NaN", "", " ", "The answer is correct", "0.3\t0.4", "1_0", "0.6<|im_end|>", "正确 0.5", "0.7 0.8"]
    for reply in replies:
        official = mmvet_official_score(reply)
        if official is not None and math.isnan(official):  # NaN: the official loop accepts it
            assert parse_score(reply) is None, reply  # deliberate: vlmeval refuses NaN (asks again)
            continue
        assert parse_score(reply) == official, reply
