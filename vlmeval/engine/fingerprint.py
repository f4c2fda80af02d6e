"""Content fingerprints of files, read once: a checkpoint's weights, tokenizer and templates.

A retrained checkpoint saved over the same folder keeps its file names and sizes, so only the
bytes tell the two apart. Hashing 15 GB of weights takes about a minute, so each file's digest
is kept in a small cache (`file-digests.json` under `$VLMEVAL_CACHE`, else ~/.cache/vlmeval),
keyed by the file's resolved path, size, modification and change times (ns) and inode: a file
rewritten in any way gets a new key and is read again. The change time (ctime) is there because
the mtime can be set back: `cp -p`, `rsync --inplace -t` or `tar x` write other bytes into the
same inode and restore the old mtime; no program can set the ctime (a chmod moves it too: one
re-read). A digest taken while the file's mtime is under `_SETTLE_S` old is not cached (a write
in the same clock tick would keep the mtime: git's "racy clean" case), so a file just saved is
read again next time.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from vlmeval.io import atomic_write_json

CACHE_FILE = "file-digests.json"
_CHUNK = 8 * 2**20
_SETTLE_S = 2.0
_CACHE_ENTRIES = 4096  # oldest entries go first: the file stays small
# Files of a checkpoint folder that do not decide an answer: training state and documentation.
_NOT_THE_MODEL = ("optimizer.pt", "scheduler.pt", "trainer_state.json", "training_args.bin", "README.md",
                  "LICENSE", "LICENSE.txt", ".gitattributes")


def cache_path() -> Path:
    from vlmeval.judge import default_cache_dir

    return default_cache_dir() / CACHE_FILE


def _key(path: Path) -> tuple[str, str]:
    stat = path.stat()
    return str(path.resolve()), f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ino}:{stat.st_ctime_ns}"


def _read_cache() -> dict[str, dict[str, str]]:
    try:
        data = json.loads(cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # a missing or damaged cache costs one re-read, never a wrong digest
    return data if isinstance(data, dict) else {}


def _write_cache(new: dict[str, dict[str, str]]) -> None:
    """Merge `new` into the cache file (re-read first: another process may have added entries)."""
    merged = {**_read_cache(), **new}
    merged = dict(list(merged.items())[-_CACHE_ENTRIES:])
    try:
        atomic_write_json(cache_path(), merged)
    except Exception:  # a read-only home: the digests are still right, only not kept
        pass


def _stream_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_digests(paths: Iterable[Path]) -> dict[Path, str]:
    """sha256 of each file's bytes, from the cache where the file is unchanged since it was hashed."""
    cache = _read_cache()
    found: dict[Path, str] = {}
    added: dict[str, dict[str, str]] = {}
    for path in paths:
        name, key = _key(path)
        entry = cache.get(name)
        if isinstance(entry, dict) and entry.get("key") == key and isinstance(entry.get("sha256"), str):
            found[path] = entry["sha256"]
            continue
        started = time.time()
        found[path] = _stream_digest(path)
        if started - path.stat().st_mtime > _SETTLE_S and _key(path) == (name, key):
            added[name] = {"key": key, "sha256": found[path]}
    if added:
        _write_cache(added)
    return found


def memo(what: str, files: Sequence[Path], compute: Callable[[], tuple[str, bool]]) -> str:
    """The value of `compute()`, cached while `files` (the inputs it reads) are unchanged; `what`
    names the computation and its parameters. `compute` also says whether its value may be kept
    (False when it read other files too). Never cached without files, or when one was just written."""
    try:
        keys = [_key(f) for f in files]
    except OSError:
        keys = []
    name = "memo:" + hashlib.sha256(json.dumps([what, keys]).encode()).hexdigest()
    entry = _read_cache().get(name) if keys else None
    if isinstance(entry, dict) and isinstance(entry.get("sha256"), str):
        return entry["sha256"]
    started = time.time()
    value, keep = compute()
    if keep and keys and all(started - f.stat().st_mtime > _SETTLE_S for f in files) and \
            [_key(f) for f in files] == keys:
        _write_cache({name: {"key": "", "sha256": value}})
    return value


def model_files(folder: Path) -> list[Path]:
    """The files of a checkpoint folder that decide its answers: weights, config, tokenizer,
    processor, chat template and remote code (every top-level file but training state and docs)."""
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.name not in _NOT_THE_MODEL
                  and not p.name.startswith("rng_state"))


def folder_fingerprint(folder: Path) -> str:
    """One digest of a checkpoint folder's files by name and content (`content:` + 16 hex digits)."""
    files = model_files(folder)
    total = sum(p.stat().st_size for p in files)
    if total > 2**30:
        from vlmeval import console

        console.status(f"fingerprinting the model files of {folder} ({total / 2**30:.1f} GiB; read once, "
                       f"then cached in {cache_path()}) ...")
    digests = file_digests(files)
    combined = hashlib.sha256()
    for path in files:
        combined.update(f"{path.name}\0{digests[path]}\0".encode())
    return "content:" + combined.hexdigest()[:16]


def url_identity(url: str) -> str:
    """A server's address as identity: scheme, host, port and path; never credentials or a query."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), "", ""))

