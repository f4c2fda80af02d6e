"""Image captioning: COCO 2017 val, COCO Karpathy test and NoCaps val, scored as the COCO caption
server scores (pycocoevalcap 1.2: PTB tokenizer, BLEU-1..4, METEOR 1.5, ROUGE-L, CIDEr-D; see
`_captions.py` for what is corpus-level and the deviations).

Datasets: lmms-lab/COCO-Caption2017 val (5,000 images, the images and 5+ references in the rows; id
`question_id`); yerevann/coco-karpathy test (5,000 images of COCO val2014, references in `sentences`;
the rows hold only a URL, so images are read from a local COCO val2014 folder named by
$VLMEVAL_COCO_IMAGES; id = the COCO image id in `filename`, as lmms-eval reads it); lmms-lab/NoCaps
validation (4,500 images, 10 references; id `image_id`; in/near/out-domain cannot be split: the hub
rows carry no domain) and test (10,600, references hidden).
Prompts: lmms-eval's (`Provide a one-sentence caption for the provided image.` for COCO 2017 and
NoCaps, `Describe the image briefly.` for Karpathy); max_new_tokens 64. Task-token models get
`<CAPTION>` (`--prompt-style task_token`, Florence-2's card).
`nocaps_test` writes EvalAI's `submission.json` (`[{"image_id": int, "caption": str}]`, every image).
Reference (Florence-2 card, CIDEr): COCO Karpathy test 133.0 / 135.6 (base / large, zero-shot),
140.0 / 143.3 (-ft); NoCaps val 118.7 / 120.8, 116.7 / 124.9 (-ft).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vlmeval_tasks._captions import METRICS, SPICE_NOTE, score_captions, without_line_breaks
from vlmeval_tasks._vqa_common import write_submission

from vlmeval.demo_data import image_cell, png_bytes
from vlmeval.image import LazyImage
from vlmeval.errors import ImageError
from vlmeval.task import DataSpec, Row, Sample, ScoreContext, Task, task
from vlmeval.column_checks import Strings, Text

ONE_SENTENCE = "Provide a one-sentence caption for the provided image."
BRIEFLY = "Describe the image briefly."
TASK_TOKEN = "<CAPTION>"
COCO_IMAGES_ENV = "VLMEVAL_COCO_IMAGES"


def caption_sample(sample_id: str, image: Any, prompt: str, references: Any) -> Sample:
    return Sample(id=sample_id, text=prompt, images=(image,) if image is not None else (),
                  target=[str(r) for r in references] if references is not None and len(references) else None,
                  meta={"task_token": TASK_TOKEN})


def coco2017_sample(row: Row, index: int) -> Sample:
    return caption_sample(str(row["question_id"]), row.get("image"), ONE_SENTENCE, row["answer"])


def nocaps_sample(row: Row, index: int) -> Sample:
    return caption_sample(str(row["image_id"]), row.get("image"), ONE_SENTENCE, row["annotations_captions"])


def coco_image_id(filename: str) -> int:
    """`COCO_val2014_000000391895.jpg` -> 391895 (lmms-eval's reading)."""
    return int(filename.split("_")[-1].split(".")[0])


def local_coco_image(filename: str) -> LazyImage:
    """An image of the local COCO val2014 folder, looked up when the image is loaded."""

    def fetch() -> dict[str, Any]:
        folder = os.environ.get(COCO_IMAGES_ENV)
        if not folder:
            raise ImageError(f"{filename}: the Karpathy rows hold no images; set {COCO_IMAGES_ENV} to your "
                             "COCO val2014 image folder")
        return {"bytes": None, "path": str(Path(folder).expanduser() / filename)}

    return LazyImage(fetch, f"{COCO_IMAGES_ENV}/{filename}")


def karpathy_sample(row: Row, index: int) -> Sample:
    filename = str(row["filename"])
    return caption_sample(str(coco_image_id(filename)), local_coco_image(filename), BRIEFLY, row["sentences"])


def write_evalai_captions(samples: Sequence[Sample], predictions: Sequence[str | None],
                          context: ScoreContext) -> list[str]:
    """EvalAI's nocaps submission: every image once, the caption as scored ("" where none)."""
    entries = [{"image_id": int(s.id), "caption": without_line_breaks((p or "").strip())[0]}
               for s, p in zip(samples, predictions, strict=True)]
    return write_submission(context.output_folder, entries)


def summary_line(metrics: Mapping[str, float], n_samples: int) -> str:
    names = ("bleu_4", "meteor", "rouge_l", "cider")
    shown = ", ".join(f"{name.upper()} {metrics[name]:.1f}" for name in names if name in metrics)
    spice = f", SPICE {metrics['spice']:.1f}" if "spice" in metrics else f"\n{SPICE_NOTE}"
    return f"{n_samples} images: {shown}{spice}"


def _refs(n: int) -> list[str]:
    return ["A red square on a plain background.", "a red block", "A square that is red.",
            "red tile", "A small red square."][:n]


def coco2017_demo() -> list[dict[str, Any]]:
    return [{"question_id": f"{139 + i}.jpg", "image": image_cell(png_bytes((200, 30 * i, 30))), "question": ONE_SENTENCE,
             "answer": _refs(5), "id": 139 + i, "license": 2, "file_name": f"{139 + i:012d}.jpg",
             "coco_url": "http://images.cocodataset.org/val2017/x.jpg", "height": 32, "width": 32,
             "date_captured": "2013-11-21 01:34:01"} for i in range(3)]


def karpathy_demo() -> list[dict[str, Any]]:
    return [{"filepath": "val2014", "sentids": [770337 + 5 * i + k for k in range(5)],
             "filename": f"COCO_val2014_{391895 + i:012d}.jpg", "imgid": i, "split": "test",
             "sentences": _refs(5), "cocoid": 391895 + i,
             "url": f"http://images.cocodataset.org/val2014/COCO_val2014_{391895 + i:012d}.jpg"} for i in range(3)]


def nocaps_demo(answered: bool = True) -> list[dict[str, Any]]:
    return [{"image": image_cell(png_bytes((200, 30, 30 * i))), "image_coco_url": "https://x/0013ea2087020901.jpg",
             "image_date_captured": "2018-11-06 11:04:33", "image_file_name": f"{i:016x}.jpg",
             "image_height": 32, "image_width": 32, "image_id": i, "image_license": 0,
             "image_open_images_id": f"{i:016x}", "annotations_ids": list(range(10 * i, 10 * i + 10)),
             "annotations_captions": _refs(5) * 2 if answered else []} for i in range(3)]


def _caption_task(name: str, description: str, data: DataSpec, to_sample: Any, demo: Any,
                  artifacts: Any = None) -> Task:
    return Task(description=description, data=data, to_sample=to_sample, scorer=score_captions,
                metrics=METRICS, max_new_tokens=64, summary_line=summary_line, demo_rows=demo,
                write_artifacts=artifacts)


@task("coco2017_cap_val")
def coco2017_cap_val() -> Task:
    return _caption_task(
        "coco2017_cap_val", "COCO 2017 val captions, lmms-eval prompt, pycocoevalcap (CIDEr-D)",
        DataSpec(hub="lmms-lab/COCO-Caption2017", split="val", size=5000, columns=("question_id", "answer"),
                 checks=(Strings("answer"),)),
        coco2017_sample, coco2017_demo)


@task("coco_karpathy_test")
def coco_karpathy_test() -> Task:
    return _caption_task(
        "coco_karpathy_test", "COCO Karpathy test captions (images from $VLMEVAL_COCO_IMAGES), pycocoevalcap",
        DataSpec(hub="yerevann/coco-karpathy", split="test", size=5000, columns=("filename", "sentences"),
                 image_column=None, checks=(Text("filename"), Strings("sentences"))),
        karpathy_sample, karpathy_demo)


def _nocaps(name: str, split: str, size: int) -> Task:
    answered = split == "validation"
    return _caption_task(
        name, f"NoCaps {split} captions, lmms-eval prompt, pycocoevalcap (CIDEr-D)"
        + ("" if answered else " (EvalAI submission)"),
        DataSpec(hub="lmms-lab/NoCaps", split=split, size=size, columns=("image_id", "annotations_captions"),
                 checks=(Strings("annotations_captions", nullable=not answered),)),
        nocaps_sample, lambda: nocaps_demo(answered), None if answered else write_evalai_captions)


@task("nocaps_val")
def nocaps_val() -> Task:
    return _nocaps("nocaps_val", "validation", 4500)


@task("nocaps_test")
def nocaps_test() -> Task:
    return _nocaps("nocaps_test", "test", 10600)
