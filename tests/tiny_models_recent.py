"""Tiny random checkpoints of the image-text-to-text families released in 2024-2025 (tests/tiny_models.py's way).

Same recipe: the real model class from a config (one or two layers, hidden size 32, 32 px images), the
real processor class with a byte-level BPE tokenizer trained on the spot, a minimal chat template of
the usual shape, `save_pretrained`. Processors that transformers builds only with `torchvision` (they
carry a video processor, or are marked as needing it) are built in memory with a stand-in video
processor, as for Qwen2-VL (`tests/backends/test_transformers_architectures.py`).
"""

from __future__ import annotations

import types
from typing import Any

from tests.tiny_models import (
    HIDDEN,
    IMAGE,
    Architecture,
    Parts,
    _ids,
    _llama,
    _pil,
    _siglip_vision,
    chat_template,
    train_tokenizer,
)


def make_gemma3() -> Parts:
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3Processor, Gemma3TextConfig

    tokenizer = train_tokenizer(["<start_of_image>", "<end_of_image>", "<image_soft_token>"], bos="<bos>", eos="<eos>",
                                extra_special={"image_token": "<image_soft_token>", "boi_token": "<start_of_image>",
                                               "eoi_token": "<end_of_image>"})
    image_processor = _pil("Gemma3ImageProcessor")(size={"height": IMAGE, "width": IMAGE})
    # The template writes <start_of_image> per image; the processor expands it to the image's tokens.
    processor = Gemma3Processor(image_processor=image_processor, tokenizer=tokenizer, image_seq_length=4,
                                chat_template=chat_template("<start_of_image>", bos="<bos>"))
    text = Gemma3TextConfig(vocab_size=len(tokenizer), hidden_size=HIDDEN, intermediate_size=2 * HIDDEN,
                            num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, head_dim=HIDDEN // 2,
                            max_position_embeddings=2048, sliding_window=64, **_ids(tokenizer))
    convert = tokenizer.convert_tokens_to_ids
    config = Gemma3Config(text_config=text, vision_config=_siglip_vision(), mm_tokens_per_image=4,
                          boi_token_index=convert("<start_of_image>"), eoi_token_index=convert("<end_of_image>"),
                          image_token_index=convert("<image_soft_token>"))
    return Gemma3ForConditionalGeneration(config), processor, tokenizer


_AYA_SPECIAL = ("<image>", "<|START_OF_IMG|>", "<|END_OF_IMG|>", "<|IMG_PATCH|>", "<|IMG_LINE_BREAK|>")


def make_aya_vision() -> Parts:
    from transformers import (
        AyaVisionConfig,
        AyaVisionForConditionalGeneration,
        AyaVisionProcessor,
        Cohere2Config,
    )

    tokenizer = train_tokenizer(_AYA_SPECIAL, bos="<BOS_TOKEN>", eos="<EOS_TOKEN>", extra_special={"image_token": "<image>"})
    # Up to two 32 px tiles per image plus a global view; 8 px patches pixel-shuffled by 2: 4 tokens a tile.
    image_processor = _pil("GotOcr2ImageProcessor")(size={"height": IMAGE, "width": IMAGE}, crop_to_patches=True,
                                                    min_patches=1, max_patches=2)
    processor = AyaVisionProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=16, img_size=IMAGE,
                                   downsample_factor=1, chat_template=chat_template("<image>", bos="<BOS_TOKEN>"))
    text = Cohere2Config(vocab_size=len(tokenizer), hidden_size=HIDDEN, intermediate_size=2 * HIDDEN,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, head_dim=HIDDEN // 2,
                         max_position_embeddings=2048, sliding_window=64, **_ids(tokenizer))
    config = AyaVisionConfig(text_config=text, vision_config=_siglip_vision(), downsample_factor=2,
                             image_token_index=tokenizer.convert_tokens_to_ids("<|IMG_PATCH|>"))
    return AyaVisionForConditionalGeneration(config), processor, tokenizer


def make_mllama() -> Parts:
    from transformers import (
        MllamaConfig,
        MllamaForConditionalGeneration,
        MllamaProcessor,
        MllamaTextConfig,
        MllamaVisionConfig,
    )

    tokenizer = train_tokenizer(["<|image|>", "<|python_tag|>"], bos="<|begin_of_text|>", eos="<|eot_id|>",
                                extra_special={"image_token": "<|image|>"})
    image_processor = _pil("MllamaImageProcessor")(size={"height": IMAGE, "width": IMAGE}, max_image_tiles=2)
    processor = MllamaProcessor(image_processor=image_processor, tokenizer=tokenizer,
                                chat_template=chat_template("<|image|>", bos="<|begin_of_text|>"))
    vision = MllamaVisionConfig(hidden_size=HIDDEN, num_hidden_layers=1, num_global_layers=1, attention_heads=2,
                                intermediate_size=2 * HIDDEN, vision_output_dim=2 * HIDDEN, image_size=IMAGE,
                                patch_size=8, max_num_tiles=2, intermediate_layers_indices=[0],
                                supported_aspect_ratios=[[1, 1], [1, 2], [2, 1]])
    # Images reach the text through cross-attention layers (here the second of two).
    text = MllamaTextConfig(vocab_size=len(tokenizer), hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=2,
                            num_key_value_heads=2, intermediate_size=2 * HIDDEN, max_position_embeddings=2048,
                            cross_attention_layers=[1], **_ids(tokenizer))
    config = MllamaConfig(vision_config=vision, text_config=text,
                          image_token_index=tokenizer.convert_tokens_to_ids("<|image|>"))
    return MllamaForConditionalGeneration(config), processor, tokenizer


def make_llava_onevision(video_processor: Any = None) -> Parts:
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionProcessor,
    )

    tokenizer = train_tokenizer(["<image>", "<video>"], extra_special={"image_token": "<image>", "video_token": "<video>"})
    pinpoints = [[IMAGE, IMAGE], [IMAGE, 2 * IMAGE], [2 * IMAGE, IMAGE]]
    image_processor = _pil("LlavaOnevisionImageProcessor")(size={"height": IMAGE, "width": IMAGE},
                                                           image_grid_pinpoints=pinpoints)
    processor = LlavaOnevisionProcessor(image_processor=image_processor, tokenizer=tokenizer,
                                        video_processor=video_processor or _video_processor("LlavaOnevision"),
                                        num_image_tokens=(IMAGE // 8) ** 2, vision_feature_select_strategy="full",
                                        chat_template=chat_template("<image>\\n"))
    convert = tokenizer.convert_tokens_to_ids
    config = LlavaOnevisionConfig(vision_config=_siglip_vision(), text_config=_llama(tokenizer),
                                  image_token_index=convert("<image>"), video_token_index=convert("<video>"),
                                  image_grid_pinpoints=pinpoints, vision_feature_select_strategy="full",
                                  vision_feature_layer=-1)
    return LlavaOnevisionForConditionalGeneration(config), processor, tokenizer


def make_qwen3_vl(video_processor: Any = None) -> Parts:
    from transformers import (
        Qwen3VLConfig,
        Qwen3VLForConditionalGeneration,
        Qwen3VLProcessor,
        Qwen3VLTextConfig,
        Qwen3VLVisionConfig,
    )

    from tests.tiny_models import _QWEN_SPECIAL, _QWEN_TEMPLATE, _qwen_token_ids

    tokenizer = train_tokenizer(_QWEN_SPECIAL, bos="<|im_start|>", eos="<|im_end|>", pad="<|endoftext|>",
                                extra_special={"image_token": "<|image_pad|>", "video_token": "<|video_pad|>"})
    image_processor = _pil("Qwen2VLImageProcessor")(min_pixels=16 * 16, max_pixels=64 * 64, patch_size=8,
                                                    merge_size=2, temporal_patch_size=2)
    processor = Qwen3VLProcessor(image_processor=image_processor, tokenizer=tokenizer, chat_template=_QWEN_TEMPLATE,
                                 video_processor=video_processor or _video_processor("Qwen3VL"))
    # DeepStack: features of vision layer 0 are added to the first text layer's input too.
    vision = Qwen3VLVisionConfig(depth=2, hidden_size=HIDDEN, intermediate_size=2 * HIDDEN, num_heads=2, patch_size=8,
                                 spatial_merge_size=2, temporal_patch_size=2, out_hidden_size=HIDDEN,
                                 num_position_embeddings=64, deepstack_visual_indexes=[0])
    text = Qwen3VLTextConfig(vocab_size=len(tokenizer), hidden_size=HIDDEN, intermediate_size=2 * HIDDEN,
                             num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2, head_dim=HIDDEN // 2,
                             max_position_embeddings=2048, pad_token_id=tokenizer.pad_token_id,
                             rope_parameters={"rope_type": "default", "mrope_section": [2, 3, 3],
                                              "rope_theta": 10000.0, "mrope_interleaved": True})
    config = Qwen3VLConfig(text_config=text, vision_config=vision, **_qwen_token_ids(tokenizer))
    return Qwen3VLForConditionalGeneration(config), processor, tokenizer


def make_internvl(video_processor: Any = None) -> Parts:
    from transformers import (
        InternVLConfig,
        InternVLForConditionalGeneration,
        InternVLProcessor,
        InternVLVisionConfig,
        Qwen2Config,
    )

    special = ("<img>", "</img>", "<IMG_CONTEXT>", "<video>", "<|im_start|>", "<|im_end|>")
    tokenizer = train_tokenizer(special, bos="<|im_start|>", eos="<|im_end|>",
                                extra_special={"start_image_token": "<img>", "end_image_token": "</img>",
                                               "context_image_token": "<IMG_CONTEXT>", "video_token": "<video>"})
    image_processor = _pil("GotOcr2ImageProcessor")(size={"height": IMAGE, "width": IMAGE}, crop_to_patches=True,
                                                    min_patches=1, max_patches=2)
    # 16 patches of 8 px per 32 px tile, pixel-shuffled by 0.5: 4 context tokens a tile.
    processor = InternVLProcessor(image_processor=image_processor, tokenizer=tokenizer, image_seq_length=4,
                                  video_processor=video_processor or _video_processor("InternVL"),
                                  chat_template=chat_template("<IMG_CONTEXT>\n", bos="<|im_start|>"))
    vision = InternVLVisionConfig(hidden_size=HIDDEN, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=2 * HIDDEN, image_size=[IMAGE, IMAGE], patch_size=[8, 8])
    text = Qwen2Config(vocab_size=len(tokenizer), hidden_size=HIDDEN, intermediate_size=2 * HIDDEN, num_hidden_layers=1,
                       num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=2048, **_ids(tokenizer))
    config = InternVLConfig(vision_config=vision, text_config=text, image_seq_length=4,
                            image_token_id=tokenizer.convert_tokens_to_ids("<IMG_CONTEXT>"))
    return InternVLForConditionalGeneration(config), processor, tokenizer


_GLM_SPECIAL = ("<|begin_of_image|>", "<|end_of_image|>", "<|image|>", "<|begin_of_video|>", "<|end_of_video|>",
                "<|video|>", "[gMASK]", "<|endoftext|>")


def make_glm4v(video_processor: Any = None) -> Parts:
    from transformers import (
        Glm4vConfig,
        Glm4vForConditionalGeneration,
        Glm4vProcessor,
        Glm4vTextConfig,
        Glm4vVisionConfig,
    )

    tokenizer = train_tokenizer(_GLM_SPECIAL, bos="[gMASK]", eos="<|endoftext|>",
                                extra_special={"image_token": "<|image|>", "video_token": "<|video|>"})
    image_processor = _pil("Glm4vImageProcessor")(size={"shortest_edge": 16 * 16, "longest_edge": 64 * 64},
                                                  patch_size=8, merge_size=2, temporal_patch_size=2)
    processor = Glm4vProcessor(image_processor=image_processor, tokenizer=tokenizer,
                               video_processor=video_processor or _video_processor("Glm4v"),
                               chat_template=chat_template("<|begin_of_image|><|image|><|end_of_image|>", bos="[gMASK]"))
    vision = Glm4vVisionConfig(depth=1, hidden_size=HIDDEN, num_heads=2, image_size=IMAGE, patch_size=8,
                               spatial_merge_size=2, temporal_patch_size=2, out_hidden_size=HIDDEN,
                               intermediate_size=2 * HIDDEN)
    # Half of each 16-wide head is rotary: 4 frequencies over (time, height, width).
    text = Glm4vTextConfig(vocab_size=len(tokenizer), hidden_size=HIDDEN, intermediate_size=2 * HIDDEN,
                           num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                           max_position_embeddings=2048, pad_token_id=tokenizer.pad_token_id,
                           rope_parameters={"rope_type": "default", "mrope_section": [1, 1, 2],
                                            "rope_theta": 10000.0, "partial_rotary_factor": 0.5})
    convert = tokenizer.convert_tokens_to_ids
    config = Glm4vConfig(text_config=text, vision_config=vision, image_token_id=convert("<|image|>"),
                         video_token_id=convert("<|video|>"), image_start_token_id=convert("<|begin_of_image|>"),
                         image_end_token_id=convert("<|end_of_image|>"),
                         video_start_token_id=convert("<|begin_of_video|>"),
                         video_end_token_id=convert("<|end_of_video|>"))
    return Glm4vForConditionalGeneration(config), processor, tokenizer


def _video_processor(family: str) -> Any:
    """The family's video processor where torchvision is there; a stand-in (never called) otherwise."""
    import importlib.util

    import transformers

    if importlib.util.find_spec("torchvision") is not None:
        return getattr(transformers, f"{family}VideoProcessor")()
    return types.SimpleNamespace()


_VIDEO = "needs `torchvision`: transformers builds its processor (it has a video processor) only with it"
RECENT: tuple[Architecture, ...] = (
    Architecture("Qwen3-VL", "Qwen3VLForConditionalGeneration", make_qwen3_vl, requires=("torchvision",),
                 several_images=True, notes=_VIDEO + "; DeepStack vision features"),
    Architecture("InternVL", "InternVLForConditionalGeneration", make_internvl, requires=("torchvision",),
                 several_images=True, notes=_VIDEO + "; InternVL3 converted to transformers (`-hf` checkpoints)"),
    Architecture("GLM-4.1V", "Glm4vForConditionalGeneration", make_glm4v, requires=("torchvision",),
                 several_images=True, notes=_VIDEO + "; GLM-4.1V-Thinking reasons in `<think>` blocks"),
    Architecture("Gemma 3", "Gemma3ForConditionalGeneration", make_gemma3, several_images=True,
                 notes="SigLIP tower, pooled to a fixed number of tokens per image"),
    Architecture("Aya Vision", "AyaVisionForConditionalGeneration", make_aya_vision, several_images=True,
                 notes="tiles plus a global view, pixel-shuffled"),
    Architecture("Mllama", "MllamaForConditionalGeneration", make_mllama, several_images=True,
                 notes="Llama 3.2 Vision: images through cross-attention layers; the released checkpoints "
                 "were trained with one image per prompt"),
    Architecture("LLaVA-OneVision", "LlavaOnevisionForConditionalGeneration", make_llava_onevision,
                 requires=("torchvision",), several_images=True, notes=_VIDEO),
)
