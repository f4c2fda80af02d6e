"""Real-size LLaVA-1.5 with random weights, built on the spot, and synthetic splits for it (benchmarks/gpu.py).

Shapes are those of llava-hf/llava-1.5-7b-hf and -13b-hf (their config.json): a CLIP ViT-L/14 vision
tower at 336 px (24 layers, width 1024; 576 patches, the last-but-one layer's features), the
two-layer GELU projector, and a LLaMA text model (7B: 32 layers, width 4096, MLP 11008; 13B: 40
layers, width 5120, MLP 13824; vocabulary 32,064). The model is built directly on its device in
its dtype (the initialisation kernels run there: no CPU copy, no file), so only its config and
processor are written to a folder; `serve_prebuilt` makes vlmeval's transformers backend take the
built model when it is asked for that folder, so `vlmeval run` runs unchanged around it.

The tokenizer is a byte-level BPE (`scripts/tiny_llava.py`) trained on the synthetic questions' words
and the prompt frame (so a word is about one token, as with LLaMA's tokenizer); token ids the random model generates beyond its
vocabulary decode to nothing, which the tasks count as unusable answers.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import _WORDS, png

LLAVA_VOCAB = 32064  # llava-hf's padded LLaMA vocabulary
# The synthetic questions' words and the prompt frame, repeated so that their merges clear BPE's minimum count.
_TOKENIZER_TEXTS = [" ".join(_WORDS)] * 4 + [
    "USER: <image>\nContext: Options: A. B. C. D. E. Answer with the option's letter from the given choices "
    "directly. Answer the question using a single word or phrase. Reference OCR token:\nASSISTANT: A B C D E"] * 4


@dataclass(frozen=True)
class Shapes:
    name: str
    hidden: int
    intermediate: int
    layers: int
    heads: int
    vision_hidden: int = 1024
    vision_intermediate: int = 4096
    vision_layers: int = 24
    vision_heads: int = 16
    image_size: int = 336
    patch: int = 14

    @property
    def image_tokens(self) -> int:
        return (self.image_size // self.patch) ** 2


SHAPES = {
    "7b": Shapes("llava-1.5-7b shapes", 4096, 11008, 32, 32),
    "13b": Shapes("llava-1.5-13b shapes", 5120, 13824, 40, 40),
    # --dry-run: the same code on a CPU in seconds: real image size and 576 image tokens, tiny widths
    "tiny": Shapes("tiny (dry run)", 64, 128, 2, 4, 32, 64, 2, 4),
}


def build_llava(shapes: Shapes, folder: Path, device: str, dtype: str) -> Any:
    """The model on `device` in `dtype`; `folder` receives its config, generation config and processor."""
    import torch
    import transformers
    from transformers import CLIPVisionConfig, GenerationConfig, LlamaConfig, LlavaConfig, LlavaProcessor

    from scripts.tiny_llava import CHAT_TEMPLATE, SPECIAL_TOKENS, VOCAB_SIZE, train_bpe_tokenizer

    tokenizer = train_bpe_tokenizer(_TOKENIZER_TEXTS, SPECIAL_TOKENS, VOCAB_SIZE, model_max_length=4096,
                                    extra_special={"image_token": "<image>"})
    image_processor = transformers.CLIPImageProcessor(
        size={"shortest_edge": shapes.image_size}, crop_size={"height": shapes.image_size, "width": shapes.image_size})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=shapes.patch,
                               vision_feature_select_strategy="default", num_additional_image_tokens=1,
                               chat_template=CHAT_TEMPLATE)
    ids = {name: tokenizer.vocab[name] for name in SPECIAL_TOKENS}
    text = LlamaConfig(vocab_size=LLAVA_VOCAB, hidden_size=shapes.hidden, intermediate_size=shapes.intermediate,
                       num_hidden_layers=shapes.layers, num_attention_heads=shapes.heads,
                       num_key_value_heads=shapes.heads, max_position_embeddings=4096, rms_norm_eps=1e-5,
                       bos_token_id=ids["<s>"], eos_token_id=ids["</s>"], pad_token_id=ids["<pad>"])
    vision = CLIPVisionConfig(hidden_size=shapes.vision_hidden, intermediate_size=shapes.vision_intermediate,
                              num_hidden_layers=shapes.vision_layers, num_attention_heads=shapes.vision_heads,
                              image_size=shapes.image_size, patch_size=shapes.patch, projection_dim=768)
    config = LlavaConfig(vision_config=vision, text_config=text, image_token_index=ids["<image>"],
                         image_seq_length=shapes.image_tokens, vision_feature_select_strategy="default",
                         vision_feature_layer=-2, projector_hidden_act="gelu")
    torch.manual_seed(0)
    with torch.device(device):
        model = transformers.LlavaForConditionalGeneration._from_config(config, dtype=getattr(torch, dtype))
    model.generation_config = GenerationConfig(bos_token_id=ids["<s>"], eos_token_id=ids["</s>"],
                                               pad_token_id=ids["<pad>"], do_sample=False)
    model.eval()
    folder.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(folder)
    model.generation_config.save_pretrained(folder)
    processor.save_pretrained(folder)
    return model


def serve_prebuilt(folder: Path, model: Any) -> Callable[[], None]:
    """vlmeval's transformers backend returns `model` for `--model folder`; the returned call undoes it."""
    import vlmeval.backends.transformers as backend

    original = backend._load_model
    wanted = folder.resolve()

    def load(checkpoint: str, *args: Any, **kwargs: Any) -> Any:
        if Path(checkpoint).resolve() == wanted:
            return model
        return original(checkpoint, *args, **kwargs)

    backend._load_model = load

    def undo() -> None:
        backend._load_model = original

    return undo


def write_textvqa_parquet(folder: Path, n: int, image_size: int, seed: int = 1) -> Path:
    """`n` rows in the lmms-lab/textvqa validation schema, each with an image, ten answers and OCR tokens."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    rows = []
    for i in range(n):
        answer = rng.choice(_WORDS)
        rows.append({
            "image_id": f"img{i}", "question_id": 34602 + i,
            "question": " ".join(rng.choice(_WORDS) for _ in range(rng.randint(5, 12))) + "?",
            "question_tokens": [], "image": {"bytes": png(rng, image_size), "path": None},
            "image_width": image_size, "image_height": image_size, "flickr_original_url": "", "flickr_300k_url": "",
            "answers": [answer] * 7 + [rng.choice(_WORDS) for _ in range(3)], "image_classes": ["Sign"],
            "set_name": "val", "ocr_tokens": [rng.choice(_WORDS) for _ in range(rng.randint(0, 8))],
        })
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "validation-00000-of-00001.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=100)
    return path
