"""Reusable fakes for tests (servers on 127.0.0.1 only)."""

from __future__ import annotations

from tests.fakes.openai_server import (
    FakeOpenAIServer,
    FakeResponse,
    RecordedRequest,
    chat_completion,
    last_user_text,
    scripted,
)

__all__ = [
    "FakeOpenAIServer",
    "FakeResponse",
    "RecordedRequest",
    "chat_completion",
    "last_user_text",
    "scripted",
]
