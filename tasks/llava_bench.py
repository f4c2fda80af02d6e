"""LLaVA-Bench-in-the-Wild (Liu et al., "Visual Instruction Tuning", NeurIPS 2023), scored by a GPT-4
judge as LLaVA-1.5 does.

Dataset: lmms-lab/llava-bench-in-the-wild, split train (60 questions on 24 images: `question_id,
question, image, caption, gpt_answer, category` (conv, detail, complex), `image_id`).
Prompt: the bare question; max_new_tokens 1024 (LLaVA's `model_vqa.py`).
Judge: haotian-liu/LLaVA `llava/eval/eval_gpt_review_bench.py` (gpt-4-0314, temperature 0.2,
max_tokens 1024): system message SYSTEM, user message `[Context]` (the caption; a list of captions is
joined by newlines), `[Question]`, `[Assistant 1]` (the reference GPT-4 answer), `[Assistant 2]` (the
model), `[System]` with the `llava_bench_{category}` rule of `llava/eval/table/rule.json` (RULE
below, byte for byte; the three categories share it). Scores: the reply's first line, commas turned
into spaces, split on single spaces; exactly two fields read as floats (reference, model), else the
official [-1, -1], which enters the means as in the official summary, counted as `judge_failed`
(`judge_error` when the endpoint gave no reply: re-run to ask again). A missing answer also enters
as [-1, -1] (failure `error`).
Summary (`llava/eval/summarize_gpt_review.py`): per category and overall, both means rounded to 3
decimals, relative score = 100 x model / reference (a reference mean of 0 divides by zero there:
the metric is reported missing, as is any metric whose every judgement failed). With N judge runs
each run is summarised and the mean and population std over runs are reported, as for MM-Vet.
`relative_zoo` is the LLaVA model zoo's reduction: the script prints each run's relative score
rounded to one decimal, and the zoo's number is the mean of three such runs (13B: 72.5; the
unrounded mean of three runs can read 65.47 where the zoo prints 65.4 for 7B). Run with
`--judge-runs 3` to reproduce a zoo number; the `llava_v1.5` suite's column is `relative_zoo`.
Judge: gpt-4-0314 was retired by OpenAI in March 2026, so the official numbers can no longer be
re-judged; `vlmeval judge-check` measures how a candidate judge agrees with GPT-4's recorded reviews.
Reference: LLaVA-1.5-13B 72.5, 7B 65.4 (LLaVA model zoo; 70.7 in the paper's first version).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from vlmeval.column_checks import Text
from vlmeval.demo_data import image_cell, png_bytes
from vlmeval.failure import Failure
from vlmeval.judge import JudgeQuery, prompt_hash
from vlmeval.metrics import Metric, MetricUndefined, Predicate, Record, meta_equals
from vlmeval.task import DataSpec, Row, Sample, ScoreContext, Scored, Task, row_images, task

CATEGORIES = ("conv", "detail", "complex")
OFFICIAL_JUDGE = "gpt-4-0314"
JUDGE_TEMPERATURE = 0.2
JUDGE_MAX_TOKENS = 1024
FAILED = (-1.0, -1.0)  # the official parse_score's value for an unreadable reply
SYSTEM = "You are a helpful and precise assistant for checking the quality of the answer."
RULE = (
    "We would like to request your feedback on the performance of two AI assistants in response to the "
    "user question displayed above. The user asks the question on observing an image. For your reference, "
    "the visual content in the image is represented with a few sentences describing the image. \n"
    "Please rate the helpfulness, relevance, accuracy, level of details of their responses. Each assistant "
    "receives an overall score on a scale of 1 to 10, where a higher score indicates better overall "
    "performance.\n"
    "Please first output a single line containing only two values indicating the scores for Assistant 1 "
    "and 2, respectively. The two scores are separated by a space.\n"
    "In the subsequent line, please provide a comprehensive explanation of your evaluation, avoiding any "
    "potential bias and ensuring that the order in which the responses were presented does not affect "
    "your judgment."
)
RULES = {f"llava_bench_{category}": RULE for category in CATEGORIES}
ROLE = "Assistant"


def to_sample(row: Row, index: int) -> Sample:
    category = str(row["category"])
    if category not in CATEGORIES:
        raise ValueError(f"category {category!r} is not one of {CATEGORIES}")
    caption = row["caption"]
    context = "\n".join(caption) if isinstance(caption, (list, tuple)) else str(caption)
    return Sample(id=str(row["question_id"]), text=str(row["question"]),
                  images=row_images(row), target=str(row["gpt_answer"]),
                  meta={"category": category, "caption": context})


def judge_content(caption: str, question: str, reference: str, answer: str, category: str) -> str:
    """The official user message (one f-string in eval_gpt_review_bench.py)."""
    rule = RULES[f"llava_bench_{category}"]
    return (f"[Context]\n{caption}\n\n[Question]\n{question}\n\n"
            f"[{ROLE} 1]\n{reference}\n\n[End of {ROLE} 1]\n\n"
            f"[{ROLE} 2]\n{answer}\n\n[End of {ROLE} 2]\n\n[System]\n{rule}\n\n")


def parse_scores(review: str) -> tuple[float, float] | None:
    """(reference, model) from the reply's first line, or None where the official reads [-1, -1]."""
    fields = review.split("\n")[0].replace(",", " ").split(" ")
    if len(fields) != 2:
        return None
    try:
        return float(fields[0]), float(fields[1])
    except ValueError:
        return None


def score(samples: Sequence[Sample], predictions: Sequence[str | None], context: ScoreContext) -> list[Scored]:
    judge = context.require_judge("llava_bench_wild", OFFICIAL_JUDGE)
    runs = context.judge_runs
    judge.declare_prompt("llava_bench", RULE)
    asked = [(i, run) for i, p in enumerate(predictions) if p is not None for run in range(runs)]
    queries = [
        JudgeQuery(judge_content(samples[i].meta["caption"], samples[i].text, samples[i].target,
                                 str(predictions[i]), samples[i].meta["category"]),
                   temperature=JUDGE_TEMPERATURE, max_tokens=JUDGE_MAX_TOKENS, run=run, system=SYSTEM)
        for i, run in asked
    ]
    replies = dict(zip(asked, judge.ask_many(queries), strict=True)) if queries else {}
    verdicts = []
    for index, prediction in enumerate(predictions):
        if prediction is None:
            verdicts.append(Scored(None, _scores([FAILED] * runs, 0), Failure.ERROR))
            continue
        pairs, notes, failure = [], [], None
        for run in range(runs):
            reply = replies[index, run]
            parsed = parse_scores(reply.text) if reply.text is not None else None
            if reply.text is None and failure != Failure.JUDGE_ERROR:
                failure = reply.failure or Failure.JUDGE_ERROR  # judge_error wins: a re-run asks again
            elif parsed is None and failure is None:
                failure = Failure.JUDGE_FAILED
            pairs.append(parsed or FAILED)
            notes.append({"scores": list(parsed or FAILED), "review": reply.text, "error": reply.error})
        verdicts.append(Scored(notes, _scores(pairs, sum(p is FAILED for p in pairs)), failure))
    return verdicts


def _scores(pairs: Sequence[tuple[float, float]], failed: int) -> dict[str, float]:
    fields = {"failed_judgements": float(failed)}
    for run, (reference, model) in enumerate(pairs):
        fields[f"reference_run{run}"], fields[f"model_run{run}"] = reference, model
    return fields


def _runs(records: Sequence[Record]) -> int:
    return min(sum(k.startswith("model_run") for k in r.scores) for r in records)


def _run_relative(records: Sequence[Record], run: int) -> float:
    """summarize_gpt_review.py: means rounded to 3 decimals, then 100 x model / reference."""
    reference = round(statistics.fmean(r.scores[f"reference_run{run}"] for r in records), 3)
    model = round(statistics.fmean(r.scores[f"model_run{run}"] for r in records), 3)
    if not reference:
        raise MetricUndefined(f"the reference answers' mean score is 0 (judge run {run}): "
                              "the relative score divides by zero")
    return 100.0 * model / reference


def relative(records: Sequence[Record]) -> float:
    return statistics.fmean(_run_relative(records, run) for run in range(_runs(records)))


def relative_zoo(records: Sequence[Record]) -> float:
    """The model zoo's number: each run's relative score as the script prints it (one decimal), averaged."""
    return statistics.fmean(round(_run_relative(records, run), 1) for run in range(_runs(records)))


def relative_std(records: Sequence[Record]) -> float:
    return statistics.pstdev(_run_relative(records, run) for run in range(_runs(records)))


def _mean_of(field: str) -> Any:
    def reduce(records: Sequence[Record]) -> float:
        return statistics.fmean(statistics.fmean(r.scores[f"{field}_run{k}"] for r in records)
                                for k in range(_runs(records)))
    return reduce


def _several_runs(where: Predicate | None) -> Predicate:
    return lambda r: "model_run1" in r.scores and (where is None or where(r))


# How each metric reduces (vlmeval.metrics.Reduces), for intervals and paired tests: the relative
# score is a ratio of means (and rounded as the official summary rounds), not a mean of per-question
# values, hence "custom"; the per-side means are means of each question's own mean over judge runs.
METRICS: tuple[Metric, ...] = (
    Metric(name="relative", reduce=relative, reduces="custom"),
    *(Metric(name=c, reduce=relative, where=meta_equals("category", c), reduces="custom") for c in CATEGORIES),
    Metric(name="relative_zoo", reduce=relative_zoo, reduces="custom"),
    Metric(name="model_mean", reduce=_mean_of("model"), scale="points", reduces="mean"),
    Metric(name="reference_mean", reduce=_mean_of("reference"), scale="points", reduces="mean"),
    Metric(name="relative_std", reduce=relative_std, where=_several_runs(None), scale="spread", reduces="custom"),
    *(Metric(name=f"{c}_std", reduce=relative_std, where=_several_runs(meta_equals("category", c)),
             scale="spread", reduces="custom") for c in CATEGORIES),
    Metric(name="failed_judgements", reduce=lambda rs: sum(r.scores.get("failed_judgements", 0.0) for r in rs),
           scale="count", reduces="sum"),
)


def summary_line(metrics: Mapping[str, float], n_samples: int) -> str:
    spread = f" (std {metrics['relative_std']:.1f} over judge runs)" if "relative_std" in metrics else ""
    parts = ", ".join(f"{c} {metrics[c]:.1f}" for c in CATEGORIES if c in metrics)
    return (f"LLaVA-Bench-in-the-Wild relative score {metrics['relative']:.1f}{spread}; {parts}; "
            f"{n_samples} questions; judge prompt {prompt_hash(RULE)}; "
            f"failed judgements: {int(metrics.get('failed_judgements', 0))}")


# Demo rows in the hub's schema (`Task.demo_rows`: the contract test and `--data demo` read them).
def llava_bench_row(qid: int, category: str, question: str | None = None) -> dict[str, Any]:
    """One row in the lmms-lab/llava-bench-in-the-wild (train) schema."""
    return {"question_id": qid, "question": question or f"Describe picture {qid}.", "image": image_cell(png_bytes()),
            "caption": f"A photo number {qid}.", "gpt_answer": f"Reference answer {qid}.", "category": category,
            "image_id": f"{qid:03d}"}


def demo_rows() -> list[dict[str, Any]]:
    return [llava_bench_row(qid, category) for qid, category in enumerate(("conv", "detail", "complex", "conv"))]


@task("llava_bench_wild")
def llava_bench_wild() -> Task:
    return Task(
        description=f"LLaVA-Bench-in-the-Wild, bare question, GPT-4 review relative score "
                    f"(official judge {OFFICIAL_JUDGE}, retired in March 2026)",
        data=DataSpec(hub="lmms-lab/llava-bench-in-the-wild", split="train", size=60,
                      columns=("question_id", "question", "caption", "gpt_answer", "category"),
                      checks=(Text("question"), Text("gpt_answer"))),
        demo_rows=demo_rows,
        to_sample=to_sample,
        scorer=score,
        metrics=METRICS,
        max_new_tokens=1024,
        breakdowns=("category",),
        summary_line=summary_line,
    )
