"""`user:password@` in --base-url / --judge-base-url, and the API key, reach the server and nowhere else."""

from __future__ import annotations

import base64
import logging
import os
import socket
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from tests.helpers import vlmeval
from vlmeval.redact import RedactingFilter, redact, redact_argv

PASSWORD = "hunter2-p@ss"
KEY = "sk-test-NEVER-SHOWN-0123456789"


def _with_credentials(url: str) -> str:
    return url.replace("http://", f"http://alice:{PASSWORD}@")


def _everything_written(result_texts: list[str], folder: Path) -> list[str]:
    return result_texts + [p.read_bytes().decode("utf-8", "replace") for p in folder.rglob("*") if p.is_file()]


@pytest.mark.slow
def test_credentials_stay_out_of_reports_run_files_logs_and_pages(tmp_path: Path) -> None:
    env = {**os.environ, "OPENAI_API_KEY": KEY}
    with FakeOpenAIServer("A") as server:
        url = _with_credentials(server.base_url)
        result = vlmeval("-v", "run", "--task", "sqa", "--model", "openai:fake-model", "--base-url", url,
                         "--data", "demo", "--limit", "8", "--output", str(tmp_path), "--no-progress",
                         "--judge", "judge-model", "--judge-base-url", url, env=env)
        sent = server.requests
    assert result.returncode == 0, result.stderr
    # The credentials did reach the server (httpx sends a URL's userinfo as Basic auth).
    basic = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    assert sent and all(r.headers.get("authorization") == basic for r in sent)
    written = _everything_written([result.stdout, result.stderr], tmp_path)
    assert len(written) > 5
    for text in written:
        assert PASSWORD not in text and "alice" not in text and KEY not in text
    report = (tmp_path / "openai-fake-model" / "sqa" / "report.json").read_text()
    assert "--base-url http://***@127.0.0.1" in report  # the command is kept, redacted


@pytest.mark.slow
def test_errors_of_an_unreachable_endpoint_do_not_show_credentials(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://alice:{PASSWORD}@127.0.0.1:{port}/v1"
    result = vlmeval("-v", "run", "--task", "sqa", "--model", "openai:m", "--base-url", url, "--data", "demo",
                     "--limit", "4", "--output", str(tmp_path), "--no-progress", timeout=120)
    assert result.returncode == 3, result.stderr
    for text in _everything_written([result.stdout, result.stderr], tmp_path):
        assert PASSWORD not in text


def test_redaction_of_text_argv_and_log_records(caplog: pytest.LogCaptureFixture) -> None:
    assert redact("POST https://u:p@ss@host:1/v1/chat") == "POST https://***@host:1/v1/chat"
    assert redact("http://host/path@x?q=a@b") == "http://host/path@x?q=***"
    assert redact("GET http://h/v1?key=S1&api-version=2;x=S2#top, then?") == "GET http://h/v1?key=***&api-version=***;x=***#top, then?"
    assert redact('"--base-url=http://h/v1?S3"') == '"--base-url=http://h/v1?***"'
    assert redact("a plain question? yes=no") == "a plain question? yes=no"
    assert redact_argv(["vlmeval", "--base-url=http://u:pw@h/v1"]) == "vlmeval --base-url=http://***@h/v1"
    logger = logging.getLogger("test.redaction")
    handler = logging.Handler()
    records: list[str] = []
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    try:
        logger.warning("HTTP Request: POST %s", "http://u:secret@h/v1")
    finally:
        logger.removeHandler(handler)
    assert records == ["HTTP Request: POST http://***@h/v1"]


@pytest.mark.slow
@pytest.mark.parametrize("flag", ["--base-url", "--judge-base-url"])
def test_a_malformed_url_with_credentials_is_a_one_line_error_without_them(tmp_path: Path, flag: str) -> None:
    args = ["run", "--task", "sqa", "--model", "openai:m", "--base-url", "http://127.0.0.1:9/v1", "--data", "demo",
            "--limit", "2", "--output", str(tmp_path), "--no-progress", "--judge", "j"]
    args += [flag, f"ftp://alice:{PASSWORD}@host/v1"]
    result = vlmeval(*args)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and flag in result.stderr
    assert PASSWORD not in result.stderr + result.stdout


QUERY_SECRET = "q-SECRET-4242"


@pytest.mark.slow
def test_a_key_in_a_url_query_stays_out_of_files_logs_errors_and_pages(tmp_path: Path) -> None:
    """Every place a URL can appear: report.json's command, run.json, -v output, an error, the view page."""
    with FakeOpenAIServer("A") as server:
        url = server.base_url + f"?key={QUERY_SECRET}"
        result = vlmeval("-v", "run", "--task", "sqa", "--model", "openai:fake-model", "--base-url", url,
                         "--data", "demo", "--limit", "4", "--output", str(tmp_path), "--no-progress",
                         "--judge", "judge-model", "--judge-base-url", url)
        assert result.returncode == 0, result.stderr
        assert all(r.path.endswith(f"/chat/completions?key={QUERY_SECRET}") for r in server.requests)
        refused = vlmeval("-v", "run", "--task", "sqa", "--model", "openai:fake-model", "--base-url",
                          url.replace("127.0.0.1", "localhost"), "--data", "demo", "--limit", "4",
                          "--output", str(tmp_path), "--no-progress")
    assert refused.returncode == 2 and "endpoint" in refused.stderr  # an error that names the URLs
    run_dir = tmp_path / "openai-fake-model" / "sqa"
    page = vlmeval("view", str(run_dir), "-o", str(tmp_path / "page.html"))
    assert page.returncode == 0, page.stderr
    written = _everything_written([result.stdout, result.stderr, refused.stderr, page.stdout], tmp_path)
    for text in written:
        assert QUERY_SECRET not in text
    assert "key=***" in (run_dir / "report.json").read_text()
    assert "key=***" in (run_dir / "run.json").read_text()
    assert "key=***" in result.stderr  # -v shows where requests went, without the value


@pytest.mark.slow
def test_a_judge_url_with_a_query_in_an_error_is_redacted(tmp_path: Path) -> None:
    args = ["score", "--task", "llava_bench_wild", "--data", "demo", "--predictions", str(tmp_path / "none.jsonl"),
            "--judge", "j", "--judge-base-url", f"ftp://host/v1?key={QUERY_SECRET}"]
    result = vlmeval(*args)
    assert result.returncode == 2 and "--judge-base-url" in result.stderr
    assert QUERY_SECRET not in result.stderr + result.stdout and "key=***" in result.stderr


def test_a_crash_traceback_is_redacted(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from vlmeval.redact import install_log_redaction

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    install_log_redaction()
    try:
        raise RuntimeError(f"cannot reach http://h/v1?key={QUERY_SECRET}")
    except RuntimeError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    err = capsys.readouterr().err
    assert "RuntimeError: cannot reach http://h/v1?key=***" in err and QUERY_SECRET not in err
