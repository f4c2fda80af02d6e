"""A Hugging Face hub stand-in: dataset repositories are local folders; nothing touches the network.

`FakeHub.install(monkeypatch)` replaces `HfApi.list_repo_tree`, `hf_hub_download` and
`snapshot_download` (the calls `vlmeval.engine.hub` makes) and records what was listed and fetched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


@dataclass
class _Entry:
    path: str
    size: int


@dataclass
class FakeHub:
    root: Path
    listed: list[str] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)
    offline: bool = False

    def repo(self, repo_id: str) -> Path:
        """The folder that is repository `repo_id` (created empty)."""
        folder = self.root / repo_id
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
        import huggingface_hub
        from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError

        def list_repo_tree(api: Any, repo_id: str, *args: Any, **kwargs: Any) -> list[_Entry]:
            assert kwargs.get("repo_type") == "dataset" and kwargs.get("recursive")
            self.listed.append(repo_id)
            if self.offline:
                raise ConnectionError("offline")
            folder = self.root / repo_id
            if not folder.is_dir():
                import httpx

                url = f"https://huggingface.co/api/datasets/{repo_id}/tree/main"
                raise RepositoryNotFoundError(f"404 {repo_id}",
                                              response=httpx.Response(404, request=httpx.Request("GET", url)))
            return [_Entry(p.relative_to(folder).as_posix(), p.stat().st_size)
                    for p in sorted(folder.rglob("*")) if p.is_file()]

        def hf_hub_download(repo_id: str, filename: str, **kwargs: Any) -> str:
            assert kwargs.get("repo_type") == "dataset"
            self.fetched.append(f"{repo_id}/{filename}")
            return str(self.root / repo_id / filename)

        def snapshot_download(repo_id: str, **kwargs: Any) -> str:
            assert kwargs.get("local_files_only")
            if not (self.root / repo_id).is_dir():
                raise LocalEntryNotFoundError("not cached")
            return str(self.root / repo_id)

        monkeypatch.setattr("vlmeval.engine.hub.unreachable_reason", lambda: None)  # the fake always answers
        monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_tree", list_repo_tree)
        monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
        monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
        return self
