"""`--model-arg`, `--chat-template-arg`, `--system-prompt`: where each goes, and that each is identity."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from vlmeval.backends import BackendOptions
from vlmeval.backends._hf_loading import model_load_args, processor_args
from vlmeval.backends.base import Request
from vlmeval.cli import main
from vlmeval.commands import parse_key_values
from vlmeval.errors import UsageError


def test_values_are_typed_by_json_where_they_parse() -> None:
    parsed = parse_key_values("--model-arg", ["min_pixels=3136", "use_fast=false", "name=abc", "sizes=[1, 2]",
                                              "note=a=b"])
    assert parsed == {"min_pixels": 3136, "use_fast": False, "name": "abc", "sizes": [1, 2], "note": "a=b"}
    with pytest.raises(UsageError, match="--model-arg takes KEY=VALUE"):
        parse_key_values("--model-arg", ["min_pixels"])


def test_transformers_splits_processor_and_model_arguments() -> None:
    args = {"max_pixels": 1024, "use_fast": True, "model.low_cpu_mem_usage": True}
    assert processor_args(args) == {"max_pixels": 1024, "use_fast": True}
    assert model_load_args(args) == {"low_cpu_mem_usage": True}


@pytest.mark.slow
def test_model_args_reach_the_processor_and_model_loaders(monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers

    from vlmeval.backends.transformers import TransformersBackend
    from vlmeval.demo import CHECKPOINT_DIR

    calls: dict[str, dict[str, Any]] = {}
    for name in ("AutoProcessor", "AutoModelForImageTextToText"):
        loader = getattr(transformers, name).from_pretrained

        def spy(*args: Any, _name: str = name, _loader: Any = loader, **kwargs: Any) -> Any:
            calls[_name] = kwargs
            return _loader(*args, **kwargs)

        monkeypatch.setattr(getattr(transformers, name), "from_pretrained", spy)
    options = BackendOptions(device="cpu", model_args={"use_fast": False, "model.low_cpu_mem_usage": True})
    backend = TransformersBackend(str(CHECKPOINT_DIR), options)
    assert calls["AutoProcessor"]["use_fast"] is False and "low_cpu_mem_usage" not in calls["AutoProcessor"]
    assert calls["AutoModelForImageTextToText"]["low_cpu_mem_usage"] is True
    assert backend.describe()["model_args"] == {"use_fast": False, "model.low_cpu_mem_usage": True}


def test_chat_template_args_and_system_prompt_reach_the_template() -> None:
    from vlmeval.backends._prompt_styles import ProcessorTraits, PromptOptions, render

    class Processor:  # a chat template that reads a switch, as Qwen3's reads enable_thinking
        def apply_chat_template(self, messages: list[dict[str, Any]], **kwargs: Any) -> str:
            roles = "+".join(m["role"] for m in messages)
            return f"{roles} thinking={kwargs.get('enable_thinking', True)}"

    traits = ProcessorTraits(image_token="<image>", needs_image=False, inserts_image_tokens=False)
    request = Request("s", "Which?")
    assert render("chat", Processor(), traits, request) == "user thinking=True"
    told = PromptOptions(system_prompt="Answer briefly.", chat_template_args={"enable_thinking": False})
    assert render("chat", Processor(), traits, request, told) == "system+user thinking=False"


@pytest.mark.slow
def test_plain_prompts_refuse_a_system_prompt() -> None:
    from vlmeval.backends.transformers import TransformersBackend
    from vlmeval.demo import CHECKPOINT_DIR

    with pytest.raises(UsageError, match="plain has no system turn"):
        TransformersBackend(str(CHECKPOINT_DIR), BackendOptions(device="cpu", prompt_style="plain",
                                                                 system_prompt="Be brief."))


def test_server_arguments_go_into_the_request_and_the_identity(tmp_path: Path, capsys: Any) -> None:
    system = tmp_path / "system.txt"
    system.write_text("You are a careful grader.", encoding="utf-8")
    with FakeOpenAIServer(reply="A") as server:
        base = ["run", "--task", "sqa", "--data", "demo", "--limit", "2", "--model", "openai:m", "--base-url",
                server.base_url, "--output", str(tmp_path / "out"), "--no-progress"]
        flags = ["--model-arg", "top_k=20", "--model-arg", "mm_processor_kwargs={\"max_pixels\": 1024}",
                 "--chat-template-arg", "enable_thinking=false", "--system-prompt", f"@{system}"]
        assert main([*base, *flags]) == 0
        body = server.requests[0].body
        changed = main([*base, "--model-arg", "top_k=40", *flags[2:]])
    assert body["top_k"] == 20 and body["mm_processor_kwargs"] == {"max_pixels": 1024}
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert body["messages"][0] == {"role": "system", "content": "You are a careful grader."}
    assert changed == 2 and "model_args" in capsys.readouterr().err
    report = json.loads((tmp_path / "out" / "openai-m" / "sqa" / "report.json").read_text())
    identity = report["spec"]["identity"]
    assert identity["model_args"] == {"top_k": 20, "mm_processor_kwargs": {"max_pixels": 1024}}
    assert identity["chat_template_args"] == {"enable_thinking": False}
    assert identity["system_prompt"] == "You are a careful grader."
    assert report["spec"]["backend"]["chat_template_args"] == {"enable_thinking": False}


def test_a_run_recorded_before_these_fields_is_still_resumed(tmp_path: Path) -> None:
    """run.json files written before model arguments existed mean: none given."""
    from vlmeval.engine.identity import RunIdentity

    with FakeOpenAIServer(reply="A") as server:
        args = ["run", "--task", "sqa", "--data", "demo", "--limit", "2", "--model", "openai:m", "--base-url",
                server.base_url, "--output", str(tmp_path), "--no-progress"]
        assert main(args) == 0
        run_file = tmp_path / "openai-m" / "sqa" / "run.json"
        recorded = json.loads(run_file.read_text())
        for name in ("model_args", "chat_template_args", "system_prompt", "max_images"):
            del recorded["identity"][name]
        run_file.write_text(json.dumps(recorded))
        assert RunIdentity.from_json(recorded["identity"]).model_args == {}
        assert main(args) == 0


def test_a_template_without_a_system_turn_refuses_the_system_prompt_at_once() -> None:
    from vlmeval.backends._prompt_styles import ProcessorTraits, PromptOptions, check_system_turn

    class Processor:  # as Gemma 2's and Mistral's older templates: a system role raises
        def apply_chat_template(self, messages: list[dict[str, Any]], **kwargs: Any) -> str:
            if messages[0]["role"] == "system":
                raise ValueError("System role not supported")
            return "ok"

    traits = ProcessorTraits(image_token="<image>", needs_image=False, inserts_image_tokens=False)
    check_system_turn("chat", Processor(), traits, PromptOptions())  # no system prompt: nothing to check
    with pytest.raises(UsageError, match="takes no system turn \\(System role not supported\\)"):
        check_system_turn("chat", Processor(), traits, PromptOptions(system_prompt="Be brief."))
