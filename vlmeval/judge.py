"""The LLM judge: one cached chat client shared by every task that needs a judge.

Replies are cached in sqlite (`judge-cache.sqlite` under `$VLMEVAL_CACHE`, else
`~/.cache/vlmeval`), keyed by sha256 of everything that decides a verdict: the judge's server
(`fingerprint.url_identity` of its base URL: no credentials, no query), its model, the exact
messages (so the prompt text), temperature and max_tokens. Re-running an evaluation re-asks
nothing that already has an answer, and a judge moved to another server is asked again rather
than answered with the old server's verdicts. Entries cached before the server was in the key
(until December 2026) are simply never found again.
Only successful replies are cached; failures are retried on the next run. A reply longer than
`vlmeval.limits.MAX_JUDGE_REPLY_CHARS` is cached cut (with a marker) and given to the task as no
reply with failure `oversized`: never stored whole, never asked again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vlmeval.engine.fingerprint import url_identity
from vlmeval.errors import VlmevalError
from vlmeval.failure import Failure
from vlmeval.limits import MAX_JUDGE_REPLY_CHARS, cut
from vlmeval.openai_client import ChatCall, ChatClient, ChatError

JUDGE_ERROR = Failure.JUDGE_ERROR  # kept for judged tasks written before `Failure`

__all__ = ["JUDGE_ERROR", "Judge", "JudgeQuery", "JudgeReply", "JudgeStats", "prompt_hash"]

log = logging.getLogger(__name__)
CACHE_FILE = "judge-cache.sqlite"


def prompt_hash(text: str) -> str:
    """A short name for a judge prompt template (first 12 hex digits of its sha256)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def default_cache_dir() -> Path:
    env = os.environ.get("VLMEVAL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "vlmeval"


@dataclass(frozen=True)
class JudgeQuery:
    """One judge question, sent as a user message (after `system`, when a task's judge has one).

    `run` and `attempt` are never sent: they only separate cache entries, so that repeated judge
    runs (`--judge-runs N`) and repeated tries of the same question (a scorer that asks again when
    a reply does not parse) each get their own reply instead of copies of the first.
    """

    prompt: str
    temperature: float = 0.0
    max_tokens: int = 512
    run: int = 0
    attempt: int = 0
    system: str | None = None


@dataclass(frozen=True)
class JudgeReply:
    """The judge's text, or the one-line reason it has none."""

    text: str | None
    error: str | None
    cached: bool
    failure: Failure | None = None  # without text: JUDGE_ERROR (ask again) or OVERSIZED (cut, counted)

    @property
    def ok(self) -> bool:
        return self.text is not None


# Ends a cached reply that was cut: "\0" never occurs in a judge's text, so a cached reply is known
# to be cut without a change to the cache's table.
_CUT_MARK = "\0vlmeval-cut:"


def _stored(text: str) -> str:
    """What the cache keeps of a reply: the reply, or its first MAX_JUDGE_REPLY_CHARS and the mark."""
    kept, full_length = cut(text, MAX_JUDGE_REPLY_CHARS)
    return kept if full_length is None else f"{kept}{_CUT_MARK}{full_length}"


def _reply(stored: str, cached: bool) -> JudgeReply:
    """A reply as a task sees it: an oversized one has no text, and says how long it was."""
    _, mark, full_length = stored.partition(_CUT_MARK)
    if not mark and len(stored) <= MAX_JUDGE_REPLY_CHARS:
        return JudgeReply(stored, None, cached)
    length = full_length if mark else str(len(stored))
    return JudgeReply(None, f"the judge replied {length} characters, over the limit of {MAX_JUDGE_REPLY_CHARS} "
                      f"(kept cut in the cache, counted as {Failure.OVERSIZED})", cached, Failure.OVERSIZED)


@dataclass
class JudgeStats:
    """For the report: queries asked, answered from cache, sent to the judge, and failed."""

    queries: int = 0
    cache_hits: int = 0
    requests_sent: int = 0
    failures: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "queries": self.queries,
            "cache_hits": self.cache_hits,
            "requests_sent": self.requests_sent,
            "failures": self.failures,
        }


class _ReplyCache:
    """A thread-safe sqlite key -> text store (WAL, so several processes can share it)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._write_failed = False
        try:
            self._db = sqlite3.connect(path, timeout=30.0, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS replies ("
                " key TEXT PRIMARY KEY, model TEXT NOT NULL, text TEXT NOT NULL, created REAL NOT NULL)"
            )
            self._db.execute("SELECT key, text FROM replies LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise self._damaged(exc) from None

    def _damaged(self, exc: sqlite3.Error) -> VlmevalError:
        # The cache holds paid-for judge replies: it is never replaced behind the user's back.
        return VlmevalError(f"{self.path}: the judge cache cannot be used ({exc}); move it aside to "
                            f"start a new cache, or point VLMEVAL_CACHE at another folder")

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for start in range(0, len(unique), 500):  # stay under sqlite's variable limit
                chunk = unique[start : start + 500]
                marks = ",".join("?" * len(chunk))
                try:
                    rows = self._db.execute(f"SELECT key, text FROM replies WHERE key IN ({marks})", chunk)
                    found.update(rows.fetchall())
                except sqlite3.DatabaseError as exc:
                    raise self._damaged(exc) from None
        return found

    def put(self, key: str, model: str, text: str) -> None:
        """Cache a reply; a full disk costs the cache entry (said once), never the reply itself."""
        with self._lock:
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO replies (key, model, text, created) VALUES (?, ?, ?, ?)",
                    (key, model, text, time.time()),
                )
            except sqlite3.Error as exc:
                if not self._write_failed:
                    log.warning("judge cache %s not written (%s): replies are used, and asked again "
                                "on the next run", self.path, exc)
                self._write_failed = True

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Judge:
    """Asks the judge model, answering from the cache where it can."""

    def __init__(self, client: ChatClient, cache_dir: Path | None = None) -> None:
        self.client = client
        self.cache_path = (cache_dir if cache_dir is not None else default_cache_dir()) / CACHE_FILE
        self.stats = JudgeStats()
        self._cache = _ReplyCache(self.cache_path)
        self._stats_lock = threading.Lock()
        self.prompts: dict[str, str] = {}  # task prompt name -> prompt_hash, for the report

    @property
    def model(self) -> str:
        return self.client.model

    def describe(self) -> dict[str, Any]:
        """What identifies this judge in a report (no secrets)."""
        return {"model": self.model, "url": self.client.url, "cache": str(self.cache_path),
                "prompts": dict(self.prompts), "stats": self.stats.to_dict()}

    def declare_prompt(self, name: str, template: str) -> None:
        """Record the hash of a task's judge prompt, so the report names the prompt used."""
        self.prompts[name] = prompt_hash(template)

    def close(self) -> None:
        self._cache.close()

    def cache_key(self, query: JudgeQuery) -> str:
        payload = {
            # Two servers behind one model name (another build, quantisation, or vendor) judge apart.
            "endpoint": url_identity(self.client.base_url),
            "model": self.model,
            "messages": self._messages(query),
            "temperature": query.temperature,
            "max_tokens": query.max_tokens,
        }
        if query.run:  # run 0 keeps the plain key, so a later multi-run scoring reuses it
            payload["run"] = query.run
        if query.attempt:
            payload["attempt"] = query.attempt
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def ask(self, query: JudgeQuery) -> JudgeReply:
        return self.ask_many([query])[0]

    def ask_many(self, queries: Sequence[JudgeQuery]) -> list[JudgeReply]:
        """One reply per query, in order. Identical queries (same cache key) are sent once."""
        keys = [self.cache_key(q) for q in queries]
        hits = self._cache.get_many(keys)
        replies: list[JudgeReply | None] = [_reply(hits[k], cached=True) if k in hits else None for k in keys]
        first_index: dict[str, int] = {}  # key -> the query sent for it
        for index, key in enumerate(keys):
            if key not in hits:
                first_index.setdefault(key, index)
        to_send = list(first_index.values())
        calls = [self._call(queries[i]) for i in to_send]

        def store(position: int, result: str | ChatError) -> None:
            if isinstance(result, str):  # cache as soon as it arrives: a crash loses nothing
                self._cache.put(keys[to_send[position]], self.model, _stored(result))

        results = self.client.complete_many(calls, on_done=store)
        fresh = {keys[i]: result for i, result in zip(to_send, results)}
        for index, key in enumerate(keys):
            if replies[index] is None:
                result = fresh[key]
                replies[index] = (
                    _reply(_stored(result), cached=False)
                    if isinstance(result, str)
                    else JudgeReply(None, str(result), cached=False, failure=Failure.JUDGE_ERROR)
                )
        done = [r for r in replies if r is not None]
        with self._stats_lock:
            self.stats.queries += len(queries)
            self.stats.cache_hits += sum(r.cached for r in done)
            self.stats.requests_sent += len(calls)
            self.stats.failures += sum(not isinstance(r, str) for r in results)
        return done

    @staticmethod
    def _messages(query: JudgeQuery) -> list[dict[str, Any]]:
        user = {"role": "user", "content": query.prompt}
        return [user] if query.system is None else [{"role": "system", "content": query.system}, user]

    def _call(self, query: JudgeQuery) -> ChatCall:
        return ChatCall(self._messages(query), query.temperature, query.max_tokens)
