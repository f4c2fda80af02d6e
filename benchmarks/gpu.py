"""One prepared GPU check: LLaVA-1.5 at real size through `vlmeval run`, against a bare loop (issue 28).

What it measures, on one GPU, in one process (the model is built once, on the GPU, with random
weights: `_llava_shapes.py`):

1. Data: a synthetic ScienceQA-sized split (4,241 questions, 2,017 with a 336 px image, the
   lmms-lab/ScienceQA schema) and a TextVQA-schema split with open answers, in a temporary folder.
2. Batch invariance, first (cheap, and it checks a documented claim): the bundled demo model
   (trained, so its answers have real margins) in bfloat16 and float16, batch 1 vs 16 through
   `vlmeval run`: how many answers differ.
3. The largest batch that fits: one batch of the longest prompts at 64, 128, 256... until out of memory.
4. Per batch size (1, 8, 16, 32 and the largest that fits), on the same first N questions:
   `vlmeval run` (the CLI's own `main`, in this process: everything users run except loading the
   weights) and a bare loop (the processor and `model.generate` on the same batches, images decoded
   beforehand, nothing else). Figures: wall time, samples/s, generated tokens/s, the share of the
   wall inside `model.generate`, GPU busy share (NVML utilisation sampled every 50 ms, over the whole
   call and over the generation loop), peak GPU memory, and vlmeval / bare-loop time.
5. `--batch-size auto` (starting at the first size that ran out of memory) against the best fixed size.
6. The VQA split at the best fixed size, 16 new tokens (random weights never stop early).

Every figure is printed as it comes, with the GPU, torch and transformers versions, and written to
`--json` after every step, so a run stopped by `--budget-s` (steps that would not fit are skipped and
listed), interrupted (SIGTERM, Ctrl-C: the summary is still printed) or killed still leaves what it
measured; a step that fails is recorded (`errors`) and the next one runs. Targets (issue 28, 7B shapes on one H100): >= 20
questions/s at the best batch size, vlmeval within 1.2x of the bare loop at every size, GPU busy
>= 90 % of the generation loop; printed, never asserted.

Run: ``python benchmarks/gpu.py [--json FILE] [--budget-s 450] [--models 7b,13b]``;
``python benchmarks/gpu.py --dry-run`` runs the same code on a CPU with tiny shapes in well under a minute.
"""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SQA_QUESTIONS, tasks_from_checkout, workdir, write_sqa_parquet
from _gpu_bench import Bench, Settings, bare_loop, prompts_for, samples_for
from _llava_shapes import SHAPES, build_llava, serve_prebuilt, write_textvqa_parquet
from generation import ModelTimer

TARGETS = {"samples_per_s": 20.0, "vlmeval_over_bare": 1.2, "gpu_busy_loop": 0.90}


def largest_batch(bench: Bench, model: Any, processor: Any, prompts: list[tuple[str, list[Any]]],
                  timer: ModelTimer) -> tuple[int, int | None, dict[str, str]]:
    """One batch of the longest prompts at 64, 128, ... `--max-probe`: the largest that fits, the first that did not."""
    import torch

    longest = sorted(prompts, key=lambda p: len(p[0]) + 10_000 * len(p[1]), reverse=True)
    size, fits, failed, tried = 64, 1, None, {}
    while size <= bench.settings.max_probe and size <= len(longest):
        try:
            bare_loop(bench, model, processor, longest[:size], size, bench.settings.max_new_tokens, timer)
            tried[str(size)] = "fits"
            fits = size
        except torch.cuda.OutOfMemoryError:
            tried[str(size)] = "out of memory"
            failed = size
            break
        finally:
            gc.collect()
            if bench.settings.device.startswith("cuda"):
                torch.cuda.empty_cache()
        size *= 2
    return fits, failed, tried


def measure_model(bench: Bench, key: str, sqa: Path, vqa: Path) -> None:
    from transformers import AutoProcessor

    settings = bench.settings
    figures: dict[str, Any] = {"shapes": asdict(SHAPES[key]), "sqa": {}, "vqa": {}}
    bench.figures["models"][key] = figures
    started = time.perf_counter()
    model = build_llava(SHAPES[key], bench.folder / key, settings.device, settings.dtype)
    figures["build_s"] = round(time.perf_counter() - started, 1)
    figures["parameters"] = sum(p.numel() for p in model.parameters())
    print(f"-- {SHAPES[key].name}: {figures['parameters'] / 1e9:.2f} B parameters built on {settings.device} "
          f"in {figures['build_s']} s")
    undo = serve_prebuilt(bench.folder / key, model)
    timer = ModelTimer(model, model.generation_config.pad_token_id)
    processor = AutoProcessor.from_pretrained(bench.folder / key)
    processor.tokenizer.padding_side = "left"
    figures["image_processor"] = type(processor.image_processor).__name__  # PIL or torchvision backend
    figures["attn_implementation"] = getattr(model.config, "_attn_implementation", None)
    print(f"  image processor {figures['image_processor']}, attention {figures['attn_implementation']}")
    try:
        fits, failed = max(settings.batch_sizes), None  # if the probe fails, the sizes asked for
        with bench.step(f"{key} warm-up and largest batch"):
            warm = prompts_for("sqa", sqa, 16, 8, processor)
            bare_loop(bench, model, processor, warm, 8, settings.max_new_tokens, timer)  # kernels, allocator
            probe = prompts_for("sqa", sqa, min(settings.sqa_questions, 2 * settings.max_probe), 1, processor)
            fits, failed, tried = largest_batch(bench, model, processor, probe, timer)
            figures.update(largest_batch_that_fits=fits, first_batch_out_of_memory=failed, probe=tried)
            print(f"  largest batch of the longest prompts that fits: {fits} (probe: {tried})")
        sizes = sorted({b for b in settings.batch_sizes if b <= fits} | {fits})
        _batch_sizes(bench, key, figures["sqa"], "sqa", sqa, sizes, settings.max_new_tokens, model, processor, timer)
        with bench.step(f"{key} sqa --batch-size auto"):
            _auto(bench, key, figures, sqa, failed or settings.max_probe, fits, timer)
        best = _best(figures["sqa"])
        if best is not None:
            _batch_sizes(bench, key, figures["vqa"], "textvqa_val", vqa, [best], settings.vqa_new_tokens, model,
                         processor, timer, settings.vqa_questions)
        figures["targets"] = _targets(figures)
        bench.save()
    finally:
        undo()
        del model, timer
        gc.collect()
        if settings.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()


def _batch_sizes(bench: Bench, key: str, into: dict[str, Any], task: str, data: Path, sizes: list[int],
                 new_tokens: int, model: Any, processor: Any, timer: ModelTimer, questions: int | None = None) -> None:
    for batch in sizes:
        n = min(samples_for(bench.settings, batch), questions or bench.settings.sqa_questions)
        rate = _known_rate(into)
        if not bench.fits(f"{key} {task} batch {batch}", 2 * n / rate if rate else 0):
            continue
        with bench.step(f"{key} {task} batch {batch}"):
            prompts = prompts_for(task, data, n, batch, processor)
            bare = bare_loop(bench, model, processor, prompts, batch, new_tokens, timer)
            run = bench.vlmeval_run(f"{key}-{task}-b{batch}", task, str(bench.folder / key), data, str(batch), n,
                                    new_tokens, bench.settings.dtype, timer)
            run.pop("answers")
            ratio = round(run["wall_s"] / bare["wall_s"], 3)
            into[str(batch)] = {"vlmeval": run, "bare": bare, "vlmeval_over_bare": ratio}
            print(f"  {key} {task} batch {batch:>3} ({n} questions): {_line(run)} | bare loop {_line(bare)} | "
                  f"vlmeval/bare {ratio:.2f}x")
            bench.save()


def _auto(bench: Bench, key: str, figures: dict[str, Any], sqa: Path, start: int, fits: int, timer: ModelTimer) -> None:
    n = samples_for(bench.settings, fits)
    rate = _known_rate(figures["sqa"])
    if not bench.fits(f"{key} sqa --batch-size auto", 1.5 * n / rate if rate else 0):
        return
    run = bench.vlmeval_run(f"{key}-sqa-auto", "sqa", str(bench.folder / key), sqa, "auto", n,
                            bench.settings.max_new_tokens, bench.settings.dtype, timer,
                            ("--max-batch-size", str(start)))
    run.pop("answers")
    best = _best(figures["sqa"])
    best_rate = figures["sqa"][str(best)]["vlmeval"]["samples_per_s"] if best is not None else None
    figures["auto"] = {"max_batch_size": start, "chosen": (run["batching"] or {}).get("chosen"), "vlmeval": run,
                       "best_fixed": best, "auto_over_best_fixed_rate":
                       round(run["samples_per_s"] / best_rate, 3) if best_rate else None}
    print(f"  {key} sqa --batch-size auto (from {start}): chose {figures['auto']['chosen']}, {_line(run)}; "
          f"{figures['auto']['auto_over_best_fixed_rate']}x the samples/s of the best fixed size ({best})")
    bench.save()


def invariance(bench: Bench, sqa: Path) -> None:
    """The demo model, batch 1 vs 16, in bfloat16 and float16: answers that differ."""
    n = bench.settings.invariance_samples
    for dtype in ("bfloat16", "float16"):
        if not bench.fits(f"invariance {dtype}", 0.05 * n):
            continue
        with bench.step(f"invariance {dtype}"):
            _invariance(bench, sqa, n, dtype)


def _invariance(bench: Bench, sqa: Path, n: int, dtype: str) -> None:
    runs = {b: bench.vlmeval_run(f"demo-{dtype}-b{b}", "sqa", "demo", sqa, str(b), n, 4, dtype, None)
            for b in (1, 16)}
    one, sixteen = runs[1]["answers"], runs[16]["answers"]
    differ = sorted(i for i in one if one[i] != sixteen.get(i))
    bench.figures["invariance"][dtype] = {
        "samples": n, "differ": len(differ), "distinct_answers": len(set(one.values())),
        "examples": [{"id": i, "batch_1": one[i], "batch_16": sixteen.get(i)} for i in differ[:5]],
        "samples_per_s": {"1": runs[1]["samples_per_s"], "16": runs[16]["samples_per_s"]}}
    print(f"  invariance, demo model {dtype}: {len(differ)} of {n} answers differ between batch 1 and 16 "
          f"({len(set(one.values()))} distinct answers)")
    bench.save()


def _known_rate(sizes: dict[str, Any]) -> float | None:
    """The slower path's samples/s at the last size measured: the estimate for the next step."""
    if not sizes:
        return None
    last = list(sizes.values())[-1]
    return float(min(last["vlmeval"]["samples_per_s"], last["bare"]["samples_per_s"]))


def _best(sizes: dict[str, Any]) -> int | None:
    """The fixed batch size at which `vlmeval run` answered the most samples per second."""
    if not sizes:
        return None
    return int(max(sizes, key=lambda b: sizes[b]["vlmeval"]["samples_per_s"]))


def _targets(figures: dict[str, Any]) -> dict[str, Any]:
    sqa = figures["sqa"]
    best = _best(sqa)
    if best is None:
        return {}
    busy = [s["vlmeval"]["gpu_busy_loop"] for s in sqa.values() if s["vlmeval"]["gpu_busy_loop"] is not None]
    return {"best_batch": best, "best_samples_per_s": sqa[str(best)]["vlmeval"]["samples_per_s"],
            "worst_vlmeval_over_bare": max(s["vlmeval_over_bare"] for s in sqa.values()),
            "gpu_busy_loop_at_best": sqa[str(best)]["vlmeval"]["gpu_busy_loop"],
            "lowest_gpu_busy_loop": min(busy) if busy else None}


def _line(run: dict[str, Any]) -> str:
    busy = run.get("gpu_busy_loop")
    peak = run.get("peak_gib")
    return (f"{run['wall_s']:.2f} s, {run['samples_per_s']:.1f} samples/s, {run.get('tokens_per_s', 0):.0f} tok/s, "
            f"generate {100 * run.get('in_generate_share', 0):.0f}%, GPU busy "
            f"{'n/a' if busy is None else f'{100 * busy:.0f}%'}, peak {'n/a' if peak is None else f'{peak:.1f} GiB'}")


def print_summary(figures: dict[str, Any], dry_run: bool) -> None:
    print("== summary" + (" (dry run: tiny shapes on a CPU check the code; the figures mean nothing)" if dry_run
                          else "") + " ==")
    for line in figures["machine"]:
        print(line)
    print(f"device: {figures['device']}")
    for key, model in figures["models"].items():
        targets = model.get("targets") or {}
        if not targets:
            continue
        verdict = {"samples_per_s": targets["best_samples_per_s"] >= TARGETS["samples_per_s"],
                   "vlmeval_over_bare": targets["worst_vlmeval_over_bare"] <= TARGETS["vlmeval_over_bare"],
                   "gpu_busy_loop": (targets["lowest_gpu_busy_loop"] or 0) >= TARGETS["gpu_busy_loop"]}
        print(f"{key}: best batch {targets['best_batch']}: {targets['best_samples_per_s']} questions/s "
              f"(target >= 20: {'met' if verdict['samples_per_s'] else 'MISSED'}); worst vlmeval/bare "
              f"{targets['worst_vlmeval_over_bare']}x (target <= 1.2: {'met' if verdict['vlmeval_over_bare'] else 'MISSED'}); "
              f"lowest GPU busy over the loop {targets['lowest_gpu_busy_loop']} (target >= 0.9: "
              f"{'met' if verdict['gpu_busy_loop'] else 'MISSED or not measured'})")
    for dtype, inv in figures["invariance"].items():
        print(f"invariance {dtype}: {inv['differ']} of {inv['samples']} answers differ (batch 1 vs 16)")
    if figures["skipped"]:
        print("skipped (time budget): " + "; ".join(figures["skipped"]))
    for error in figures["errors"]:
        print(f"FAILED step: {error}")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def parse_settings(argv: list[str] | None = None) -> tuple[Settings, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="tiny shapes on the CPU: checks the script, no figures")
    parser.add_argument("--models", default="7b", help="7b, 13b or 7b,13b (13B only as the budget allows)")
    parser.add_argument("--batch-sizes", default="1,8,16,32")
    parser.add_argument("--budget-s", type=float, help="stop starting new steps after this long (default 450; dry 55)")
    parser.add_argument("--json", default="gpu-benchmark.json", help="where the figures go (rewritten after each step)")
    parser.add_argument("--workdir", help="keep data and runs here (default: a temporary folder)")
    args = parser.parse_args(argv)
    try:
        sizes = [int(b) for b in args.batch_sizes.split(",")]
    except ValueError:
        parser.error(f"--batch-sizes {args.batch_sizes}: expected numbers separated by commas")
    unknown = [key for key in args.models.split(",") if key not in ("7b", "13b")]
    if unknown or min(sizes) < 1:
        parser.error(f"--models takes 7b and/or 13b, --batch-sizes positive numbers (got {args.models}, {sizes})")
    if args.dry_run:
        settings = Settings(device="cpu", dtype="bfloat16", models=["tiny"], batch_sizes=sizes, sqa_questions=256,
                            vqa_questions=32, image_px=SHAPES["tiny"].image_size, samples=32, max_samples=64,
                            samples_batch_1=8, max_probe=64, max_new_tokens=2, vqa_new_tokens=4,
                            invariance_samples=32, budget_s=args.budget_s or 55)
    else:
        settings = Settings(device="cuda", dtype="bfloat16", models=args.models.split(","), batch_sizes=sizes,
                            sqa_questions=SQA_QUESTIONS, vqa_questions=1024, image_px=336, samples=384,
                            max_samples=1024, samples_batch_1=96, max_probe=512, max_new_tokens=2,
                            vqa_new_tokens=16, invariance_samples=512, budget_s=args.budget_s or 450)
    return settings, args


def main(argv: list[str] | None = None) -> int:
    settings, args = parse_settings(argv)
    found = tasks_from_checkout()
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    if settings.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device here: pass --dry-run to check the script on a CPU")
    signal.signal(signal.SIGTERM, _interrupt)
    if args.dry_run:
        torch.set_num_threads(1)  # steadier on a shared CPU; the dry run checks the code, not speed
    with workdir(args.workdir, "vlmeval-gpu-") as folder:
        bench = Bench(settings, folder, Path(args.json))
        print("== vlmeval on a GPU: LLaVA-1.5 shapes, random weights ==")
        for line in bench.figures["machine"]:
            print(line)
        print(f"device: {bench.figures['device']} | GPU busy from: {bench.sampler.source} | tasks: {found}")
        bench.figures["tasks"] = found
        started = time.perf_counter()
        sqa = write_sqa_parquet(folder / "sqa", settings.sqa_questions, image_size=settings.image_px)
        vqa = write_textvqa_parquet(folder / "textvqa", settings.vqa_questions, settings.image_px)
        bench.figures["data_s"] = round(time.perf_counter() - started, 1)
        print(f"data: {settings.sqa_questions} ScienceQA-schema questions, {settings.vqa_questions} TextVQA-schema "
              f"questions, {settings.image_px} px images, written in {bench.figures['data_s']} s")
        try:
            # First: cheap (a tiny model), and the figure that checks a documented claim.
            invariance(bench, sqa)
            for key in settings.models:
                if key != settings.models[0] and not bench.fits(f"model {key}", 0.5 * settings.budget_s):
                    continue
                with bench.step(f"model {key}"):
                    measure_model(bench, key, sqa, vqa)
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM from a time limit: keep what was measured
            bench.figures["errors"].append("interrupted (SIGINT or SIGTERM): the figures stop here")
        bench.figures["complete"] = not bench.figures["skipped"] and not bench.figures["errors"]
        bench.save()
        print_summary(bench.figures, args.dry_run)
        print(f"figures: {args.json} ({settings.budget_s - bench.budget.left():.0f} s)")
    return 1 if bench.figures["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
