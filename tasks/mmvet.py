"""MM-Vet v1 (Yu et al., "MM-Vet: Evaluating Large Multimodal Models for Integrated Capabilities",
arXiv 2308.02490), scored by an LLM judge exactly as the official evaluator does.

Dataset: lmms-lab/MMVet, split test (218 questions; `capability` is a comma-separated string there;
a list is accepted too). The official `mm-vet.json` release converts to that schema with
`scripts/mmvet_official.py`. Prompt: the bare question (LLaVA-1.5, max_new_tokens 1024).
Official scorer: yuweihao/MM-Vet `mm-vet_evaluator.py`: its few-shot `prompt` (reproduced byte for
byte below), then `\\n` and the row `question | answer (<AND>/<OR> padded with spaces) | prediction | `,
judge gpt-4-0613, max_tokens 3, score = float(reply.split(" ")[0]) within [0, 1]. A reply that does
not parse is asked again with `\\nPredict the correctness of the answer (digit): ` appended, at
temperature 0.0, 0.5, 1.0, 1.5 (the official loop raises the temperature after each retry): 5 tries
in all. The official loop then sends a sixth request whose reply it never reads and writes 0.0; we
skip that request, keep the 0.0 (numbers stay comparable) and count the judgement as failed.
Per capability: sum of scores of its questions / their count * 100; total: mean * 100; with N judge
runs, the mean over runs and the population std (numpy's default, as the official `std` column).
Reference: LLaVA-1.5-7B 31.1, LLaVA-1.5-13B 36.1 (LLaVA-1.5 paper).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vlmeval.column_checks import Text
from vlmeval.demo_data import image_cell, png_bytes
from vlmeval.errors import DataError, UsageError
from vlmeval.failure import Failure
from vlmeval.judge import Judge, JudgeQuery, prompt_hash
from vlmeval.metrics import Metric, Predicate, Record, mean_metric
from vlmeval.task import DataSpec, Row, Sample, ScoreContext, Scored, Task, row_images, task

CAPABILITIES = ("rec", "ocr", "know", "gen", "spat", "math")
OFFICIAL_JUDGE = "gpt-4-0613"
MAX_TRIES = 5
JUDGE_MAX_TOKENS = 3
DIGIT_SUFFIX = "\nPredict the correctness of the answer (digit): "

_MEME_TRUTH = (
    "This meme is poking fun at the fact that the names of the countries Iceland and Greenland are "
    "misleading. Despite its name, Iceland is known for its beautiful green landscapes, while Greenland "
    "is mostly covered in ice and snow. The meme is saying that the person has trust issues because the "
    "names of these countries do not accurately represent their landscapes."
)
_EXAMPLES = (
    ("What is x in the equation?", "-1 <AND> -5", "x = 3", "0.0"),
    ("What is x in the equation?", "-1 <AND> -5", "x = -1", "0.5"),
    ("What is x in the equation?", "-1 <AND> -5", "x = -5", "0.5"),
    ("What is x in the equation?", "-1 <AND> -5", "x = -5 or 5", "0.5"),
    ("What is x in the equation?", "-1 <AND> -5", "x = -1 or x = -5", "1.0"),
    ("Can you explain this meme?", _MEME_TRUTH,
     ("The meme talks about Iceland and Greenland. It's pointing out that despite their names, Iceland "
      "is not very icy and Greenland isn't very green."), "0.4"),
    ("Can you explain this meme?", _MEME_TRUTH,
     ("The meme is using humor to point out the misleading nature of Iceland's and Greenland's names. "
      "Iceland, despite its name, has lush green landscapes while Greenland is mostly covered in ice and "
      "snow. The text 'This is why I have trust issues' is a playful way to suggest that these "
      "contradictions can lead to distrust or confusion. The humor in this meme is derived from the "
      "unexpected contrast between the names of the countries and their actual physical "
      "characteristics."), "1.0"),
)
JUDGE_PROMPT = (
    "Compare the ground truth and prediction from AI models, to give a correctness score for the "
    "prediction. <AND> in the ground truth means it is totally right only when all elements in the "
    "ground truth are present in the prediction, and <OR> means it is totally right when any one "
    "element in the ground truth is present in the prediction. The correctness score is 0.0 (totally "
    "wrong), 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, or 1.0 (totally right). Just complete the "
    "last space of the correctness score.\n\n"
    "Question | Ground truth | Prediction | Correctness\n--- | --- | --- | ---\n"
    + "".join(" | ".join(example) + "\n" for example in _EXAMPLES)
)
PROMPT_HASH = prompt_hash(JUDGE_PROMPT)


def parse_capabilities(value: Any, question_id: str) -> tuple[str, ...]:
    """The hub's "rec,ocr" (or a list) as a tuple in the canonical order rec, ocr, know, gen, spat, math."""
    parts = value.split(",") if isinstance(value, str) else list(value if value is not None else ())
    found = {str(p).strip() for p in parts if str(p).strip()}
    unknown = found - set(CAPABILITIES)
    if not found or unknown:
        raise DataError(f"MM-Vet question {question_id}: capability {value!r} is not a subset of {CAPABILITIES}")
    return tuple(c for c in CAPABILITIES if c in found)


def to_sample(row: Row, index: int) -> Sample:
    question_id = str(row["question_id"])
    capabilities = parse_capabilities(row["capability"], question_id)
    if not isinstance(row["answer"], str):
        raise DataError(f"MM-Vet question {question_id}: no ground-truth answer (got {row['answer']!r})")
    return Sample(
        id=question_id,
        text=row["question"],
        images=row_images(row),
        target=row["answer"],
        meta={"capability": list(capabilities), "capabilities": "_".join(capabilities)},
    )


def judge_prompt(question: str, truth: str, prediction: str) -> str:
    """The official user message: few-shot prompt, newline, then the row to complete."""
    truth = truth.replace("<AND>", " <AND> ").replace("<OR>", " <OR> ")
    return f"{JUDGE_PROMPT}\n{question} | {truth} | {prediction} | "


def parse_score(reply: str) -> float | None:
    """`float(reply.split(" ")[0].strip())` within [0, 1], else None (NaN is rejected too)."""
    try:
        score = float(reply.split(" ")[0].strip())
    except ValueError:
        return None
    return score if 0.0 <= score <= 1.0 else None


def judge_query(prompt: str, attempt: int, run: int) -> JudgeQuery:
    """Try `attempt` (0-based): the plain prompt at 0.0, then the digit suffix at 0.0, 0.5, 1.0, 1.5."""
    if attempt == 0:
        return JudgeQuery(prompt, temperature=0.0, max_tokens=JUDGE_MAX_TOKENS, run=run)
    return JudgeQuery(prompt + DIGIT_SUFFIX, temperature=0.5 * (attempt - 1),
                      max_tokens=JUDGE_MAX_TOKENS, run=run)


@dataclass
class Grading:
    """One judgement (a sample in one judge run): the replies so far and the outcome."""

    prompt: str
    run: int
    replies: list[str] = field(default_factory=list)
    score: float | None = None
    error: str | None = None
    failure: Failure | None = None  # why there is no reply: JUDGE_ERROR or OVERSIZED

    @property
    def open(self) -> bool:
        return self.score is None and self.error is None


def grade(judge: Judge, gradings: Sequence[Grading]) -> None:
    """Ask, then re-ask what did not parse, in rounds: every round is one concurrent batch."""
    for attempt in range(MAX_TRIES):
        pending = [g for g in gradings if g.open]
        if not pending:
            return
        replies = judge.ask_many([judge_query(g.prompt, attempt, g.run) for g in pending])
        for grading, reply in zip(pending, replies, strict=True):
            if reply.text is None:  # failed for good (not cached: a re-run asks again), or oversized
                grading.error = reply.error or "no reply"
                grading.failure = reply.failure or Failure.JUDGE_ERROR
            else:
                grading.replies.append(reply.text)
                grading.score = parse_score(reply.text)


def _run_scores(scores: Sequence[float]) -> dict[str, float]:
    fields = {f"score_run{run}": s for run, s in enumerate(scores)}
    return {"score": statistics.fmean(scores), **fields}


def score(samples: Sequence[Sample], predictions: Sequence[str | None], context: ScoreContext) -> list[Scored]:
    judge = context.require_judge("mmvet", OFFICIAL_JUDGE)
    runs = context.judge_runs
    if runs < 1:
        raise UsageError(f"--judge-runs must be at least 1 (got {runs})")
    judge.declare_prompt("mmvet", JUDGE_PROMPT)
    gradings = {
        (index, run): Grading(judge_prompt(sample.text, sample.target, prediction), run)
        for index, (sample, prediction) in enumerate(zip(samples, predictions, strict=True))
        if prediction is not None
        for run in range(runs)
    }
    grade(judge, list(gradings.values()))
    verdicts = []
    for index, prediction in enumerate(predictions):
        if prediction is None:
            verdicts.append(Scored(None, {**_run_scores([0.0] * runs), "failed_judgements": 0.0}, Failure.ERROR))
            continue
        mine = [gradings[index, run] for run in range(runs)]
        failed = [g for g in mine if g.score is None]
        failure = None
        if failed:
            reasons = [g.failure for g in failed if g.failure]
            failure = (Failure.JUDGE_ERROR if Failure.JUDGE_ERROR in reasons else reasons[0]) if reasons \
                else Failure.JUDGE_FAILED
        answer = [{"score": g.score, "replies": g.replies, "error": g.error} for g in mine]
        run_scores = [g.score if g.score is not None else 0.0 for g in mine]  # the official 0.0
        verdicts.append(Scored(answer, {**_run_scores(run_scores), "failed_judgements": float(len(failed))},
                               failure))
    return verdicts


def _has(capability: str) -> Predicate:
    return lambda r: capability in r.meta.get("capability", ())


def _std_metric(name: str, where: Predicate | None) -> Metric:
    """Population std over judge runs of 100 x the mean score; only where there are 2+ runs."""

    def reduce(records: Sequence[Record]) -> float:
        runs = min(sum(k.startswith("score_run") for k in r.scores) for r in records)
        totals = [100.0 * statistics.fmean(r.scores[f"score_run{k}"] for r in records) for k in range(runs)]
        return statistics.pstdev(totals)

    def qualifies(r: Record) -> bool:
        return "score_run1" in r.scores and (where is None or where(r))

    # in percent points, but not "higher is better": a scale that compare never gates on
    return Metric(name=f"{name}_std", reduce=reduce, where=qualifies, scale="spread")


def _count(records: Sequence[Record]) -> float:
    return sum(r.scores.get("failed_judgements", 0.0) for r in records)


METRICS: tuple[Metric, ...] = (
    mean_metric("total", "score"),
    *(mean_metric(c, "score", where=_has(c)) for c in CAPABILITIES),
    _std_metric("total", None),
    *(_std_metric(c, _has(c)) for c in CAPABILITIES),
    Metric(name="failed_judgements", reduce=_count, scale="count", reduces="sum"),
)


def summary_line(metrics: Mapping[str, float], n_samples: int) -> str:
    spread = f" (std {metrics['total_std']:.1f} over judge runs)" if "total_std" in metrics else ""
    caps = ", ".join(f"{c} {metrics[c]:.1f}" for c in CAPABILITIES if c in metrics)
    failed = int(metrics.get("failed_judgements", 0))
    return (f"MM-Vet total {metrics['total']:.1f}{spread}; {caps}; {n_samples} questions; "
            f"judge prompt {PROMPT_HASH}; failed judgements: {failed}")


# Demo rows in the hub's schema (`Task.demo_rows`: the contract test and `--data demo` read them).
def mmvet_row(question_id: str, question: str, answer: str, capability: str) -> dict[str, Any]:
    """One row in the lmms-lab/MMVet (test) schema."""
    return {"question_id": question_id, "image": image_cell(png_bytes()), "question": question,
            "answer": answer, "capability": capability, "image_source": "test"}


def demo_rows() -> list[dict[str, Any]]:
    return [mmvet_row("v1_0", "What is x?", "-1<AND>-5", "ocr,math"),
            mmvet_row("v1_1", "Explain the meme.", "It mocks online classes.", "gen,know,rec")]


@task("mmvet")
def mmvet() -> Task:
    return Task(
        description=f"MM-Vet v1, bare question, official LLM-judge scoring (official judge {OFFICIAL_JUDGE})",
        data=DataSpec(hub="lmms-lab/MMVet", split="test", size=218,
                      columns=("question_id", "question", "answer", "capability"),
                      checks=(Text("question"), Text("answer"))),
        demo_rows=demo_rows,
        to_sample=to_sample,
        scorer=score,
        metrics=METRICS,
        max_new_tokens=1024,
        breakdowns=("capabilities",),
        summary_line=summary_line,
    )
