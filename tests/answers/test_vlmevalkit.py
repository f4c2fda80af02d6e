"""MMBench's official answer reading (VLMEvalKit e8e78f05) against an oracle written here.

The oracle below is an independent transcription of VLMEvalKit's `can_infer` as its source reads at
commit e8e78f05 (open-compass/VLMEvalKit `vlmeval/utils/matching_util.py`, structure and names kept:
`count_choice`, `splits`, the `False` returns), not imported from vlmeval. The adversarial answers are
what verbose, refusing and Chinese-answering models write.
"""

from __future__ import annotations

import itertools
import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, FakeResponse, last_user_text
from tests.helpers import read_jsonl, write_jsonl, write_parquet
from tests.tasks.test_mmbench import mmb_row, rotations
from vlmeval.answers.vlmevalkit import can_infer, judge_prompt, read_choices
from vlmeval.cli import main
from vlmeval.openai_client import ChatClient


def official_can_infer(answer: Any, choices: dict[str, str]) -> Any:
    """VLMEvalKit `can_infer` (e8e78f05), transcribed from its source; returns a letter, 'Z' or False."""
    answer = str(answer)

    def can_infer_option(answer: str, choices: dict[str, str]) -> Any:
        if "Failed to obtain answer via API" in answer:
            return False
        reject_to_answer = ["Sorry, I can't help with images of people yet.", "I can't process this file.",
                            "I'm sorry, but without the image provided", "Cannot determine the answer"]
        for err in reject_to_answer:
            if err in answer:
                return "Z"

        def count_choice(splits: list[str], choices: Any, prefix: str = "", suffix: str = "") -> int:
            return sum(1 for c in choices if prefix + c + suffix in splits)

        answer_mod = answer
        for c in ".()[],:;!*#{}":
            answer_mod = answer_mod.replace(c, " ")
        splits = [x.strip() for x in answer_mod.split()]
        count = count_choice(splits, choices)
        if count == 1:
            for ch in choices:
                if ch in splits and splits.index(ch) > (len(splits) - 5):
                    return ch
        elif count == 0 and count_choice(splits, {"Z", ""}) == 1:
            return "Z"
        match = re.search(r"(?i)(?:correct\s+)?answer\s+is\s+\**([ABCD])\**", answer or "")
        if match and match.group(1).upper() in choices:
            return match.group(1).upper()
        return False

    def can_infer_text(answer: str, choices: dict[str, str]) -> Any:
        answer = answer.lower()
        if len(answer) > 2 * sum(len(str(v)) for v in choices.values()):
            return False
        lowered = {k: str(v).lower() for k, v in choices.items()}
        cands = [k for k in lowered if lowered[k] in answer]
        return cands[0] if len(cands) == 1 else False

    copt = can_infer_option(answer, choices)
    return copt if copt else can_infer_text(answer, choices)


ANIMALS = {"A": "cat", "B": "dog", "C": "bird", "D": "fish"}
OPTION_SETS = [
    ANIMALS,
    {"A": "red", "B": "dark red", "C": "blue"},  # one option's text inside another's
    {"A": "Yes", "B": "No"},
    {"A": "猫", "B": "狗", "C": "鸟", "D": "鱼"},
    {"A": "the left one", "B": "the right one", "C": "both", "D": "neither", "E": "cannot tell"},
    {"A": "1", "B": "2", "C": "3", "D": "4"},
]
HANDWRITTEN = [
    "", " ", "A", "B", "C", "D", "E", "Z", "a", "b", "A.", "(B)", "[C]", "**D**", "B)", "C:", "{A}", "#B",
    " B ", "\nC\n", "A bird.", "A cat.", "hotdog", "catfish", "答案是B", "答案：B", "选C", "B。", "（B）",
    "Cannot determine the answer", "cannot determine the answer", "Sorry, I can't help with images of people yet.",
    "I'm sorry, but without the image provided I can't answer.", "I can't process this file.",
    "Failed to obtain answer via API. B", "The answer is B", "the answer is b", "The correct answer is **C**",
    "answer is D.", "Answer: A", "The answer is a bird", "The answer is dog", "The answer is cat",
    "I think the answer is C because the bird is flying high above the trees in the picture",
    "B is correct because the dog is sitting on the grass next to the house in the image",
    "Looking at the image carefully, there is a small animal on the sofa, so the answer is A",
    "A or B", "A and B", "B, C", "A B C D", "Option B", "option b", "B. dog", "C. bird", "dog", "Dog.",
    "The dog", "a dog and a cat", "It is a fish.", "There is no animal.", "Z. none of these", "None",
    "I don't know", "Unanswerable", "I cannot tell", "The image shows a bird; answer: C", "C\nThe bird",
    "The image shows A cat", "Red", "dark red", "DARK RED", "It is red.", "blue!", "yes", "No.", "Yes, B",
    "both", "neither", "E. cannot tell", "cannot tell", "2", "The answer is 3", "3 apples", "一只狗", "是狗",
    "鸟。", "答案是鸟", "图中是猫和狗", "我认为答案是C", "无法确定", "B\n\n解析：图中是一只狗。", "A\tB",
    "answer is ** B **", "The answer is **B**.", "Final answer: D", "The correct answer is: B",
]
TEMPLATES = [
    "{L}", "({L})", "{L}.", "{l}", "**{L}**", "Answer: {L}", "The answer is {L}.", "the correct answer is **{l}**",
    "{L}. {t}", "{t}", "A {t}.", "It is a {t}.", "{T}", " {L} \n", "答案是{L}", "选项{L}：{t}", "{L} {M}",
    "I think the answer is {L} or {M}", "{L} is right because it shows the {t} clearly in the foreground",
    "The picture shows a {t} and a {u}.", "{t}{u}", "Not {t}, it is {u}", "The answer is {t}",
    # the letter at every distance from the end: only the last four tokens count
    *("{L}" + " so" * k for k in range(8)), *("well " * k + "{L}." for k in range(8)),
    *("{L}, " + "it is " * k + "{t}" for k in range(5)),
]


def adversarial_answers() -> list[tuple[str, dict[str, str]]]:
    cases = [(answer, options) for answer in HANDWRITTEN for options in OPTION_SETS]
    for options in OPTION_SETS:
        letters, texts = list(options) + ["Z"], list(options.values())
        for template, letter, other, (text, text2) in itertools.product(
                TEMPLATES, letters, ["A", "C"], itertools.permutations(texts[:3], 2)):
            cases.append((template.format(L=letter, l=letter.lower(), M=other, t=text, T=text.upper(), u=text2),
                          options))
    return cases


def test_the_issue_examples() -> None:
    assert can_infer("A bird.", ANIMALS) == "A"  # the article counts as the letter
    assert can_infer("hotdog", ANIMALS) == "B"  # plain substring
    assert can_infer("答案是B", ANIMALS) is None  # no token B: left to the judge
    assert can_infer("Cannot determine the answer", ANIMALS) == "Z"  # refusal: final, wrong
    assert can_infer("The answer is a bird", ANIMALS) == "A"  # the pattern ignores case


def test_every_adversarial_answer_reads_as_vlmevalkit_reads_it() -> None:
    cases = adversarial_answers()
    assert len(cases) > 5000
    disagreements = [(a, o, can_infer(a, o), official_can_infer(a, o)) for a, o in cases
                     if (can_infer(a, o) or False) != official_can_infer(a, o)]
    assert disagreements == []
    outcomes = {official_can_infer(a, o) or None for a, o in cases}
    assert outcomes >= {"A", "B", "C", "D", "E", "Z", None}  # the set exercises every outcome


EN_PROMPT = (
    "You are an AI assistant who will help me to match an answer with several options of a single-choice "
    "question. You are provided with a question, several options, and an answer, and you need to find which "
    "option is most similar to the answer. If the meaning of all options are significantly different from the "
    "answer, output Z. Your should output a single uppercase character in A, B, C, D (if they are valid "
    "options), and Z. \nExample 1: \nQuestion: What is the main object in image?\nOptions: A. teddy bear "
    "B. rabbit C. cat D. dog\nAnswer: a cute teddy bear\nYour output: A\nExample 2: \nQuestion: What is the "
    "main object in image?\nOptions: A. teddy bear B. rabbit C. cat D. dog\nAnswer: Spider\nYour output: Z\n"
    "Example 3: \nQuestion: {}?\nOptions: {}\nAnswer: {}\nYour output: ")
CN_PROMPT = (
    "你是一个帮助我匹配答案与单选题中多个选项的 AI 助手。你会被提供：一个问题，多个选项，一个答案。你的任务是找到与答案意义最相近"
    "的选项。如果所有选项的意义都与答案显著不同，则输出 Z。你应该输出一个单个的大写字母，例如 A, B, C, D（如果它们是有效选项），"
    "或 Z。例 1:问题: 图中最主要的物体是什么?\n选项: A. 泰迪熊 B. 兔子 C. 猫 D. 狗\n答案: 一只可爱的泰迪熊\n输出: A\n例 2: \n"
    "问题: 图中最主要的物体是什么?\n选项: A. 泰迪熊 B. 兔子 C. 猫 D. 狗\n答案: 蜘蛛\n输出: Z\n例 3: \n问题: {}?\n选项: {}\n"
    "答案: {}\n输出: ")


def test_judge_prompts_are_vlmevalkits() -> None:
    options = "There are several options: \nA. cat\nB. dog\nC. bird\nD. fish\n"
    assert judge_prompt("Which animal", ANIMALS, "a puppy") == EN_PROMPT.format("Which animal", options, "a puppy")
    cn = {"A": "猫", "B": "狗"}
    assert judge_prompt("图中是什么动物", cn, "一只小动物") == CN_PROMPT.format(
        "图中是什么动物", "There are several options: \nA. 猫\nB. 狗\n", "一只小动物")


def judge_reply(body: dict, headers: dict) -> Any:
    """Replies keyed by the answer in the prompt; `flaky` needs three tries, `hopeless` never reads."""
    prompt = last_user_text(body)
    answer = prompt.rsplit("\nAnswer: ", 1)[-1].split("\n")[0] if "\nAnswer: " in prompt else prompt
    if "一只小动物" in prompt:
        return "B"
    table = {"a puppy": "The answer is B", "a spider": "Z", "hopeless": "I am not sure", "ok": "A"}
    if answer == "flaky":
        judge_reply.flaky += 1  # type: ignore[attr-defined]
        return "C" if judge_reply.flaky == 3 else "maybe"  # type: ignore[attr-defined]
    return table[answer]


def test_judge_tries_three_times_and_never_guesses(tmp_path: Path) -> None:
    judge_reply.flaky = 0  # type: ignore[attr-defined]
    from vlmeval.judge import Judge

    predictions = ["a puppy", "a spider", "hopeless", "flaky", "B", "Cannot determine the answer", None, "一只小动物"]
    choices = [ANIMALS] * 7 + [{"A": "猫", "B": "狗"}]
    questions = ["Which animal?"] * 7 + ["这是什么动物？"]
    with FakeOpenAIServer(judge_reply) as server:
        judge = Judge(ChatClient(server.base_url, "j", max_retries=0, api_key_env="NO_KEY"), tmp_path)
        verdicts = read_choices(predictions, choices, questions, judge)
    assert [(v.letter, v.rule, v.failure) for v in verdicts] == [
        ("B", "judge", None), (None, "judge", "no_option"), (None, "judge", "judge_failed"),
        ("C", "judge", None), ("B", "rules", None), (None, "rules", "no_option"), (None, None, "error"),
        ("B", "judge", None)]
    sent = [last_user_text(r.body) for r in server.requests]
    assert sum("\nAnswer: hopeless\n" in s for s in sent) == 3  # three tries, then judge_failed
    assert sum("\nAnswer: flaky\n" in s for s in sent) == 3
    assert EN_PROMPT.format("Which animal?", "There are several options: \nA. cat\nB. dog\nC. bird\nD. fish\n",
                            "a spider") in sent
    assert any(s.startswith("你是一个帮助我匹配答案") and "\n答案: 一只小动物\n" in s for s in sent)
    assert all(r.body["temperature"] == 0.0 for r in server.requests)


def _mmbench_case(tmp_path: Path) -> tuple[Path, Path]:
    rows = rotations(1, "Which animal", ["cat", "dog", "bird", "fish"], right=1, hint="Look closely.")
    rows.append(mmb_row(2, "Which animal", ["cat", "dog", "bird", "fish"], answer="C"))
    data = write_parquet(tmp_path / "dev.parquet", rows)
    answers = {"1": "B", "1000001": "A", "2000001": "D", "3000001": "C", "2": "A bird."}
    predictions = write_jsonl(tmp_path / "p.jsonl", [{"id": i, "prediction": p} for i, p in answers.items()])
    return data, predictions


def test_official_and_strict_readings_differ_and_are_recorded(tmp_path: Path) -> None:
    data, predictions = _mmbench_case(tmp_path)
    reports = {}
    for reading in (None, "strict"):
        out = tmp_path / f"out-{reading}"
        extra = ["--answer-reading", reading] if reading else []
        assert main(["score", "--task", "mmbench_en_dev", "--predictions", str(predictions), "--data", str(data),
                     "--output", str(out), *extra]) == 0
        reports[reading] = json.loads((out / "report.json").read_text())
        lines = {r["id"]: r for r in read_jsonl(out / "predictions.jsonl")}
        assert lines["2"]["answer"] == ("A" if reading is None else "C")  # `A bird.`
    assert reports[None]["answer_reading"]["name"] == "vlmevalkit" and reports[None]["answer_reading"]["official"]
    assert "e8e78f05" in reports[None]["answer_reading"]["reference"]
    assert reports["strict"]["answer_reading"]["official"] is False
    assert reports[None]["metrics"]["vanilla_accuracy"] == 50.0 and reports["strict"]["metrics"][
        "vanilla_accuracy"] == 100.0
    assert main(["score", "--task", "mmbench_en_dev", "--predictions", str(predictions), "--data", str(data),
                 "--output", str(tmp_path / "x"), "--answer-reading", "lenient"]) == 2
    assert main(["score", "--task", "mme", "--predictions", str(predictions), "--data", str(data),
                 "--output", str(tmp_path / "y"), "--answer-reading", "strict"]) == 2


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("failure", ["http_500", "refused"])
def test_a_judge_that_never_answers_leaves_the_report_incomplete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], failure: str,
    no_sdk_backoff: None,  # retries, no waiting
) -> None:
    monkeypatch.setenv("VLMEVAL_CACHE", str(tmp_path / "cache"))
    data, _ = _mmbench_case(tmp_path)
    answers = {"1": "I believe it is the puppy", "1000001": "A", "2000001": "D", "3000001": "C", "2": "C"}
    predictions = write_jsonl(tmp_path / "q.jsonl", [{"id": i, "prediction": p} for i, p in answers.items()])
    with FakeOpenAIServer(FakeResponse.error(500, "overloaded")) as server:
        url = server.base_url if failure == "http_500" else f"http://127.0.0.1:{_closed_port()}/v1"
        code = main(["score", "--task", "mmbench_en_dev", "--predictions", str(predictions), "--data", str(data),
                     "--output", str(tmp_path / "out"), "--judge", "j", "--judge-base-url", url,
                     "--judge-api-key-env", "NO_KEY"])
    assert code == 3
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["complete"] is False
    assert report["counts"]["failures"]["judge_error"] == 1
    lines = {r["id"]: r for r in read_jsonl(tmp_path / "out" / "predictions.jsonl")}
    assert lines["1"]["failure"] == "judge_error" and lines["2"]["answer"] == "C"
    error_lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("vlmeval:")]
    assert len(error_lines) == 1 and "judge_error 1" in error_lines[0] and "re-run" in error_lines[0]
