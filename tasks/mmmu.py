"""MMMU (Yue et al., "MMMU: A Massive Multi-discipline Multimodal Understanding and Reasoning Benchmark for
Expert AGI", CVPR 2024), validation split, scored as the official `eval_utils.py` scores it.

Dataset: lmms-lab/MMMU, split validation (900 rows, 30 subjects x 30): `id` (`validation_<Subject>_<n>`),
`question`, `options` (a Python list's repr, `[]` for open questions), `image_1`..`image_7`, `answer`
(a letter, a string, or a list's repr for 3 open questions), `question_type` (`multiple-choice` | `open`),
`topic_difficulty`, `img_type` (a list's repr), `subfield`. Sample id: `id`.
Prompt: the official config (MMMU-Benchmark/MMMU@bb0b95a9 `mmmu/utils/data_utils.py` `construct_prompt`,
`mmmu/configs/llava1.5.yaml`): multiple choice `{question}\\n(A) {o1}\\n(B) {o2}\\n...\\n\\nAnswer with the
option's letter from the given choices directly.`, open `{question}\\nAnswer the question using a single
word or phrase.`; greedy, max_new_tokens 128 (the official LLaVA run sampled with 5 beams: a deviation).
Images: every `image_N` the text cites as `<image N>`, each placed where it is first cited
(`Sample.image_offsets`; the placeholders stay in the text). A cited image the row lacks
(`validation_Math_7` cites 8 to 30) is left out: the row still runs. `mmmu_val_image1` gives `image_1`
alone, before the text, as the official LLaVA run did (`multi_image` counts the questions whose options
cite several images: that run gave them no image and a random letter).
Scoring: `vlmeval_tasks._mmmu_reading` (the official parsers and checks); the official random letter for an
unreadable multiple-choice answer is replaced by a counted failure (`unparsed`). A file of bare letters
scores as `main_eval_only.py` would. Accuracy is micro over the questions (`calculate_ins_level_acc`);
breakdowns per subject (30), discipline (6), question type, difficulty and image type (multi-label).
Reference: LLaVA-1.5-13B 36.4 (LLaVA-NeXT blog; the official example outputs give 36.7); Phi-3.5-vision
43.0 (card); DeepSeek-VL2 51.1 (paper).
"""

from __future__ import annotations

import ast
import io
import re
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from vlmeval.answers.choice import LETTERS
from vlmeval_tasks._mmmu_reading import check_choice, check_open, parse_choice, parse_open
from vlmeval.column_checks import OneOf, Text
from vlmeval.demo_data import image_cell, png_bytes
from vlmeval.image import LazyImage
from vlmeval.metrics import Metric, Record, mean_metric
from vlmeval.task import AnswerReading, DataSpec, Row, Sample, Scored, Task, per_sample, task

MC_SUFFIX = "Answer with the option's letter from the given choices directly."
OPEN_SUFFIX = "Answer the question using a single word or phrase."
IMAGE_COLUMNS = tuple(f"image_{n}" for n in range(1, 8))
_PLACEHOLDER = re.compile(r"<image (\d+)>")
# `DOMAIN_CAT2SUB_CAT` in data_utils.py
DISCIPLINES = {
    "Art and Design": ("Art", "Art_Theory", "Design", "Music"),
    "Business": ("Accounting", "Economics", "Finance", "Manage", "Marketing"),
    "Science": ("Biology", "Chemistry", "Geography", "Math", "Physics"),
    "Health and Medicine": ("Basic_Medical_Science", "Clinical_Medicine", "Diagnostics_and_Laboratory_Medicine",
                            "Pharmacy", "Public_Health"),
    "Humanities and Social Science": ("History", "Literature", "Sociology", "Psychology"),
    "Tech and Engineering": ("Agriculture", "Architecture_and_Engineering", "Computer_Science", "Electronics",
                             "Energy_and_Power", "Materials", "Mechanical_Engineering"),
}
DISCIPLINE_OF = {subject: name for name, subjects in DISCIPLINES.items() for subject in subjects}


def python_list(text: Any, where: str) -> list[str]:
    """A cell holding a Python list's repr (`"['$6', '$7']"`), or a list already."""
    if isinstance(text, (list, tuple)):
        return [str(x) for x in text]
    value = ast.literal_eval(str(text))
    if not isinstance(value, list):
        raise TypeError(f"{where} {text!r} is not a list")
    return [str(x) for x in value]


def parse_gold(answer: Any) -> str | list[str]:
    """A letter or string; a list for the open questions with several golds. A list repr missing a closing
    quote (a known hub copy of validation_Math_15) is read item by item rather than refused."""
    text = str(answer)
    if not text.startswith("["):
        return text
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return [item.strip().strip("'\"") for item in text.strip("[]").split(",")]
    return [str(x) for x in value] if isinstance(value, list) else text


def lazy_image(cell: Any, where: str) -> LazyImage:
    """An image column the engine does not manage (it manages one per row): a parquet or TSV cell, or the
    PIL image the hub's `datasets` rows hold, encoded only when a backend loads it."""
    def fetch() -> Any:
        if hasattr(cell, "save"):  # a decoded PIL image
            buffer = io.BytesIO()
            cell.save(buffer, format="PNG")
            return buffer.getvalue()
        return cell

    return LazyImage(fetch, where)


def build_text(row: Row, options: list[str]) -> str:
    question = str(row["question"])
    if row["question_type"] == "multiple-choice":
        listed = "".join(f"({LETTERS[i]}) {option}\n" for i, option in enumerate(options))
        return f"{question}\n{listed}\n{MC_SUFFIX}"
    return f"{question}\n{OPEN_SUFFIX}"


def to_sample(images: str, row: Row, position: int) -> Sample:
    """`images` "cited": every cited image where it is first cited; "first": `image_1` alone, before the text
    (the official LLaVA run)."""
    sample_id = str(row["id"])
    options = python_list(row["options"], "options")
    text = build_text(row, options)
    first_cited: dict[int, int] = {}
    for match in _PLACEHOLDER.finditer(text):
        first_cited.setdefault(int(match.group(1)), match.start())
    placed = sorted((offset, number) for number, offset in first_cited.items()
                    if 1 <= number <= len(IMAGE_COLUMNS) and row.get(f"image_{number}") is not None)
    if images == "first":
        placed = [(0, 1)] if row.get("image_1") is not None else []
    subject = "_".join(sample_id.split("_")[1:-1])
    return Sample(
        id=sample_id,
        text=text,
        images=tuple(lazy_image(row[f"image_{number}"], f"{sample_id} image_{number}") for _, number in placed),
        image_offsets=tuple(offset for offset, _ in placed) if images == "cited" else None,
        target=parse_gold(row["answer"]),
        meta={
            "question_type": row["question_type"],
            "options": options,
            "subject": subject,
            "discipline": DISCIPLINE_OF.get(subject),
            "topic_difficulty": row.get("topic_difficulty"),
            "img_type": python_list(row["img_type"], "img_type") if row.get("img_type") else [],
            "missing_images": sorted(set(first_cited) - {number for _, number in placed}),
            # options citing several images: the official LLaVA run gave such a question no image at all
            "multi_image": len(_PLACEHOLDER.findall("".join(options))) > 1,
        },
    )


def score_one(sample: Sample, prediction: str | None) -> Scored:
    if prediction is None:
        return Scored(None, {"correct": 0.0}, "error")
    failure = None if prediction.strip() else "empty"
    if sample.meta["question_type"] == "multiple-choice":
        options: Sequence[str] = sample.meta["options"]
        letters = LETTERS[:len(options)]
        letter = parse_choice(prediction, letters, dict(zip(letters, options)))
        if letter is None:
            failure = failure or "unparsed"  # the official reading draws a random letter here
        return Scored(letter, {"correct": float(check_choice(sample.target, letter))}, failure)
    parsed = parse_open(prediction)
    return Scored([p if isinstance(p, str) else float(p) for p in parsed],
                  {"correct": float(check_open(sample.target, parsed))}, failure)


def _count_multi_image(records: Sequence[Record]) -> float:
    return float(sum(bool(r.meta.get("multi_image")) for r in records))


READINGS = (AnswerReading("official", "eval_utils.py parse_multi_choice_response / parse_open_response, "
                         "without its random letter (unparsed, wrong)", True,
                         "MMMU-Benchmark/MMMU@bb0b95a9 mmmu/utils/eval_utils.py"),)

METRICS: tuple[Metric, ...] = (mean_metric("accuracy", "correct"),
                               Metric("multi_image", _count_multi_image, scale="count", reduces="sum"))


def summary_line(metrics: Mapping[str, float], n_samples: int) -> str:
    return f"MMMU val: {metrics['accuracy'] / 100:.3f} over {n_samples} questions (official Overall, 3 decimals)"


def demo_rows() -> list[dict[str, Any]]:
    """Rows in lmms-lab/MMMU's schema: one with an image cited in an option, one open, one citing a missing image."""
    empty = {column: None for column in IMAGE_COLUMNS}
    red, blue = image_cell(png_bytes((220, 30, 30))), image_cell(png_bytes((30, 30, 220)))
    return [
        {**empty, "id": "validation_Art_1", "question": "<image 1> Which painting uses more red?",
         "options": "['<image 2>', 'the first one', 'neither']", "explanation": "", "image_1": red, "image_2": blue,
         "img_type": "['Paintings']", "answer": "B", "topic_difficulty": "Easy",
         "question_type": "multiple-choice", "subfield": "Fine Arts"},
        {**empty, "id": "validation_Math_15", "question": "What is the ratio shown in <image 1>?", "options": "[]",
         "explanation": "", "image_1": red, "img_type": "['Tables', 'Diagrams']",
         "answer": "['24/7', '3.429', '3.43]", "topic_difficulty": "Hard", "question_type": "open",
         "subfield": "Calculus"},
        {**empty, "id": "validation_Math_7", "question": "<image 1> Which graph is shown?",
         "options": "['<image 8>', '<image 9>', 'none']", "explanation": "", "image_1": blue,
         "img_type": "['Plots and Charts']", "answer": "C", "topic_difficulty": "Medium",
         "question_type": "multiple-choice", "subfield": "Graph Theory"},
    ]


def mmmu_val(name: str, images: str) -> Task:
    shown = "images where cited" if images == "cited" else "image_1 only, before the text (LLaVA parity)"
    return Task(
        description=f"MMMU validation, official prompt and eval_utils reading (no random letter), {shown}",
        data=DataSpec(
            hub="lmms-lab/MMMU",
            split="validation",
            size=900,
            image_column=None,
            columns=("id", "question", "options", "answer", "question_type", *IMAGE_COLUMNS),
            checks=(Text("question"), Text("options"), OneOf("question_type", ("multiple-choice", "open"))),
        ),
        to_sample=partial(to_sample, images),
        scorer=per_sample(score_one),
        metrics=METRICS,
        max_new_tokens=128,
        breakdowns=("subject", "discipline", "question_type", "topic_difficulty", "img_type"),
        summary_line=summary_line,
        answer_readings=READINGS,
        demo_rows=demo_rows,
    )


task("mmmu_val")(partial(mmmu_val, "mmmu_val", "cited"))
task("mmmu_val_image1")(partial(mmmu_val, "mmmu_val_image1", "first"))
