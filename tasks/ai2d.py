"""AI2D (Kembhavi et al., "A Diagram Is Worth A Dozen Images", ECCV 2016), test, with and without mask.

Dataset: lmms-lab/ai2d (`ai2d`: the diagram's text labels hidden under letter boxes) and
lmms-lab/ai2d-no-mask (`ai2d_no_mask`: labels kept), split test, 3,088 rows each: `question`,
`options` (list), `answer` (0-based index as a string), `image`. Sample id: row position.
Prompt: lmms-eval's `ai2d_doc_to_text` (and VLMEvalKit's LLaVA wrapper):
`{question}\\nA. {o1}\\nB. {o2}...\\nAnswer with the option's letter from the given choices directly.`;
max_new_tokens 16, greedy.
Scoring: AI2D predates VLMs and has no official VLM scorer. Default reading `vlmevalkit` (what the Open
VLM Leaderboard, InternVL, Qwen and DeepSeek-VL2 report): VLMEvalKit's `can_infer` at e8e78f05
(`vlmeval.answers.vlmevalkit`), the LLM judge optional as for MMBench, no random letter (`judge_failed`).
Reading `lmms-eval` (LLaVA-NeXT/OneVision reports): `^\\s*([A-Z])\\.` at the start gives the letter, else
the raw response; then exact match ignoring case and `string.punctuation` (no whitespace strip).
Reference: Phi-3.5-vision AI2D (test) 78.1 (model card); DeepSeek-VL2 81.4 (paper; mask not stated).
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from functools import partial

from vlmeval.answers.choice import LETTERS, option_lines
from vlmeval.answers.vlmevalkit import READING_NAME, READING_REFERENCE, read_choices
from vlmeval.demo_data import image_cell, png_bytes
from vlmeval.metrics import Metric, mean_metric
from vlmeval.task import AnswerReading, DataSpec, Row, Sample, ScoreContext, Scored, Task, task
from vlmeval.column_checks import Strings, Text

SUFFIX = "Answer with the option's letter from the given choices directly."
HUB = {"ai2d": "lmms-lab/ai2d", "ai2d_no_mask": "lmms-lab/ai2d-no-mask"}
LMMS_EVAL = "lmms-eval"
READINGS = (
    AnswerReading(READING_NAME, "VLMEvalKit's can_infer, then its LLM-judge prompt when --judge is given; "
                  "no random letter: unresolved answers are wrong and counted", False, READING_REFERENCE),
    AnswerReading(LMMS_EVAL, "lmms-eval's `^\\s*([A-Z])\\.` filter, then exact match ignoring case and "
                  "punctuation", False, "EvolvingLMMs-Lab/lmms-eval@bbddc790 lmms_eval/tasks/ai2d"),
)
_LEADING_LETTER = re.compile(r"^\s*([A-Z])\.")
_NO_PUNCTUATION = str.maketrans("", "", string.punctuation)


def to_sample(row: Row, position: int) -> Sample:
    options = [str(option) for option in row["options"]]
    answer = str(row["answer"]).strip()
    if not answer.isdigit() or int(answer) >= len(options):  # a string index on the hub
        raise ValueError(f"answer {row['answer']!r} is not an index into its {len(options)} options")
    image = row.get("image")
    return Sample(
        id=str(position),
        text=f"{row['question']}\n{option_lines(options)}\n{SUFFIX}",
        images=(image,) if image is not None else (),
        target=LETTERS[int(answer)],
        meta={"question": str(row["question"]), "choices": dict(zip(LETTERS, options))},
    )


def lmms_eval_answer(prediction: str) -> str:
    """lmms-eval's filter: the letter of a leading `X.`, else the response unchanged."""
    match = _LEADING_LETTER.match(prediction)
    return match.group(1) if match else prediction


def lmms_eval_correct(prediction: str, target: str) -> bool:
    """`exact_match` with ignore_case and ignore_punctuation (no whitespace strip)."""
    return lmms_eval_answer(prediction).lower().translate(_NO_PUNCTUATION) == target.lower()


def _score_lmms_eval(sample: Sample, prediction: str | None) -> Scored:
    if prediction is None:
        return Scored(None, {"correct": 0.0}, "error")
    answer = lmms_eval_answer(prediction).translate(_NO_PUNCTUATION).upper()
    failure = None if answer in sample.meta["choices"] else ("empty" if not prediction.strip() else "unparsed")
    return Scored(answer if failure is None else None,
                  {"correct": float(lmms_eval_correct(prediction, str(sample.target)))}, failure)


def score(samples: Sequence[Sample], predictions: Sequence[str | None], context: ScoreContext) -> list[Scored]:
    if context.reads(LMMS_EVAL):
        return [_score_lmms_eval(s, p) for s, p in zip(samples, predictions, strict=True)]
    choices = read_choices(predictions, [s.meta["choices"] for s in samples],
                           [s.meta["question"] for s in samples], context.judge)
    return [Scored(c.letter, {"correct": float(c.letter is not None and c.letter == s.target),
                              "judged": float(c.rule == "judge")}, c.failure)
            for s, c in zip(samples, choices, strict=True)]


METRICS: tuple[Metric, ...] = (mean_metric("accuracy", "correct"),)


def demo_rows() -> list[dict[str, object]]:
    """Rows in lmms-lab/ai2d's schema."""
    items = [("Which label shows the sun?", ["A", "B", "C", "D"], "2"),
             ("What does the arrow from grass point to?", ["rabbit", "sun", "soil"], "0"),
             ("How many stages are shown?", ["3", "4", "5", "6"], "1")]
    return [{"question": q, "options": options, "answer": answer, "image": image_cell(png_bytes())}
            for q, options, answer in items]


def ai2d(name: str) -> Task:
    masked = "labels hidden under letters" if name == "ai2d" else "labels kept (no mask)"
    return Task(
        description=f"AI2D test ({masked}), LLaVA/lmms-eval prompt, VLMEvalKit can_infer reading",
        data=DataSpec(hub=HUB[name], split="test", size=3088, columns=("question", "options", "answer"),
                      checks=(Text("question"), Strings("options"))),
        to_sample=to_sample,
        scorer=score,
        metrics=METRICS,
        max_new_tokens=16,
        answer_readings=READINGS,
        demo_rows=demo_rows,
    )


for _name in HUB:
    task(_name)(partial(ai2d, _name))
