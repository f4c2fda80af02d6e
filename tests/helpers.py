"""Small builders for tests: data files in the real hub schemas, images, CLI calls."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

COLORS = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220), "yellow": (230, 230, 30)}


from vlmeval.demo_data import image_cell, png_bytes  # noqa: F401  (re-exported for the tests)


def sqa_row(
    question: str = "Which color fills the picture?",
    choices: Sequence[str] = ("red", "green", "blue", "yellow"),
    answer: int = 0,
    hint: str = "",
    image: bytes | None = None,
    subject: str = "natural science",
    grade: str = "grade3",
) -> dict[str, Any]:
    """One row in the lmms-lab/ScienceQA (ScienceQA-FULL, test) schema."""
    return {
        "image": image_cell(image),
        "question": question,
        "choices": list(choices),
        "answer": answer,
        "hint": hint,
        "task": "closed choice",
        "grade": grade,
        "subject": subject,
        "topic": "colors",
        "category": "Identify colors",
        "skill": "Identify colors",
        "lecture": "",
        "solution": "",
    }


def vqa_row(qid: int, answers: list[str] | None, answer_type: str | None = "other",
            question: str = "What is it?", image: bytes | None = None) -> dict[str, Any]:
    """One row in the lmms-lab/VQAv2 schema; `answers=None` as on the test splits."""
    return {
        "question_type": "what is" if answers is not None else None,
        "multiple_choice_answer": answers[0] if answers else None,
        "answers": None if answers is None else [
            {"answer": a, "answer_confidence": "yes", "answer_id": i + 1} for i, a in enumerate(answers)
        ],
        "image_id": qid // 1000,
        "answer_type": answer_type if answers is not None else None,
        "question_id": qid,
        "question": question,
        "image": image_cell(image),
    }


def vizwiz_row(qid: str, answers: list[str] | None, category: str | None = "other",
               question: str = "What is this?", image: bytes | None = None) -> dict[str, Any]:
    """One row in the lmms-lab/VizWiz-VQA schema; `answers=None` as on the test split."""
    return {"question_id": qid, "image": image_cell(image), "question": question,
            "answers": answers, "category": category}


FINE = "finegrained_perception (instance-level)"


def mmb_row(index: int, question: str, options: Sequence[str | None], answer: str | None = "A",
            hint: Any = None, category: str = "attribute_recognition", l2: str = FINE,
            split: str = "dev") -> dict[str, Any]:
    """One row in the lmms-lab/MMBench schema (the hub's `L2-category`)."""
    cells = list(options) + [None] * (5 - len(options))
    return {"index": index, "question": question, "hint": hint,
            **{letter: cells[i] for i, letter in enumerate("ABCDE")},
            "answer": answer, "category": category, "image": {"bytes": png_bytes(), "path": None},
            "source": "MMBench", "L2-category": l2, "comment": None, "split": split}


def mme_row(question_id: str, question: str, answer: str, category: str) -> dict[str, Any]:
    """One row in the lmms-lab/MME schema."""
    return {"question_id": question_id, "image": {"bytes": png_bytes(), "path": None},
            "question": question, "answer": answer, "category": category}


def mmvet_row(question_id: str, question: str, answer: str, capability: str) -> dict[str, Any]:
    """One row in the lmms-lab/MMVet (test) schema."""
    return {"question_id": question_id, "image": image_cell(png_bytes()), "question": question,
            "answer": answer, "capability": capability, "image_source": "test"}


def pope_row(i: int, category: str, answer: str) -> dict[str, Any]:
    """One row in the lmms-lab/POPE (default, test) schema."""
    return {"id": str(1000 + i), "question_id": str(i % 5), "question": f"Is there a dog in the image? ({i})",
            "answer": answer, "image_source": f"COCO_val2014_{i:012d}", "image": image_cell(png_bytes()),
            "category": category}


GQA_IMAGES = {"n1": "red", "n2": "green", "n3": "blue"}


def gqa_row(i: int, answer: str, structural: str, semantic: str, balanced: bool = True) -> dict[str, Any]:
    """One row of lmms-lab/GQA `testdev_balanced_instructions` (split testdev); from the tenth row
    on, the image (`n404`) is not in the image config."""
    image_id = list(GQA_IMAGES)[i % 3] if i < 9 else "n404"
    return {"id": f"20{i:04d}", "imageId": image_id, "question": f"Question {i}?", "answer": answer,
            "fullAnswer": f"The answer is {answer}.", "isBalanced": balanced,
            "groups": {"global": None, "local": "10c-x"}, "entailed": "", "equivalent": f"20{i:04d}",
            "types": {"structural": structural, "semantic": semantic, "detailed": f"{semantic}Detail"},
            "annotations": {"answer": {"0": "1"}, "fullAnswer": {"0": "1"}, "question": {"0": "1"}},
            "semantic": [{"operation": "select", "argument": "x", "dependencies": []}], "semanticStr": "select: x"}


def gqa_image_rows() -> list[dict[str, Any]]:
    """The rows of lmms-lab/GQA `testdev_balanced_images` for GQA_IMAGES."""
    return [{"id": key, "image": image_cell(png_bytes(COLORS[color]))} for key, color in GQA_IMAGES.items()]


def textvqa_row(i: int, answers: list[str]) -> dict[str, Any]:
    """One row in the lmms-lab/textvqa (validation) schema."""
    return {"image_id": f"img{i}", "question_id": 34602 + i, "question": f"what is written here {i}?",
            "question_tokens": ["what"], "image": image_cell(png_bytes()), "image_width": 32, "image_height": 32,
            "flickr_original_url": "", "flickr_300k_url": "", "answers": answers, "image_classes": ["Sign"],
            "set_name": "val", "ocr_tokens": ["STOP", "cola", "3:15"] if i % 2 else []}


def seed_row(i: int, answer: str, type_id: int, data_type: str = "image") -> dict[str, Any]:
    """One row in the lmms-lab/SEED-Bench (test) schema; `image` is a list of images."""
    frames = 1 if data_type == "image" else 3
    return {"answer": answer, "choice_a": "a cat", "choice_b": "a dog", "choice_c": "a bird", "choice_d": "a fish",
            "data_id": f"{i}.jpg", "data_type": data_type, "question": f"What animal is shown? ({i})",
            "question_id": str(100 + i), "question_type_id": type_id,
            "image": [image_cell(png_bytes()) for _ in range(frames)], "segment": None}


def llava_bench_row(qid: int, category: str, question: str | None = None) -> dict[str, Any]:
    """One row in the lmms-lab/llava-bench-in-the-wild (train) schema."""
    return {"question_id": qid, "question": question or f"Describe picture {qid}.", "image": image_cell(png_bytes()),
            "caption": f"A photo number {qid}.", "gpt_answer": f"Reference answer {qid}.", "category": category,
            "image_id": f"{qid:03d}"}


def _mmbench_rows(split: str) -> list[dict[str, Any]]:
    answer = (lambda letter: letter) if split == "dev" else (lambda letter: None)
    return [mmb_row(0, "Which color?", ["red", "blue", "green"], answer("A"), split=split),
            mmb_row(1_000_000, "Which color?", ["blue", "green", "red"], answer("C"), split=split),
            mmb_row(2_000_000, "Which color?", ["green", "red", "blue"], answer("B"), split=split),
            mmb_row(1, "Is it round?", ["yes", "no"], answer("B"), hint="Look closely.", split=split,
                    category="shape", l2="coarse_perception"),
            mmb_row(1_000_001, "Is it round?", ["no", "yes"], answer("A"), hint="Look closely.", split=split,
                    category="shape", l2="coarse_perception")]


def _vqa_rows(with_answers: bool) -> list[dict[str, Any]]:
    answers = ["yes"] * 10 if with_answers else None
    return [vqa_row(1000 + i, answers if i != 1 else (["2"] * 10 if with_answers else None),
                    answer_type=("yes/no", "number", "other")[i % 3], question=f"Question {i}?",
                    image=png_bytes()) for i in range(4)]


def _vizwiz_rows(with_answers: bool) -> list[dict[str, Any]]:
    split = "val" if with_answers else "test"
    return [vizwiz_row(f"VizWiz_{split}_{i:08d}", (["unanswerable"] * 10 if i == 0 else ["basil"] * 10)
                       if with_answers else None, category=("unanswerable", "other")[i % 2] if with_answers
                       else None, question=f"What is this? ({i})", image=png_bytes()) for i in range(4)]


def _mme_rows() -> list[dict[str, Any]]:
    return [mme_row(f"{name}.jpg", f"Is there a {name}? Please answer yes or no.", answer, category)
            for category, name in (("existence", "cat"), ("OCR", "sign"), ("code_reasoning", "code"))
            for answer in ("Yes", "No")]


def _pope_rows() -> list[dict[str, Any]]:
    return [pope_row(c * 10 + k, category, answer) for c, category in enumerate(("adversarial", "popular", "random"))
            for k, answer in enumerate(("yes", "no", "no"))]


def _gqa_configs() -> dict[str, list[dict[str, Any]]]:
    kinds = [("yes", "verify", "attr"), ("table", "query", "obj"), ("left", "choose", "rel"),
             ("no", "logical", "obj"), ("yes", "compare", "attr")]
    questions = [gqa_row(i, *kind) for i, kind in enumerate(kinds)]
    questions.append(gqa_row(len(kinds), "yes", "verify", "attr", balanced=False))  # no sample
    return {"testdev_balanced_instructions": questions, "testdev_balanced_images": gqa_image_rows()}


def _seed_rows() -> list[dict[str, Any]]:
    rows = [seed_row(i, "ABCD"[i % 4], type_id) for i, type_id in enumerate((1, 2, 5, 9))]
    return [*rows, seed_row(50, "A", 10, data_type="video")]  # not an image question: no sample


# Demo-sized data in each built-in task's hub schema, by registered task name, for the contract
# test (tests/test_task_contract.py), which runs every registered task: a task added later needs
# either `DataSpec.demo` or an entry here: the rows of its split, or, for a task whose data is a
# folder of configs (DataSpec.images), the rows of each config by config name.
DemoData = list[dict[str, Any]] | dict[str, list[dict[str, Any]]]
DEMO_ROWS: dict[str, Callable[[], DemoData]] = {
    **{f"mmbench_{lang}_{split}": functools.partial(_mmbench_rows, split)
       for lang in ("en", "cn") for split in ("dev", "test")},
    "mme": _mme_rows,
    "mmvet": lambda: [mmvet_row("v1_0", "What is x?", "-1<AND>-5", "ocr,math"),
                      mmvet_row("v1_1", "Explain the meme.", "It mocks online classes.", "gen,know,rec")],
    "vqav2_val": lambda: _vqa_rows(True),
    "vqav2_test": lambda: _vqa_rows(False),
    "vqav2_testdev": lambda: _vqa_rows(False),
    "vizwiz_val": lambda: _vizwiz_rows(True),
    "vizwiz_test": lambda: _vizwiz_rows(False),
    "pope": _pope_rows,
    "gqa": _gqa_configs,
    "textvqa_val": lambda: [textvqa_row(i, answers) for i, answers in
                            enumerate((["stop"] * 10, ["coca cola"] * 4 + ["coke"] * 6, ["3:15"] * 10))],
    "seedbench_img": _seed_rows,
    "llava_bench_wild": lambda: [llava_bench_row(qid, category) for qid, category in
                                 enumerate(("conv", "detail", "complex", "conv"))],
}


def write_parquet(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(list(rows)), path)
    return path


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def vlmeval(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the `vlmeval` command in a fresh interpreter, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "vlmeval", *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout, check=False,
    )
