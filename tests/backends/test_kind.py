"""A backend kind is one module and one registry line: its flags, identity and GPU use come from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import read_jsonl
from vlmeval import backends
from vlmeval.backends import backend_kind, backend_kinds
from vlmeval.cli import main


def test_every_model_value_finds_its_kind() -> None:
    assert [k.name for k in backend_kinds()] == list(backends.KINDS)
    assert backend_kind("openai:gpt-4o")[0].name == "openai" and backend_kind("openai:gpt-4o")[1] == "gpt-4o"
    assert backend_kind("replay:x.jsonl")[0].name == "replay"
    assert backend_kind("llava-hf/llava-1.5-7b-hf")[0].name == "transformers"
    assert backend_kind("demo")[1] == "demo"


def test_flags_are_unique_across_kinds() -> None:
    flags = [option.flag for kind in backend_kinds() for option in kind.options]
    assert len(flags) == len(set(flags))


def test_gpu_use_is_declared_by_the_kind() -> None:
    from vlmeval.backends.base import BackendOptions

    assert backend_kind("demo")[0].uses_gpus(BackendOptions())
    assert not backend_kind("demo")[0].uses_gpus(BackendOptions(device="cpu"))
    assert not backend_kind("openai:m")[0].uses_gpus(BackendOptions())


def test_a_new_kind_is_one_module_and_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: Any) -> None:
    monkeypatch.setitem(backends.KINDS, "echo", "tests.fakes.echo_backend")  # the one registry line
    args = ["run", "--task", "sqa", "--data", "demo", "--limit", "3", "--model", "echo:x", "--output",
            str(tmp_path), "--no-progress"]
    assert main([*args, "--echo-letter", "B"]) == 0
    folder = tmp_path / "echo-x" / "sqa"
    assert {r["prediction"] for r in read_jsonl(folder / "predictions.jsonl")} == {"B"}
    identity = json.loads((folder / "report.json").read_text())["spec"]["identity"]
    assert identity["backend"] == "echo" and identity["backend_fields"] == {"letter": "B"}
    assert identity["dtype"] is None and identity["model_args"] == {}  # what does not apply to it stays unset
    capsys.readouterr()
    assert main([*args, "--echo-letter", "C"]) == 2  # its identity field decides the answers
    assert "backend_fields" in capsys.readouterr().err
    assert main([*args, "--echo-letter", "Z"]) == 2
    assert "--echo-letter must be one of A-D (got 'Z')" in capsys.readouterr().err
