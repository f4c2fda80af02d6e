"""Build a random-weight tiny LLaVA (real transformers classes) entirely offline: the start of the
bundled demo model (scripts/train_demo.py) and the tests' `tiny_llava` checkpoint. Not part of the
package: nothing a user runs needs it.

The recipe (CLIP vision tower + Llama text model, a byte-level BPE tokenizer trained on the spot,
32 px CLIPImageProcessor, LlavaProcessor with ``patch_size=8`` and
``vision_feature_select_strategy="default"``, ``num_additional_image_tokens=1`` for the CLS token)
is the smallest LLaVA that ``AutoProcessor`` and ``AutoModelForImageTextToText`` load back offline:
about 160k parameters, 0.7 MB on disk.
Everything heavy is imported inside functions so importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

SPECIAL_TOKENS: tuple[str, ...] = ("<unk>", "<s>", "</s>", "<pad>", "<image>")
PATCH_SIZE = 8
VOCAB_SIZE = 640

# Renders `[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": ...}]}]` as
# "<s>USER: <image>\n...\nASSISTANT:"; an assistant turn is rendered as "ASSISTANT: {text}</s>", so a
# greedy continuation of the generation prompt is " A</s>" (the letter keeps its leading space,
# which byte-level BPE tokenizes as one token " A").
CHAT_TEMPLATE: str = (
    "{{ bos_token }}"
    "{%- for message in messages -%}"
    "{{ (message['role'] | upper) + ': ' }}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'image' -%}{{ '<image>\\n' }}"
    "{%- elif item['type'] == 'text' -%}{{ item['text'] }}"
    "{%- endif -%}{%- endfor -%}{%- endif -%}"
    "{%- if message['role'] == 'assistant' -%}{{ eos_token }}{%- endif -%}"
    "{{ '\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ 'ASSISTANT:' }}{%- endif -%}"
)

# Small built-in corpus so BPE learns merges for the chat frame, the ScienceQA-style prompt
# boilerplate and common answer words; callers can add task text through `corpus`.
_BUILTIN_CORPUS: tuple[str, ...] = (
    "USER: <image>\nWhich color fills the picture?\nASSISTANT: A",
    "Answer with the option's letter from the given choices directly.",
    "Context: A. B. C. D. E. the picture map word sentence question answer choices",
    "red green blue yellow black white orange purple left right top bottom",
    "Which of these is true? Select the best answer. What is shown in the image?",
    "Is this a solid, a liquid, or a gas? Which is heavier? Which is colder? more fewer",
    "natural science social science language science grade lecture solution",
    "The quick brown fox jumps over the lazy dog. Is it hot or cold? Yes. No.",
    "0 1 2 3 4 5 6 7 8 9 10 100",
)
# Answers are generated as " A", " B", ...: repeated so every " X" becomes one BPE token.
_LETTER_LINE = "ASSISTANT: " + " ".join(f"{letter} {letter}" for letter in "ABCDEFGH")


def train_bpe_tokenizer(
    texts: Sequence[str], specials: Sequence[str], vocab_size: int, *, unk: str = "<unk>", bos: str = "<s>",
    eos: str = "</s>", pad: str = "<pad>", extra_special: dict[str, str] | None = None,
    model_max_length: int = 512,
) -> PreTrainedTokenizerBase:
    """A byte-level BPE tokenizer of `vocab_size` tokens trained on `texts`, `specials` single tokens,
    padded on the left (the demo's and the test checkpoints' tokenizers, tests/tiny_models.py)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(list(texts), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token=unk,
        bos_token=bos,
        eos_token=eos,
        pad_token=pad,
        extra_special_tokens=extra_special or {},
        padding_side="left",
        model_max_length=model_max_length,
    )


def _train_tokenizer(corpus: Iterable[str]) -> PreTrainedTokenizerBase:
    # Repeat the built-in text so its merges clear min_frequency even when `corpus` is empty.
    texts = [*(_BUILTIN_CORPUS * 2), *([_LETTER_LINE] * 20), *corpus]
    return train_bpe_tokenizer(texts, SPECIAL_TOKENS, VOCAB_SIZE, extra_special={"image_token": "<image>"})


def _image_processor(image_size: int) -> Any:
    import transformers

    # Without torchvision `CLIPImageProcessor` falls back to the PIL backend with a warning;
    # asking for that backend by name (where it exists) gives the same processor, silently.
    processor_class = getattr(transformers, "CLIPImageProcessorPil", None) or transformers.CLIPImageProcessor
    return processor_class(
        size={"shortest_edge": image_size},
        crop_size={"height": image_size, "width": image_size},
    )


def build_tiny_llava(
    out_dir: str | Path,
    *,
    seed: int = 0,
    image_size: int = 32,
    corpus: Iterable[str] | None = None,
) -> Path:
    """Save a random-weight tiny LLaVA (model + processor) into `out_dir` and return it.

    Loads back with `AutoProcessor` / `AutoModelForImageTextToText`. `image_size` must be a multiple
    of the 8 px patch size; `corpus` adds text to the tokenizer's BPE training.
    """
    import torch
    from transformers import (
        CLIPVisionConfig,
        GenerationConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    if image_size % PATCH_SIZE:
        raise ValueError(f"image_size must be a multiple of {PATCH_SIZE}, got {image_size}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    tokenizer = _train_tokenizer(corpus or ())
    processor = LlavaProcessor(
        image_processor=_image_processor(image_size),
        tokenizer=tokenizer,
        patch_size=PATCH_SIZE,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's CLS token, dropped again by the "default" strategy
        chat_template=CHAT_TEMPLATE,
    )

    ids = {name: tokenizer.vocab[name] for name in SPECIAL_TOKENS}
    text_config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=96,
        intermediate_size=192,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=ids["<s>"],
        eos_token_id=ids["</s>"],
        pad_token_id=ids["<pad>"],
    )
    vision_config = CLIPVisionConfig(
        hidden_size=48,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=image_size,
        patch_size=PATCH_SIZE,
        projection_dim=48,
    )
    config = LlavaConfig(
        vision_config=vision_config,
        text_config=text_config,
        image_token_index=ids["<image>"],
        image_seq_length=(image_size // PATCH_SIZE) ** 2,
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,  # last layer: -2 would waste one of only two vision layers
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        bos_token_id=ids["<s>"],
        eos_token_id=ids["</s>"],
        pad_token_id=ids["<pad>"],
        do_sample=False,
    )
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out
