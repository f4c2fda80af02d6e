"""File-content fingerprints: a checkpoint is its bytes, read once, then cached while the file is unchanged."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from vlmeval.engine import fingerprint
from vlmeval.engine.fingerprint import file_digests, folder_fingerprint, url_identity


def _aged(path: Path) -> Path:
    """A file last written a minute ago, so its digest may be cached."""
    old = path.stat().st_mtime - 60
    os.utime(path, (old, old))
    return path


def _checkpoint(folder: Path, weights: bytes) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text('{"hidden_size": 8}')
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "tokenizer.json").write_text('{"vocab": {}}')
    (folder / "chat_template.jinja").write_text("{{ messages }}")
    for path in folder.iterdir():
        _aged(path)
    return folder


def test_weights_of_equal_size_but_other_bytes_give_another_fingerprint(tmp_path: Path) -> None:
    folder = _checkpoint(tmp_path / "ckpt", b"\x00" * 4096)
    before = folder_fingerprint(folder)
    _checkpoint(folder, b"\x01" * 4096)
    assert folder_fingerprint(folder) != before


@pytest.mark.parametrize("name", ["tokenizer.json", "chat_template.jinja", "config.json"])
def test_tokenizer_template_and_config_are_part_of_it(tmp_path: Path, name: str) -> None:
    folder = _checkpoint(tmp_path / "ckpt", b"\x00" * 64)
    before = folder_fingerprint(folder)
    path = folder / name
    path.write_text(path.read_text() + " ")
    assert folder_fingerprint(folder) != before


def test_training_state_and_docs_are_not(tmp_path: Path) -> None:
    folder = _checkpoint(tmp_path / "ckpt", b"\x00" * 64)
    before = folder_fingerprint(folder)
    (folder / "README.md").write_text("notes")
    (folder / "optimizer.pt").write_bytes(b"state")
    assert folder_fingerprint(folder) == before


def test_an_unchanged_file_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "w.safetensors").write_bytes(b"a" * 10)
    weights = _aged(tmp_path / "w.safetensors")
    reads: list[Path] = []
    real = fingerprint._stream_digest
    monkeypatch.setattr(fingerprint, "_stream_digest", lambda p: reads.append(p) or real(p))
    first = file_digests([weights])
    assert file_digests([weights]) == first and reads == [weights]
    weights.write_bytes(b"b" * 10)  # same size, new mtime: read again
    assert file_digests([weights]) != first and reads == [weights, weights]


def test_other_bytes_written_in_place_under_the_old_mtime_are_read_again(tmp_path: Path) -> None:
    """`cp -p`, `rsync --inplace -t` and `tar x` rewrite a file in place and set its mtime back:
    same path, size, mtime and inode; only the change time, which no program can set, tells."""
    (tmp_path / "w.bin").write_bytes(b"a" * 10)
    weights = _aged(tmp_path / "w.bin")
    file_digests([weights])
    before = weights.stat()
    time.sleep(0.05)  # file times tick in jiffies: let the change time move on
    with open(weights, "r+b") as file:
        file.write(b"b" * 10)
    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = weights.stat()
    same = (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)
    assert same
    assert file_digests([weights])[weights] == hashlib.sha256(b"b" * 10).hexdigest()


def test_a_file_just_written_is_not_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rewrite within the same clock tick keeps the mtime: such digests are never trusted later."""
    fresh = tmp_path / "w.bin"
    fresh.write_bytes(b"a" * 10)
    reads: list[Path] = []
    real = fingerprint._stream_digest
    monkeypatch.setattr(fingerprint, "_stream_digest", lambda p: reads.append(p) or real(p))
    file_digests([fresh])
    file_digests([fresh])
    assert reads == [fresh, fresh]


def test_a_damaged_cache_file_costs_a_read_not_a_wrong_digest(tmp_path: Path) -> None:
    (tmp_path / "w.bin").write_bytes(b"a" * 10)
    weights = _aged(tmp_path / "w.bin")
    fingerprint.cache_path().parent.mkdir(parents=True, exist_ok=True)
    fingerprint.cache_path().write_text("{not json")
    assert file_digests([weights])[weights] == hashlib.sha256(weights.read_bytes()).hexdigest()


def test_url_identity_keeps_the_server_and_drops_credentials_and_query() -> None:
    assert url_identity("HTTP://user:pw@Host.example:8000/v1/?key=SECRET#x") == "http://host.example:8000/v1"
    assert url_identity("http://a/v1") != url_identity("http://b/v1")
