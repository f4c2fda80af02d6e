"""Train the bundled demo model and write the ScienceQA-schema demo test split.

Deterministic (seeded): builds a tiny LLaVA with `scripts/tiny_llava.py`'s `build_tiny_llava`, trains it with AdamW on
freshly generated synthetic questions, saves it to `vlmeval/demo/checkpoint/`, writes the held-out test
split `tasks/data/sqa_demo.parquet` and prints the greedy accuracy on fresh training-distribution
questions and on the test split. Runs in a few minutes on 2 CPU cores.

The test split is held out by construction, not only by seed: its text questions use names, verbs and
objects that training never shows (`HELD_OUT`), and its pictures are noisier and less contrasted, so
the model must generalise and scores well below 100% (the training distribution itself is near 100%).

The parquet follows the column layout of the hub copy lmms-lab/ScienceQA (config ScienceQA-FULL);
the prompt is the harness's ScienceQA prompt rendered through the model's chat template.
Usage: python scripts/train_demo.py [--steps N]
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scripts.tiny_llava import build_tiny_llava
from vlmeval.demo import CHECKPOINT_DIR

DEMO_PARQUET = REPO / "tasks" / "data" / "sqa_demo.parquet"
IMAGE_SIZE = 32
LETTERS = "ABCDEFGH"


@dataclass(frozen=True)
class Topic:
    """ScienceQA metadata shared by all questions of one template."""

    subject: str
    topic: str
    category: str
    skill: str
    lecture: str
    grades: tuple[str, ...]

    def sample(
        self, rng: random.Random, question: str, choices: list[str], answer: int, **extra: Any
    ) -> Sample:
        return Sample(question, choices, answer, grade=rng.choice(self.grades), meta=self, **extra)


@dataclass(frozen=True)
class Conditions:
    """Words and picture settings a question is drawn with: `TRAIN` for training, `HELD_OUT` for the
    test split (no word of a held-out list occurs in training, so no test text question was seen)."""

    noise: tuple[float, ...]  # per-pixel noise sigma, one drawn per picture (0: a solid picture)
    jitter: int  # colour jitter around a template's base colour
    shade: tuple[int, int]  # grey level range of the map's shaded half (the paper is ~235)
    subjects: tuple[str, ...]
    verbs: tuple[str, ...]
    objects: tuple[str, ...]
    names: tuple[str, ...]
    gains: tuple[str, ...]
    losses: tuple[str, ...]
    things: tuple[str, ...]
    warmers: tuple[str, ...]
    coolers: tuple[str, ...]


TRAIN = Conditions(
    noise=(0.0, 12.0, 25.0), jitter=30, shade=(30, 120),
    subjects=("Tom", "the dog", "my sister", "our class", "the baker", "Maya", "the old man", "a bird"),
    verbs=("likes", "sees", "finds", "wants", "makes", "reads", "paints", "needs"),
    objects=("the red ball", "a big cake", "the map", "some apples", "the small boat", "a song", "the garden"),
    names=("Maya", "Leo", "Ava", "Sam", "Nora", "Eli", "Ruth", "Omar", "Ivy", "Ben"),
    gains=("gets", "earns", "finds"), losses=("gives away", "spends", "loses"),
    things=("cup of tea", "pot of soup", "glass of water", "rock", "metal spoon", "bowl of rice", "juice box"),
    warmers=("heated", "warmed", "put in the sun"), coolers=("cooled", "chilled", "put in the fridge"),
)  # fmt: skip
HELD_OUT = Conditions(
    noise=(40.0, 60.0, 80.0), jitter=75, shade=(140, 190),
    subjects=("Grandpa", "the twins", "a fox", "Priya", "the teacher", "Mr. Lopez"),
    verbs=("carries", "builds", "washes", "loves", "hides", "draws"),
    objects=("the blue kite", "a wooden chair", "ten pencils", "the letter", "a warm scarf"),
    names=("Zoe", "Kai", "Lena", "Hugo", "Mia", "Raj"),
    gains=("receives", "wins", "collects"), losses=("donates", "drops", "trades"),
    things=("mug of cocoa", "brick", "kettle", "ice cube", "bottle of milk"),
    warmers=("boiled", "baked", "held over a fire"), coolers=("frozen", "iced", "left in the snow"),
)  # fmt: skip


@dataclass
class Sample:
    question: str
    choices: list[str]
    answer: int
    grade: str
    meta: Topic
    hint: str = ""
    image: Image.Image | None = None
    solution: str = ""
    task: str = "closed choice"


def sqa_prompt(sample: Sample) -> str:
    """The harness's ScienceQA user text (must stay byte-identical to it)."""
    context = f"Context: {sample.hint}\n" if sample.hint else ""
    options = "\n".join(f"{LETTERS[i]}. {c}" for i, c in enumerate(sample.choices))
    return f"{context}{sample.question}\n{options}\nAnswer with the option's letter from the given choices directly."


def chat_text(processor: Any, sample: Sample) -> str:
    content: list[dict[str, str]] = [{"type": "image"}] if sample.image is not None else []
    content.append({"type": "text", "text": sqa_prompt(sample)})
    messages = [{"role": "user", "content": content}]
    return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


# ---------------------------------------------------------------- synthetic question templates


def _noisy_image(
    rng: random.Random, paint: Callable[[np.ndarray], None], base: tuple[int, int, int], cond: Conditions
) -> Image.Image:
    """A 32 px picture: `base` background, `paint` draws on it, then per-pixel noise (or none: solid)."""
    nrng = np.random.default_rng(rng.getrandbits(32))
    pixels = np.empty((IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.float32)
    pixels[:] = base
    paint(pixels)
    sigma = rng.choice(cond.noise)
    pixels += nrng.normal(0.0, sigma, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _jitter(rng: random.Random, rgb: tuple[int, int, int], amount: int = 30) -> tuple[int, int, int]:
    return tuple(min(255, max(0, c + rng.randint(-amount, amount))) for c in rgb)  # type: ignore[return-value]


COLORS = {"red": (200, 40, 40), "green": (40, 170, 60), "blue": (40, 70, 210), "yellow": (225, 205, 40)}
COLOR = Topic(
    "natural science",
    "physics",
    "Colors",
    "Identify colors",
    "Light of different wavelengths looks like different colors.",
    ("grade1", "grade2", "grade8"),
)


def color_question(rng: random.Random, cond: Conditions) -> Sample:
    names = list(COLORS)
    answer = rng.randrange(len(names))
    image = _noisy_image(rng, lambda px: None, _jitter(rng, COLORS[names[answer]], cond.jitter), cond)
    hint = "The picture is a square." if rng.random() < 0.1 else ""
    solution = f"The picture is filled with {names[answer]}."
    return COLOR.sample(
        rng, "Which color fills the picture?", names, answer, hint=hint, image=image, solution=solution
    )


MAP = Topic(
    "social science",
    "geography",
    "Maps",
    "Read a map",
    "A map shows places from above.",
    ("grade4", "grade5", "grade7"),
)


def side_question(rng: random.Random, cond: Conditions) -> Sample:
    answer = rng.randrange(2)
    shade = _jitter(rng, (rng.randint(*cond.shade),) * 3, 40)

    def paint(px: np.ndarray) -> None:
        half = IMAGE_SIZE // 2
        if answer == 0:
            px[:, :half] = shade
        else:
            px[:, half:] = shade

    image = _noisy_image(rng, paint, _jitter(rng, (235, 235, 225), 15), cond)
    sides = ["left", "right"]
    solution = f"The {sides[answer]} side is shaded."
    return MAP.sample(rng, "Which side of the map is shaded?", sides, answer, image=image, solution=solution)


SKY = Topic(
    "natural science",
    "earth-science",
    "Day and night",
    "Tell day from night",
    "The sky is bright during the day and dark at night.",
    ("grade1", "grade3", "grade9"),
)


def sky_question(rng: random.Random, cond: Conditions) -> Sample:
    answer = rng.randrange(2)
    sky = _jitter(rng, [(120, 180, 240), (15, 20, 60)][answer], cond.jitter - 5)
    image = _noisy_image(rng, lambda px: None, sky, cond)
    question = "Is the sky in the picture during the day or at night?"
    solution = f"The sky shows the {['day', 'night'][answer]}."
    return SKY.sample(rng, question, ["day", "night"], answer, image=image, solution=solution)


ENDINGS = [".", "?", "!"]
SENTENCES = Topic(
    "language science",
    "grammar",
    "Types of sentences",
    "Identify the type of a sentence",
    "A sentence ends with a period, a question mark or an exclamation mark.",
    ("grade2", "grade5", "grade10"),
)


def sentence_question(rng: random.Random, cond: Conditions) -> Sample:
    answer = rng.randrange(3)
    words = f"{rng.choice(cond.subjects)} {rng.choice(cond.verbs)} {rng.choice(cond.objects)}"
    if rng.random() < 0.5:
        words += f" {rng.choice(['today', 'again', 'at home', 'every day', 'now'])}"
    sentence = words[0].upper() + words[1:] + ENDINGS[answer]
    question = f"What kind of sentence is this?\n{sentence}"
    choices = ["declarative", "interrogative", "exclamatory"]
    return SENTENCES.sample(
        rng, question, choices, answer, solution=f"The sentence ends with {ENDINGS[answer]}"
    )


MONEY = Topic(
    "social science",
    "economics",
    "Money",
    "Add and take away money",
    "Getting coins adds to what you have; giving them away takes from it.",
    ("grade3", "grade6", "grade11"),
)


def coins_question(rng: random.Random, cond: Conditions) -> Sample:
    """The deciding verb sits in the hint (ScienceQA's context), not in the question."""
    answer = rng.randrange(2)
    name = rng.choice(cond.names)
    action = rng.choice([cond.gains, cond.losses][answer])
    hint = f"{name} has {rng.randint(2, 20)} coins. Then {name} {action} {rng.randint(2, 9)} coins."
    solution = f"{name} {action} coins, so {name} has {['more', 'fewer'][answer]} coins now."
    question = f"Does {name} have more or fewer coins now?"
    return MONEY.sample(rng, question, ["more", "fewer"], answer, hint=hint, solution=solution)


HEAT = Topic(
    "natural science",
    "physics",
    "Heat",
    "Predict temperature changes",
    "Adding heat makes things warmer; taking heat away makes them colder.",
    ("grade2", "grade4", "grade7", "grade12"),
)


def temperature_question(rng: random.Random, cond: Conditions) -> Sample:
    answer = rng.randrange(2)
    verb = rng.choice([cond.warmers, cond.coolers][answer])
    question = f"A {rng.choice(cond.things)} is {verb}. Does its temperature go up or down?"
    solution = f"Its temperature goes {['up', 'down'][answer]}."
    return HEAT.sample(rng, question, ["up", "down"], answer, solution=solution)


TEMPLATES: list[Callable[[random.Random, Conditions], Sample]] = [
    color_question,
    side_question,
    sky_question,
    sentence_question,
    coins_question,
    temperature_question,
]
DEMO_COUNTS = [16, 10, 8, 8, 9, 9]  # 60 rows, 34 with an image


def demo_split(seed: int, cond: Conditions = HELD_OUT) -> list[Sample]:
    """DEMO_COUNTS rows per template, answers balanced over the options (so no letter bias pays)."""
    rng = random.Random(seed)
    rows: list[Sample] = []
    for template, count in zip(TEMPLATES, DEMO_COUNTS):
        taken: list[Sample] = []
        while len(taken) < count:
            sample = template(rng, cond)
            quota = -(-count // len(sample.choices))
            if sum(s.answer == sample.answer for s in taken) < quota:
                taken.append(sample)
        rows += taken
    for sample in rows[:3]:  # a few image questions that also carry a (neutral) context
        sample.hint = "The picture is a square."
    return rows


def training_sampler(seed: int) -> Callable[[], Sample]:
    """Fresh samples from all templates under `TRAIN` conditions: no held-out word ever occurs."""
    rng = random.Random(seed)

    def draw() -> Sample:
        return rng.choice(TEMPLATES)(rng, TRAIN)

    return draw


def check_held_out(test: list[Sample]) -> None:
    """Every text-only test question carries a word training never uses (so none was trained on)."""
    held_out = [w for field in ("subjects", "verbs", "objects", "names", "gains", "losses", "things",
                                "warmers", "coolers") for w in getattr(HELD_OUT, field)]
    trained = {w for field in ("subjects", "verbs", "objects", "names", "gains", "losses", "things",
                               "warmers", "coolers") for w in getattr(TRAIN, field)}
    assert not trained & set(held_out), "a held-out word is also a training word"
    for sample in test:
        text = f"{sample.hint} {sample.question}"
        assert sample.image is not None or any(w in text for w in held_out), text


def row(sample: Sample) -> dict[str, Any]:
    """One parquet row, columns in the order of lmms-lab/ScienceQA; the image as PNG bytes."""
    image = None
    if sample.image is not None:
        buffer = io.BytesIO()
        sample.image.save(buffer, format="PNG")
        image = {"bytes": buffer.getvalue(), "path": None}
    meta = sample.meta
    return {
        "image": image, "question": sample.question, "choices": sample.choices, "answer": sample.answer,
        "hint": sample.hint, "task": sample.task, "grade": sample.grade, "subject": meta.subject,
        "topic": meta.topic, "category": meta.category, "skill": meta.skill, "lecture": meta.lecture,
        "solution": sample.solution,
    }  # fmt: skip


def write_parquet(samples: list[Sample], path: Path) -> None:
    import datasets

    string = datasets.Value("string")
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "question": string,
            "choices": datasets.List(string),
            "answer": datasets.Value("int64"),
            **{name: string for name in list(row(samples[0]))[4:]},
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list([row(s) for s in samples], features=features).to_parquet(str(path))


# ---------------------------------------------------------------- training and evaluation


def encode(processor: Any, samples: list[Sample], with_targets: bool) -> dict[str, Any]:
    """Left-padded batch; with targets, ' {letter}</s>' is appended and is the only labelled part."""
    texts = [chat_text(processor, s) for s in samples]
    targets = [f" {LETTERS[s.answer]}{processor.tokenizer.eos_token}" for s in samples]
    if with_targets:
        texts = [t + target for t, target in zip(texts, targets)]
    images = [s.image for s in samples if s.image is not None]
    processor.tokenizer.padding_side = "left"
    batch = processor(text=texts, images=images or None, padding=True, return_tensors="pt")
    if with_targets:
        labels = batch["input_ids"].clone()
        for row, target in enumerate(targets):  # left padding: every row ends with its target
            labels[row, : -len(processor.tokenizer(target)["input_ids"])] = -100
        batch["labels"] = labels
    return dict(batch)


def check_target_tokenization(processor: Any, sample: Sample) -> None:
    """Training appends ' X</s>' as text: it must tokenize as the prompt's tokens + ' X' + '</s>'."""
    tokenizer = processor.tokenizer
    prompt = tokenizer(chat_text(processor, sample))["input_ids"]
    for letter in LETTERS[: len(sample.choices)]:
        full = tokenizer(f"{chat_text(processor, sample)} {letter}{tokenizer.eos_token}")["input_ids"]
        assert full[: len(prompt)] == prompt, "the target changes the prompt's tokens"
        assert len(full) == len(prompt) + 2, f"' {letter}' is not a single token"


def predict(model: Any, processor: Any, samples: list[Sample], max_new_tokens: int = 3) -> list[str]:
    import torch

    batch = encode(processor, samples, with_targets=False)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False)
    new_tokens = out[:, batch["input_ids"].shape[1] :]
    return [a.strip() for a in processor.batch_decode(new_tokens, skip_special_tokens=True)]


def report_accuracy(model: Any, processor: Any, samples: list[Sample], name: str) -> float:
    answers = predict(model, processor, samples)
    hits = [a[:1] == LETTERS[s.answer] for a, s in zip(answers, samples)]
    groups: dict[str, list[bool]] = {}
    for hit, sample in zip(hits, samples):
        for key in (
            sample.meta.category,
            sample.meta.subject,
            "image" if sample.image else "no image",
            "hint" * bool(sample.hint),
        ):
            if key:
                groups.setdefault(key, []).append(hit)
    chance = sum(1 / len(s.choices) for s in samples) / len(samples)
    for key, values in groups.items():
        print(f"  {key:18s} {sum(values):3d}/{len(values):3d} = {sum(values) / len(values):.0%}")
    accuracy = sum(hits) / len(hits)
    print(
        f"{name} accuracy {accuracy:.1%} over {len(hits)} questions (chance {chance:.1%}); answers e.g. {answers[:6]}"
    )
    return accuracy


def train(
    out_dir: Path, steps: int, seed: int, batch_size: int = 32, lr: float = 3e-3
) -> None:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    torch.manual_seed(seed)
    corpus_draw = training_sampler(seed + 1)
    corpus = [sqa_prompt(corpus_draw()) for _ in range(300)]
    build_tiny_llava(out_dir, seed=seed, image_size=IMAGE_SIZE, corpus=corpus)
    processor = AutoProcessor.from_pretrained(out_dir)
    model = AutoModelForImageTextToText.from_pretrained(out_dir)
    check_target_tokenization(processor, corpus_draw())

    draw = training_sampler(seed + 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * s / steps)))
    )
    model.train()
    start = time.time()
    for step in range(steps):
        loss = model(**encode(processor, [draw() for _ in range(batch_size)], with_targets=True)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        if step % 100 == 0 or step == steps - 1:
            print(f"step {step:4d} loss {loss.item():.3f} ({time.time() - start:.0f}s)", flush=True)
    model.eval()
    model.save_pretrained(out_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split-only", action="store_true", help="rewrite the test split, keep the model")
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    torch.set_num_threads(2)
    demo = demo_split(seed=2000 + args.seed)  # the training draws use seed + 1 and seed + 2
    check_held_out(demo)
    if not args.split_only:
        with tempfile.TemporaryDirectory() as tmp:
            train(Path(tmp) / "model", steps=args.steps, seed=args.seed)
            shutil.rmtree(CHECKPOINT_DIR, ignore_errors=True)
            shutil.copytree(Path(tmp) / "model", CHECKPOINT_DIR)
        for file in CHECKPOINT_DIR.iterdir():
            file.chmod(0o644)  # save_pretrained writes the weights 0600
    write_parquet(demo, DEMO_PARQUET)

    size = sum(f.stat().st_size for f in CHECKPOINT_DIR.iterdir())
    print(f"checkpoint {CHECKPOINT_DIR} {size / 1e6:.2f} MB; demo split {DEMO_PARQUET} ({len(demo)} rows)")
    processor = AutoProcessor.from_pretrained(CHECKPOINT_DIR)
    model = AutoModelForImageTextToText.from_pretrained(CHECKPOINT_DIR).eval()
    seen = training_sampler(seed=3000 + args.seed)
    report_accuracy(model, processor, [seen() for _ in range(len(demo))], "training-distribution")
    report_accuracy(model, processor, demo, "held-out test split")


if __name__ == "__main__":
    main()
