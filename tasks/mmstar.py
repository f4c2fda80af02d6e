"""MMStar (Chen et al., "Are We on the Right Way for Evaluating Large Vision-Language Models?",
NeurIPS 2024): 1,500 vision-indispensable multiple-choice questions, scored as the official code does.

Dataset: Lin-Chen/MMStar, config `val`, split `val` (1,500 rows: `index`, `question` holding its own
options in the source benchmark's format, `answer` A-D, `category` (6 x 250), `l2_category` (18),
`meta_info`). Sample id: `index`.
Prompt: lmms-eval's `mmstar_doc_to_text`: `{question.strip()}\\nAnswer with the option's letter from the
given choices directly` (no final period); max_new_tokens 32 (the official README run), greedy.
`mmstar_official_prompt`: the official generic prompt (`Question: {question}\\n`, MMStar-Benchmark/MMStar@88f243ab
`eval/vlmeval/utils/dataset.py`), which does not ask for a letter; its scorer reads the first characters.
Official scorer: `MMStar_eval` (`eval/vlmeval/evaluate/mmstar.py` at 88f243ab): answer and prediction
lower-cased, stripped, newlines to spaces; right when the answer is the prediction's first character, or
the one after a leading `(`, `option ` or `the answer is `; anything raising (an empty prediction) is
wrong. Score = hits over all questions; per category hits / 250 (the official constant, which equals
hits / count on the full split); per l2 category hits / count. No fallback exists, so nothing is replaced:
an empty answer is counted as `empty`, one whose read character is no option letter as `unparsed`.
lmms-eval (<= v0.4) averages the 18 l2 means instead (52.72 vs the official 52.07 on LLaVA-NeXT-34B).
Reference: LLaVA-NeXT-Yi-34B 52.1 (official README); LLaVA-1.5, Phi-3.5-vision and DeepSeek-VL2 not pinned.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from vlmeval.column_checks import OneOf, Text
from vlmeval.demo_data import image_cell, png_bytes
from vlmeval.metrics import Metric, mean_metric
from vlmeval.task import AnswerReading, DataSpec, Row, Sample, Scored, Task, per_sample, task

SUFFIX = "Answer with the option's letter from the given choices directly"
LETTERS = "abcd"
_PREFIXES = ("(", "option ", "the answer is ")  # the letter follows one of these, or comes first


def to_sample(prompt: str, row: Row, position: int) -> Sample:
    image = row.get("image")
    question = str(row["question"])
    return Sample(
        id=str(row["index"]),
        text=f"{question.strip()}\n{SUFFIX}" if prompt == "lmms-eval" else f"Question: {question}\n",
        images=(image,) if image is not None else (),
        target=str(row["answer"]),
        meta={"category": row.get("category"), "l2_category": row.get("l2_category")},
    )


def read_letter(prediction: str) -> str | None:
    """The character MMStar_eval compares: after a leading prefix when there is one, else the first."""
    text = prediction.lower().strip().replace("\n", " ")
    for prefix in _PREFIXES:
        if text.startswith(prefix) and len(text) > len(prefix) and text[len(prefix)] in LETTERS:
            return text[len(prefix)]
    return text[0] if text else None


def is_hit(answer: str, prediction: str) -> bool:
    """`MMStar_eval`'s condition: any candidate position holds the answer; an IndexError is a miss."""
    gold = answer.lower().strip().replace("\n", " ")
    text = prediction.lower().strip().replace("\n", " ")
    if not text:
        return False
    if gold == text[0]:
        return True
    return any(text.startswith(prefix) and len(text) > len(prefix) and gold == text[len(prefix)]
               for prefix in _PREFIXES)


def score_one(sample: Sample, prediction: str | None) -> Scored:
    if prediction is None:
        return Scored(None, {"correct": 0.0}, "error")
    letter = read_letter(prediction)
    correct = float(is_hit(str(sample.target), prediction))
    if letter is None:
        return Scored(None, {"correct": correct}, "empty")
    if letter not in LETTERS:
        return Scored(None, {"correct": correct}, "unparsed")
    return Scored(letter.upper(), {"correct": correct})


READINGS = (AnswerReading("official", "MMStar_eval: the first character, or the one after `(`, `option `, "
                         "`the answer is `", True, "MMStar-Benchmark/MMStar@88f243ab eval/vlmeval/evaluate/mmstar.py"),)

METRICS: tuple[Metric, ...] = (mean_metric("accuracy", "correct"),)


def summary_line(metrics: Mapping[str, float], n_samples: int) -> str:
    return f"MMStar: {metrics['accuracy']:.2f}% of {n_samples} questions (hits over all, official)"


def demo_rows() -> list[dict[str, object]]:
    """Rows in Lin-Chen/MMStar's schema, both option formats of the source benchmarks."""
    questions = [
        ("Which object is red?\nOptions: A: the square, B: the circle, C: the sky, D: the sea", "A",
         "coarse perception", "image scene and topic", "MMBench"),
        ("Hint: Please answer the question.\nQuestion: How many squares?\nChoices:\n(A) 4\n(B) 1\n(C) 3\n(D) 2",
         "B", "math", "numeric commonsense and calculation", "MathVista"),
        ("What colour is the image?\nOptions: A: blue, B: green, C: red, D: white", "C",
         "fine-grained perception", "attribute recognition", "SEEDBench_IMG"),
    ]
    return [{"index": i, "question": q, "image": image_cell(png_bytes()), "answer": answer, "category": cat,
             "l2_category": l2, "meta_info": {"source": bench, "split": "val", "image_path": f"{i}.jpg"}}
            for i, (q, answer, cat, l2, bench) in enumerate(questions)]


def mmstar(name: str, prompt: str) -> Task:
    return Task(
        description=f"MMStar val, {prompt} prompt, official MMStar_eval (hits over all 1,500)",
        data=DataSpec(
            hub="Lin-Chen/MMStar",
            config="val",
            split="val",
            size=1500,
            columns=("index", "question", "answer", "category", "l2_category"),
            checks=(Text("question"), OneOf("answer", tuple("ABCD"))),
        ),
        to_sample=partial(to_sample, prompt),
        scorer=per_sample(score_one),
        metrics=METRICS,
        max_new_tokens=32,
        breakdowns=("category", "l2_category"),
        summary_line=summary_line,
        answer_readings=READINGS,
        demo_rows=demo_rows,
    )


task("mmstar")(partial(mmstar, "mmstar", "lmms-eval"))
task("mmstar_official_prompt")(partial(mmstar, "mmstar_official_prompt", "official"))
