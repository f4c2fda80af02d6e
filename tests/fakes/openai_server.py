"""A fake OpenAI-compatible chat-completions server on 127.0.0.1, for tests.

Usage::

    from tests.fakes.openai_server import FakeOpenAIServer, FakeResponse, scripted

    # Every request gets the same answer (the default reply echoes the last user text).
    with FakeOpenAIServer(reply=lambda body, headers: "A") as server:
        client = ChatClient(server.base_url, "fake-model")   # http://127.0.0.1:PORT/v1
        ...
        assert server.requests[0].body["temperature"] == 0.0

    # Scripted sequence: first call rate-limited, then a server error, then success;
    # the last step repeats for every later request.
    reply = scripted(FakeResponse.rate_limited(retry_after=0.1), FakeResponse(500), "B")

    # Per-request logic: the callable gets (parsed JSON body, lower-cased headers) and
    # returns the assistant text (str) or a FakeResponse (any status, body and headers).
    def reply(body, headers):
        prompt = last_user_text(body)
        return FakeResponse(400, {"error": {"message": "bad"}}) if "bad" in prompt else "ok"

    # Hanging (time-out tests): the server sleeps, then answers; sleeps are bounded by
    # `max_delay_s` and end at once when the server stops.
    reply = scripted(FakeResponse.hang(5.0), "late but fine")

Ready-made answers: `FakeResponse.text(content, delay_s=...)`, `.error(status, message)`,
`.rate_limited(retry_after=...)`, `.garbage()` (200 with a non-JSON body), `.hang(seconds)`;
`chat_completion(content)` builds a success body to alter by hand.

A reply callable may also raise: the server then answers 500 with the exception text.
`reply` may also be a plain str or FakeResponse (the same answer every time), and can be
swapped while the server runs (`server.reply = ...`).

What the server records (thread-safe): `server.requests` (a snapshot list of
`RecordedRequest`: path, headers, parsed body, raw bytes, arrival time), `server.peak_in_flight`
(most requests being handled at the same moment) and `server.in_flight`.

Routes: POST /v1/chat/completions -> `reply`; GET /v1/models -> the `models` list;
anything else -> 404 in OpenAI's error shape. The server is HTTP/1.1 (keep-alive) with a
thread per connection, listening on an ephemeral port (port 0).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "FakeOpenAIServer",
    "FakeResponse",
    "RecordedRequest",
    "chat_completion",
    "last_user_text",
    "scripted",
]


@dataclass(frozen=True)
class FakeResponse:
    """One HTTP answer. `body`: dict/list -> JSON; str/bytes -> sent as is; None -> empty.

    `delay_s` makes the server sleep before answering (bounded by the server's `max_delay_s`).
    """

    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0

    @classmethod
    def text(cls, content: str, *, delay_s: float = 0.0, model: str = "fake-model") -> FakeResponse:
        """A normal 200 completion whose assistant message is `content`."""
        return cls(200, chat_completion(content, model), delay_s=delay_s)

    @classmethod
    def error(cls, status: int, message: str, headers: Mapping[str, str] | None = None) -> FakeResponse:
        """An error in OpenAI's shape: {"error": {"message": ..., "code": status}}."""
        body = {"error": {"message": message, "type": "fake_error", "code": status}}
        return cls(status, body, dict(headers or {}))

    @classmethod
    def rate_limited(cls, retry_after: float | None = None) -> FakeResponse:
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        return cls.error(429, "Rate limit reached, slow down", headers)

    @classmethod
    def garbage(cls) -> FakeResponse:
        """A 200 whose body is not JSON (a broken proxy, a truncated reply)."""
        return cls(200, "<html>upstream exploded</html>", {"Content-Type": "text/html"})

    @classmethod
    def hang(cls, seconds: float, then: str = "too late") -> FakeResponse:
        """Sleep `seconds` (bounded), then answer `then`: for client time-out tests."""
        return cls.text(then, delay_s=seconds)


Reply = str | FakeResponse
ReplyFn = Callable[[dict, Mapping[str, str]], Reply]
Step = str | FakeResponse | ReplyFn


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # keys lower-cased
    body: Any  # parsed JSON, or None when the body was not JSON
    raw: bytes
    received_at: float  # time.monotonic()


def chat_completion(content: str, model: str = "fake-model") -> dict[str, Any]:
    """The JSON body of a successful chat completion carrying `content`."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def last_user_text(body: Mapping[str, Any]) -> str:
    """The text of the last user message (text parts joined), whatever the content shape."""
    for message in reversed(body.get("messages", [])):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        return "".join(p.get("text", "") for p in content if p.get("type") == "text")
    return ""


def echo(body: dict, headers: Mapping[str, str]) -> Reply:
    """The default reply: repeats the last user text."""
    return last_user_text(body)


def scripted(*steps: Step) -> ReplyFn:
    """A reply callable that answers with `steps` in order; the last step repeats forever.

    Each step is a str, a FakeResponse, or a reply callable (called with body, headers).
    Thread-safe: concurrent requests each take the next step.
    """
    if not steps:
        raise ValueError("scripted() needs at least one step")
    lock = threading.Lock()
    counter = itertools.count()

    def reply(body: dict, headers: Mapping[str, str]) -> Reply:
        with lock:
            index = min(next(counter), len(steps) - 1)
        step = steps[index]
        return step(body, headers) if callable(step) else step

    return reply


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 10  # idle keep-alive connections end on their own
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        fake = self.server.fake
        if self.path.rstrip("/") == "/v1/models":
            data = [{"id": m, "object": "model", "owned_by": "fake"} for m in fake.models]
            self._send(FakeResponse(200, {"object": "list", "data": data}))
        else:
            self._send(FakeResponse.error(404, f"no route GET {self.path}"))

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        fake = self.server.fake
        fake._record(RecordedRequest("POST", self.path, headers, body, raw, time.monotonic()))
        fake._enter()
        try:
            if self.path.split("?")[0].rstrip("/") != "/v1/chat/completions":
                answer: Reply = FakeResponse.error(404, f"no route POST {self.path}")
            elif not isinstance(body, dict):
                answer = FakeResponse.error(400, "request body is not a JSON object")
            else:
                try:
                    answer = fake.reply(body, headers)
                except Exception as error:  # noqa: BLE001 - a broken reply function is a visible 500
                    answer = FakeResponse.error(500, f"reply raised {type(error).__name__}: {error}")
            if isinstance(answer, str):
                answer = FakeResponse.text(answer, model=str(body.get("model", "fake-model")))
            if answer.delay_s > 0:  # bounded, and cut short when the server stops
                fake._stopping.wait(min(answer.delay_s, fake.max_delay_s))
        finally:
            # Leave before replying: once the client has this reply it may send its next
            # request, which must not find this one still counted as in flight.
            fake._leave()
        self._send(answer)

    def _send(self, answer: FakeResponse) -> None:
        body = answer.body
        if isinstance(body, (dict, list)):
            payload = json.dumps(body).encode()
            content_type = "application/json"
        elif isinstance(body, str):
            payload, content_type = body.encode(), "text/plain; charset=utf-8"
        else:
            payload, content_type = (body or b""), "application/octet-stream"
        try:
            self.send_response(answer.status)
            headers = {"Content-Type": content_type, **answer.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (time-out test): fine


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    fake: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up mid-request are expected in fault-injection tests


class FakeOpenAIServer:
    """A context manager running a fake chat-completions server; see the module docstring."""

    def __init__(
        self,
        reply: Step = echo,
        *,
        models: Sequence[str] = ("fake-model",),
        max_delay_s: float = 5.0,
    ) -> None:
        # Replaceable at any time (`server.reply = ...`); a str or FakeResponse answers every request.
        self.reply: ReplyFn = reply if callable(reply) else scripted(reply)
        self.models = tuple(models)
        self.max_delay_s = max_delay_s
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._in_flight = 0
        self._peak = 0
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started: use `with FakeOpenAIServer(...) as server`")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What a client takes as base_url: http://127.0.0.1:PORT/v1."""
        return self.url + "/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    @property
    def peak_in_flight(self) -> int:
        with self._lock:
            return self._peak

    def start(self) -> Self:
        self._stopping.clear()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},  # shutdown() waits up to one poll interval
            daemon=True,
            name="fake-openai",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes hanging handlers at once
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
