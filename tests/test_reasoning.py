"""Reasoning replies: the block is removed before the task reads, unfinished ones are counted failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, FakeResponse, chat_completion, last_user_text
from tests.helpers import read_jsonl, sqa_row, write_parquet
from vlmeval.cli import main
from vlmeval.reasoning import REASONING_MAX_NEW_TOKENS, ReplyReading, parse_tags, read_reply

THINK = ReplyReading()


def test_a_closed_block_is_removed_before_the_answer_is_read() -> None:
    read = read_reply("<think>I compare A and C...</think>\nB", THINK, "stop")
    assert (read.answer, read.reasoning_chars, read.failure, read.truncated) == ("B", 20, None, False)


def test_a_template_opened_block_shows_only_its_closing_tag() -> None:
    read = read_reply("A is red, so maybe A</think>\n\nC", THINK, "stop")
    assert (read.answer, read.reasoning_chars) == ("C", len("A is red, so maybe A"))


def test_an_unclosed_block_is_never_read_for_a_letter() -> None:
    for finish in ("stop", "length", None):
        read = read_reply("<think>The answer is A. Let me check B", THINK, finish)
        assert read.answer is None and read.failure == "unfinished_reasoning"


def test_a_length_cut_before_the_close_of_a_reasoning_model_is_unfinished() -> None:
    cut = read_reply("The answer is A. Let me check", ReplyReading(reasoning=True), "length")
    assert cut.answer is None and cut.failure == "unfinished_reasoning"
    # Without --reasoning nothing says the text was reasoning: a cut answer, scored as it is.
    plain = read_reply("The answer is A. Let me check", THINK, "length")
    assert plain.answer == "The answer is A. Let me check" and plain.truncated and plain.failure is None


def test_a_length_cut_after_the_block_is_truncated_and_still_read() -> None:
    read = read_reply("<think>hm</think>B because", THINK, "length")
    assert (read.answer, read.truncated, read.failure) == ("B because", True, None)


def test_stop_sequences_apply_only_after_the_block_closes() -> None:
    reading = ReplyReading(stop=("\n",))
    read = read_reply("<think>line one\nline two</think>B\nsome more", reading, "stop")
    assert read.answer == "B"
    # A cut by the limit after a stop sequence was reached is no truncation of the answer.
    assert not read_reply("<think>x</think>B\nmore", reading, "length").truncated


def test_other_tags_and_a_servers_reasoning_content() -> None:
    kimi = ReplyReading(tags=parse_tags("◁think▷,◁/think▷"))
    assert read_reply("◁think▷look◁/think▷D", kimi).answer == "D"
    assert read_reply("<think>x</think>D", kimi).answer == "<think>x</think>D"  # not this model's tags
    server = read_reply("B", THINK, "stop", server_reasoning_chars=17)
    assert (server.answer, server.reasoning_chars) == ("B", 17)
    cut = read_reply("", THINK, "length", server_reasoning_chars=22)
    assert cut.answer is None and cut.failure == "unfinished_reasoning"
    with pytest.raises(ValueError, match="OPEN,CLOSE"):
        parse_tags("<think>")


def _replies() -> dict[str, dict[str, Any]]:
    """Chat-completion bodies by question: what a reasoning model behind vLLM could answer."""

    def body(content: str | None, finish: str, reasoning: str | None = None, completion: int = 9) -> dict[str, Any]:
        reply = chat_completion(content or "")
        reply["choices"][0]["message"]["content"] = content
        if reasoning is not None:
            reply["choices"][0]["message"]["reasoning_content"] = reasoning
        reply["choices"][0]["finish_reason"] = finish
        reply["usage"] = {"prompt_tokens": 50, "completion_tokens": completion, "total_tokens": 50 + completion,
                          "completion_tokens_details": {"reasoning_tokens": 6}}
        return reply

    return {
        "Q0": body("<think>I compare A and C...</think>\nB", "stop"),
        "Q1": body("<think>A is red. The answer is A. But", "length", completion=64),
        "Q2": body("<think>ok</think>\nB", "length", completion=64),
        "Q3": body(None, "length", reasoning="The answer is A, I think, but", completion=64),
        "Q4": body("B", "stop", reasoning="A or B? B."),
    }


def test_a_reasoning_server_is_scored_on_its_answers_with_token_accounting(tmp_path: Path) -> None:
    data = write_parquet(tmp_path / "sqa.parquet", [sqa_row(question=f"Q{i}", answer=1) for i in range(5)])
    replies = _replies()

    def reply(body: dict[str, Any], headers: Any) -> FakeResponse:
        question = next(q for q in replies if q in last_user_text(body))
        return FakeResponse(200, replies[question])

    with FakeOpenAIServer(reply=reply) as server:
        args = ["run", "--task", "sqa", "--data", str(data), "--model", "openai:r1", "--base-url",
                server.base_url, "--output", str(tmp_path / "out"), "--no-progress", "--reasoning"]
        code = main(args)
        sent = server.requests[0].body
        # Other tags read the stored replies again, asking nothing: Q0's reasoning is then its answer.
        assert main([*args, "--reasoning-tags", "[[,]]"]) == 0 and len(server.requests) == 5
        reread = {r["id"]: r for r in read_jsonl(tmp_path / "out" / "openai-r1" / "sqa" / "predictions.jsonl")}
        assert reread["0"]["prediction"].startswith("<think>I compare") and reread["0"]["failure"] == "unparsed"
        assert main(args) == 0  # and back
    assert code == 0
    assert sent["max_tokens"] == REASONING_MAX_NEW_TOKENS and "stop" not in sent
    folder = tmp_path / "out" / "openai-r1" / "sqa"
    records = {r["id"]: r for r in read_jsonl(folder / "predictions.jsonl")}
    by_question = {records[str(i)]["prompt"].split("\n")[0]: records[str(i)] for i in range(5)}
    assert by_question["Q0"]["prediction"] == "B" and by_question["Q0"]["scores"]["correct"] == 1.0
    assert by_question["Q0"]["raw_prediction"] == "<think>I compare A and C...</think>\nB"
    assert by_question["Q0"]["reasoning_chars"] == len("I compare A and C...")
    for unfinished in ("Q1", "Q3"):
        record = by_question[unfinished]
        assert record["failure"] == "unfinished_reasoning" and record["answer"] is None
        assert record["prediction"] is None and record["scores"]["correct"] == 0.0
    assert by_question["Q2"]["usage"]["truncated"] is True and by_question["Q2"]["scores"]["correct"] == 1.0
    assert by_question["Q4"]["prediction"] == "B" and by_question["Q4"]["reasoning_chars"] == len("A or B? B.")
    report = json.loads((folder / "report.json").read_text())
    assert report["metrics"]["accuracy"] == pytest.approx(60.0)
    assert report["counts"]["failures"] == {"unfinished_reasoning": 2}
    assert report["counts"]["answered"] == 5
    usage = report["usage"]
    assert (usage["prompt_tokens"], usage["generated_tokens"], usage["reasoning_tokens"]) == (250, 9 + 64 * 3 + 9, 30)
    assert usage["finish_reasons"] == {"length": 3, "stop": 2}
    assert (usage["truncated"], usage["unfinished_reasoning"]) == (1, 2)
    assert usage["truncated_share"] == pytest.approx(1 / 3)  # of the 3 answers the task could read
    assert report["spec"]["reply_reading"] == {"tags": ["<think>", "</think>"], "stop": [], "reasoning": True}
    assert ("Tokens: 250 prompt, 210 generated (30 reasoning); 1 answers cut by the token limit (33.3% of those "
            "read).") in (folder / "report.md").read_text()
    # Re-scored from its predictions.jsonl, each reply is read again whole (`raw_prediction`); what only
    # the server said (Q3's reasoning_content, its finish reason) is not in the file: an empty answer there.
    again = main(["score", "--task", "sqa", "--data", str(data), "--predictions", str(folder / "predictions.jsonl"),
                  "--output", str(tmp_path / "again")])
    rescored = json.loads((tmp_path / "again" / "report.json").read_text())
    assert again == 0 and rescored["metrics"]["accuracy"] == pytest.approx(60.0)
    assert rescored["counts"]["failures"] == {"unfinished_reasoning": 1, "empty": 1}
