from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.scripted import ScriptedBackend
from tests.helpers import COLORS, png_bytes, sqa_row, write_parquet


@pytest.fixture(scope="session")
def tiny_llava(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight tiny LLaVA checkpoint saved with save_pretrained."""
    from scripts.tiny_llava import build_tiny_llava

    return build_tiny_llava(tmp_path_factory.mktemp("tiny-llava"), seed=0)


@pytest.fixture()
def sqa_parquet(tmp_path: Path) -> Path:
    """Twelve ScienceQA-schema rows: images and text-only, hints, subjects, grades."""
    rows = []
    for i, (name, rgb) in enumerate(list(COLORS.items()) * 2):
        rows.append(sqa_row(answer=i % 4, image=png_bytes(rgb), hint="A square." if i % 3 == 0 else "",
                            grade="grade2" if i % 2 else "grade8"))
    for i in range(4):
        rows.append(sqa_row(question=f"Which word is a fruit? ({i})", choices=("apple", "stone"),
                            answer=0, subject="language science", grade="grade5"))
    return write_parquet(tmp_path / "sqa" / "test-00000-of-00001.parquet", rows)


@pytest.fixture()
def no_sdk_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The openai SDK retries without waiting (its backoff starts at 0.5 s), so retry tests take milliseconds.

    A server's Retry-After is still honoured. The SDK reads this module constant on every retry.
    """
    import openai._base_client

    monkeypatch.setattr(openai._base_client, "INITIAL_RETRY_DELAY", 0.0)


@pytest.fixture()
def scripted(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedBackend]:
    backend = ScriptedBackend()
    monkeypatch.setattr("vlmeval.engine.evaluate.make_backend", lambda model, options: backend)
    yield backend


@pytest.fixture(autouse=True)
def quick_tests_start_no_process_and_run_no_model(request: pytest.FixtureRequest,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The quick loop (`pytest -m "not slow"`) stays quick: a test that starts a subprocess or loads a
    model with transformers fails here until it is marked `@pytest.mark.slow`."""
    if request.node.get_closest_marker("slow") is not None:
        return
    name = request.node.nodeid
    if "tiny_llava" in request.fixturenames:
        pytest.fail(f"{name} runs a model (tiny_llava): mark it @pytest.mark.slow", pytrace=False)

    def no_process(self: Any, *args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"{name} starts a subprocess: mark it @pytest.mark.slow")

    def no_model(self: Any, *args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"{name} loads a model with transformers: mark it @pytest.mark.slow")

    monkeypatch.setattr(subprocess.Popen, "__init__", no_process)
    monkeypatch.setattr("vlmeval.backends.transformers.TransformersBackend.__init__", no_model)


@pytest.fixture(autouse=True)
def _no_hub_model_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test looks a `--model` name up on the hub (`--model scripted` is no folder either): hub ids
    resolve to themselves; tests/backends/test_hub_models.py puts the real lookup back on a fake hub."""
    monkeypatch.setattr("vlmeval.backends.hub_models.hub_snapshot", lambda model: model)


@pytest.fixture(autouse=True)
def _private_vlmeval_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The judge cache and the file-digest cache of every test stay out of the user's ~/.cache."""
    import os

    if "VLMEVAL_CACHE" not in os.environ:
        monkeypatch.setenv("VLMEVAL_CACHE", str(tmp_path_factory.getbasetemp() / "vlmeval-cache"))


@pytest.fixture()
def own_registrations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tasks a test registers (from a task folder) are forgotten after it: the registry is process-wide."""
    from vlmeval.task import _TASKS

    monkeypatch.setattr(_TASKS, "entries", dict(_TASKS.entries))
    monkeypatch.setattr(_TASKS, "conflicts", [])
