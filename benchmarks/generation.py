"""Generation throughput of the transformers backend on a tiny model, at batch sizes 1, 8 and 32.

Calls `vlmeval.engine.runner.generate` (the loop `vlmeval run` uses: length-sorted batches, images
decoded and batches prepared in a prefetch thread) on a synthetic ScienceQA split, with the
answers in a temporary store. Per batch size it prints samples/s, generated tokens/s and where
the wall time went: inside `model.generate`, other backend work on the loop's critical path
(chat template, tokenising, image preprocessing, decoding: what a backend `prepare()` moves into
the prefetch thread), and waiting for the prefetch thread (`GenerationSummary.input_wait_s`).
Then it checks that every sample got the same answer at every batch size.

Models: `demo` (the bundled trained checkpoint: answers one letter, so about 2 tokens each),
`random` (a fresh tiny LLaVA with widened random weights, which rarely stops early: tokens/s at
`--max-new-tokens`), or a checkpoint folder. Generated tokens are counted from `model.generate`'s
output: new positions that are not padding.

Targets (issue 9): batch 32 at least 4x the samples/s of batch 1; input wait under 5 % of wall.
Run: ``python benchmarks/generation.py [--model demo|random|PATH] [--samples N] [--batch-sizes 1,8,32]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/tiny_llava.py

from _common import load_average, print_header, require_tasks, workdir, write_sqa_parquet


class ModelTimer:
    """Wraps `model.generate` on one model instance: time inside it and new non-padding tokens."""

    def __init__(self, model: Any, pad_token_id: int | None) -> None:
        self.seconds = 0.0
        self.tokens = 0
        self.first_start: float | None = None  # when the first call since `reset` began (perf_counter)
        self.last_end: float | None = None
        self.pad = pad_token_id
        self._generate: Callable[..., Any] = model.generate
        model.generate = self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        if self.first_start is None:
            self.first_start = start
        output = self._generate(*args, **kwargs)
        self.last_end = time.perf_counter()
        self.seconds += self.last_end - start
        sequences = getattr(output, "sequences", output)
        prompt = kwargs.get("input_ids", args[0] if args else None)
        new = sequences if prompt is None else sequences[:, prompt.shape[1]:]
        self.tokens += int((new != self.pad).sum()) if self.pad is not None else new.numel()
        return output

    def reset(self) -> None:
        self.seconds, self.tokens = 0.0, 0
        self.first_start = self.last_end = None


def random_checkpoint(folder: Path) -> Path:
    """A tiny LLaVA whose random weights are wide enough that answers depend on the input."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from scripts.tiny_llava import build_tiny_llava

    source = build_tiny_llava(folder / "init", seed=0)
    model = AutoModelForImageTextToText.from_pretrained(source)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.2, generator=generator)
    out = folder / "random"
    model.save_pretrained(out)
    AutoProcessor.from_pretrained(source).save_pretrained(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="demo", help="demo, random, or a checkpoint folder")
    parser.add_argument("--samples", type=int, default=320)
    parser.add_argument("--batch-sizes", default="1,8,32")
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--image-size", type=int, default=32, help="side of the synthetic PNGs in px")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's, one per core)")
    parser.add_argument("--workdir", help="keep data and answers here (default: a temporary folder)")
    args = parser.parse_args()
    require_tasks()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from vlmeval.backends import BackendOptions, make_backend
    from vlmeval.backends.base import GenerationSettings, Request
    from vlmeval.engine.runner import generate
    from vlmeval.engine.samples import load_samples
    from vlmeval.engine.store import AnswerStore
    from vlmeval.registry import load_registry

    sizes = [int(b) for b in args.batch_sizes.split(",")]
    print_header("generation throughput", {
        "model": args.model, "samples": args.samples, "batch sizes": sizes, "max_new_tokens": args.max_new_tokens,
        "device": args.device, "image px": args.image_size, "torch threads": torch.get_num_threads(),
        "task": "sqa (synthetic split, 48% with an image)"}, import_torch=True)
    with workdir(args.workdir, "vlmeval-generation-") as folder:
        data = write_sqa_parquet(folder / "sqa", args.samples, image_size=args.image_size)
        samples = load_samples(load_registry().get("sqa"), str(data), None, None).samples
        model = str(random_checkpoint(folder)) if args.model == "random" else args.model
        start = time.perf_counter()
        backend = make_backend(model, BackendOptions(device=args.device))
        print(f"model loaded in {time.perf_counter() - start:.1f} s: {backend.describe()}")
        timer = ModelTimer(backend.model, backend.tokenizer.pad_token_id)
        settings = GenerationSettings(max_new_tokens=args.max_new_tokens)
        backend.generate([Request(s.id, s.text, tuple(i.load() for i in s.images)) for s in samples[:4]], settings)

        results: dict[int, dict[str, str | None]] = {}
        rates: dict[int, float] = {}
        waits: dict[int, float] = {}
        for size in sizes:
            timer.reset()
            store = AnswerStore(folder / f"answers-b{size}")
            summary = generate(samples, lambda: backend, settings, store, size, show_progress=False)
            results[size] = {k: a.prediction for k, a in store.read().answers.items()}
            wall = summary.wall_s
            rates[size] = summary.answered / wall
            waits[size] = summary.input_wait_s / wall
            other = summary.generate_s - timer.seconds
            print(f"batch {size:>3}: {rates[size]:8.1f} samples/s, {timer.tokens / wall:8.1f} generated tokens/s "
                  f"({timer.tokens} tokens, {wall:.2f} s wall, {summary.errors} errors) | model.generate "
                  f"{100 * timer.seconds / wall:4.1f}%, other backend work on the loop {100 * other / wall:4.1f}%, "
                  f"input wait {100 * summary.input_wait_s / wall:4.1f}% of wall | {load_average()}")

        base = sizes[0]
        for size in sizes[1:]:
            differ = [k for k in results[base] if results[size].get(k) != results[base][k]]
            shown = "; ".join(f"{k}: {results[base][k]!r} vs {results[size].get(k)!r}" for k in differ[:3])
            print(f"answers at batch {size} vs batch {base}: "
                  + ("identical" if not differ else f"{len(differ)} of {len(results[base])} DIFFER ({shown})"))
        distinct = len(set(results[base].values()))
        print(f"distinct answers: {distinct} (a model that always says the same thing would hide differences)")
        worst = max(waits, key=waits.__getitem__)
        print(f"largest input-wait share: {100 * waits[worst]:.1f}% at batch {worst}; target < 5%: "
              f"{'met' if waits[worst] < 0.05 else 'MISSED'}")
        if 1 in rates and 32 in rates:
            ratio = rates[32] / rates[1]
            print(f"batch 32 / batch 1 samples/s: {ratio:.2f}x; target >= 4x: {'met' if ratio >= 4 else 'MISSED'}")


if __name__ == "__main__":
    main()
