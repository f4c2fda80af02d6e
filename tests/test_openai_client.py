"""ChatClient against the fake OpenAI server: retries, failures, time-outs, concurrency, secrets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, FakeResponse, last_user_text, scripted
from vlmeval.openai_client import ChatCall, ChatClient, ChatError, _parse_retry_after

KEY_ENV = "VLMEVAL_TEST_OPENAI_KEY"
SECRET = "sk-test-SECRET-0123456789abcdef"
HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, SECRET)
    return SECRET


def make_client(server: FakeOpenAIServer, **overrides: Any) -> ChatClient:
    options: dict[str, Any] = {"api_key_env": KEY_ENV, "backoff_s": 0.01, "timeout": 5.0}
    options.update(overrides)
    return ChatClient(server.base_url, "judge-model", **options)


def assert_no_secret(error: BaseException) -> None:
    for text in (str(error), repr(error), repr(error.args), repr(vars(error))):
        assert SECRET not in text
    assert "\n" not in str(error)


def test_success_returns_content_and_sends_the_body() -> None:
    with FakeOpenAIServer() as server, make_client(server) as client:
        answer = client.complete(HELLO, temperature=0.5, max_tokens=7, top_p=0.9, extra={"seed": 3})
        plain = client.complete(HELLO, temperature=0.0, max_tokens=5)
    assert (answer, plain) == ("hello", "hello")
    first, second = (r.body for r in server.requests)
    assert server.requests[0].path == "/v1/chat/completions"
    assert first == {
        "model": "judge-model",
        "messages": HELLO,
        "temperature": 0.5,
        "max_tokens": 7,
        "top_p": 0.9,
        "seed": 3,
    }
    assert "top_p" not in second and "seed" not in second


@pytest.mark.parametrize(
    "failure",
    [
        FakeResponse.rate_limited(),
        FakeResponse.error(500, "internal error"),
        FakeResponse.error(503, "overloaded"),
        FakeResponse.garbage(),
        FakeResponse(200, {"object": "chat.completion", "choices": []}),
        FakeResponse(200, {"error": {"message": "proxy says no"}}),
    ],
    ids=["429", "500", "503", "garbage-json", "no-choices", "error-in-200"],
)
def test_retryable_failure_then_success(failure: FakeResponse) -> None:
    with FakeOpenAIServer(scripted(failure, failure, "fine")) as server, make_client(server) as client:
        assert client.complete(HELLO, temperature=0.0, max_tokens=5) == "fine"
    assert len(server.requests) == 3
    assert client.stats.to_dict() == {"attempts": 3, "retries": 2, "failures": 0}


def test_retry_after_is_honoured() -> None:
    reply = scripted(FakeResponse.rate_limited(retry_after=0.4), "ok")
    with FakeOpenAIServer(reply) as server, make_client(server, backoff_s=0.001) as client:
        client.complete(HELLO, temperature=0.0, max_tokens=5)
    first, second = server.requests
    assert second.received_at - first.received_at >= 0.4


def test_bad_request_fails_at_once_with_a_one_line_error() -> None:
    reply = FakeResponse.error(400, "messages: field required\n(see docs)")
    with (
        FakeOpenAIServer(reply) as server,
        make_client(server) as client,
        pytest.raises(ChatError) as caught,
    ):
        client.complete(HELLO, temperature=0.0, max_tokens=5)
    error = caught.value
    assert len(server.requests) == 1
    assert error.status == 400 and error.attempts == 1
    assert str(error) == (
        f"POST {server.base_url}/chat/completions (model 'judge-model'): HTTP 400: "
        "messages: field required (see docs) [1 attempt]"
    )
    assert error.__cause__ is None and error.__context__ is None


def test_retries_are_bounded() -> None:
    with (
        FakeOpenAIServer(FakeResponse.error(503, "busy")) as server,
        make_client(server, max_retries=2) as client,
        pytest.raises(ChatError) as caught,
    ):
        client.complete(HELLO, temperature=0.0, max_tokens=5)
    assert len(server.requests) == 3
    assert caught.value.status == 503 and caught.value.attempts == 3
    assert "busy" in str(caught.value) and "[3 attempts]" in str(caught.value)
    assert client.stats.failures == 1


def test_timeout_is_retried() -> None:
    reply = scripted(FakeResponse.hang(3.0), "on time")
    with FakeOpenAIServer(reply) as server, make_client(server, timeout=0.3) as client:
        started = time.monotonic()
        assert client.complete(HELLO, temperature=0.0, max_tokens=5) == "on time"
    assert time.monotonic() - started < 2.0
    assert len(server.requests) == 2


def test_timeouts_exhausted_raise() -> None:
    with (
        FakeOpenAIServer(FakeResponse.hang(3.0)) as server,
        make_client(server, timeout=0.2, max_retries=1) as client,
        pytest.raises(ChatError) as caught,
    ):
        client.complete(HELLO, temperature=0.0, max_tokens=5)
    assert caught.value.status is None
    assert "timed out after 0.2s" in str(caught.value)
    assert len(server.requests) == 2


def test_connection_refused_is_retried_once_then_fails_fast() -> None:
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = ChatClient(f"http://127.0.0.1:{port}/v1", "m", backoff_s=0.001, max_retries=6)
    with client, pytest.raises(ChatError) as caught:
        client.complete(HELLO, temperature=0.0, max_tokens=5)
    assert "connection failed" in str(caught.value) and caught.value.attempts == 2
    # Once the endpoint has refused for good, later requests are not retried at all.
    with client:
        later = client.complete_many([ChatCall(HELLO)] * 3)
    assert all(isinstance(r, ChatError) and r.attempts == 1 for r in later)


def test_key_is_a_bearer_header_and_never_in_errors() -> None:
    def reply(body: dict, headers: Mapping[str, str]) -> FakeResponse:
        # Some servers echo the credential they rejected.
        return FakeResponse.error(401, f"Incorrect API key: {headers.get('authorization')}")

    with FakeOpenAIServer(reply) as server, make_client(server) as client:
        assert SECRET not in repr(client)
        with pytest.raises(ChatError) as caught:
            client.complete(HELLO, temperature=0.0, max_tokens=5)
        results = client.complete_many([ChatCall(HELLO)])
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    assert_no_secret(caught.value)
    assert "Incorrect API key: Bearer ***" in str(caught.value)
    assert isinstance(results[0], ChatError)
    assert_no_secret(results[0])


def test_no_key_means_no_authorization_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV)
    with FakeOpenAIServer("ok") as server, make_client(server) as client:
        client.complete(HELLO, temperature=0.0, max_tokens=5)
    assert "authorization" not in server.requests[0].headers


def test_credentials_in_base_url_stay_out_of_messages() -> None:
    with FakeOpenAIServer(FakeResponse.error(400, "no")) as server:
        url = server.base_url.replace("http://", "http://user:hunter2@")
        with ChatClient(url, "m") as client, pytest.raises(ChatError) as caught:
            client.complete(HELLO, temperature=0.0, max_tokens=5)
    assert "hunter2" not in str(caught.value) and "hunter2" not in repr(client)
    with pytest.raises(ValueError):
        ChatClient("127.0.0.1:8000/v1", "m")


def test_complete_many_keeps_order_and_bounds_concurrency() -> None:
    def reply(body: dict, headers: Mapping[str, str]) -> FakeResponse | str:
        text = last_user_text(body)
        if text == "q5":
            return FakeResponse.error(400, "bad sample")
        return FakeResponse.text(f"answer to {text}", delay_s=0.1)

    calls = [ChatCall([{"role": "user", "content": f"q{i}"}]) for i in range(12)]
    finished: list[int] = []
    with FakeOpenAIServer(reply) as server, make_client(server, concurrency=4) as client:
        results = client.complete_many(calls, on_done=lambda i, r: finished.append(i))
    assert 2 <= server.peak_in_flight <= 4
    assert sorted(finished) == list(range(12))
    assert isinstance(results[5], ChatError) and "bad sample" in str(results[5])
    assert [r for i, r in enumerate(results) if i != 5] == [f"answer to q{i}" for i in range(12) if i != 5]


def test_concurrency_limit_holds_across_threads() -> None:
    calls = [ChatCall(HELLO) for _ in range(6)]
    with (
        FakeOpenAIServer(FakeResponse.text("x", delay_s=0.1)) as server,
        make_client(server, concurrency=3) as client,
    ):
        threads = [threading.Thread(target=client.complete_many, args=(calls,)) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(server.requests) == 18
    assert server.peak_in_flight == 3


def test_retry_after_parsing() -> None:
    assert _parse_retry_after({"retry-after": "3"}) == 3.0
    assert _parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert _parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # past
    assert _parse_retry_after({"retry-after": "soon"}) is None
    assert _parse_retry_after({}) is None
