"""The bundled demo model: a fresh tiny LLaVA builds and batches; the trained checkpoint beats chance."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import pytest

from scripts.tiny_llava import build_tiny_llava
from vlmeval.demo import CHECKPOINT_DIR

DEMO_PARQUET = Path(__file__).resolve().parents[2] / "tasks" / "data" / "sqa_demo.parquet"
IMAGE_TOKENS_PER_IMAGE = 16  # (32 px / 8 px patches) ** 2, CLS dropped by the "default" strategy


def sqa_text(hint: str, question: str, choices: list[str]) -> str:
    """The harness's ScienceQA prompt, written out independently of the training script."""
    context = f"Context: {hint}\n" if hint else ""
    options = "\n".join(f"{chr(ord('A') + i)}. {c}" for i, c in enumerate(choices))
    return f"{context}{question}\n{options}\nAnswer with the option's letter from the given choices directly."


def chat(processor: Any, text: str, has_image: bool) -> str:
    content = ([{"type": "image"}] if has_image else []) + [{"type": "text", "text": text}]
    messages = [{"role": "user", "content": content}]
    return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def generate(
    model: Any, processor: Any, texts: list[str], images: list[Any], new_tokens: int
) -> tuple[Any, Any]:
    """Left-padded batch, flat image list; returns (inputs, new token ids)."""
    import torch

    processor.tokenizer.padding_side = "left"
    inputs = processor(text=texts, images=images or None, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=new_tokens, do_sample=False)
    return inputs, out[:, inputs["input_ids"].shape[1] :]


def noise_image(seed: int) -> Any:
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


@pytest.mark.slow
def test_fresh_tiny_llava_loads_back_and_batches_mixed_inputs(tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    out = build_tiny_llava(tmp_path / "tiny", seed=3)
    assert out == tmp_path / "tiny" and (out / "model.safetensors").is_file()
    processor = AutoProcessor.from_pretrained(out)
    model = AutoModelForImageTextToText.from_pretrained(out).eval()
    tokenizer = processor.tokenizer
    assert model.generation_config.eos_token_id == tokenizer.convert_tokens_to_ids("</s>")
    assert model.generation_config.pad_token_id == tokenizer.pad_token_id

    # Mixed batch: images only for some samples, passed as one flat list in sample order.
    samples = [
        ("Which color fills the picture?\nA. red\nB. blue", 0),
        ("A much longer text-only question, " * 3, None),
        ("Which?", 1),
        ("Short?", None),
    ]
    texts = [chat(processor, sqa_text("", q, ["x", "y"]), img is not None) for q, img in samples]
    assert texts[0].startswith("<s>USER: <image>\nWhich color") and texts[0].endswith("\nASSISTANT:")
    images = [noise_image(img) for _, img in samples if img is not None]
    inputs, new = generate(model, processor, texts, images, new_tokens=4)

    image_tokens = (inputs["input_ids"] == model.config.image_token_index).sum(dim=1).tolist()
    assert image_tokens == [IMAGE_TOKENS_PER_IMAGE if img is not None else 0 for _, img in samples]
    assert (inputs["attention_mask"][:, -1] == 1).all(), "padding must be on the left"
    assert new.shape == (len(samples), 4)

    # Each sample alone gives the same next-token logits and greedy tokens as inside the padded batch,
    # so the flat image list is matched to the right samples.
    with torch.no_grad():
        batch_logits = model(**inputs).logits[:, -1]
    for row, (text, (_, img)) in enumerate(zip(texts, samples)):
        one = [noise_image(img)] if img is not None else []
        single_inputs, single_new = generate(model, processor, [text], one, new_tokens=4)
        with torch.no_grad():
            single_logits = model(**single_inputs).logits[0, -1]
        torch.testing.assert_close(single_logits, batch_logits[row], atol=1e-4, rtol=1e-4)
        assert single_new[0].tolist() == new[row].tolist()
    # The image really reaches the model: another picture changes the logits.
    swapped = processor(text=[texts[0]], images=[noise_image(7)], return_tensors="pt")
    with torch.no_grad():
        assert not torch.allclose(model(**swapped).logits[0, -1], batch_logits[0], atol=1e-4)


@pytest.fixture(scope="module")
def demo_model() -> tuple[Any, Any]:
    from transformers import AutoModelForImageTextToText, AutoProcessor

    return AutoProcessor.from_pretrained(CHECKPOINT_DIR), AutoModelForImageTextToText.from_pretrained(
        CHECKPOINT_DIR
    ).eval()


@pytest.mark.slow
def test_bundled_checkpoint_is_small_safetensors(demo_model: tuple[Any, Any]) -> None:
    files = list(CHECKPOINT_DIR.iterdir())
    assert sum(f.stat().st_size for f in files) < 5 * 1024 * 1024
    assert (CHECKPOINT_DIR / "model.safetensors").is_file()
    assert not [f for f in files if f.suffix in {".bin", ".pt", ".pth"}]
    processor, model = demo_model
    assert model.config.model_type == "llava"
    assert processor.tokenizer.image_token == "<image>"


def test_demo_split_has_every_scienceqa_breakdown() -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(DEMO_PARQUET)
    expected = [
        "image",
        "question",
        "choices",
        "answer",
        "hint",
        "task",
        "grade",
        "subject",
        "topic",
        "category",
        "skill",
        "lecture",
        "solution",
    ]
    assert table.column_names == expected
    assert str(table.schema.field("image").type) == "struct<bytes: binary, path: string>"
    assert str(table.schema.field("answer").type) == "int64"
    rows = table.to_pylist()
    assert 50 <= len(rows) <= 80
    assert {r["subject"] for r in rows} == {"natural science", "social science", "language science"}
    grades = {int(r["grade"].removeprefix("grade")) for r in rows}
    assert grades & set(range(1, 7)) and grades & set(range(7, 13))
    assert any(r["hint"] for r in rows) and any(r["image"] for r in rows)
    assert any(not r["hint"] and r["image"] is None for r in rows)
    assert all(0 <= r["answer"] < len(r["choices"]) for r in rows)


@pytest.mark.slow
def test_demo_model_beats_chance_on_held_out_demo_split(demo_model: tuple[Any, Any]) -> None:
    import pyarrow.parquet as pq
    from PIL import Image

    processor, model = demo_model
    rows = pq.read_table(DEMO_PARQUET).to_pylist()
    texts = [
        chat(processor, sqa_text(r["hint"], r["question"], r["choices"]), r["image"] is not None)
        for r in rows
    ]
    images = [
        Image.open(io.BytesIO(r["image"]["bytes"])).convert("RGB") for r in rows if r["image"] is not None
    ]
    _, new = generate(model, processor, texts, images, new_tokens=4)
    answers = [a.strip() for a in processor.batch_decode(new, skip_special_tokens=True)]

    letters = [chr(ord("A") + r["answer"]) for r in rows]
    accuracy = sum(a == letter for a, letter in zip(answers, letters)) / len(rows)
    chance = sum(1 / len(r["choices"]) for r in rows) / len(rows)
    # Held-out questions (unseen words, noisier pictures): well above chance, honestly below 100%.
    assert chance + 0.15 <= accuracy <= 0.9, (accuracy, chance, answers)
    with_image = [a == letter for a, letter, r in zip(answers, letters, rows) if r["image"] is not None]
    assert sum(with_image) / len(with_image) != accuracy  # IMG-Accuracy is not the overall accuracy
    # Generation stops at </s>: the answers are bare letters (or nothing), not runs of tokens.
    assert all(len(a) <= 1 for a in answers), answers


def _training_script() -> Any:
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "scripts" / "train_demo.py"
    spec = importlib.util.spec_from_file_location("train_demo", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def test_demo_split_is_held_out_from_training() -> None:
    """The committed split is what the script writes, and no text-only test question can be a training one."""
    import pyarrow.parquet as pq

    script = _training_script()
    rows = pq.read_table(DEMO_PARQUET).to_pylist()
    generated = script.demo_split(seed=2000)
    assert [(s.hint, s.question, s.choices, s.answer) for s in generated] == [
        (r["hint"], r["question"], r["choices"], r["answer"]) for r in rows
    ]
    script.check_held_out(generated)  # raises when a text-only question has no held-out word
    draw = script.training_sampler(seed=1)
    seen = {(s.hint, s.question) for s in (draw() for _ in range(3000)) if s.image is None}
    text_only = [(r["hint"], r["question"]) for r in rows if r["image"] is None]
    assert text_only and not seen & set(text_only)
