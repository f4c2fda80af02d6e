"""HallusionBench against the official scorer, re-written here from tianyi-lab/HallusionBench@744007c2
`utils.py` (`evaluate_by_chatgpt`'s reading of the reply, `assign_correctness`, `get_eval_all`,
`get_eval_fig`, `get_eval_pair_all`, `get_eval_pair_easy/hard`) and `evaluation.py` (x 100)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from vlmeval_tasks.hallusionbench import JUDGE_PROMPT, demo_rows

from tests.fakes.openai_server import FakeOpenAIServer, last_user_text
from tests.helpers import write_jsonl, write_parquet
from vlmeval.answers.yesno import vlmevalkit_yes_no as yorn
from vlmeval.cli import main

# sha256 of the official prompt up to the question (utils.py lines 33-34 at 744007c2)
OFFICIAL_PREFIX_SHA256 = "de49d1c32848d4d56a4b9ad721f9ed0cf70f86e9c4bbfd94dee5862fa5596b2e"
# what the fake judge replies to each prediction
REPLIES = {"yes": "correct", "no": "Incorrect.", "maybe": "unclear", "YES!": "The prediction is correct",
           "nope": "incorrect", "dunno": "I cannot say", "sure": "CORRECT"}


def rows() -> list[dict[str, Any]]:
    out = []
    for set_id in range(4):
        for row in demo_rows():
            out.append({**row, "set_id": str(set_id)})
    return out


def official(data: list[dict[str, Any]], verdicts: list[str]) -> dict[str, float]:
    for r, out in zip(data, verdicts, strict=True):
        r["judge"] = "0" if "incorrect" in out.lower() else "1" if "correct" in out.lower() else "2"
        if r["category"] == "VS" and int(r["figure_id"]) == 0:
            r["correct"] = 1 if int(r["judge"]) in (1, 2) else 0
        else:
            r["correct"] = 1 if int(r["judge"]) == 1 else 0

    def pairs(rows_: list[dict[str, Any]]) -> float:
        d: dict[str, tuple[int, int]] = {}
        for r in rows_:
            name = "_".join([r["category"], r["subcategory"], str(r["set_id"]), str(r["question_id"])])
            c, t = d.get(name, (0, 0))
            d[name] = (c + r["correct"], t + 1)
        return 100 * sum(v[0] == v[1] for v in d.values()) / len(d)

    figs: dict[str, tuple[int, int]] = {}
    for r in data:
        if r["category"] == "VS" and str(r["figure_id"]) == "0":
            continue
        name = "_".join([r["category"], r["subcategory"], str(r["set_id"]), str(r["figure_id"])])
        c, t = figs.get(name, (0, 0))
        figs[name] = (c + r["correct"], t + 1)
    keys = {"_".join([r["category"], r["subcategory"], str(r["set_id"]), str(r["figure_id"]), str(r["question_id"])]):
            r["correct"] for r in data}
    return {"aacc": 100 * sum(1 for v in keys.values() if v) / len(keys),
            "facc": 100 * sum(v[0] == v[1] for v in figs.values()) / len(figs), "qacc": pairs(data),
            "easy_aacc": pairs([r for r in data if str(r["visual_input"]) != "2"]),
            "hard_aacc": pairs([r for r in data if str(r["visual_input"]) == "2"])}


def test_judge_prompt_is_the_official_text() -> None:
    prefix = JUDGE_PROMPT.split("{question}")[0]
    assert hashlib.sha256(prefix.encode("utf-8")).hexdigest() == OFFICIAL_PREFIX_SHA256
    assert JUDGE_PROMPT.endswith("{question}\nReference answer: {reference}\nPrediction answer:{prediction}\nOutput:")


def test_metrics_equal_the_official_scorer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLMEVAL_CACHE", str(tmp_path / "cache"))
    data = rows()
    answers = list(REPLIES)
    predictions = [answers[(i * 3 + i // 5) % len(answers)] for i in range(len(data))]
    folder = tmp_path / "HallusionBench"
    write_parquet(folder / "image-00000-of-00001.parquet", [r for r in data if r["visual_input"] != "0"])
    write_parquet(folder / "non_image-00000-of-00001.parquet", [r for r in data if r["visual_input"] == "0"])
    ids = ["_".join(str(r[c]) for c in ("category", "subcategory", "set_id", "figure_id", "question_id")) for r in data]
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": i, "prediction": p} for i, p in zip(ids, predictions)])

    def reply(body: dict, headers: dict) -> str:
        return REPLIES[last_user_text(body).rsplit("\nPrediction answer:", 1)[1].removesuffix("\nOutput:")]

    out = tmp_path / "out"
    assert main(["score", "--task", "hallusionbench", "--predictions", str(preds), "--data", str(folder),
                 "--output", str(tmp_path / "nojudge")]) == 2  # a usage error: the official reading needs a judge
    with FakeOpenAIServer(reply) as server:
        assert main(["score", "--task", "hallusionbench", "--predictions", str(preds), "--data", str(folder),
                     "--output", str(out), "--judge", "judge-x", "--judge-base-url", server.base_url,
                     "--judge-api-key-env", "NO_SUCH_KEY"]) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    expected = official([dict(r) for r in data], [REPLIES[p] for p in predictions])
    assert report["n_samples"] == len(data)
    for name, value in expected.items():
        assert report["metrics"][name] == pytest.approx(value), name
    assert 0 < expected["qacc"] < expected["aacc"] < 100
    assert report["metrics"]["overall"] == pytest.approx((expected["aacc"] + expected["facc"] + expected["qacc"]) / 3)
    assert report["judge"]["model"] == "judge-x" and "hallusionbench" in report["judge"]["prompts"]


@pytest.mark.parametrize(("text", "expected"), [
    ("Yes", "Yes"), ("yes.", "Yes"), ("No, it is not.", "No"), ("Yes and no", "Unknown"), ("", "Unknown"),
    ("The answer is yes!", "Yes"), ("no-one knows", "No"), ("NO", "No"), ("yes/no", "Unknown"),
    ("Yes, 1,000 of them", "Yes"), ("noon", "Unknown"), ("yes(-no", "Unknown"), ("no -yes", "Unknown"),
    ("yes-(no", "Unknown"), ("(no) yes.", "Unknown"), ("no!", "No"),
])
def test_vlmevalkit_yorn_extraction(text: str, expected: str) -> None:
    assert yorn(text) == expected


def test_vlmevalkit_reading_asks_the_judge_only_for_unknown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`YOrN_auxeval`: Unknown answers go to the judge with `YOrN_match_prompt` (VLMEvalKit yorn.py), at
    temperature 0.5 x try, up to 5 tries; still Unknown: wrong (`judge_failed`)."""
    monkeypatch.setenv("VLMEVAL_CACHE", str(tmp_path / "cache"))
    data = [r for r in rows() if r["visual_input"] != "0"][:4]
    write_parquet(tmp_path / "hb" / "image-00000-of-00001.parquet", data)
    ids = ["_".join(str(r[c]) for c in ("category", "subcategory", "set_id", "figure_id", "question_id")) for r in data]
    predictions = ["Yes.", "It is hard to say", "Perhaps both", "No"]
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": i, "prediction": p} for i, p in zip(ids, predictions)])
    tmpl = ("You are an AI assistant who will help me to match an answer with two options of a question. "
            "The options are only Yes / No. You are provided with a question and an answer, and you need to find "
            "which option (Yes / No) is most similar to the answer. If the meaning of all options are significantly "
            "different from the answer, output Unknown. Your should output a single word among the following 3 "
            "choices: Yes, No, Unknown.\nExample 1: \nQuestion: Is the word in this image 'Hello'?\nAnswer: The word "
            "in this image is 'Hello'.\nYour output: Yes\nExample 2: \nQuestion: Is the word in this image 'Hello'?\n"
            "Answer: The word in this image is not 'Hello'.\nYour output: No\nExample 3: \n"
            "Question: {}?\nAnswer: {}\nYour output: ")
    expected_prompt = tmpl.format(data[1]["question"], predictions[1])

    def reply(body: dict, headers: dict) -> str:
        return "Yes" if last_user_text(body) == expected_prompt else "Unknown"

    out = tmp_path / "out"
    with FakeOpenAIServer(reply) as server:
        assert main(["score", "--task", "hallusionbench_image", "--predictions", str(preds), "--data",
                     str(tmp_path / "hb"), "--output", str(out), "--answer-reading", "vlmevalkit", "--judge", "j",
                     "--judge-base-url", server.base_url, "--judge-api-key-env", "NO_SUCH_KEY"]) == 0
        temperatures = [r.body["temperature"] for r in server.requests]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert sorted(temperatures) == [0.0, 0.0, 0.5, 1.0, 1.5, 2.0]  # one answered at once, one asked 5 times
    assert report["counts"]["failures"] == {"judge_failed": 1}
    targets = ["Yes" if r["gt_answer"] == "1" else "No" for r in data]
    right = [yorn(predictions[0]) == targets[0], targets[1] == "Yes", False, yorn(predictions[3]) == targets[3]]
    assert report["metrics"]["aacc"] == pytest.approx(100 * sum(right) / 4)


def official_yorn(output: str) -> str:
    """VLMEvalKit `YOrN_Extraction` with its `process_punctuation` (VLMEvalKit smp), transcribed."""
    import re

    in_text = output.lower()
    out_text = in_text
    punct = [";", r"/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!"]
    for p in punct:
        if (p + " " in in_text or " " + p in in_text) or (re.search(r"(\d)(,)(\d)", in_text) is not None):
            out_text = out_text.replace(p, "")
        else:
            out_text = out_text.replace(p, " ")
    out_text = re.compile(r"(?<!\d)\.(?!\d)").sub("", out_text, re.UNICODE)
    words = out_text.split()
    if "yes" in words and "no" not in words:
        return "Yes"
    if "yes" not in words and "no" in words:
        return "No"
    return "Unknown"


def test_yes_no_words_equal_vlmevalkit_on_adversarial_answers() -> None:
    marks = ';/[]"{}()=+\\_->@`,?!.<'
    answers = [f"{a}{m}{b}" for a in ("yes", "no", "1,0", "") for m in marks for b in ("no", "yes", " no", "-yes", "")]
    answers += ["Yes." * 40 + " no", "no." * 40 + "yes", "YES, NO", "Yes\nNo", "yes,no", "yes ,no", "n.o", "y-e-s"]
    assert [yorn(a) for a in answers] == [official_yorn(a) for a in answers]
