"""Several images in their places: from `Sample.image_offsets` through the runner to every backend."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.fakes.openai_server import FakeOpenAIServer, FakeResponse
from tests.helpers import read_jsonl
from vlmeval.backends import BackendOptions
from vlmeval.backends.base import Generation, GenerationSettings, Request
from vlmeval.backends.openai import OpenAIBackend
from vlmeval.engine.images import to_rgb
from vlmeval.engine.runner import generate
from vlmeval.engine.store import AnswerStore
from vlmeval.task import Sample

TEXT = "Compare <image 1> with <image 2>. Which is red?"
OFFSETS = (TEXT.index("<image 1>"), TEXT.index("<image 2>"))  # at each `<image N>` tag, as MMMU writes them
RED, BLUE = Image.new("RGB", (32, 32), (255, 0, 0)), Image.new("RGB", (32, 32), (0, 0, 255))


class _Loaded:
    """A decoded image standing in for a dataset's LazyImage."""

    def __init__(self, image: Image.Image) -> None:
        self.image = image

    def load(self, max_side: int | None = None) -> Image.Image:
        return self.image


def _two_image_sample(sample_id: str = "mmmu-1") -> Sample:
    return Sample(id=sample_id, text=TEXT, images=(_Loaded(RED), _Loaded(BLUE)),  # type: ignore[arg-type]
                  image_offsets=OFFSETS)


def _pixels(url: str) -> bytes:
    data = base64.b64decode(url.removeprefix("data:image/png;base64,"))
    return Image.open(io.BytesIO(data)).convert("RGB").tobytes()


def test_a_fake_server_gets_both_images_in_their_places_through_the_runner(tmp_path: Path) -> None:
    with FakeOpenAIServer(reply="B") as server:
        backend = OpenAIBackend("m", server.base_url)
        generate([_two_image_sample()], lambda: backend, GenerationSettings(), AnswerStore(tmp_path), 4,
                 show_progress=False)
        content = server.requests[0].body["messages"][0]["content"]
    kinds = [part["type"] for part in content]
    assert kinds == ["text", "image_url", "text", "image_url", "text"]
    assert [content[0]["text"], content[2]["text"], content[4]["text"]] == [
        "Compare ", "<image 1> with ", "<image 2>. Which is red?"]
    assert _pixels(content[1]["image_url"]["url"]) == to_rgb(RED).tobytes()
    assert _pixels(content[3]["image_url"]["url"]) == to_rgb(BLUE).tobytes()
    assert AnswerStore(tmp_path).read().answers["mmmu-1"].prediction == "B"


def test_a_servers_image_limit_is_a_counted_failure_naming_it(tmp_path: Path) -> None:
    refusal = FakeResponse.error(400, "At most 1 image(s) may be provided in one request. You can set "
                                 "`--limit-mm-per-prompt` to increase this limit if the model supports it.")
    with FakeOpenAIServer(reply=refusal) as server:
        backend = OpenAIBackend("m", server.base_url, max_retries=0)
        generate([_two_image_sample()], lambda: backend, GenerationSettings(), AnswerStore(tmp_path), 4,
                 show_progress=False)
    answer = AnswerStore(tmp_path).read().answers["mmmu-1"]
    assert answer.failure == "too_many_images" and answer.settled and not answer.ok
    assert "2 images" in str(answer.error) and "at most 1" in str(answer.error)


def test_max_images_refuses_before_any_request_and_is_not_retried(tmp_path: Path) -> None:
    with FakeOpenAIServer(reply="B") as server:
        backend = OpenAIBackend("m", server.base_url, max_images=1)
        one = Sample(id="one", text="Which?", images=(_Loaded(RED),))  # type: ignore[arg-type]
        summary = generate([_two_image_sample(), one], lambda: backend, GenerationSettings(),
                           AnswerStore(tmp_path), 4, show_progress=False)
        assert len(server.requests) == 1  # only the one-image sample was sent
    answers = AnswerStore(tmp_path).read().answers
    assert answers["mmmu-1"].failure == "too_many_images" and "at most 1" in str(answers["mmmu-1"].error)
    assert answers["one"].prediction == "B" and summary.errors == 1


@pytest.fixture(scope="module")
def demo_backend() -> Any:
    from vlmeval.backends.transformers import TransformersBackend
    from vlmeval.demo import CHECKPOINT_DIR

    return TransformersBackend(str(CHECKPOINT_DIR), BackendOptions(device="cpu"))


@pytest.mark.slow
def test_prompt_styles_put_image_tokens_at_the_placeholders(demo_backend: Any) -> None:
    from vlmeval.backends._prompt_styles import VICUNA_V1_SYSTEM, PromptOptions, render

    request = Request("s", TEXT, (RED, BLUE), image_offsets=OFFSETS)
    traits, processor = demo_backend.traits, demo_backend.processor
    placed = "Compare <image><image 1> with <image><image 2>. Which is red?"
    assert render("plain", processor, traits, request) == placed
    assert render("vicuna_v1", processor, traits, request) == f"{VICUNA_V1_SYSTEM} USER: {placed} ASSISTANT:"
    assert render("chat", processor, traits, request) == (
        "<s>USER: Compare <image>\n<image 1> with <image>\n<image 2>. Which is red?\nASSISTANT:")
    # Without offsets every image comes first, as before.
    first = Request("s", "Which?", (RED, BLUE))
    assert render("plain", processor, traits, first) == "<image>\n<image>\nWhich?"
    told = render("vicuna_v1", processor, traits, first, PromptOptions(system_prompt="Be brief."))
    assert told.startswith("Be brief. USER: ")


@pytest.mark.slow
def test_a_two_image_sample_reaches_a_tiny_transformers_model(demo_backend: Any, tmp_path: Path) -> None:
    seen: list[Any] = []
    processor = demo_backend.processor
    original = type(processor).__call__

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(type(processor), "__call__", spy)
        generate([_two_image_sample()], lambda: demo_backend, GenerationSettings(max_new_tokens=3),
                 AnswerStore(tmp_path), 4, show_progress=False)
    assert seen[-1]["text"] == ["<s>USER: Compare <image>\n<image 1> with <image>\n<image 2>. Which is red?\nASSISTANT:"]
    assert seen[-1]["images"] == [[RED, BLUE]]  # both images, in order, for that one prompt
    answer = AnswerStore(tmp_path).read().answers["mmmu-1"]
    assert answer.ok and answer.generated_tokens is not None and 1 <= answer.generated_tokens <= 3


@pytest.mark.slow
def test_transformers_reports_tokens_and_finish_reasons(demo_backend: Any) -> None:
    requests = [Request("a", "Which color fills the picture?", (RED,)), Request("b", "Why?")]
    replies = demo_backend.generate(requests, GenerationSettings(max_new_tokens=2))
    assert all(isinstance(r, Generation) for r in replies)
    # Each prompt's own length, image tokens included, whatever the padding of the batch.
    lengths = [demo_backend._inputs([r])["input_ids"].shape[1] for r in requests]
    assert [r.prompt_tokens for r in replies] == lengths and lengths[0] > lengths[1] + 8
    for reply in replies:
        assert reply.generated_tokens is not None and 1 <= reply.generated_tokens <= 2
        assert reply.finish_reason in ("stop", "length")
        assert reply.finish_reason == "stop" or reply.generated_tokens == 2


def test_generated_length_counts_up_to_the_end_token() -> None:
    from vlmeval.backends.transformers import _generated_length

    eos, pad = {2, 7}, 0
    assert _generated_length([5, 6, 2, 0, 0], eos, pad, skip_first=False) == (3, True)  # a finished row, padded
    assert _generated_length([5, 6, 8, 9], eos, pad, skip_first=False) == (4, False)  # cut by the limit
    assert _generated_length([1, 5, 7, 0], eos, pad, skip_first=True) == (2, True)  # decoder start not counted


def test_a_too_many_images_failure_is_counted_and_leaves_the_report_complete() -> None:
    from vlmeval.engine.samples import load_samples
    from vlmeval.engine.scoring import score_answers
    from vlmeval.engine.store import Answer
    from vlmeval.registry import load_registry
    from vlmeval.run_spec import RunSpec
    from vlmeval.reporting.report import build_report
    from vlmeval.task import ScoreContext

    task = load_registry().get("sqa")
    samples = load_samples(task, "demo", None, 3).samples
    answers = {s.id: Answer(s.id, "A") for s in samples}
    answers[samples[0].id] = Answer(samples[0].id, None, error="2 images, but m takes at most 1",
                                    failure="too_many_images")
    records = score_answers(task, samples, answers, ScoreContext())
    assert records[0].failure == "too_many_images" and records[0].scores["correct"] == 0.0
    report = build_report(task, records, "m", True, RunSpec())
    assert report.counts.failures.get("too_many_images") == 1 and report.complete


def _mmmu_run(tmp_path: Path, model: list[str], *flags: str) -> tuple[int, dict[str, Any]]:
    from vlmeval.cli import main

    code = main(["run", "--task", "mmmu_val", "--data", "demo", "--output", str(tmp_path), "--run-name", "r",
                 "--no-progress", *model, *flags])
    records = {r["id"]: r for r in read_jsonl(tmp_path / "r" / "mmmu_val" / "predictions.jsonl")}
    return code, records


def test_mmmu_two_image_question_reaches_a_fake_server_with_each_image_in_its_place(tmp_path: Path) -> None:
    with FakeOpenAIServer(reply="B") as server:
        code, records = _mmmu_run(tmp_path, ["--model", "openai:m", "--base-url", server.base_url])
        bodies = [r.body for r in server.requests]
    assert code == 0
    art = next(b for b in bodies if "Which painting uses more red?" in json.dumps(b))
    content = art["messages"][0]["content"]
    kinds = [part["type"] for part in content]
    assert kinds.count("image_url") == 2
    first, second = (i for i, kind in enumerate(kinds) if kind == "image_url")
    assert content[first + 1]["text"].startswith("<image 1> Which painting")  # image 1 where the question cites it
    assert content[second + 1]["text"].startswith("<image 2>")  # image 2 where option A cites it
    assert _pixels(content[first]["image_url"]["url"])[:3] == bytes((220, 30, 30))
    assert _pixels(content[second]["image_url"]["url"])[:3] == bytes((30, 30, 220))
    assert records["validation_Art_1"]["prediction"] == "B"


def test_an_image_limit_fails_only_the_two_image_question(tmp_path: Path) -> None:
    with FakeOpenAIServer(reply="B") as server:
        code, records = _mmmu_run(tmp_path, ["--model", "openai:m", "--base-url", server.base_url],
                                  "--max-images", "1")
    assert code == 0  # counted, not retried: the report is complete
    assert records["validation_Art_1"]["failure"] == "too_many_images"
    assert "at most 1" in records["validation_Art_1"]["error"]
    assert all(r["failure"] != "too_many_images" for i, r in records.items() if i != "validation_Art_1")


@pytest.mark.slow
def test_mmmu_two_image_question_reaches_the_tiny_model_through_the_cli(tmp_path: Path) -> None:
    code, records = _mmmu_run(tmp_path, ["--model", "demo", "--device", "cpu", "--max-new-tokens", "3"])
    assert code == 0
    two, one = records["validation_Art_1"]["usage"], records["validation_Math_15"]["usage"]
    # Each image adds the demo LLaVA's image tokens (16 patches + 1) to the prompt.
    assert two["prompt_tokens"] - one["prompt_tokens"] >= 17


@pytest.mark.slow
def test_reasoning_tags_survive_decoding_where_the_tokenizer_marks_them_special() -> None:
    from vlmeval.backends.transformers import TransformersBackend
    from vlmeval.demo import CHECKPOINT_DIR

    backend = TransformersBackend(str(CHECKPOINT_DIR), BackendOptions(device="cpu"))  # its own tokenizer
    tokenizer = backend.tokenizer
    plain = backend.decode([tokenizer("B", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]])
    tokenizer.add_special_tokens({"additional_special_tokens": ["<think>", "</think>"]})
    ids = tokenizer("<think>red</think>B", add_special_tokens=False)["input_ids"]
    text = backend.decode([ids + [tokenizer.eos_token_id, tokenizer.pad_token_id]])
    assert text == ["<think>red</think>B"] and plain == ["B"]  # other special tokens still dropped
    assert tokenizer.batch_decode([ids], skip_special_tokens=True) == ["redB"]  # what plain decoding loses
