"""The judge: cached replies never hit the network, failures are not cached."""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, FakeResponse, last_user_text
from vlmeval.judge import CACHE_FILE, Judge, JudgeQuery, prompt_hash
from vlmeval.openai_client import ChatClient


def answer_or_fail(body: dict, headers: Mapping[str, str]) -> FakeResponse | str:
    prompt = last_user_text(body)
    if prompt.startswith("bad"):
        return FakeResponse.error(400, "judge refused")
    return f"score for {prompt} at t={body['temperature']}"


def make_judge(server: FakeOpenAIServer, cache_dir: Path, model: str = "judge-1") -> Judge:
    return Judge(ChatClient(server.base_url, model, api_key_env="NO_SUCH_KEY"), cache_dir)


def dead_client(base_url: str | None = None) -> ChatClient:
    """A client no request can reach: at `base_url` (a server already stopped), else a free port."""
    if base_url is None:
        with socket.socket() as probe:  # nothing listens here: any request would fail
            probe.bind(("127.0.0.1", 0))
            base_url = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    return ChatClient(base_url, "judge-1", max_retries=0)


def test_second_run_is_served_from_the_cache(tmp_path: Path) -> None:
    queries = [JudgeQuery(f"q{i}") for i in range(3)]
    with FakeOpenAIServer(answer_or_fail) as server:
        first = make_judge(server, tmp_path).ask_many(queries)
    assert len(server.requests) == 3
    assert [r.text for r in first] == [f"score for q{i} at t=0.0" for i in range(3)]
    assert not any(r.cached for r in first)

    again = Judge(dead_client(server.base_url), tmp_path)  # a fresh process would look like this
    second = again.ask_many(queries)
    assert [r.text for r in second] == [r.text for r in first]
    assert all(r.cached and r.error is None for r in second)
    assert again.stats.to_dict() == {"queries": 3, "cache_hits": 3, "requests_sent": 0, "failures": 0}
    assert (tmp_path / CACHE_FILE).exists()


def test_failures_are_reported_and_not_cached(tmp_path: Path) -> None:
    queries = [JudgeQuery("good"), JudgeQuery("bad one")]
    with FakeOpenAIServer(answer_or_fail) as server:
        judge = make_judge(server, tmp_path)
        good, bad = judge.ask_many(queries)
        assert good.text == "score for good at t=0.0" and good.error is None
        assert bad.text is None and bad.error is not None and "judge refused" in bad.error
        assert "HTTP 400" in bad.error and "\n" not in bad.error
        judge.ask_many(queries)
    assert sorted(last_user_text(r.body) for r in server.requests) == ["bad one", "bad one", "good"]
    assert judge.stats.to_dict() == {"queries": 4, "cache_hits": 1, "requests_sent": 3, "failures": 2}


def test_key_covers_model_temperature_and_max_tokens(tmp_path: Path) -> None:
    with FakeOpenAIServer(answer_or_fail) as server:
        make_judge(server, tmp_path).ask_many([JudgeQuery("q")])
        judge = make_judge(server, tmp_path)
        judge.ask_many([JudgeQuery("q", temperature=0.7), JudgeQuery("q", max_tokens=9)])
        make_judge(server, tmp_path, model="judge-2").ask_many([JudgeQuery("q")])
        make_judge(server, tmp_path).ask_many([JudgeQuery("q")])  # cached: no request
    assert len(server.requests) == 4
    sent = {(r.body["temperature"], r.body["max_tokens"]) for r in server.requests[1:3]}
    assert sent == {(0.7, 512), (0.0, 9)}
    assert server.requests[3].body["model"] == "judge-2"


def test_key_covers_the_judge_server_but_not_its_credentials_or_query(tmp_path: Path) -> None:
    """Two servers behind one model name judge apart: a verdict of one is never the other's."""
    with FakeOpenAIServer(lambda body, headers: "verdict of A") as server_a:
        first = make_judge(server_a, tmp_path).ask(JudgeQuery("q"))
        with_secret = server_a.base_url.replace("://", "://user:pw@") + "?key=SECRET"
        again = Judge(ChatClient(with_secret, "judge-1", max_retries=0), tmp_path).ask(JudgeQuery("q"))
    with FakeOpenAIServer(lambda body, headers: "verdict of B") as server_b:
        other = make_judge(server_b, tmp_path).ask(JudgeQuery("q"))
    assert (first.text, first.cached) == ("verdict of A", False)
    assert (again.text, again.cached) == ("verdict of A", True)  # same server, other key: same verdict
    assert (other.text, other.cached) == ("verdict of B", False)
    assert len(server_a.requests) == 1 and len(server_b.requests) == 1


def test_each_judge_run_gets_its_own_reply(tmp_path: Path) -> None:
    replies = iter(["first", "second", "third"])
    with FakeOpenAIServer(lambda body, headers: next(replies)) as server:
        judge = make_judge(server, tmp_path)
        runs = [judge.ask(JudgeQuery("q", run=r)).text for r in range(3)]
        again = [judge.ask(JudgeQuery("q", run=r)) for r in range(3)]
    assert runs == ["first", "second", "third"]
    assert [r.text for r in again] == runs and all(r.cached for r in again)
    assert len(server.requests) == 3 and "run" not in server.requests[0].body


def test_identical_queries_in_one_batch_are_sent_once(tmp_path: Path) -> None:
    with FakeOpenAIServer(answer_or_fail) as server:
        replies = make_judge(server, tmp_path).ask_many([JudgeQuery("same")] * 4)
    assert len(server.requests) == 1
    assert {r.text for r in replies} == {"score for same at t=0.0"}


def test_cache_is_safe_across_threads(tmp_path: Path) -> None:
    errors: list[BaseException] = []
    with FakeOpenAIServer(answer_or_fail) as server:
        judge = make_judge(server, tmp_path)

        def ask(offset: int) -> None:
            try:
                judge.ask_many([JudgeQuery(f"t{offset + i}") for i in range(10)])
            except Exception as error:  # noqa: BLE001 - surfaced by the assert below
                errors.append(error)

        threads = [threading.Thread(target=ask, args=(5 * n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors
    replies = Judge(dead_client(server.base_url), tmp_path).ask_many([JudgeQuery(f"t{i}") for i in range(25)])
    assert all(r.cached for r in replies)


def test_default_cache_dir_comes_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLMEVAL_CACHE", str(tmp_path / "cache"))
    judge = Judge(dead_client(), None)
    assert judge.cache_path == tmp_path / "cache" / CACHE_FILE
    assert judge.model == "judge-1"
    assert judge.cache_path.exists()
    assert judge.ask_many([JudgeQuery("x")])[0].error is not None  # nothing cached: a failure


def test_prompt_hash() -> None:
    text = "Compare the ground truth and prediction"
    assert prompt_hash(text) == hashlib.sha256(text.encode()).hexdigest()[:12]
    assert len(prompt_hash(text)) == 12 and prompt_hash(text) != prompt_hash(text + " ")
