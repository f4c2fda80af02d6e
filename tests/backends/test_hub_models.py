"""A hub model id is pinned to one snapshot folder before it is identified and loaded (backends/hub_models.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine.test_identity import _error, _run, _sqa
from tests.fakes.scripted import ScriptedBackend
from vlmeval.backends import resolve_checkpoint
from vlmeval.backends.hub_models import hub_snapshot, needed_files


def test_a_load_reads_the_top_level_files_of_one_weight_format() -> None:
    files = ["config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json", "onnx/model.onnx",
             "original/consolidated.pth", "chat_template.jinja", "tf_model.h5"]
    assert needed_files(files) == ["config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"]
    assert needed_files(["config.json", "pytorch_model.bin"]) == ["config.json", "pytorch_model.bin"]


class FakeHub:
    """The hub's current revision of one model repository, as snapshot folders on disk."""

    def __init__(self, root: Path) -> None:
        self.root, self.revision, self.online, self.asked = root, 0, True, []  # type: ignore[var-annotated]

    def push(self, weights: bytes) -> None:
        self.revision += 1
        folder = self.root / "snapshots" / f"rev{self.revision}"
        folder.mkdir(parents=True)
        (folder / "config.json").write_text('{"model_type": "llava"}')
        (folder / "model.safetensors").write_bytes(weights)

    def list_repo_files(self, model: str) -> list[str]:
        if not self.online:
            raise ConnectionError("offline")
        return ["config.json", "model.safetensors", "pytorch_model.bin"]

    def snapshot_download(self, model: str, allow_patterns: Any = None, local_files_only: bool = False) -> str:
        self.asked.append(allow_patterns)
        return str(self.root / "snapshots" / f"rev{self.revision}")


@pytest.fixture()
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    import huggingface_hub

    fake = FakeHub(tmp_path / "hub")
    monkeypatch.setattr("vlmeval.backends.hub_models.hub_snapshot", hub_snapshot)  # conftest turns it off
    monkeypatch.setattr(huggingface_hub, "list_repo_files", fake.list_repo_files)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake.snapshot_download)
    hub_snapshot.cache_clear()
    yield fake
    hub_snapshot.cache_clear()


def test_a_hub_id_is_loaded_from_the_snapshot_it_was_identified_by(hub: FakeHub) -> None:
    assert resolve_checkpoint("/no/such/folder") == "/no/such/folder" and hub.asked == []  # a path, not an id
    hub.push(b"weights one")
    folder = resolve_checkpoint("org/model")
    assert folder.endswith("rev1") and hub.asked == [["config.json", "model.safetensors"]]
    hub.push(b"weights two")
    assert resolve_checkpoint("org/model") == folder  # one process, one revision: identity and load agree


def test_a_model_pushed_to_the_hub_between_two_runs_does_not_reuse_answers(
        tmp_path: Path, hub: FakeHub, scripted: ScriptedBackend, capsys: pytest.CaptureFixture[str]) -> None:
    data = _sqa(tmp_path / "d")
    hub.push(b"weights one")
    assert _run(tmp_path / "out", data, model="org/model") == 0
    hub_snapshot.cache_clear()  # the next command is another process
    scripted.calls.clear()
    assert _run(tmp_path / "out", data, model="org/model") == 0 and scripted.calls == []  # resumed
    hub.push(b"weights two")  # same names and sizes, other content
    hub_snapshot.cache_clear()
    capsys.readouterr()
    assert _run(tmp_path / "out", data, model="org/model") == 2
    assert "checkpoint (recorded" in _error(capsys) and scripted.calls == []


def test_offline_the_cached_snapshot_is_used_and_without_one_the_error_is_one_line(
        hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    hub.push(b"weights one")
    hub.online = False
    assert resolve_checkpoint("org/model").endswith("rev1") and hub.asked == [None]
    hub_snapshot.cache_clear()

    def not_cached(model: str, **kwargs: Any) -> str:
        raise FileNotFoundError("no snapshot of org/other in the cache\nmore")

    monkeypatch.setattr("huggingface_hub.snapshot_download", not_cached)
    from vlmeval.errors import UsageError

    with pytest.raises(UsageError, match=r"--model org/other: not a local folder, and the hub copy cannot be "
                                         r"had \(no snapshot of org/other in the cache\); pass the checkpoint's folder"):
        resolve_checkpoint("org/other")
