"""Tiny random-weight checkpoints of every image-text-to-text architecture the backend claims.

Each maker builds the real transformers model class from a config (one or two layers, hidden
size 32, 32-64 px images), the architecture's real processor class with a byte-level BPE
tokenizer trained on the spot (with the special tokens that processor needs) and, where the real
checkpoints have one, a chat template; then `save_pretrained`s both. Nothing is downloaded.

`ARCHITECTURES` lists them for the compatibility matrix (`tests/backends/test_transformers_architectures.py`), which
also writes docs/models.md's table of supported architectures.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HIDDEN = 32
IMAGE = 32
Parts = tuple[Any, Any, Any]  # model, processor, tokenizer

_CORPUS: tuple[str, ...] = (
    "USER: Which color fills the picture?\nA. red\nB. green\nC. blue\nD. yellow\nASSISTANT: A",
    "Answer with the option's letter from the given choices directly.",
    "Context: a picture map word sentence question answer choices Which of these is true?",
    "natural science social science language science Is this a solid, a liquid, or a gas?",
    "User: Assistant: user assistant system The quick brown fox jumps over the lazy dog.",
) * 3


def train_tokenizer(
    special: Sequence[str],
    *,
    bos: str = "<s>",
    eos: str = "</s>",
    pad: str = "<pad>",
    unk: str = "<unk>",
    extra_special: dict[str, str] | None = None,
    vocab_size: int = 400,
) -> Any:
    """A byte-level BPE tokenizer (a few hundred tokens) with `special` as single tokens."""
    from scripts.tiny_llava import train_bpe_tokenizer

    specials = list(dict.fromkeys([unk, bos, eos, pad, *special]))
    return train_bpe_tokenizer(list(_CORPUS), specials, vocab_size + len(specials), unk=unk, bos=bos, eos=eos,
                               pad=pad, extra_special=extra_special, model_max_length=2048)


def chat_template(image: str, *, bos: str = "", user: str = "USER", assistant: str = "ASSISTANT") -> str:
    """`{bos}USER: {image per image}{text}\\nASSISTANT:`, a minimal template of the usual shape."""
    return (
        f"{bos}"
        "{%- for message in messages -%}"
        "{%- if message['role'] == 'user' -%}{{ '" + user + ": ' }}"
        "{%- elif message['role'] == 'assistant' -%}{{ '" + assistant + ": ' }}"
        "{%- else -%}{{ message['role'] + ': ' }}{%- endif -%}"
        "{%- if message['content'] is string -%}{{ message['content'] }}"
        "{%- else -%}{%- for item in message['content'] -%}"
        "{%- if item['type'] == 'image' -%}{{ '" + image + "' }}"
        "{%- elif item['type'] == 'text' -%}{{ item['text'] }}"
        "{%- endif -%}{%- endfor -%}{%- endif -%}"
        "{{ '\\n' }}"
        "{%- endfor -%}"
        "{%- if add_generation_prompt -%}{{ '" + assistant + ":' }}{%- endif -%}"
    )


def _ids(tokenizer: Any) -> dict[str, int]:
    return {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }


def _llama(tokenizer: Any, **overrides: Any) -> Any:
    from transformers import LlamaConfig

    values: dict[str, Any] = dict(
        vocab_size=len(tokenizer), hidden_size=HIDDEN, intermediate_size=2 * HIDDEN, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, head_dim=HIDDEN // 2, max_position_embeddings=2048,
        **_ids(tokenizer),
    )
    values.update(overrides)
    return LlamaConfig(**values)


def _clip_vision(image_size: int = IMAGE, patch: int = 8) -> Any:
    from transformers import CLIPVisionConfig

    return CLIPVisionConfig(hidden_size=HIDDEN, intermediate_size=2 * HIDDEN, num_hidden_layers=1,
                            num_attention_heads=2, image_size=image_size, patch_size=patch, projection_dim=HIDDEN)


def _siglip_vision(image_size: int = IMAGE, patch: int = 8) -> Any:
    from transformers import SiglipVisionConfig

    return SiglipVisionConfig(hidden_size=HIDDEN, intermediate_size=2 * HIDDEN, num_hidden_layers=1,
                              num_attention_heads=2, image_size=image_size, patch_size=patch)


def save(parts: Parts, out: Path) -> Path:
    """`save_pretrained` the model (greedy generation config) and its processor into `out`."""
    from transformers import GenerationConfig

    model, processor, tokenizer = parts
    model.generation_config = GenerationConfig(do_sample=False, **_ids(tokenizer))
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def _pil(name: str) -> Any:
    """The PIL-backend image processor class (no torchvision needed), or the plain one on older versions."""
    import transformers

    return getattr(transformers, f"{name}Pil", None) or getattr(transformers, name)


# --- one maker per architecture: (model, processor, tokenizer), all in memory -----------------


def make_llava() -> Parts:
    from transformers import LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    tokenizer = train_tokenizer(["<image>"], extra_special={"image_token": "<image>"})
    image_processor = _pil("CLIPImageProcessor")(size={"shortest_edge": IMAGE},
                                                 crop_size={"height": IMAGE, "width": IMAGE})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=8,
                               vision_feature_select_strategy="default", num_additional_image_tokens=1,
                               chat_template=chat_template("<image>\\n"))
    config = LlavaConfig(vision_config=_clip_vision(), text_config=_llama(tokenizer),
                         image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                         image_seq_length=(IMAGE // 8) ** 2, vision_feature_layer=-1,
                         vision_feature_select_strategy="default")
    return LlavaForConditionalGeneration(config), processor, tokenizer


def make_llava_next() -> Parts:
    from transformers import LlavaNextConfig, LlavaNextForConditionalGeneration, LlavaNextProcessor

    tokenizer = train_tokenizer(["<image>"], extra_special={"image_token": "<image>"})
    pinpoints = [[IMAGE, 2 * IMAGE], [2 * IMAGE, IMAGE], [2 * IMAGE, 2 * IMAGE]]
    image_processor = _pil("LlavaNextImageProcessor")(
        size={"shortest_edge": IMAGE}, crop_size={"height": IMAGE, "width": IMAGE},
        image_grid_pinpoints=pinpoints)
    processor = LlavaNextProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=8,
                                   vision_feature_select_strategy="default", num_additional_image_tokens=1,
                                   chat_template=chat_template("<image>\\n"))
    config = LlavaNextConfig(vision_config=_clip_vision(), text_config=_llama(tokenizer),
                             image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                             image_grid_pinpoints=pinpoints, image_seq_length=(IMAGE // 8) ** 2,
                             vision_feature_layer=-1, vision_feature_select_strategy="default")
    return LlavaNextForConditionalGeneration(config), processor, tokenizer


_QWEN_SPECIAL = ("<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
                 "<|video_pad|>", "<|endoftext|>")
_QWEN_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'image' -%}{{ '<|vision_start|><|image_pad|><|vision_end|>' }}"
    "{%- elif item['type'] == 'text' -%}{{ item['text'] }}"
    "{%- endif -%}{%- endfor -%}{%- endif -%}"
    "{{ '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)


def _qwen_processor(processor_class: Any) -> tuple[Any, Any]:
    tokenizer = train_tokenizer(_QWEN_SPECIAL, bos="<|im_start|>", eos="<|im_end|>", pad="<|endoftext|>",
                                extra_special={"image_token": "<|image_pad|>", "video_token": "<|video_pad|>"})
    # 32 px images, 8 px patches, 2x2 merge: the smallest image is 16x16 px, i.e. one token.
    image_processor = _pil("Qwen2VLImageProcessor")(min_pixels=16 * 16, max_pixels=64 * 64, patch_size=8,
                                                    merge_size=2, temporal_patch_size=2)
    processor = processor_class(image_processor=image_processor, tokenizer=tokenizer,
                                chat_template=_QWEN_TEMPLATE)
    return processor, tokenizer


def _qwen_token_ids(tokenizer: Any) -> dict[str, int]:
    convert = tokenizer.convert_tokens_to_ids
    return {"image_token_id": convert("<|image_pad|>"), "video_token_id": convert("<|video_pad|>"),
            "vision_start_token_id": convert("<|vision_start|>"), "vision_end_token_id": convert("<|vision_end|>")}


def _qwen_text(tokenizer: Any, config_class: Any) -> Any:
    # mrope_section splits head_dim / 2 = 8 rotary frequencies over (time, height, width).
    return config_class(vocab_size=len(tokenizer), hidden_size=HIDDEN, intermediate_size=2 * HIDDEN,
                        num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                        max_position_embeddings=2048,
                        rope_parameters={"rope_type": "default", "mrope_section": [2, 3, 3],
                                         "rope_theta": 10000.0},
                        **_ids(tokenizer))


def make_qwen2_vl() -> Parts:
    from transformers import (
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLProcessor,
        Qwen2VLTextConfig,
        Qwen2VLVisionConfig,
    )

    processor, tokenizer = _qwen_processor(Qwen2VLProcessor)
    vision = Qwen2VLVisionConfig(depth=1, embed_dim=HIDDEN, hidden_size=HIDDEN, num_heads=2, patch_size=8,
                                 spatial_merge_size=2, temporal_patch_size=2)
    config = Qwen2VLConfig(text_config=_qwen_text(tokenizer, Qwen2VLTextConfig), vision_config=vision,
                           **_qwen_token_ids(tokenizer))
    return Qwen2VLForConditionalGeneration(config), processor, tokenizer


def make_qwen2_5_vl() -> Parts:
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2_5_VLTextConfig,
        Qwen2_5_VLVisionConfig,
    )

    processor, tokenizer = _qwen_processor(Qwen2_5_VLProcessor)
    vision = Qwen2_5_VLVisionConfig(depth=2, hidden_size=HIDDEN, intermediate_size=2 * HIDDEN, num_heads=2,
                                    patch_size=8, spatial_merge_size=2, temporal_patch_size=2,
                                    window_size=32, out_hidden_size=HIDDEN, fullatt_block_indexes=[1])
    config = Qwen2_5_VLConfig(text_config=_qwen_text(tokenizer, Qwen2_5_VLTextConfig), vision_config=vision,
                              **_qwen_token_ids(tokenizer))
    return Qwen2_5_VLForConditionalGeneration(config), processor, tokenizer


_IDEFICS_SPECIAL = ("<image>", "<fake_token_around_image>", "<global-img>", "<end_of_utterance>",
                    *(f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)))


def _idefics_parts(image_processor_name: str) -> tuple[Any, Any, int]:
    tokenizer = train_tokenizer(_IDEFICS_SPECIAL, bos="<|im_start|>", eos="<end_of_utterance>",
                                extra_special={"image_token": "<image>",
                                               "fake_image_token": "<fake_token_around_image>",
                                               "global_image_token": "<global-img>",
                                               "end_of_utterance_token": "<end_of_utterance>"})
    # Images are resized to 64 px on the long side and split into 32 px tiles plus a global view,
    # so the row/column tokens of the splitting path are exercised too.
    image_processor = _pil(image_processor_name)(size={"longest_edge": 2 * IMAGE},
                                                 max_image_size={"longest_edge": IMAGE})
    image_seq_len = (IMAGE // 8) ** 2 // 4  # 8 px patches, pixel shuffle with scale factor 2
    return tokenizer, image_processor, image_seq_len


def _idefics_vision(config_class: Any) -> Any:
    return config_class(hidden_size=HIDDEN, intermediate_size=2 * HIDDEN, num_hidden_layers=1,
                        num_attention_heads=2, image_size=IMAGE, patch_size=8)


def make_idefics3() -> Parts:
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3Processor,
        Idefics3VisionConfig,
    )

    tokenizer, image_processor, seq_len = _idefics_parts("Idefics3ImageProcessor")
    processor = Idefics3Processor(image_processor=image_processor, tokenizer=tokenizer, image_seq_len=seq_len,
                                  chat_template=chat_template("<image>", bos="<|im_start|>", user="User",
                                                              assistant="Assistant"))
    config = Idefics3Config(text_config=_llama(tokenizer), vision_config=_idefics_vision(Idefics3VisionConfig),
                            image_token_id=tokenizer.convert_tokens_to_ids("<image>"), scale_factor=2,
                            pad_token_id=tokenizer.pad_token_id)
    return Idefics3ForConditionalGeneration(config), processor, tokenizer


def make_smolvlm(video_processor: Any = None) -> Parts:
    from transformers import (
        SmolVLMConfig,
        SmolVLMForConditionalGeneration,
        SmolVLMProcessor,
        SmolVLMVideoProcessor,
        SmolVLMVisionConfig,
    )

    tokenizer, image_processor, seq_len = _idefics_parts("SmolVLMImageProcessor")
    processor = SmolVLMProcessor(image_processor=image_processor, tokenizer=tokenizer,
                                 video_processor=video_processor or SmolVLMVideoProcessor(),
                                 image_seq_len=seq_len,
                                 chat_template=chat_template("<image>", bos="<|im_start|>", user="User",
                                                             assistant="Assistant"))
    config = SmolVLMConfig(text_config=_llama(tokenizer), vision_config=_idefics_vision(SmolVLMVisionConfig),
                           image_token_id=tokenizer.convert_tokens_to_ids("<image>"), scale_factor=2,
                           pad_token_id=tokenizer.pad_token_id)
    return SmolVLMForConditionalGeneration(config), processor, tokenizer


def make_paligemma() -> Parts:
    from transformers import (
        GemmaConfig,
        PaliGemmaConfig,
        PaliGemmaForConditionalGeneration,
        PaliGemmaProcessor,
    )

    tokenizer = train_tokenizer(["<image>"], bos="<bos>", eos="<eos>",
                                extra_special={"image_token": "<image>"})
    image_processor = _pil("SiglipImageProcessor")(size={"height": IMAGE, "width": IMAGE})
    image_processor.image_seq_length = (IMAGE // 8) ** 2
    # No chat template: PaliGemma checkpoints take "<image>...<bos>{prompt}\n" (the processor's job).
    processor = PaliGemmaProcessor(image_processor=image_processor, tokenizer=tokenizer)
    text = GemmaConfig(vocab_size=len(tokenizer), hidden_size=HIDDEN, intermediate_size=2 * HIDDEN,
                       num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, head_dim=HIDDEN // 2,
                       max_position_embeddings=2048, **_ids(tokenizer))
    config = PaliGemmaConfig(vision_config=_siglip_vision(), text_config=text, projection_dim=HIDDEN,
                             hidden_size=HIDDEN, image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                             vocab_size=len(tokenizer))
    return PaliGemmaForConditionalGeneration(config), processor, tokenizer


_DEEPSEEK_TEMPLATE_ARGS = {"image": "<image_placeholder>", "bos": "<｜begin▁of▁sentence｜>"}


def _deepseek_tokenizer() -> Any:
    return train_tokenizer(["<image_placeholder>"], bos="<｜begin▁of▁sentence｜>", eos="<｜end▁of▁sentence｜>",
                           extra_special={"image_token": "<image_placeholder>"})


def make_deepseek_vl() -> Parts:
    from transformers import DeepseekVLConfig, DeepseekVLForConditionalGeneration, DeepseekVLProcessor

    tokenizer = _deepseek_tokenizer()
    image_processor = _pil("DeepseekVLImageProcessor")(size={"height": IMAGE, "width": IMAGE})
    processor = DeepseekVLProcessor(image_processor=image_processor, tokenizer=tokenizer,
                                    chat_template=chat_template(**_DEEPSEEK_TEMPLATE_ARGS),
                                    num_image_tokens=(IMAGE // 8) ** 2)
    config = DeepseekVLConfig(text_config=_llama(tokenizer), vision_config=_siglip_vision(),
                              image_token_id=tokenizer.convert_tokens_to_ids("<image_placeholder>"))
    return DeepseekVLForConditionalGeneration(config), processor, tokenizer


def make_deepseek_vl_hybrid() -> Parts:
    from transformers import (
        DeepseekVLHybridConfig,
        DeepseekVLHybridForConditionalGeneration,
        DeepseekVLHybridProcessor,
        SamVisionConfig,
    )

    tokenizer = _deepseek_tokenizer()
    image_processor = _pil("DeepseekVLHybridImageProcessor")(
        size={"height": IMAGE, "width": IMAGE}, high_res_size={"height": 2 * IMAGE, "width": 2 * IMAGE})
    processor = DeepseekVLHybridProcessor(image_processor=image_processor, tokenizer=tokenizer,
                                          chat_template=chat_template(**_DEEPSEEK_TEMPLATE_ARGS),
                                          num_image_tokens=(IMAGE // 8) ** 2)
    high_res = SamVisionConfig(hidden_size=HIDDEN, output_channels=16, num_hidden_layers=2,
                               num_attention_heads=2, image_size=2 * IMAGE, patch_size=8, window_size=4,
                               global_attn_indexes=[1], mlp_dim=2 * HIDDEN)
    config = DeepseekVLHybridConfig(text_config=_llama(tokenizer), vision_config=_siglip_vision(),
                                    high_res_vision_config=high_res,
                                    image_token_id=tokenizer.convert_tokens_to_ids("<image_placeholder>"))
    return DeepseekVLHybridForConditionalGeneration(config), processor, tokenizer


def make_florence2() -> Parts:
    from transformers import (
        BartConfig,
        Florence2Config,
        Florence2ForConditionalGeneration,
        Florence2Processor,
        Florence2VisionConfig,
    )

    tokenizer = train_tokenizer(["<image>"], extra_special={"image_token": "<image>"})
    image_processor = _pil("CLIPImageProcessor")(size={"height": IMAGE, "width": IMAGE}, do_center_crop=False)
    vision = Florence2VisionConfig(depths=[1, 1], patch_size=[7, 3], patch_stride=[4, 2], patch_padding=[3, 1],
                                   patch_prenorm=[False, True], embed_dim=[16, HIDDEN], num_heads=[1, 2],
                                   num_groups=[1, 2], window_size=2, projection_dim=HIDDEN,
                                   drop_path_rate=0.0)
    image_processor.image_seq_length = (IMAGE // 8) ** 2 + 1  # 4x4 grid plus the pooled token
    processor = Florence2Processor(image_processor=image_processor, tokenizer=tokenizer)
    text = BartConfig(vocab_size=len(tokenizer), d_model=HIDDEN, encoder_layers=1, decoder_layers=1,
                      encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=2 * HIDDEN,
                      decoder_ffn_dim=2 * HIDDEN, max_position_embeddings=256,
                      decoder_start_token_id=tokenizer.eos_token_id, forced_eos_token_id=None,
                      **_ids(tokenizer))
    config = Florence2Config(vision_config=vision, text_config=text,
                             image_token_id=tokenizer.convert_tokens_to_ids("<image>"))
    return Florence2ForConditionalGeneration(config), processor, tokenizer


@dataclass(frozen=True)
class Architecture:
    """One row of the compatibility matrix (and of docs/models.md's table)."""

    name: str  # as docs/models.md names it
    model_class: str  # the transformers class the checkpoint loads as
    make: Callable[..., Parts]  # keyword arguments replace parts (SmolVLM's video processor)
    prompt_style: str = "chat"  # how the real checkpoints take prompts: a chat template, or plain text
    requires: tuple[str, ...] = ()  # Python packages its processor needs beyond vlmeval's own
    image_only: bool = False  # its processor refuses prompts without an image
    notes: str = ""
    several_images: bool | None = None  # takes two images in one prompt (tests/backends/test_transformers_architectures.py checks)

    def missing(self) -> list[str]:
        import importlib.util

        return [name for name in self.requires if importlib.util.find_spec(name) is None]


_VIDEO = "needs `torchvision`: transformers builds its processor (it has a video processor) only with it"
ARCHITECTURES: tuple[Architecture, ...] = (
    Architecture("LLaVA-1.5", "LlavaForConditionalGeneration", make_llava, several_images=True,
                 notes="`--prompt-style vicuna_v1` for original-LLaVA-format checkpoints"),
    Architecture("LLaVA-NeXT", "LlavaNextForConditionalGeneration", make_llava_next, several_images=True,
                 notes="any-resolution tiles"),
    Architecture("Qwen2-VL", "Qwen2VLForConditionalGeneration", make_qwen2_vl,
                 several_images=True, requires=("torchvision",),
                 notes=_VIDEO),
    Architecture("Qwen2.5-VL", "Qwen2_5_VLForConditionalGeneration", make_qwen2_5_vl,
                 several_images=True, requires=("torchvision",),
                 notes=_VIDEO),
    Architecture("Idefics3", "Idefics3ForConditionalGeneration", make_idefics3, several_images=True,
                 notes="images split into tiles plus a global view"),
    Architecture("SmolVLM", "SmolVLMForConditionalGeneration", make_smolvlm, several_images=True,
                 requires=("torchvision", "num2words"), notes=_VIDEO + "; and `num2words`"),
    Architecture("PaliGemma", "PaliGemmaForConditionalGeneration", make_paligemma,
                 several_images=True, prompt_style="plain",
                 image_only=True, notes="no chat template; text-only samples are recorded as errors"),
    Architecture("DeepSeek-VL", "DeepseekVLForConditionalGeneration", make_deepseek_vl, several_images=True),
    Architecture("DeepSeek-VL-Hybrid", "DeepseekVLHybridForConditionalGeneration", make_deepseek_vl_hybrid,
                 several_images=True,
                 notes="SigLIP and SAM towers"),
    Architecture("Florence-2", "Florence2ForConditionalGeneration", make_florence2,
                 several_images=False, prompt_style="plain",
                 notes="encoder-decoder; no chat template, the task text is the prompt; `task_token` sends a caption "
                 "task's `<CAPTION>` (tests/tasks/test_task_token.py)"),
)
BY_NAME = {arch.name: arch for arch in ARCHITECTURES}

_ROOT: list[Path] = []


def checkpoint(arch: Architecture) -> Path:
    """The architecture's tiny checkpoint, built once per test session in a temporary folder."""
    if not _ROOT:
        _ROOT.append(Path(tempfile.mkdtemp(prefix="vlmeval-tiny-")))
        atexit.register(shutil.rmtree, _ROOT[0], True)
    out = _ROOT[0] / arch.name
    if not (out / "config.json").is_file():
        save(arch.make(), out)
    return out
