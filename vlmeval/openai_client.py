"""A small facade over the `openai` SDK for OpenAI-compatible chat-completions endpoints.

Works with anything that speaks `POST {base_url}/chat/completions` (vLLM, SGLang, TGI,
hosted APIs). Used by the OpenAI backend and by the LLM judge. Retries, backoff and
Retry-After are the SDK's (`max_retries`: 408, 409, 429, 5xx, time-outs and dropped
connections, from 0.5 s doubling to 8 s); this module adds a cap on requests in flight,
failing fast once a connection is refused, and one-line errors.

Secrets: the API key is read from an environment variable, sent only as a Bearer header,
and scrubbed from every error message; `ChatError` carries no reference to it.
`openai` is imported on first use, so commands that never call an API do not load it.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from vlmeval.redact import redact

if TYPE_CHECKING:
    import httpx
    import openai
    from typing_extensions import Self

_DETAIL_CHARS = 200
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# A refused connection is tried once more (a server restarting), then every later request of the
# client gets a single attempt: a server that is not there fails a batch in milliseconds instead
# of backing off for a minute per request.
CONNECT_RETRIES = 1
# Set by the SDK on every attempt of a request (0 on the first).
_RETRY_COUNT_HEADER = "x-stainless-retry-count"


@dataclass(frozen=True)
class ChatCall:
    """One chat-completions request for `ChatClient.complete_many`."""

    messages: Sequence[Mapping[str, Any]]
    temperature: float = 0.0
    max_tokens: int = 256
    top_p: float | None = None
    extra: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ChatReply:
    """A reply's content and what the server said about it.

    `reasoning` is a reasoning parser's separate `reasoning_content` (vLLM, SGLang, DeepSeek's
    API; `reasoning` on some servers): never the answer. `content` may then be empty, or None
    when the token limit ended the reply inside its reasoning.
    """

    content: str | None
    finish_reason: str | None = None
    reasoning: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None


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


def one_line(text: str, limit: int = _DETAIL_CHARS) -> str:
    """Collapse whitespace and cut to `limit` characters, so messages stay on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def display_url(url: str) -> str:
    """The URL without any `user:password@` part or query values, for messages and reports."""
    return redact(url)


def _endpoint_url(base_url: str, endpoint: str) -> str:
    """`endpoint` under the base URL's path, before its query: `http://h/v1?k=v` -> `http://h/v1/chat/completions?k=v`."""
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + endpoint, parts.query, parts.fragment))


def _server_message(response: Any) -> str:
    """The human part of an error body: OpenAI's {"error": {"message"}}, TGI's {"error": str}..."""
    if response.is_redirect:  # a wrong base_url: say so instead of showing an empty body
        return f"redirected to {display_url(response.headers.get('location', '?'))}; check base_url"
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


def _reply_of(body: Any) -> ChatReply | None:
    """The reply in a chat-completions body, None when it has neither content nor reasoning."""
    content = _content_of(body)
    try:
        choice = body["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError):
        return None
    if not isinstance(choice, dict) or not isinstance(message, dict):
        return None
    reasoning = message.get("reasoning_content") or message.get("reasoning")  # vLLM/DeepSeek, some others
    if content is None and not isinstance(reasoning, str):
        return None
    usage = _mapping(body.get("usage"))
    details = _mapping(usage.get("completion_tokens_details"))
    finish = choice.get("finish_reason")
    return ChatReply(
        content=content,
        finish_reason=finish if isinstance(finish, str) else None,
        reasoning=reasoning if isinstance(reasoning, str) else None,
        prompt_tokens=_count(usage.get("prompt_tokens")),
        completion_tokens=_count(usage.get("completion_tokens")),
        reasoning_tokens=_count(details.get("reasoning_tokens")),
    )


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _attempts(request: Any) -> int:
    """Attempts so far of the request an `httpx.Request` belongs to (1 without a request)."""
    return int(request.headers.get(_RETRY_COUNT_HEADER, "0")) + 1 if request is not None else 1


def _http_client(concurrency: int, trust_env: bool, is_refused: Callable[[], bool]) -> httpx.Client:
    """The SDK's transport, which stops its retries of a refused connection after `CONNECT_RETRIES`.

    The SDK retries connection errors like 5xx; it passes an `openai.OpenAIError` raised by the
    transport through without retrying, so a refusal it should not retry is re-raised as one.
    """
    import httpx
    import openai

    class FailFastClient(httpx.Client):
        def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
            try:
                return super().send(request, **kwargs)
            except httpx.ConnectError as error:
                if is_refused() or _attempts(request) > CONNECT_RETRIES:
                    raise openai.APIConnectionError(request=request) from error  # type: ignore[arg-type]
                raise

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return FailFastClient(limits=limits, trust_env=trust_env)


class ChatClient:
    """Sends chat-completions requests through the `openai` SDK with a cap on requests in flight.

    Thread-safe: one client can serve many threads; `concurrency` bounds the requests in
    flight across all of them (a request keeps its slot while the SDK backs off to retry it).
    Failures come back as `ChatError`; a reply without `choices[0].message.content` is one.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 120.0,
        max_retries: int = 6,
        concurrency: int = 8,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be http(s)://host[:port]/path, got {display_url(base_url)!r}")
        if concurrency < 1 or max_retries < 0:
            raise ValueError("concurrency must be >= 1 and max_retries >= 0")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.url = display_url(_endpoint_url(self.base_url, "/chat/completions"))
        self.timeout = timeout
        self.max_retries = max_retries
        self.concurrency = concurrency
        self._api_key = os.environ.get(api_key_env) or None
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._sdk: openai.OpenAI | None = None
        self._http: httpx.Client | None = None
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
            if self._http is not None:
                self._http.close()
            self._sdk = self._http = None

    def complete(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        temperature: float,
        max_tokens: int,
        top_p: float | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        """The assistant's text for one request; raises ChatError once the SDK's retries are spent."""
        reply = self.reply(messages, temperature=temperature, max_tokens=max_tokens, top_p=top_p, extra=extra)
        if reply.content is None:
            raise ChatError(self.url, self.model, 200, "the reply has reasoning but no content "
                            f"(finish reason {reply.finish_reason})", 1)
        return reply.content

    def reply(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        temperature: float,
        max_tokens: int,
        top_p: float | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> ChatReply:
        """The reply to one request with its finish reason and token usage; ChatError as `complete`."""
        import httpx
        import openai

        body: dict[str, Any] = {
            "model": self.model,
            "messages": list(messages),
            "temperature": temperature,
            "max_tokens": max_tokens,
        }
        if top_p is not None:
            body["top_p"] = top_p
        body.update(extra or {})
        # Without a key the request has no Authorization header (the SDK insists on one otherwise).
        options: Any = {} if self._api_key else {"headers": {"Authorization": openai.Omit()}}
        # The ChatError is raised outside the `except`, so it chains to no SDK error (and its request).
        failure: ChatError | None = None
        try:
            with self._slots:
                response = self._client().post("/chat/completions", cast_to=httpx.Response, body=body,
                                               options=options)
        except openai.APIStatusError as error:
            detail = _server_message(error.response)
            failure = self._error(error.status_code, detail, error.response.request)
        except openai.APITimeoutError as error:
            failure = self._error(None, f"timed out after {self.timeout:g}s", error.request)
        except openai.APIConnectionError as error:
            cause = error.__cause__
            if isinstance(cause, httpx.ConnectError):
                self._refused = True
            detail = f"connection failed ({type(cause).__name__}: {cause})" if cause else str(error)
            failure = self._error(None, detail, error.request)
        if failure is not None:
            raise failure
        try:
            reply = _reply_of(response.json())
        except ValueError:
            reply = None
        if reply is None:
            detail = f"garbage reply (no choices[0].message.content): {response.text}"
            raise self._error(response.status_code, detail, response.request)
        return reply

    def reply_many(self, calls: Sequence[ChatCall]) -> list[ChatReply | ChatError]:
        """`complete_many` with each reply's finish reason and usage (the model backend's path)."""

        def run(call: ChatCall) -> ChatReply | ChatError:
            try:
                return self.reply(call.messages, temperature=call.temperature, max_tokens=call.max_tokens,
                                  top_p=call.top_p, extra=call.extra)
            except ChatError as error:
                return error

        if not calls:
            return []
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(calls)), thread_name_prefix="chat") as pool:
            return list(pool.map(run, calls))

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

    def _client(self) -> openai.OpenAI:
        with self._lock:
            if self._sdk is None:
                import openai

                self._http = _http_client(self.concurrency, self._trust_env, lambda: self._refused)
                # A query (`?api-version=...&key=...`, Azure-style) goes on every request; the SDK
                # would otherwise put the path after it (`/v1?key=K/chat/completions`).
                parts = urlsplit(self.base_url)
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
                self._sdk = openai.OpenAI(
                    base_url=urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")),
                    default_query=query or None,
                    api_key=self._api_key or "unused",  # without a key, never sent (see complete)
                    timeout=self.timeout,
                    max_retries=self.max_retries,
                    http_client=self._http,  # type: ignore[arg-type]  # typed for httpx2, takes httpx too
                )
            return self._sdk

    def _error(self, status: int | None, detail: str, request: Any) -> ChatError:
        """A ChatError whose detail is one line, with the API key and any URL credentials cut out."""
        if self._api_key:
            detail = detail.replace(self._api_key, "***")
        return ChatError(self.url, self.model, status, one_line(redact(detail)), _attempts(request))
