"""HallusionBench (Guan et al., "HallusionBench: An Advanced Diagnostic Suite for Entangled Language
Hallucination and Visual Illusion in Large Vision-Language Models", CVPR 2024).

Dataset: lmms-lab/HallusionBench, splits `image` (951) and `non_image` (178), read together
(`image+non_image`, 1,129 questions as the official `HallusionBench.json`): `category` (VD | VS),
`subcategory`, `visual_input` ('0' none, '1' original, '2' edited), `set_id`, `figure_id`, `question_id`,
`question`, `gt_answer_details`, `gt_answer` ('1' yes, '0' no), `image`. Sample id:
`{category}_{subcategory}_{set_id}_{figure_id}_{question_id}`. `hallusionbench_image` is the same
definition on the 951 image rows (what lmms-eval and VLMEvalKit score).
Prompt: the bare question (text-only rows get no image); max_new_tokens 128, greedy.
Official scorer (tianyi-lab/HallusionBench@744007c2 `utils.py`, `evaluation.py`), reading `official`:
an LLM judge reads every answer against `gt_answer_details` (prompt below, verbatim, curly quotes
included): `incorrect` in the lower-cased reply -> 0, else `correct` -> 1, else 2 (unclear). A row is
right when the judge says 1, or, for VS rows with figure_id 0 (no figure), 1 or 2 (`assign_correctness`).
aAcc = right rows / rows; fAcc = figures (`category_subcategory_set_id_figure_id`, VS figure 0 left
out) whose rows are all right; qAcc = question pairs (`category_subcategory_set_id_question_id`) whose
rows are all right; easy / hard aAcc: the same pairs over rows with visual_input != '2' / == '2'.
Deviations: the judge request is sent at temperature 0 (the official sends none: the API default) and
is never retried forever: a failed request is `judge_error` (report incomplete); the official default
model `gpt-4` is an alias that no longer exists: the report names the model used.
Reading `vlmevalkit` (VLMEvalKit `YOrN_Extraction`): yes / no words after its punctuation processing;
`Unknown` goes to the judge when one is given (`YOrN_match_prompt`, up to 5 tries at temperature 0.5 x try,
read by the same rule), else it is wrong and counted (`unparsed`; `judge_failed` after 5 Unknown replies).
Reference (official README, GPT eval, 1,129): LLaVA-1.5 aAcc 46.94, fAcc 24.86, qAcc 10.55.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial

from vlmeval.answers.yesno import read_yes_no_vlmevalkit
from vlmeval.column_checks import OneOf, Text
from vlmeval.demo_data import image_cell, png_bytes
from vlmeval.metrics import Metric, Record, mean_metric
from vlmeval.task import JUDGE_ERROR, AnswerReading, DataSpec, Row, Sample, ScoreContext, Scored, Task, task

OFFICIAL_JUDGE = "gpt-4"
JUDGE_PROMPT = (
    "Imagine you are an intelligent teacher. Thoroughly read the question, reference answer and the prediction "
    "answer to ensure a clear understanding of the information provided. Assess the correctness of the "
    "predictions. If the prediction answer does not conflict with the reference answer, please generate "
    "\u201ccorrect\u201d. If the prediction answer conflict with the reference answer, please generate "
    "\u201cincorrect\u201d. If the prediction answer is unclear about the answer, please generate \"unclear\". "
    "\n\n Question:{question}\nReference answer: {reference}\nPrediction answer:{prediction}\nOutput:"
)
READINGS = (
    AnswerReading("official", "the official GPT judge (correct / incorrect / unclear) and assign_correctness",
                  True, "tianyi-lab/HallusionBench@744007c2 utils.py"),
    AnswerReading("vlmevalkit", "VLMEvalKit's YOrN_Extraction (yes/no words), its judge prompt for Unknown "
                  "when --judge is given; Unknown is wrong and counted",
                  False, "open-compass/VLMEvalKit@e8e78f05 vlmeval/dataset/utils/yorn.py"),
)
def to_sample(row: Row, position: int) -> Sample:
    key = "_".join(str(row[c]) for c in ("category", "subcategory", "set_id", "figure_id", "question_id"))
    image = row.get("image") if str(row["visual_input"]) != "0" else None
    return Sample(
        id=key,
        text=str(row["question"]),
        images=(image,) if image is not None else (),
        target="Yes" if str(row["gt_answer"]) == "1" else "No",
        meta={
            "category": row["category"], "subcategory": row["subcategory"], "visual_input": str(row["visual_input"]),
            "figure": "_".join(str(row[c]) for c in ("category", "subcategory", "set_id", "figure_id")),
            "pair": "_".join(str(row[c]) for c in ("category", "subcategory", "set_id", "question_id")),
            "no_figure": row["category"] == "VS" and str(row["figure_id"]) == "0",
            "question": str(row["question"]), "reference": str(row["gt_answer_details"]),
        },
    )


def judge_verdict(reply: str) -> int:
    """0 incorrect, 1 correct, 2 unclear, as `evaluate_by_chatgpt` reads the reply."""
    text = reply.lower()
    return 0 if "incorrect" in text else 1 if "correct" in text else 2


def is_right(verdict: int, no_figure: bool) -> bool:
    """`assign_correctness`: unclear counts as right only where there is no figure to read."""
    return verdict == 1 or (no_figure and verdict == 2)


def score(samples: Sequence[Sample], predictions: Sequence[str | None], context: ScoreContext) -> list[Scored]:
    if context.reads("vlmevalkit"):
        read = read_yes_no_vlmevalkit(predictions, [s.meta["question"] for s in samples], context.judge)
        return [Scored(r.answer, {"correct": float(r.answer == s.target)}, r.failure)
                for s, r in zip(samples, read, strict=True)]
    from vlmeval.judge import JudgeQuery

    judge = context.require_judge("hallusionbench", OFFICIAL_JUDGE)
    judge.declare_prompt("hallusionbench", JUDGE_PROMPT)
    asked = [i for i, p in enumerate(predictions) if p is not None]
    queries = [JudgeQuery(JUDGE_PROMPT.format(question=samples[i].meta["question"],
                                              reference=samples[i].meta["reference"],
                                              prediction=predictions[i])) for i in asked]
    replies = dict(zip(asked, judge.ask_many(queries), strict=True)) if queries else {}
    scored = []
    for i, sample in enumerate(samples):
        reply = replies.get(i)
        if reply is None:
            scored.append(Scored(None, {"correct": 0.0}, "error"))
        elif reply.text is None:
            scored.append(Scored(None, {"correct": 0.0}, JUDGE_ERROR))
        else:
            verdict = judge_verdict(reply.text)
            scored.append(Scored(verdict, {"correct": float(is_right(verdict, sample.meta["no_figure"]))}))
    return scored


def _all_right_share(key: str) -> Callable[[Sequence[Record]], float]:
    def reduce(records: Sequence[Record]) -> float:
        groups: dict[str, bool] = {}
        for record in records:
            groups[record.meta[key]] = groups.get(record.meta[key], True) and record.scores.get("correct") == 1.0
        return 100.0 * sum(groups.values()) / len(groups)

    return reduce


def _unit(key: str) -> Callable[[Record], str]:
    return lambda record: str(record.meta[key])


def overall(records: Sequence[Record]) -> float:
    """The mean of aAcc, fAcc and qAcc: leaderboard.json's `overall` and the Open VLM Leaderboard's column."""
    aacc = 100.0 * sum(r.scores.get("correct", 0.0) for r in records) / len(records)
    with_figure = [r for r in records if not r.meta["no_figure"]]
    facc = _all_right_share("figure")(with_figure) if with_figure else 0.0
    return (aacc + facc + _all_right_share("pair")(records)) / 3


METRICS: tuple[Metric, ...] = (
    mean_metric("aacc", "correct"),
    Metric("facc", _all_right_share("figure"), where=lambda r: not r.meta["no_figure"], unit=_unit("figure"),
           reduces="mean"),
    Metric("qacc", _all_right_share("pair"), unit=_unit("pair"), reduces="mean"),
    Metric("easy_aacc", _all_right_share("pair"), where=lambda r: r.meta["visual_input"] != "2",
           unit=_unit("pair"), reduces="mean"),
    Metric("hard_aacc", _all_right_share("pair"), where=lambda r: r.meta["visual_input"] == "2",
           unit=_unit("pair"), reduces="mean"),
    Metric("overall", overall),
)


def summary_line(metrics: Mapping[str, float], n_samples: int) -> str:
    return (f"qAcc {metrics.get('qacc', 0.0):.4f}, fAcc {metrics.get('facc', 0.0):.4f}, "
            f"aAcc {metrics['aacc']:.4f} over {n_samples} questions")


def demo_rows() -> list[dict[str, object]]:
    """Rows in lmms-lab/HallusionBench's schema: a VS pair with its text-only question, a VD edited figure."""
    items = [("VS", "chart", "0", "0", "0", "0", "Is the tallest bar red?", "1"),
             ("VS", "chart", "1", "0", "1", "0", "According to the chart, is the tallest bar red?", "1"),
             ("VS", "chart", "2", "0", "2", "0", "According to the chart, is the tallest bar red?", "0"),
             ("VD", "illusion", "1", "3", "0", "1", "Are the two lines equally long?", "1"),
             ("VD", "illusion", "2", "3", "1", "1", "Are the two lines equally long?", "0")]
    return [{"category": cat, "subcategory": sub, "visual_input": vi, "set_id": set_id, "figure_id": fig,
             "sample_note": "demo", "question_id": qid, "question": question, "gt_answer_details": f"Answer {gt}.",
             "gt_answer": gt, "filename": None if vi == "0" else f"{set_id}_{fig}.png",
             "image": None if vi == "0" else image_cell(png_bytes())}
            for cat, sub, vi, set_id, fig, qid, question, gt in items]


def hallusionbench(name: str, split: str) -> Task:
    return Task(
        description=f"HallusionBench ({split}), bare question, official GPT-judge aAcc / fAcc / qAcc",
        data=DataSpec(
            hub="lmms-lab/HallusionBench", split=split, size=1129 if "+" in split else 951,
            columns=("category", "subcategory", "visual_input", "set_id", "figure_id", "question_id", "question",
                     "gt_answer_details", "gt_answer"),
            checks=(Text("question"), OneOf("category", ("VD", "VS")), OneOf("gt_answer", ("0", "1"))),
        ),
        to_sample=to_sample,
        scorer=score,
        metrics=METRICS,
        max_new_tokens=128,
        breakdowns=("category", "subcategory"),
        summary_line=summary_line,
        answer_readings=READINGS,
        demo_rows=demo_rows if "+" in split else lambda: [r for r in demo_rows() if r["visual_input"] != "0"],
    )


task("hallusionbench")(partial(hallusionbench, "hallusionbench", "image+non_image"))
task("hallusionbench_image")(partial(hallusionbench, "hallusionbench_image", "image"))
