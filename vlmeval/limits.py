"""Size limits on text that comes from a model or a judge (documented in docs/reports.md).

A model answer or a judge reply longer than its limit is cut to the limit, stored cut (answer files,
predictions.jsonl, the judge cache) and counted as failure `oversized`: it is scored as no answer
(wrong, as a missing answer is) and never stored whole, so one runaway generation cannot fill a
disk, a report or a browser page.
"""

from __future__ import annotations

# Far above any answer the built-in tasks ask for (max_new_tokens 1024 is ~5,000 characters).
MAX_ANSWER_CHARS = 65_536
# Judges are asked for at most 1,024 tokens (LLaVA-Bench's reviews); MM-Vet asks for 3.
MAX_JUDGE_REPLY_CHARS = 16_384


def cut(text: str, limit: int) -> tuple[str, int | None]:
    """`text` cut to `limit` characters, and its full length where it was cut (else None)."""
    if len(text) <= limit:
        return text, None
    return text[:limit], len(text)
