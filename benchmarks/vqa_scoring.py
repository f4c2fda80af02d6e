"""Time and memory of VQA scoring at VQAv2-val scale (214,354 questions x 10 human answers).

Synthetic but realistic: answer types in VQAv2-val proportions (yes/no 37.6 %, number 13.1 %,
other 49.3 %), ground truths that are often unanimous (yes/no) and otherwise a consensus answer
plus noise from a vocabulary of ~30,000 phrases with case, article, punctuation and number-word
variants; raw model-like predictions ("Yes.", "Two", "The red one", trailing newline) scored with
``vqa_score`` (EvalAI processor, then the official accuracy) question by question, and with
``vqa_accuracies`` for the whole split at once (the path ``vlmeval score`` takes); caches cold at the start.

Run: ``python benchmarks/vqa_scoring.py [--questions N] [--seed S] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from vlmeval.answers.vqa import clear_caches, evalai_normalize, vqa_accuracies, vqa_score

Question = tuple[str, str, list[str]]  # (answer type, prediction, 10 ground-truth answers)

_WORDS = """
red blue green white black yellow brown orange pink gray dog cat man woman boy girl table chair
car bus train plane pizza cake banana apple horse cow sheep bird kite frisbee surfboard
skateboard umbrella phone laptop tv bed couch grass sky snow water beach street wood metal
plastic tennis baseball soccer kitchen bathroom left right top bottom sitting standing eating
walking flying sunny cloudy daytime night wii remote clock sign stop tree building shirt hat
glasses
""".split()  # noqa: SIM905 - a word list reads better as text
_NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def _other_vocabulary(rng: random.Random, size: int) -> list[str]:
    vocabulary: set[str] = set()
    while len(vocabulary) < size:
        phrase = " ".join(rng.choice(_WORDS) for _ in range(rng.choice((1, 1, 1, 2, 2, 3))))
        roll = rng.random()
        if roll < 0.05:
            phrase = phrase.replace(" ", "-", 1)  # "t-shirt", "hot-dog"
        elif roll < 0.08:
            phrase += "'s"
        elif roll < 0.10:
            phrase = f"{rng.randint(1, 9)},{rng.randint(0, 999):03d} {phrase}"
        vocabulary.add(phrase)
    return sorted(vocabulary)


def _variant(answer: str, rng: random.Random) -> str:
    """How a human or a model may write the same answer."""
    roll = rng.random()
    if roll < 0.10:
        return answer.capitalize()
    if roll < 0.15:
        return "the " + answer
    if roll < 0.20:
        return answer + "."
    if roll < 0.23 and answer.isdigit() and int(answer) <= 10:
        return _NUMBER_WORDS[int(answer)]
    return answer


def _ground_truths(consensus: str, pool: list[str], agreement: float, rng: random.Random) -> list[str]:
    return [
        _variant(consensus, rng) if rng.random() < agreement else rng.choice(pool)
        for _ in range(10)
    ]


def build_questions(n_questions: int, seed: int) -> list[Question]:
    rng = random.Random(seed)
    other = _other_vocabulary(rng, 30_000)
    numbers = [str(i) for i in range(21)] + ["100", "1,000", "3.5"]
    questions: list[Question] = []
    for _ in range(n_questions):
        roll = rng.random()
        if roll < 0.376:
            kind, consensus = "yes/no", rng.choice(("yes", "no"))
            gts = [consensus] * 10 if rng.random() < 0.6 else _ground_truths(consensus, ["yes", "no"], 0.85, rng)
        elif roll < 0.507:
            kind, consensus = "number", rng.choice(numbers[:8]) if rng.random() < 0.8 else rng.choice(numbers)
            gts = _ground_truths(consensus, numbers, 0.6, rng)
        else:
            kind, consensus = "other", rng.choice(other)
            gts = _ground_truths(consensus, other, 0.5, rng)
        answer = consensus if rng.random() < 0.65 else rng.choice(gts + other[:50])
        prediction = _variant(answer, rng).capitalize() if rng.random() < 0.5 else _variant(answer, rng)
        if rng.random() < 0.02:
            prediction += "\n"
        questions.append((kind, prediction, gts))
    return questions


def score_all(questions: list[Question]) -> dict[str, float]:
    totals: dict[str, float] = {}
    counts: dict[str, int] = {}
    for kind, prediction, gts in questions:
        totals[kind] = totals.get(kind, 0.0) + vqa_score(prediction, gts)
        counts[kind] = counts.get(kind, 0) + 1
    per_type = {kind: 100 * totals[kind] / counts[kind] for kind in totals}
    per_type["overall"] = 100 * sum(totals.values()) / sum(counts.values())
    return per_type


def _max_rss_mib() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / 1024**2
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=214_354)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="timed cold-cache runs")
    args = parser.parse_args()

    print(f"machine: {platform.platform()} | {platform.processor() or platform.machine()} | "
          f"cpu_count={os.cpu_count()} | python {platform.python_version()}")
    start = time.perf_counter()
    questions = build_questions(args.questions, args.seed)
    print(f"built {len(questions):,} questions x 10 answers in {time.perf_counter() - start:.2f} s; "
          f"peak RSS so far {_max_rss_mib():.0f} MiB")

    walls: list[float] = []
    cpu_times: list[float] = []
    accuracy: dict[str, float] = {}
    for _ in range(args.repeat):  # shared machines are noisy: every run is printed, best kept
        clear_caches()
        start, cpu_start = time.perf_counter(), time.process_time()
        accuracy = score_all(questions)
        walls.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    best = min(walls)
    runs = ", ".join(f"{wall:.2f}" for wall in walls)
    print(f"scoring (cold caches), runs: {runs} s; best {best:.2f} s wall "
          f"({1e6 * best / len(questions):.2f} us/question), best CPU {min(cpu_times):.2f} s; "
          f"load average {os.getloadavg()[0]:.2f}; peak RSS of the process {_max_rss_mib():.0f} MiB")
    print("accuracy: " + ", ".join(f"{kind} {value:.2f}" for kind, value in sorted(accuracy.items())))

    # The path `vlmeval score` takes: the whole split at once (`score_vqa` -> `vqa_accuracies`).
    bulk_walls = []
    for _ in range(args.repeat):
        clear_caches()
        start = time.perf_counter()
        bulk = vqa_accuracies([evalai_normalize(p) for _, p, _ in questions], [g for _, _, g in questions])
        bulk_walls.append(time.perf_counter() - start)
    same = bulk == [vqa_score(p, g) for _, p, g in questions]
    print(f"whole split at once (vqa_accuracies, cold caches), runs: "
          f"{', '.join(f'{wall:.2f}' for wall in bulk_walls)} s; best {min(bulk_walls):.2f} s; "
          f"equal to the per-question scores: {same}")

    clear_caches()
    tracemalloc.start()
    score_all(questions)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak memory allocated while scoring (tracemalloc, caches included): {peak / 1024**2:.1f} MiB")


if __name__ == "__main__":
    main()
