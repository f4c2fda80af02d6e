"""`--prompt-style task_token` on the tiny Florence-2 of the architecture matrix: the task token is the
whole prompt, and the answer is what the model card's flow reads (generate, decode with special
tokens, `post_process_generation` for a pure-text task)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import answered_every_sample, write_parquet
from tests.tiny_models import BY_NAME, checkpoint
from vlmeval.backends._prompt_styles import render
from vlmeval.backends.base import BackendOptions, Generation, GenerationSettings, Request, SampleError
from vlmeval.cli import main

pytestmark = pytest.mark.slow  # loads a model


def test_task_token_is_the_whole_prompt_and_the_answer_is_the_cards_reading() -> None:
    import torch
    from PIL import Image

    from vlmeval.backends.transformers import TransformersBackend

    folder = checkpoint(BY_NAME["Florence-2"])
    backend = TransformersBackend(str(folder), BackendOptions(prompt_style="task_token", device="cpu"))
    image = Image.new("RGB", (48, 40), (200, 30, 30))
    request = Request("7", "Provide a one-sentence caption for the provided image.", (image,), "<CAPTION>")
    assert render("task_token", backend.processor, backend.traits, request) == "<CAPTION>"
    settings = GenerationSettings(max_new_tokens=12, num_beams=3)  # the card's beams; tokens cut for speed
    answer, refused = backend.generate([request, Request("8", "What is the date?", (image,))], settings)
    assert isinstance(refused, SampleError) and "no task token" in str(refused)  # a task with neither
    bare = Request("9", "What is the date?\nAnswer the question using a single word or phrase.", (image,),
                   "What is the date?")  # DocVQA's bare question: passed through unchanged
    assert render("task_token", backend.processor, backend.traits, bare) == "What is the date?"

    # the card: processor(text=task_prompt, images=image), generate(num_beams=3, do_sample=False),
    # batch_decode(skip_special_tokens=False), post_process_generation(task=task_prompt)
    processor, model = backend.processor, backend.model
    inputs = processor(text="<CAPTION>", images=image, return_tensors="pt")
    assert processor.tokenizer.decode(inputs["input_ids"][0], skip_special_tokens=True) == \
        "What does the image describe?"
    with torch.inference_mode():
        ids = model.generate(input_ids=inputs["input_ids"], pixel_values=inputs["pixel_values"],
                             max_new_tokens=12, num_beams=3, do_sample=False)
    text = processor.batch_decode(ids, skip_special_tokens=False)[0]
    # post_process_generation's pure-text branch (transformers' Florence2Processor, as the card's remote
    # code): `<s>` and `</s>` removed, stripped. The tiny processor has no post-processor config to call it.
    card = text.replace("<s>", "").replace("</s>", "").strip()
    assert isinstance(answer, Generation) and answer.text == card and "<pad>" not in text


def test_caption_run_records_the_cards_decoding(tmp_path: Path) -> None:
    from vlmeval_tasks.captions import nocaps_demo

    data = write_parquet(tmp_path / "nocaps" / "validation-00000-of-00001.parquet", nocaps_demo())
    out = tmp_path / "out"
    code = main(["run", "--task", "nocaps_val", "--model", str(checkpoint(BY_NAME["Florence-2"])),
                 "--data", str(data), "--output", str(out), "--run-name", "f2", "--prompt-style", "task_token",
                 "--num-beams", "3", "--max-new-tokens", "8", "--device", "cpu", "--no-progress"])
    assert code == 0
    report = json.loads((out / "f2" / "nocaps_val" / "report.json").read_text(encoding="utf-8"))
    assert report["spec"]["backend"]["prompt_style"] == "task_token"
    assert report["spec"]["generation"]["num_beams"] == 3 and report["spec"]["generation"]["max_new_tokens"] == 8
    assert report["spec"]["backend"]["task_prompt"] == "the benchmark's task token"
    assert "cider" in report["metrics"]


def test_a_benchmark_without_a_token_is_sent_its_bare_question_and_called_unofficial(tmp_path: Path) -> None:
    from vlmeval.task import UNOFFICIAL_PROMPT
    from vlmeval_tasks.docvqa import demo_rows

    data = write_parquet(tmp_path / "docvqa" / "validation-00000-of-00001.parquet", demo_rows("DocVQA", True))
    out = tmp_path / "out"
    code = main(["run", "--task", "docvqa_val", "--model", str(checkpoint(BY_NAME["Florence-2"])), "--data", str(data),
                 "--output", str(out), "--run-name", "f2", "--prompt-style", "task_token", "--max-new-tokens", "4",
                 "--device", "cpu", "--no-progress"])
    report = json.loads((out / "f2" / "docvqa_val" / "report.json").read_text(encoding="utf-8"))
    assert answered_every_sample(code, report)
    assert report["spec"]["backend"]["task_prompt"] == UNOFFICIAL_PROMPT
