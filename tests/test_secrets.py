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
    assert redact("http://host/path@x?q=a@b") == "http://host/path@x?q=a@b"
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
