"""Decoding settings, prompt styles and loading flags of the transformers backend, as a user sets them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import answered_every_sample, vlmeval
from vlmeval.backends import BackendOptions
from vlmeval.backends.base import GenerationSettings, Request
from vlmeval.backends.transformers import TransformersBackend
from vlmeval.cli import main


@pytest.fixture()
def generate_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record what reaches `model.generate` (and the torch seed then) and answer " A" at once."""
    import torch
    from transformers import GenerationMixin

    calls: list[dict[str, Any]] = []

    def spy(self: Any, input_ids: Any = None, **kwargs: Any) -> Any:
        calls.append({**kwargs, "input_ids": input_ids, "torch_seed": torch.initial_seed()})
        answer = torch.full((input_ids.shape[0], 1), self.generation_config.eos_token_id)
        return torch.cat([input_ids, answer], dim=1)

    monkeypatch.setattr(GenerationMixin, "generate", spy)
    return calls


def _run(model: Path, out: Path, *flags: str) -> tuple[int, dict[str, Any]]:
    code = main(["run", "--task", "sqa", "--model", str(model), "--data", "demo", "--limit", "2",
                 "--device", "cpu", "--output", str(out), "--run-name", "run", "--no-progress", *flags])
    report_file = out / "run" / "sqa" / "report.json"
    return code, json.loads(report_file.read_text()) if report_file.is_file() else {}


@pytest.mark.slow
def test_decoding_flags_reach_generate_and_the_report(
    tiny_llava: Path, tmp_path: Path, generate_calls: list[dict[str, Any]]
) -> None:
    code, report = _run(tiny_llava, tmp_path, "--max-new-tokens", "7", "--temperature", "0.7", "--top-p", "0.9",
                        "--num-beams", "2", "--repetition-penalty", "1.3", "--seed", "5")
    assert answered_every_sample(code, report)
    assert generate_calls, "generate was never called"
    for call in generate_calls:
        assert {k: call[k] for k in ("max_new_tokens", "do_sample", "temperature", "top_p", "num_beams",
                                     "repetition_penalty", "torch_seed")} == {
            "max_new_tokens": 7, "do_sample": True, "temperature": 0.7, "top_p": 0.9, "num_beams": 2,
            "repetition_penalty": 1.3, "torch_seed": 5}
    assert report["spec"]["generation"] == {"max_new_tokens": 7, "temperature": 0.7, "top_p": 0.9, "num_beams": 2,
                                    "repetition_penalty": 1.3, "seed": 5}


@pytest.mark.slow
def test_greedy_and_the_task_max_new_tokens_by_default(
    tiny_llava: Path, tmp_path: Path, generate_calls: list[dict[str, Any]]
) -> None:
    code, report = _run(tiny_llava, tmp_path)
    assert answered_every_sample(code, report)
    call = generate_calls[0]
    # The checkpoint's own sampling defaults are overridden, not inherited.
    assert call["do_sample"] is False and call["temperature"] is None and call["top_p"] is None
    assert call["num_beams"] == 1 and call["repetition_penalty"] == 1.0 and call["torch_seed"] == 0
    assert call["max_new_tokens"] == 1024  # sqa's own default (LLaVA-1.5's), not the engine's
    assert report["spec"]["generation"]["max_new_tokens"] == 1024 and report["spec"]["generation"]["temperature"] == 0.0


@pytest.mark.slow
def test_the_seed_decides_sampled_answers(tiny_llava: Path) -> None:
    import torch
    from PIL import Image

    backend = TransformersBackend(str(tiny_llava), BackendOptions(device="cpu"))
    generator = torch.Generator().manual_seed(0)
    for parameter in backend.model.parameters():
        parameter.data.normal_(0.0, 0.5, generator=generator)
    requests = [Request("a", "Which color?", (Image.new("RGB", (32, 32), (200, 0, 0)),)), Request("b", "Hi", ())]

    def sample(seed: int) -> list[Any]:
        return backend.generate(requests, GenerationSettings(max_new_tokens=8, temperature=1.5, seed=seed))

    assert sample(1) == sample(1)
    assert sample(1) != sample(2)


VICUNA_V1_SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. "
                    "The assistant gives helpful, detailed, and polite answers to the user's questions.")


@pytest.mark.slow
def test_prompt_styles_render_as_documented(tiny_llava: Path) -> None:
    from PIL import Image

    image = Image.new("RGB", (32, 32))
    with_image, text_only = Request("a", "What?", (image,)), Request("b", "Why?", ())

    def rendered(style: str) -> list[str]:
        backend = TransformersBackend(str(tiny_llava), BackendOptions(device="cpu", prompt_style=style))
        assert backend.describe()["prompt_style"] == style
        return [backend.render(with_image), backend.render(text_only)]

    # LLaVA's conv_vicuna_v1 (SeparatorStyle.TWO, sep " ") with model_vqa_science.py's "<image>\n".
    assert rendered("vicuna_v1") == [f"{VICUNA_V1_SYSTEM} USER: <image>\nWhat? ASSISTANT:",
                                     f"{VICUNA_V1_SYSTEM} USER: Why? ASSISTANT:"]
    assert rendered("plain") == ["<image>\nWhat?", "Why?"]
    assert rendered("chat") == ["<s>USER: <image>\nWhat?\nASSISTANT:", "<s>USER: Why?\nASSISTANT:"]


@pytest.mark.slow
@pytest.mark.parametrize("style", ["chat", "vicuna_v1"])
def test_one_bos_token_whoever_writes_it(style: str, tiny_llava: Path,
                                         generate_calls: list[dict[str, Any]]) -> None:
    """The tiny chat template writes `<s>` itself; a tokenizer that adds one too must not double it."""
    from PIL import Image
    from tokenizers.processors import TemplateProcessing

    backend = TransformersBackend(str(tiny_llava), BackendOptions(device="cpu", prompt_style=style))
    bos = backend.tokenizer.bos_token_id
    backend.tokenizer._tokenizer.post_processor = TemplateProcessing(single="<s> $A", special_tokens=[("<s>", bos)])
    backend.generate([Request("a", "What?", (Image.new("RGB", (32, 32)),)), Request("b", "Why not?", ())],
                     GenerationSettings(max_new_tokens=1))
    for row in generate_calls[0]["input_ids"].tolist():
        real = [t for t in row if t != backend.tokenizer.pad_token_id]
        assert real[0] == bos and real.count(bos) == 1


@pytest.mark.slow
def test_prompt_style_is_recorded_and_checked(tiny_llava: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _run(tiny_llava, tmp_path, "--prompt-style", "vicuna_v1", "--max-new-tokens", "2")
    assert answered_every_sample(code, report) and report["spec"]["backend"]["prompt_style"] == "vicuna_v1"
    run_info = json.loads((tmp_path / "run" / "sqa" / "run.json").read_text())
    assert run_info["prompt_style"] == "vicuna_v1"
    # The same run folder refuses answers in another prompt style.
    code, _ = _run(tiny_llava, tmp_path, "--prompt-style", "chat", "--max-new-tokens", "2")
    assert code == 2 and "prompt_style" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "--task", "sqa", "--model", str(tiny_llava), "--prompt-style", "llava"])


@pytest.mark.slow
def test_chat_style_without_a_chat_template_says_what_to_do(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from tests.tiny_models import BY_NAME, checkpoint

    code, _ = _run(checkpoint(BY_NAME["PaliGemma"]), tmp_path)
    assert code == 2
    assert "no chat template; pass --prompt-style plain" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("flag", ["--load-in-4bit", "--load-in-8bit"])
def test_quantised_loading_without_bitsandbytes_is_one_clear_line(
    flag: str, tiny_llava: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    if importlib.util.find_spec("bitsandbytes") is not None:
        pytest.skip("bitsandbytes is installed here")
    code, _ = _run(tiny_llava, tmp_path, flag, "-q")
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == f"vlmeval: error: {flag} needs the bitsandbytes package, which is not installed " \
                  "(pip install bitsandbytes)"


@pytest.mark.slow
def test_both_quantisation_flags_are_refused(tiny_llava: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _run(tiny_llava, tmp_path, "--load-in-4bit", "--load-in-8bit")
    assert code == 2 and "choose one" in capsys.readouterr().err


_REMOTE_MODULE = '''
import os
from pathlib import Path

from transformers import LlavaForConditionalGeneration

Path(os.environ["VLMEVAL_REMOTE_MARKER"]).write_text("the checkpoint's code ran")


class RemoteLlava(LlavaForConditionalGeneration):
    pass
'''


@pytest.mark.slow
def test_remote_code_runs_only_with_trust_remote_code(tiny_llava: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    model = Path(shutil.copytree(tiny_llava, tmp_path / "remote-llava"))
    (model / "modeling_remote.py").write_text(_REMOTE_MODULE)
    config = json.loads((model / "config.json").read_text())
    config["auto_map"] = {"AutoModelForImageTextToText": "modeling_remote.RemoteLlava"}
    (model / "config.json").write_text(json.dumps(config))
    marker = tmp_path / "marker"
    monkeypatch.setenv("VLMEVAL_REMOTE_MARKER", str(marker))

    code, _ = _run(model, tmp_path / "out")
    err = capsys.readouterr().err
    assert code == 2 and "brings its own Python code" in err and "--trust-remote-code" in err
    assert not marker.exists(), "the checkpoint's code ran without --trust-remote-code"

    # With the flag it runs (in a fresh interpreter, with transformers' module cache in tmp_path).
    env = {**os.environ, "HF_MODULES_CACHE": str(tmp_path / "modules")}
    result = vlmeval("run", "--task", "sqa", "--model", str(model), "--data", "demo", "--limit", "2",
                     "--max-new-tokens", "2", "--device", "cpu", "--output", str(tmp_path / "out2"),
                     "--run-name", "run", "--no-progress", "--trust-remote-code", env=env)
    report = json.loads((tmp_path / "out2" / "run" / "sqa" / "report.json").read_text())
    assert answered_every_sample(result.returncode, report), result.stderr
    assert marker.read_text() == "the checkpoint's code ran"
    backend = report["spec"]["backend"]
    assert backend["architecture"] == "RemoteLlava" and backend["trust_remote_code"] is True
