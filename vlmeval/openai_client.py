"""A small, retrying client for OpenAI-compatible chat-completions endpoints.

Works with anything that speaks `POST {base_url}/chat/completions` (vLLM, SGLang, TGI,
hosted APIs). Used by the OpenAI backend and by the LLM judge.

Secrets: the API key is read from an environment variable, sent only as a Bearer header,
and scrubbed from every error message; `ChatError` carries no reference to it.
"""

from __future__ import annotations

import email.utils
import json
import os
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from vlmeval.redact import redact

if TYPE_CHECKING:
    import httpx
    from typing_extensions import Self

# OpenAI's own SDK retries these: 408 (request timeout), 409 (lock contention),
# 429 (rate limit) and every 5xx.
RETRYABLE_STATUSES = frozenset({408, 409, 429})
_DETAIL_CHARS = 200
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# A refused connection is tried once more (a server restarting), then every later request of the
# client gets a single attempt: a server that is not there fails a batch in milliseconds instead
# of backing off for a minute per request.
CONNECT_RETRIES = 1


def _http() -> Any:
    """The httpx module (imported lazily; the `httpx2` fork has the same API)."""
    try:
        import httpx as module
    except ImportError:
        import httpx2 as module  # type: ignore[no-redef]
    return module


@dataclass(frozen=True)
class ChatCall:
    """One chat-completions request for `ChatClient.complete_many`."""

    messages: Sequence[Mapping[str, Any]]
    temperature: float = 0.0
    max_tokens: int = 256
    top_p: float | None = None
    extra: Mapping[str, Any] | None = None


class ChatError(Exception):
    """A request that failed for good. `str()` is one line: URL, model, status, server message.

    Never contains the API key: the server's message is scrubbed before it gets here.
    """

    def __init__(self, url: str, model: str, status: int | None, detail: str, attempts: int) -> None:
        self.url = url
        self.model = model
        self.status = status
        self.detail = detail
        self.attempts = attempts
        what = f"HTTP {status}" if status is not None else "no response"
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        super().__init__(f"POST {url} (model {model!r}): {what}: {detail} [{tries}]")


@dataclass
class ClientStats:
    """Counts over the client's lifetime (HTTP attempts, not calls)."""

    attempts: int = 0
    retries: int = 0
    failures: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"attempts": self.attempts, "retries": self.retries, "failures": self.failures}


@dataclass(frozen=True)
class _Failure:
    status: int | None
    detail: str
    retryable: bool
    retry_after: float | None = None
    refused: bool = False  # no connection could be made (refused, unknown host)


def one_line(text: str, limit: int = _DETAIL_CHARS) -> str:
    """Collapse whitespace and cut to `limit` characters, so messages stay on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def display_url(url: str) -> str:
    """The URL without any `user:password@` part, for messages and reports."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from `retry-after-ms` / `Retry-After` (seconds or an HTTP date), if present."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _server_message(response: httpx.Response) -> str:
    """The human part of an error body: OpenAI's {"error": {"message"}}, TGI's {"error": str}..."""
    try:
        body = response.json()
    except ValueError:
        return response.text or response.reason_phrase or "(empty body)"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        for value in (error, body.get("message"), body.get("detail")):
            if value:
                return value if isinstance(value, str) else json.dumps(value)
    return json.dumps(body)


def _content_of(body: Any) -> str | None:
    """choices[0].message.content, or None when the reply does not have that shape."""
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # some servers return content parts
        texts = [p.get("text") for p in content if isinstance(p, dict)]
        if texts and all(isinstance(t, str) for t in texts):
            return "".join(texts)  # type: ignore[arg-type]
    return None


class ChatClient:
    """Sends chat-completions requests with retries, backoff and a cap on requests in flight.

    Thread-safe: one client can serve many threads; `concurrency` bounds the requests in
    flight across all of them. Retries (up to `max_retries` after the first attempt) cover
    429, 408, 409, 5xx, time-outs, dropped connections and malformed ("garbage") replies; a
    refused connection is retried once (`CONNECT_RETRIES`), and not at all after one has failed,
    waiting `backoff_s * 2**n` with jitter, or longer if the server sends Retry-After.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 120.0,
        max_retries: int = 6,
        backoff_s: float = 1.0,
        concurrency: int = 8,
        max_backoff_s: float = 60.0,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be http(s)://host[:port]/path, got {display_url(base_url)!r}")
        if concurrency < 1 or max_retries < 0:
            raise ValueError("concurrency must be >= 1 and max_retries >= 0")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.url = display_url(self.base_url) + "/chat/completions"
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.concurrency = concurrency
        self.stats = ClientStats()
        self._api_key = os.environ.get(api_key_env) or None
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        # A local server must never be reached through a proxy from the environment.
        self._trust_env = parts.hostname not in _LOOPBACK_HOSTS
        self._refused = False  # a request failed for good because no connection could be made

    def __repr__(self) -> str:
        key = "set" if self._api_key else "unset"
        return f"ChatClient(url={self.url!r}, model={self.model!r}, api_key={key})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def complete(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        temperature: float,
        max_tokens: int,
        top_p: float | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        """The assistant's text for one request; raises ChatError once retries are spent."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": list(messages),
            "temperature": temperature,
            "max_tokens": max_tokens,
        }
        if top_p is not None:
            body["top_p"] = top_p
        body.update(extra or {})
        payload = json.dumps(body).encode("utf-8")  # a bad body fails here, not per attempt
        attempt = 0
        while True:
            outcome = self._attempt(payload)
            if isinstance(outcome, str):
                return outcome
            attempt += 1
            if not outcome.retryable or attempt > self.max_retries:
                break
            if outcome.refused and (self._refused or attempt > CONNECT_RETRIES):
                break
            self._count(retries=1)
            time.sleep(self._delay(attempt, outcome.retry_after))
        self._count(failures=1)
        if outcome.refused:
            self._refused = True
        raise ChatError(self.url, self.model, outcome.status, outcome.detail, attempt)

    def complete_many(
        self,
        calls: Sequence[ChatCall],
        *,
        on_done: Callable[[int, str | ChatError], None] | None = None,
    ) -> list[str | ChatError]:
        """Runs `calls` with at most `concurrency` in flight; results in the order of `calls`.

        `on_done(index, result)` is called from a worker thread as each call finishes
        (the judge uses it to cache replies as they arrive).
        """
        if not calls:
            return []

        def run(index: int) -> str | ChatError:
            call = calls[index]
            result: str | ChatError
            try:
                result = self.complete(
                    call.messages,
                    temperature=call.temperature,
                    max_tokens=call.max_tokens,
                    top_p=call.top_p,
                    extra=call.extra,
                )
            except ChatError as error:
                result = error
            if on_done is not None:
                on_done(index, result)
            return result

        workers = min(self.concurrency, len(calls))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chat") as pool:
            return list(pool.map(run, range(len(calls))))

    # -- internals ---------------------------------------------------------------------

    def _http_client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                http = _http()
                headers = {"Content-Type": "application/json", "User-Agent": "vlmeval"}
                if self._api_key:
                    headers["Authorization"] = f"Bearer {self._api_key}"
                self._client = http.Client(
                    timeout=http.Timeout(self.timeout),
                    limits=http.Limits(
                        max_connections=self.concurrency,
                        max_keepalive_connections=self.concurrency,
                    ),
                    headers=headers,
                    trust_env=self._trust_env,
                )
            return self._client

    def _attempt(self, payload: bytes) -> str | _Failure:
        http = _http()
        client = self._http_client()
        self._count(attempts=1)
        with self._slots:
            try:
                response = client.post(self.base_url + "/chat/completions", content=payload)
            except http.TimeoutException:
                return _Failure(None, f"timed out after {self.timeout:g}s", retryable=True)
            except (http.UnsupportedProtocol, http.InvalidURL) as error:
                return _Failure(None, self._scrub(f"{type(error).__name__}: {error}"), False)
            except http.ConnectError as error:
                detail = f"connection failed ({type(error).__name__}: {error})"
                return _Failure(None, self._scrub(detail), retryable=True, refused=True)
            except http.TransportError as error:
                detail = f"connection failed ({type(error).__name__}: {error})"
                return _Failure(None, self._scrub(detail), retryable=True)
            except http.HTTPError as error:  # too many redirects, undecodable body...
                detail = f"{type(error).__name__}: {error}"
                return _Failure(None, self._scrub(detail), retryable=False)
        status = response.status_code
        if status >= 300:  # a redirect means a wrong base_url: say so instead of retrying
            if status < 400:
                location = display_url(response.headers.get("location", "?"))
                detail = self._scrub(f"redirected to {location}; check base_url")
            else:
                detail = self._scrub(_server_message(response))
            retryable = status in RETRYABLE_STATUSES or status >= 500
            return _Failure(status, detail, retryable, _parse_retry_after(response.headers))
        try:
            body = response.json()
        except ValueError:
            return _Failure(status, f"garbage reply (not JSON): {self._scrub(response.text)}", True)
        content = _content_of(body)
        if content is None:
            shown = self._scrub(json.dumps(body) if not isinstance(body, str) else body)
            return _Failure(status, f"garbage reply (no choices[0].message.content): {shown}", True)
        return content

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter; never shorter than the server's Retry-After."""
        base = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        delay = base * random.uniform(0.5, 1.0)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, self.max_backoff_s)

    def _scrub(self, text: str) -> str:
        """One line, with the API key and any URL credentials cut out (servers sometimes echo them)."""
        if self._api_key:
            text = text.replace(self._api_key, "***")
        return one_line(redact(text))

    def _count(self, attempts: int = 0, retries: int = 0, failures: int = 0) -> None:
        with self._lock:
            self.stats.attempts += attempts
            self.stats.retries += retries
            self.stats.failures += failures
