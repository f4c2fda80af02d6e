"""A task's split from the Hugging Face hub: only the files of that split (and config) are fetched.

`datasets.load_dataset(id, config, split=X)` downloads and prepares every split of a config
(VQAv2: ~45 GB fetched and ~190 GB prepared for the 214k questions of `validation`). Here the
repository's file list is read, the parquet files of the split are picked (by the `configs:` its
dataset card declares, as `datasets` reads them, else by the layout rules of a local folder,
`data.pick_split_files`), their total size is said before anything is fetched,
and each is downloaded into the hub cache (with the hub's progress bar) and read like a local
file. When the hub cannot be asked (offline, HF_HUB_OFFLINE=1), a copy already in the cache is used
(its revision said), unless it lacks shards of the split: a download cut short keeps the files it
fetched, and `NAME-00000-of-00004.parquet` alone would be a quarter of the split read as the whole.
Online, `hf_hub_download` resolves the hub's current revision, so a cached copy of another is not read.
Whether the hub's endpoint answers is asked first, once and quickly (`unreachable_reason`): without a
cached copy an unreachable hub is one line at once, not the hub library's retries for ~25 s.

lmms-eval's datasets moved from `lmms-lab/*` to `lmms-lab-encoder/*` (July 2026; the old ids
redirect for now): `candidates` gives the new id first, then the declared one.
"""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
from collections.abc import Sequence
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Any

from vlmeval import console
from vlmeval.errors import DataError

# Organisations whose datasets moved: the new name is tried first.
MOVED_ORGS = {"lmms-lab": "lmms-lab-encoder"}
_HINT = "pass a local copy with --data PATH (parquet file or folder in that schema)"
PROBE_TIMEOUT_S = 5.0
_SHARD = re.compile(r"-(\d+)-of-(\d+)\.parquet$")  # the hub's names for the files of one split
_OFFLINE = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def unreachable_reason() -> str | None:
    """Why the hub's endpoint does not answer one quick request; None when it answers (any HTTP
    status) or when the user asked for the cache only (HF_HUB_OFFLINE: nothing is asked then)."""
    if any(os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on") for name in _OFFLINE):
        return None
    try:
        with urllib.request.urlopen(urllib.request.Request(hub_endpoint(), method="HEAD"), timeout=PROBE_TIMEOUT_S):
            return None
    except urllib.error.HTTPError:
        return None  # it answered
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        return str(getattr(exc, "reason", exc))


def candidates(hub_id: str) -> list[str]:
    """The repository ids to try for a declared dataset id, in order."""
    org, _, name = hub_id.partition("/")
    moved = MOVED_ORGS.get(org)
    return [f"{moved}/{name}", hub_id] if moved and name else [hub_id]


def fetch_split(hub_id: str, config: str | None, split: str) -> tuple[str, list[Path]]:
    """(the repository read, local paths of the parquet files of `split` and `config`)."""
    from vlmeval.extras import require

    if "://" in hub_id:
        raise DataError(f"{hub_id} is not a Hugging Face dataset: download it and pass it with --data PATH")
    require("hub", f"reading {hub_id} from the Hugging Face hub (or {_HINT})")
    reason = unreachable_reason()
    if reason is not None:  # at once: the hub library would retry every request for ~25 s
        for repo in candidates(hub_id):
            cached = _cached_files(repo, config, split)
            if cached is not None:
                return repo, cached
        raise DataError(f"reading {hub_id} split {split!r}: the Hugging Face hub ({hub_endpoint()}) cannot be "
                        f"reached ({reason}); pass a local copy with --data PATH, or set HF_HUB_OFFLINE=1 to "
                        f"read a copy the hub cache already holds")
    tried = []
    for repo in candidates(hub_id):
        listing = _listing(repo)
        if listing is None:
            tried.append(repo)
            continue
        if isinstance(listing, Exception):  # offline or unreachable: a copy in the cache, else the one line
            for known in candidates(hub_id):
                cached = _cached_files(known, config, split)
                if cached is not None:
                    return known, cached
            reason = str(listing).splitlines()[0] if str(listing) else type(listing).__name__
            names = " or ".join(candidates(hub_id))
            raise DataError(f"cannot list the files of {names} on the Hugging Face hub ({reason}); {_HINT}")
        sizes = {PurePosixPath(path): size for path, size in listing}
        card = _card(repo) if PurePosixPath("README.md") in sizes else None
        chosen = _pick(sorted(sizes), config, split, f"hub dataset {repo}", card)
        return repo, _download(repo, chosen, sum(sizes[p] for p in chosen))
    raise DataError(f"no dataset {' or '.join(tried)} on the Hugging Face hub; {_HINT}")


def _pick(files: Sequence[PurePosixPath], config: str | None, split: str, where: str,
          card: dict[str, Any] | None) -> list[PurePosixPath]:
    """The split's parquet files: those the card's `configs:` names for it, else by the layout rules."""
    from vlmeval.engine.data import pick_split_files

    declared = _declared_patterns(card, config, split, where) if card else None
    if declared is not None:
        chosen = [f for f in files if any(fnmatch(f.as_posix(), pattern) for pattern in declared)]
        if not chosen or any(f.suffix != ".parquet" for f in chosen):
            shown = ", ".join(f.as_posix() for f in chosen[:3]) or "no file"
            raise DataError(f"{where}: its card gives split {split!r} as {', '.join(declared)} ({shown}); "
                            f"vlmeval reads parquet files only: {_HINT}")
        return chosen
    parquet = [f for f in files if f.suffix == ".parquet"]
    if not parquet:
        raise DataError(f"{where}: no parquet files in this repository; {_HINT}")
    return pick_split_files(parquet, split, config, where)


def _declared_patterns(card: dict[str, Any], config: str | None, split: str, where: str) -> list[str] | None:
    """The file patterns the dataset card's `configs:` gives `split` of `config` ("default" when
    None); None when the card declares no configs. Forms: a pattern, a list of them, or a list of
    `{split, path}` (path: a pattern or a list)."""
    configs = card.get("configs")
    if not isinstance(configs, list) or not configs:
        return None
    wanted = config or "default"
    entry = next((c for c in configs if isinstance(c, dict) and c.get("config_name") == wanted), None)
    if entry is None:
        names = ", ".join(str(c.get("config_name")) for c in configs if isinstance(c, dict))
        raise DataError(f"{where}: no config {wanted!r}; its card declares: {names}")
    data_files = entry.get("data_files")
    by_split: dict[str, list[str]] = {}
    if isinstance(data_files, str):
        by_split["train"] = [data_files]
    elif isinstance(data_files, list):
        for item in data_files:
            if isinstance(item, str):
                by_split.setdefault("train", []).append(item)
            elif isinstance(item, dict) and "split" in item:
                paths = item.get("path")
                by_split.setdefault(str(item["split"]), []).extend([paths] if isinstance(paths, str) else paths or [])
    parts = [split] if split in by_split else split.split("+")  # `a+b`: both splits, as `datasets` reads it
    for part in parts:
        if part not in by_split:
            raise DataError(f"{where}: config {wanted!r} has no split {part!r}; its card declares: "
                            f"{', '.join(by_split) or 'none'}")
    return [pattern for part in parts for pattern in by_split[part]]


def _card(repo: str) -> dict[str, Any] | None:
    """The YAML header of a dataset repository's README.md (its card), None when unreadable."""
    import huggingface_hub

    try:
        return huggingface_hub.metadata_load(huggingface_hub.hf_hub_download(repo, "README.md", repo_type="dataset"))
    except Exception:
        return None


def _listing(repo: str) -> list[tuple[str, int]] | Exception | None:
    """(path, size) of each file of a dataset repository; None when there is no such repository,
    the exception when the hub could not be asked."""
    import huggingface_hub
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        items = huggingface_hub.HfApi().list_repo_tree(repo, recursive=True, repo_type="dataset")
        return [(item.path, int(item.size)) for item in items if getattr(item, "size", None) is not None]
    except RepositoryNotFoundError:
        return None
    except Exception as exc:  # offline, unreachable, refused: maybe the cache has it
        return exc


def _download(repo: str, files: Sequence[PurePosixPath], size: int) -> list[Path]:
    import huggingface_hub

    console.status(f"fetching {len(files)} files of {repo} ({_size(size)}; only this split) "
                   f"into the Hugging Face cache ...")
    local = []
    for number, file in enumerate(files, 1):
        if len(files) > 1:
            console.status(f"  file {number} of {len(files)}: {file}")
        try:
            local.append(Path(huggingface_hub.hf_hub_download(repo, file.as_posix(), repo_type="dataset")))
        except Exception as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(f"cannot download {file} of {repo} from the Hugging Face hub ({reason}); "
                            f"re-run to continue (files already fetched are kept), or {_HINT}") from exc
    return local


def _cached_files(repo: str, config: str | None, split: str) -> list[Path] | None:
    """The split's files in a copy of `repo` already in the hub cache; None when none is there."""
    import huggingface_hub

    try:
        folder = Path(huggingface_hub.snapshot_download(repo, repo_type="dataset", local_files_only=True))
    except Exception:
        return None
    files = sorted(PurePosixPath(p.relative_to(folder).as_posix()) for p in folder.rglob("*") if p.is_file())
    card = huggingface_hub.metadata_load(folder / "README.md") if (folder / "README.md").is_file() else None
    try:
        chosen = _pick(files, config, split, f"cached copy of {repo}", card)
    except DataError:
        return None
    missing = _missing_shards(chosen)
    if missing:
        raise DataError(f"the copy of {repo} in the hub cache ({folder}) lacks {len(missing)} of the files of "
                        f"split {split!r} ({', '.join(missing[:3])}; a download cut short?) and the hub cannot "
                        f"be asked; re-run with the hub reachable to fetch them, or {_HINT}")
    revision = f" (revision {folder.name[:12]})" if folder.parent.name == "snapshots" else ""
    console.status(f"the hub cannot be asked: reading the copy of {repo}{revision} in the hub cache")
    return [folder / p for p in chosen]


def _missing_shards(files: Sequence[PurePosixPath]) -> list[str]:
    """The shards absent from `files` where they are named `NAME-00001-of-00004.parquet`."""
    groups: dict[tuple[str, str, int], set[int]] = {}  # (name, total, width of a number) -> numbers present
    for file in files:
        match = _SHARD.search(file.as_posix())
        if match:
            key = (file.as_posix()[: match.start()], match.group(2), len(match.group(1)))
            groups.setdefault(key, set()).add(int(match.group(1)))
    return [f"{name}-{number:0{width}d}-of-{total}.parquet"
            for (name, total, width), present in sorted(groups.items())
            for number in range(int(total)) if number not in present]


def _size(n: Any) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"
