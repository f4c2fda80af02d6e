"""Exclusive files that shared file systems honour: who wins a run folder, a shard, a merge.

No `flock`: over NFS and Lustre it is advisory, often disabled, or local to one node. Instead a
complete file is written under a unique temporary name and hard-linked into place; `link` fails
on an existing name atomically on local disks, NFS (v2 onwards) and Lustre alike, so exactly one
of several processes creates the file, and nobody ever reads it half-written. A file system
without hard links falls back to `O_CREAT | O_EXCL`.

A claim records who holds it (host, pid). A holder on this host whose pid is gone (or a zombie:
killed and not yet reaped) is stale and is taken over; a holder on another host, or a claim file
that is empty or unreadable, cannot be checked and is stale once neither the claim nor the file it
guards has changed for `STALE_AFTER_S` (the answer file of a working shard grows every batch).
`why_held` says so in messages, with the claim file to delete if no process is working.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

STALE_AFTER_S = 30 * 60


def create_exclusive(path: Path, text: str) -> bool:
    """Create `path` holding `text` unless it exists: True if this call created it."""
    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    try:
        os.link(temporary, path)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            return _create_with_o_excl(path, text)
        # NFS may report a failure for a link that was made (a retransmitted request):
        # two names on the temporary file mean it was.
        if os.stat(temporary).st_nlink == 2:
            return True
        raise
    finally:
        temporary.unlink(missing_ok=True)


def _create_with_o_excl(path: Path, text: str) -> bool:
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return False
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(text)
    return True


@dataclass(frozen=True)
class Holder:
    """Who holds a claim; `since` (epoch seconds) is when it was taken."""

    host: str
    pid: int
    since: float = field(default=0.0, compare=False)

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}"


def this_process() -> Holder:
    return Holder(socket.gethostname(), os.getpid())


def _read_holder(path: Path) -> Holder | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Holder(str(data["host"]), int(data["pid"]), float(data.get("since", 0.0)))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return Holder("?", -1)  # unreadable: judged by its age alone


def _alive(pid: int, since: float) -> bool:
    """Whether the process that took a claim at `since` still runs (not another one with its pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if _is_zombie(pid):  # killed (kill -9) but not yet reaped by its parent: it writes nothing more
        return False
    started = _start_time(pid)
    return started is None or started <= since + 1.0


def _is_zombie(pid: int) -> bool:
    """Whether a process has ended and only waits to be reaped (Linux /proc; False elsewhere)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


def _start_time(pid: int) -> float | None:
    """A process's start (epoch seconds) from /proc on Linux; None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime"))
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _last_change(*paths: Path) -> float:
    times = []
    for path in paths:
        try:
            times.append(path.stat().st_mtime)
        except FileNotFoundError:
            continue
    return max(times, default=0.0)


def _is_stale(path: Path, holder: Holder, guarded: Path | None) -> bool:
    me = this_process()
    if holder.host == me.host and holder.pid > 0:
        return holder.pid != me.pid and not _alive(holder.pid, holder.since)
    watched = (path,) if guarded is None else (path, guarded)
    return time.time() - _last_change(*watched) > STALE_AFTER_S


def read_holder(path: Path) -> Holder | None:
    """Who holds the claim at `path` (None: nobody); an unreadable claim reads as host '?', pid -1."""
    return _read_holder(path)


def is_live(holder: Holder, claim: Path, guarded: Path | None = None) -> bool:
    """Whether `holder` may still be working: on this host, its process runs; on another host (or
    an unreadable record), the claim or the file it guards changed within STALE_AFTER_S."""
    return not _is_stale(claim, holder, guarded)


def why_held(claim: Path, holder: Holder, guarded: Path | None = None) -> str:
    """Who holds `claim`, why that is believed, and how to clear it if it is wrong: for messages."""
    me = this_process()
    clear = f"if no vlmeval process is running there, delete {claim} and re-run"
    if holder.host == me.host and holder.pid > 0:
        return f"pid {holder.pid} on this host, which is running; claim file {claim}"
    watched = (claim,) if guarded is None else (claim, guarded)
    age_min = max(0.0, time.time() - _last_change(*watched)) / 60
    left_min = max(0.0, STALE_AFTER_S / 60 - age_min)
    if holder.pid <= 0:
        what = f"the claim file {claim} is empty or unreadable, so its owner cannot be checked"
    else:
        what = (f"pid {holder.pid} on host {holder.host} holds the claim file {claim}; this host cannot "
                f"check a process on another host")
    return (f"{what}; it is trusted because it changed {age_min:.0f} min ago (a claim unchanged for "
            f"{STALE_AFTER_S // 60} min is taken over: {left_min:.0f} min from now); {clear}")


def try_claim(path: Path, guarded: Path | None = None) -> Holder | None:
    """Take the claim at `path`: None when this process now holds it, else the live holder.

    `guarded` is the file the holder keeps writing (its heartbeat for holders on other hosts).
    """
    me = this_process()
    record = json.dumps({"host": me.host, "pid": me.pid, "since": time.time()})
    for _ in range(3):
        if create_exclusive(path, record):
            return None
        holder = _read_holder(path)
        if holder is None:
            continue  # released meanwhile: try again
        if holder == me:
            return None
        if not _is_stale(path, holder, guarded):
            return holder
        _take_over(path, holder)
    holder = _read_holder(path)
    return holder or me


def _take_over(path: Path, stale: Holder) -> None:
    """Remove a stale claim, unless someone else replaced it meanwhile (then it is theirs)."""
    aside = path.parent / f".{path.name}.{uuid.uuid4().hex}.stale"
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    if _read_holder(aside) != stale:  # not the claim we judged: put it back if the name is free
        create_exclusive(path, aside.read_text(encoding="utf-8"))
    aside.unlink(missing_ok=True)


def release(path: Path) -> None:
    """Give a claim back (only if this process holds it)."""
    if _read_holder(path) == this_process():
        path.unlink(missing_ok=True)


@contextmanager
def held(path: Path) -> Iterator[None]:
    """Release the claim at `path` on leaving, whatever happens."""
    try:
        yield
    finally:
        release(path)
