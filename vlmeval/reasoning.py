"""Reading a model's reply: its reasoning block set apart before a task reads the answer.

Models that think before they answer write `<think>...</think>` (other tag pairs by
`--reasoning-tags`, e.g. Kimi-VL's `◁think▷`/`◁/think▷`), and a server running a reasoning
parser (vLLM, DeepSeek's API) returns the reasoning in a separate `reasoning_content` field that
is never read as the answer. What the task reads is the text after the block closes, cut at the
first stop sequence found there (never inside the reasoning).

A block that never closes is `unfinished_reasoning`: the answer is not read at all (a letter in
half-finished reasoning is not an answer). So is a reply cut by the token limit while a
`--reasoning` model (whose chat template may open the block in the prompt, so the reply shows
only the closing tag) has not closed it yet. A reply cut by the limit after its reasoning closed
is `truncated`: the task scores what it got, as the official scripts would, and the report
counts it so the limit can be raised.
"""

from __future__ import annotations

from dataclasses import dataclass

from vlmeval.failure import Failure

UNFINISHED_REASONING = Failure.UNFINISHED_REASONING
DEFAULT_TAGS = ("<think>", "</think>")
# `--reasoning` raises the default token budget to this (a task's own default is sized for a bare
# answer: 1 to 128 tokens). Qwen3's and DeepSeek-R1's cards suggest 32k for hard maths; 16k
# covers multiple-choice and short-answer VQA with room to spare at a quarter of the worst case.
REASONING_MAX_NEW_TOKENS = 16384
LENGTH = "length"  # the finish reason of a reply cut by the token limit (OpenAI's name)


@dataclass(frozen=True)
class ReplyReading:
    """How replies are read: the reasoning tags, stop sequences, and whether the model reasons."""

    tags: tuple[str, str] = DEFAULT_TAGS
    stop: tuple[str, ...] = ()
    reasoning: bool = False  # `--reasoning`: a reply cut before any closing tag is unfinished

    def describe(self) -> dict[str, object]:
        return {"tags": list(self.tags), "stop": list(self.stop), "reasoning": self.reasoning}


@dataclass(frozen=True)
class ReadReply:
    """What the task reads (`answer`, None when unusable), the reasoning's size, and why not."""

    answer: str | None
    reasoning_chars: int = 0
    failure: str | None = None  # UNFINISHED_REASONING
    truncated: bool = False  # cut by the token limit outside the reasoning


def parse_tags(value: str) -> tuple[str, str]:
    """`OPEN,CLOSE` from the command line; ValueError with the rule otherwise."""
    parts = value.split(",")
    if len(parts) != 2 or not all(part.strip() for part in parts):
        raise ValueError(f"--reasoning-tags takes OPEN,CLOSE (two non-empty tags), got {value!r}")
    return parts[0].strip(), parts[1].strip()


def read_reply(
    raw: str,
    reading: ReplyReading,
    finish_reason: str | None = None,
    server_reasoning_chars: int | None = None,
) -> ReadReply:
    """The answer part of `raw`; `server_reasoning_chars` is the length of a server's separate
    `reasoning_content` (a reasoning parser's), which is never read."""
    opening, closing = reading.tags
    cut = finish_reason == LENGTH
    start = raw.find(opening)
    end = raw.rfind(closing)
    if start >= 0 and raw.find(closing, start + len(opening)) < 0:
        # An opened block with no close after it: nothing the task may read.
        return ReadReply(None, len(raw) - start - len(opening), UNFINISHED_REASONING)
    if end >= 0:
        begin = start + len(opening) if 0 <= start < end else 0
        reasoning_chars = end - begin
        answer = raw[:start] if 0 <= start < end else ""
        answer += raw[end + len(closing):]
    elif server_reasoning_chars and not raw.strip():
        # A reasoning parser kept the block apart and the reply has no answer after it.
        if cut:
            return ReadReply(None, server_reasoning_chars, UNFINISHED_REASONING)
        reasoning_chars, answer = 0, raw
    elif reading.reasoning and cut:
        # The template opened the block in the prompt; the limit came before it closed.
        return ReadReply(None, len(raw), UNFINISHED_REASONING)
    else:
        reasoning_chars, answer = 0, raw
    removed = answer != raw
    if server_reasoning_chars:
        reasoning_chars += server_reasoning_chars
    answer, stopped = _apply_stop(answer, reading.stop)
    # What came after a removed block or before a stop sequence starts and ends on whitespace.
    answer = answer.strip() if removed or stopped else answer
    return ReadReply(answer, reasoning_chars, truncated=cut and not stopped)


def _apply_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    """`text` up to the first stop sequence in it, and whether one was found."""
    positions = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return (text[: min(positions)], True) if positions else (text, False)
