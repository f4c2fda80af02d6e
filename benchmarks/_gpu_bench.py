"""The measuring half of benchmarks/gpu.py: settings, time budget, figures file, `vlmeval run` and the bare loop.

`Bench.vlmeval_run` runs the CLI's own `main` in this process and reads the report it wrote;
`bare_loop` is the limit it is compared with: the processor and `model.generate` on the same
batches, in the same order, with the images decoded beforehand, and nothing else.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
import traceback
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _common import machine_lines
from _gpu_probes import BusySampler, device_facts, peak_memory_gib, reset_peak_memory
from generation import ModelTimer

@dataclass
class Budget:
    seconds: float
    start: float = field(default_factory=time.perf_counter)

    def left(self) -> float:
        return self.seconds - (time.perf_counter() - self.start)


@dataclass
class Settings:
    device: str
    dtype: str
    models: list[str]
    batch_sizes: list[int]
    sqa_questions: int
    vqa_questions: int
    image_px: int
    samples: int  # questions per measured batch size (at least 6 batches: more for large sizes)
    max_samples: int
    samples_batch_1: int
    max_probe: int
    max_new_tokens: int
    vqa_new_tokens: int
    invariance_samples: int
    budget_s: float


class Bench:
    """Holds the figures, the JSON file they go to, the time budget and the measuring helpers."""

    def __init__(self, settings: Settings, folder: Path, json_path: Path) -> None:
        self.settings = settings
        self.folder = folder
        self.json_path = json_path
        self.budget = Budget(settings.budget_s)
        self.sampler = BusySampler()
        self.figures: dict[str, Any] = {
            "machine": machine_lines(import_torch=True), "device": device_facts(settings.device),
            "gpu_busy_source": self.sampler.source, "settings": asdict(settings), "models": {},
            "invariance": {}, "skipped": [], "errors": [], "complete": False, "dry_run": settings.device == "cpu",
        }

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """A step that fails is recorded (`errors`) and the script goes on to the next: one GPU call, one try."""
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - keep every figure the other steps can still give
            print(traceback.format_exc()[-2000:], end="")  # the innermost frames: the device returns a tail
            self.figures["errors"].append(f"{name}: {type(exc).__name__}: {str(exc)[:400]}")
            print(f"  step failed: {name} (recorded in the JSON; going on)")
            self.save()

    def save(self) -> None:
        self.figures["elapsed_s"] = round(self.settings.budget_s - self.budget.left(), 1)
        self.json_path.write_text(json.dumps(self.figures, indent=2) + "\n", encoding="utf-8")

    def fits(self, what: str, estimate_s: float) -> bool:
        """Whether a step estimated at `estimate_s` (with a 30 % margin) fits the budget; one that does not is listed."""
        estimate_s *= 1.3
        if estimate_s <= self.budget.left():
            return True
        self.figures["skipped"].append(f"{what} (needs ~{estimate_s:.0f} s, {self.budget.left():.0f} s left)")
        print(f"  skipped (time budget): {what}")
        self.save()
        return False

    def vlmeval_run(self, name: str, task: str, model: str, data: Path, batch: str, limit: int,
                    new_tokens: int, dtype: str, timer: ModelTimer | None, extra: tuple[str, ...] = ()
                    ) -> dict[str, Any]:
        """`vlmeval run` through the CLI's main, in this process; its output is kept out of the figures."""
        from vlmeval.cli import main

        output = self.folder / "runs"
        argv = ["run", "--task", task, "--model", model, "--data", str(data), "--output", str(output),
                "--run-name", name, "--batch-size", batch, "--limit", str(limit), "--max-new-tokens",
                str(new_tokens), "--dtype", dtype, "--device", self.settings.device, "--shards", "1",
                "--no-progress", "--restart", *extra]
        if timer is not None:
            timer.reset()
        reset_peak_memory(self.settings.device)
        captured = io.StringIO()
        self.sampler.start()
        started = time.perf_counter()
        try:
            with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
                code = main(argv)
        finally:
            wall = time.perf_counter() - started
            busy = self.sampler.stop()
        if code in (130, 143):  # vlmeval stopped on SIGINT/SIGTERM (ours included): so does this script
            raise KeyboardInterrupt
        if code not in (0, 3):
            raise RuntimeError(f"vlmeval {' '.join(argv)} exited {code}:\n{captured.getvalue()[-3000:]}")
        folder = output / name / task
        report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        predictions = [json.loads(line) for line in (folder / "predictions.jsonl").open(encoding="utf-8")]
        figures = _rates(limit, wall, timer, busy, self.sampler, self.settings.device)
        figures.update(answered=report["counts"]["answered"], errors=report["counts"]["errors"],
                       batching=report["spec"].get("batching"),  # report.json schema 3: run facts in its spec
                       answers={p["id"]: p.get("prediction") for p in predictions})
        return figures


def _rates(samples: int, wall: float, timer: ModelTimer | None, busy: list[tuple[float, float]],
           sampler: BusySampler, device: str) -> dict[str, Any]:
    out: dict[str, Any] = {"samples": samples, "wall_s": round(wall, 3), "samples_per_s": round(samples / wall, 2)}
    if timer is not None:
        span = (timer.last_end - timer.first_start) if timer.first_start and timer.last_end else None
        out.update(generated_tokens=timer.tokens, tokens_per_s=round(timer.tokens / wall, 1),
                   in_generate_share=round(timer.seconds / wall, 3),
                   loop_s=None if span is None else round(span, 3),  # first generate call's start to last's end
                   gpu_busy=sampler.mean(busy), gpu_busy_loop=sampler.mean(busy, timer.first_start, timer.last_end))
    out["peak_gib"] = peak_memory_gib(device)
    return out


def bare_loop(bench: Bench, model: Any, processor: Any, prompts: list[tuple[str, list[Any]]], batch: int,
              new_tokens: int, timer: ModelTimer) -> dict[str, Any]:
    """The limit: the processor and `generate` on the same batches and settings, nothing else."""
    import torch

    dtype = getattr(torch, bench.settings.dtype)
    pad = processor.tokenizer.pad_token_id
    timer.reset()
    reset_peak_memory(bench.settings.device)
    bench.sampler.start()
    started = time.perf_counter()
    try:
        with torch.inference_mode():
            for start in range(0, len(prompts), batch):
                chunk = prompts[start : start + batch]
                images = [image for _, chunk_images in chunk for image in chunk_images]
                inputs = processor(text=[text for text, _ in chunk], images=images or None, padding=True,
                                   return_tensors="pt", add_special_tokens=False).to(bench.settings.device)
                if "pixel_values" in inputs:
                    inputs["pixel_values"] = inputs["pixel_values"].to(dtype)
                output = model.generate(**inputs, max_new_tokens=new_tokens, do_sample=False, pad_token_id=pad)
                processor.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    finally:
        wall = time.perf_counter() - started
        busy = bench.sampler.stop()
    return _rates(len(prompts), wall, timer, busy, bench.sampler, bench.settings.device)


def prompts_for(task_name: str, data: Path, limit: int, batch: int, processor: Any) -> list[tuple[str, list[Any]]]:
    """The prompts `vlmeval run` sends, in its batch order, with images decoded (outside any timing)."""
    from vlmeval.backends._prompt_styles import ProcessorTraits, render
    from vlmeval.backends.base import Request
    from vlmeval.engine.runner import length_order
    from vlmeval.engine.samples import load_samples
    from vlmeval.registry import load_registry

    samples = load_samples(load_registry().get(task_name), str(data), None, limit).samples
    traits = ProcessorTraits.probe(processor)
    prompts = []
    for sample in length_order(samples, batch):
        images = [image.load() for image in sample.images]
        prompts.append((render("chat", processor, traits, Request(sample.id, sample.text, tuple(images))), images))
    return prompts


def samples_for(settings: Settings, batch: int) -> int:
    if batch == 1:
        return settings.samples_batch_1
    return min(settings.sqa_questions, settings.max_samples, max(settings.samples, 6 * batch))
