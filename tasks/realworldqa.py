"""RealWorldQA (xAI, with Grok-1.5 Vision, 2024): 765 real-world spatial questions.

Dataset: lmms-lab/RealWorldQA, split test (765 rows: `image`, `question`, `answer`), from
xai-org/RealworldQA (CC BY-ND 4.0). `question` already lists its options as `A. ...` lines and ends with
the instruction (`Please answer directly with only the letter of the correct option and nothing else.`
or `... with a single word or number.`); golds are a letter or a word/number. Sample id: row position.
Prompt: `question.strip()` as given (lmms-eval: empty pre/post prompt); max_new_tokens 16, greedy.
xAI publishes no scorer. Default reading `lmms-eval-v0.4` (EvolvingLMMs-Lab/lmms-eval@b7b4b1d9, tag v0.4,
`lmms_eval/tasks/realworldqa/{realworldqa.yaml,utils.py}`), which runs on the hub data unchanged and needs
no judge: (1) `NumberWordsToDigitsFilter`: the whole lower-cased response `zero`..`ten` becomes its digit;
(2) `MultiChoiceRegexFilter`: option texts from `\\b([A-Z])\\.\\s+([^\\n]*)` in the question, the i-th text
maps to the i-th letter; the response without `[^\\w\\s]` characters, stripped; an option text found in it
(regex alternation, first match) gives its letter, else the cleaned response; (3) exact match of
`pred.lower().strip().rstrip('.')` with `answer.lower().strip()`.
Reading `vlmevalkit`: the `A. ...` options read with VLMEvalKit's `can_infer` (judge optional); open items
by the same exact match. Failures are counted: `empty`, `unparsed` (a letter question read as no letter).
Reference: not pinned for LLaVA-1.5, Phi-3.5-vision or DeepSeek-VL2.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from vlmeval.answers.vlmevalkit import READING_NAME, READING_REFERENCE, read_choices
from vlmeval.column_checks import Text
from vlmeval.demo_data import image_cell, png_bytes
from vlmeval.metrics import Metric, mean_metric
from vlmeval.task import AnswerReading, DataSpec, Row, Sample, ScoreContext, Scored, Task, task

LMMS_EVAL = "lmms-eval-v0.4"
READINGS = (
    AnswerReading(LMMS_EVAL, "lmms-eval v0.4: number words to digits, option text to its letter, exact match",
                  False, "EvolvingLMMs-Lab/lmms-eval@b7b4b1d9 lmms_eval/tasks/realworldqa"),
    AnswerReading(READING_NAME, "VLMEvalKit's can_infer over the question's `A. ...` options (judge optional); "
                  "open items by exact match", False, READING_REFERENCE),
)
NUMBER_WORDS = {word: str(i) for i, word in enumerate(
    ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"))}
_OPTION_LINE = re.compile(r"\b([A-Z])\.\s+([^\n]*)")
_NOT_WORD = re.compile(r"[^\w\s]")


def options_of(question: str) -> list[str]:
    """The option texts in the question, in order (their letters are re-numbered from A)."""
    return [text.strip() for _, text in _OPTION_LINE.findall(question)]


def to_sample(row: Row, position: int) -> Sample:
    question = str(row["question"])
    options = options_of(question)
    image = row.get("image")
    return Sample(
        id=str(position),
        text=question.strip(),
        images=(image,) if image is not None else (),
        target=str(row["answer"]),
        meta={"question": question, "choices": {chr(ord("A") + i): t for i, t in enumerate(options)}},
    )


def lmms_eval_prediction(prediction: str, question: str) -> str:
    """The filtered prediction of lmms-eval v0.4's realworldqa pipeline."""
    text = NUMBER_WORDS.get(prediction.lower(), prediction)
    cleaned = _NOT_WORD.sub("", text).strip()
    options = options_of(question)
    letter_of = {option: chr(ord("A") + i) for i, option in enumerate(options)}  # a repeated text: its last letter
    match = re.search("|".join(map(re.escape, options)), cleaned)  # no options: the empty pattern
    return letter_of[match.group(0)] if match and match.group(0) in letter_of else cleaned


def exact(prediction: str, answer: str) -> bool:
    return prediction.lower().strip().rstrip(".") == answer.lower().strip()


def _is_letter_item(sample: Sample) -> bool:
    return bool(sample.meta["choices"]) and str(sample.target).strip() in sample.meta["choices"]


def _lmms_eval(sample: Sample, prediction: str | None) -> Scored:
    if prediction is None:
        return Scored(None, {"correct": 0.0}, "error")
    answer = lmms_eval_prediction(prediction, sample.meta["question"])
    correct = float(exact(answer, str(sample.target)))
    if not prediction.strip():
        return Scored(None, {"correct": correct}, "empty")
    if _is_letter_item(sample) and answer.strip() not in sample.meta["choices"]:
        return Scored(None, {"correct": correct}, "unparsed")
    return Scored(answer, {"correct": correct})


def score(samples: Sequence[Sample], predictions: Sequence[str | None], context: ScoreContext) -> list[Scored]:
    if not context.reads(READING_NAME):
        return [_lmms_eval(s, p) for s, p in zip(samples, predictions, strict=True)]
    letter_items = [i for i, s in enumerate(samples) if _is_letter_item(s)]
    read = read_choices([predictions[i] for i in letter_items], [samples[i].meta["choices"] for i in letter_items],
                        [samples[i].meta["question"] for i in letter_items], context.judge)
    scored = [_open_exact(s, p) for s, p in zip(samples, predictions, strict=True)]
    for i, choice in zip(letter_items, read, strict=True):
        scored[i] = Scored(choice.letter, {"correct": float(choice.letter == samples[i].target)}, choice.failure)
    return scored


def _open_exact(sample: Sample, prediction: str | None) -> Scored:
    """An open item under the `vlmevalkit` reading: exact match of the raw answer."""
    if prediction is None:
        return Scored(None, {"correct": 0.0}, "error")
    correct = float(exact(prediction, str(sample.target)))
    return Scored(prediction.strip(), {"correct": correct}, None if prediction.strip() else "empty")


METRICS: tuple[Metric, ...] = (mean_metric("accuracy", "correct"),)
_MC = "Please answer directly with only the letter of the correct option and nothing else."
_OPEN = "Please answer directly with a single word or number."


def demo_rows() -> list[dict[str, object]]:
    """Rows in lmms-lab/RealWorldQA's schema."""
    items = [(f"Which object is closer?\nA. The car\nB. The tree\nC. The sign\n{_MC}", "B"),
             (f"How many lanes does the road have?\n{_OPEN}", "2"),
             (f"Is the light red?\nA. Yes\nB. No\n{_MC}", "A")]
    return [{"image": image_cell(png_bytes()), "question": q, "answer": a} for q, a in items]


@task("realworldqa")
def realworldqa() -> Task:
    return Task(
        description="RealWorldQA test, question as given, lmms-eval v0.4 exact match",
        data=DataSpec(hub="lmms-lab/RealWorldQA", split="test", size=765, columns=("question", "answer"),
                      checks=(Text("question"), Text("answer"))),
        to_sample=to_sample,
        scorer=score,
        metrics=METRICS,
        max_new_tokens=16,
        answer_readings=READINGS,
        demo_rows=demo_rows,
    )
