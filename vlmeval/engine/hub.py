"""A task's split from the Hugging Face hub: only the files of that split (and config) are fetched.

`datasets.load_dataset(id, config, split=X)` downloads and prepares every split of a config
(VQAv2: ~45 GB fetched and ~190 GB prepared for the 214k questions of `validation`). Here the
repository's file list is read, the parquet files of the split are picked by the layout rules of
a local folder (`data.pick_split_files`), their total size is said before anything is fetched,
and each is downloaded into the hub cache (with the hub's progress bar) and read like a local
file. When the hub cannot be asked (offline, HF_HUB_OFFLINE=1), a copy already in the cache is used.

lmms-eval's datasets moved from `lmms-lab/*` to `lmms-lab-encoder/*` (July 2026; the old ids
redirect for now): `candidates` gives the new id first, then the declared one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from vlmeval import console
from vlmeval.errors import DataError

# Organisations whose datasets moved: the new name is tried first.
MOVED_ORGS = {"lmms-lab": "lmms-lab-encoder"}
_HINT = "pass a local copy with --data PATH (parquet file or folder in that schema)"


def candidates(hub_id: str) -> list[str]:
    """The repository ids to try for a declared dataset id, in order."""
    org, _, name = hub_id.partition("/")
    moved = MOVED_ORGS.get(org)
    return [f"{moved}/{name}", hub_id] if moved and name else [hub_id]


def fetch_split(hub_id: str, config: str | None, split: str) -> tuple[str, list[Path]]:
    """(the repository read, local paths of the parquet files of `split` and `config`)."""
    from vlmeval.extras import require

    require("hub", f"reading {hub_id} from the Hugging Face hub (or {_HINT})")
    tried = []
    for repo in candidates(hub_id):
        listing = _listing(repo)
        if listing is None:
            tried.append(repo)
            continue
        if isinstance(listing, Exception):
            cached = _cached_files(repo, config, split)
            if cached is not None:
                return repo, cached
            reason = str(listing).splitlines()[0] if str(listing) else type(listing).__name__
            raise DataError(f"cannot list the files of {repo} on the Hugging Face hub ({reason}); {_HINT}")
        sizes = {PurePosixPath(path): size for path, size in listing if path.endswith(".parquet")}
        chosen = _pick(sorted(sizes), config, split, f"hub dataset {repo}")
        return repo, _download(repo, chosen, sum(sizes[p] for p in chosen))
    raise DataError(f"no dataset {' or '.join(tried)} on the Hugging Face hub; {_HINT}")


def _pick(files: Sequence[PurePosixPath], config: str | None, split: str, where: str) -> list[PurePosixPath]:
    from vlmeval.engine.data import pick_split_files

    if not files:
        raise DataError(f"{where}: no parquet files in this repository; {_HINT}")
    return pick_split_files(files, split, config, where)


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
    files = sorted(PurePosixPath(p.relative_to(folder).as_posix()) for p in folder.rglob("*.parquet"))
    try:
        return [folder / p for p in _pick(files, config, split, f"cached copy of {repo}")]
    except DataError:
        return None


def _size(n: Any) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"
