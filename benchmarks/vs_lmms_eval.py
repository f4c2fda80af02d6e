"""Side by side with lmms-eval: the same job, the same tiny checkpoint, the same local parquet.

The job: ScienceQA-schema questions (synthetic, `--image-size` px PNGs), greedy, 16 new tokens,
on the bundled demo checkpoint (a LlavaForConditionalGeneration saved with save_pretrained), on
the CPU. Every question has an image: lmms-eval's `llava_hf` crashes on a question without one
(ScienceQA's text-only questions), so the comparison uses an all-image split.

lmms-eval runs from its own virtual environment (`--venv`, default under the temp folder),
created on first use and reused after: `pip install torch==<this torch>` (the CPU build this
machine has on disk; unpinned, lmms-eval pulls a CUDA torch of several GB), then
`pip install lmms-eval decord` with torch held at that version. The PyPI torchvision that comes
with it is built for CUDA torch and fails to import next to a CPU torch; it is uninstalled
(transformers and llava_hf run without it). lmms-eval reads the parquet through a task file of
our own (`dataset_path: parquet`) with hooks written here, and runs `llava_hf` at batch size 1
(its only batch size). vlmeval runs `vlmeval run --task sqa` at batch 1 and at `--batch-size`.

Both are timed end to end in fresh processes, each with a cold `datasets` cache (lmms-eval
converts the parquet to Arrow on first use). Printed: wall times and lmms-eval / vlmeval.
Run: ``python benchmarks/vs_lmms_eval.py [--samples N] [--venv DIR] [--batch-size B]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    bench_env,
    load_average,
    print_header,
    require_tasks,
    run_process,
    vlmeval_command,
    workdir,
    write_sqa_parquet,
)

TASK_NAME = "vlmeval_bench_sqa"
MAX_NEW_TOKENS = 16
SUFFIX = "Answer with the option's letter from the given choices directly."

TASK_YAML = """\
task: {task}
dataset_path: parquet
dataset_kwargs:
  data_files:
    test: {parquet}
test_split: test
output_type: generate_until
doc_to_visual: !function hooks.doc_to_visual
doc_to_text: !function hooks.doc_to_text
doc_to_target: !function hooks.doc_to_target
process_results: !function hooks.process_results
generation_kwargs:
  max_new_tokens: {max_new_tokens}
  temperature: 0
  do_sample: false
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
"""

# The same prompt as vlmeval's `sqa` task (LLaVA-1.5's); the letter is the answer's first character.
HOOKS = f'''"""Hooks of the benchmark task: ScienceQA rows to LLaVA-1.5's prompt, first-letter scoring."""
import io

from PIL import Image

LETTERS = "ABCDEFGH"


def doc_to_visual(doc):
    image = doc["image"]
    if image is None:
        return []
    if isinstance(image, dict):  # a parquet without `datasets` features: encoded bytes
        image = Image.open(io.BytesIO(image["bytes"]))
    return [image.convert("RGB")]


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    hint = (doc["hint"] or "").strip()
    context = f"Context: {{hint}}\\n" if hint else ""
    options = "\\n".join(f"{{LETTERS[i]}}. {{c}}" for i, c in enumerate(doc["choices"]))
    return f"{{context}}{{doc['question']}}\\n{{options}}\\n{SUFFIX}"


def doc_to_target(doc):
    return LETTERS[int(doc["answer"])]


def process_results(doc, results):
    answer = results[0].strip()[:1].upper()
    return {{"exact_match": float(answer == doc_to_target(doc))}}
'''


def ensure_venv(venv: Path) -> Path:
    """lmms-eval's own environment, created once and reused (an interrupted install resumes)."""
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import lmms_eval, lmms_eval.models.simple.llava_hf, decord"]
    if python.exists() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        print(f"lmms-eval environment: {venv} (reused)")
        return python
    print(f"lmms-eval environment: installing into {venv} (several minutes the first time)", flush=True)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    torch_pin = f"torch=={version('torch')}"
    constraints = venv / "constraints.txt"
    constraints.write_text(torch_pin + "\n")
    pip = [str(python), "-m", "pip", "install", "--progress-bar", "off"]
    subprocess.run([*pip, torch_pin], check=True)
    subprocess.run([*pip, "lmms-eval", "decord", "-c", str(constraints)], check=True)
    if subprocess.run([str(python), "-c", "import torchvision"], capture_output=True, check=False).returncode != 0:
        print("torchvision from PyPI does not import beside this torch build: uninstalling it")
        subprocess.run([str(python), "-m", "pip", "uninstall", "-y", "torchvision"], check=True)
    subprocess.run(probe, check=True)
    return python


def lmms_eval_version(python: Path) -> str:
    script = "from importlib.metadata import version as v; print(v('lmms-eval'), v('torch'), v('transformers'))"
    done = subprocess.run([str(python), "-c", script], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def thread_env(threads: int | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def run_lmms_eval(python: Path, folder: Path, parquet: Path, checkpoint: Path,
                  threads: int | None) -> tuple[float, str]:
    tasks = folder / "lmms-tasks"
    tasks.mkdir(exist_ok=True)
    (tasks / f"{TASK_NAME}.yaml").write_text(
        TASK_YAML.format(task=TASK_NAME, parquet=parquet, max_new_tokens=MAX_NEW_TOKENS))
    (tasks / "hooks.py").write_text(HOOKS)
    output = folder / "lmms-out"
    command = [str(python), "-m", "lmms_eval", "eval", "--model", "llava_hf", "--model_args",
               f"pretrained={checkpoint},device_map=cpu", "--tasks", TASK_NAME, "--include_path", str(tasks),
               "--batch_size", "1", "--device", "cpu", "--output_path", str(output), "--log_samples"]
    env = {**thread_env(threads), "HF_DATASETS_CACHE": str(folder / "hf-datasets-cache"), "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "WANDB_MODE": "disabled"}
    run = run_process(command, env=env)
    if run.returncode != 0 or "Traceback" in run.stderr[-5000:]:
        raise SystemExit(f"lmms-eval failed ({run.returncode}):\n{run.stderr[-4000:]}")
    return run.wall_s, _lmms_accuracy(output)


def _lmms_accuracy(output: Path) -> str:
    for path in sorted(output.rglob("*results*.json")):
        results = json.loads(path.read_text()).get("results", {}).get(TASK_NAME, {})
        for key, value in results.items():
            if key.startswith("exact_match") and "stderr" not in key:
                return f"exact_match {100 * value:.1f}%"
    return "accuracy not found"


def run_vlmeval(folder: Path, data: Path, checkpoint: Path, batch_size: int,
                threads: int | None) -> tuple[float, str]:
    output = folder / "vlmeval-out"
    command = vlmeval_command("run", "--task", "sqa", "--model", str(checkpoint), "--data", str(data),
                              "--device", "cpu", "--max-new-tokens", str(MAX_NEW_TOKENS), "--batch-size",
                              str(batch_size), "--output", str(output), "--run-name", f"b{batch_size}",
                              "--no-progress")
    env = {**thread_env(threads), "PYTHONPATH": bench_env()["PYTHONPATH"]}
    run = run_process(command, env=env)
    if run.returncode not in (0, 3):
        run.check()
    report = json.loads((output / f"b{batch_size}" / "sqa" / "report.json").read_text())
    return run.wall_s, f"accuracy {report['metrics']['accuracy']:.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--image-size", type=int, default=336)
    parser.add_argument("--batch-size", type=int, default=8, help="vlmeval's batch size besides 1")
    parser.add_argument("--threads", type=int, help="OMP_NUM_THREADS for both (default: torch's, one per core)")
    parser.add_argument("--venv", type=Path, default=Path(tempfile.gettempdir()) / "vlmeval-bench" / "lmms-venv")
    parser.add_argument("--workdir", help="keep data and outputs here (default: a temporary folder)")
    args = parser.parse_args()
    require_tasks()
    from vlmeval.demo import CHECKPOINT_DIR

    python = ensure_venv(args.venv)
    print_header("side by side with lmms-eval", {
        "samples": args.samples, "images": f"all, {args.image_size} px PNG", "max_new_tokens": MAX_NEW_TOKENS,
        "checkpoint": "vlmeval demo (LlavaForConditionalGeneration)", "device": "cpu",
        "torch threads": args.threads or "torch default (one per core)",
        "lmms-eval, torch, transformers": lmms_eval_version(python)})
    with workdir(args.workdir, "vlmeval-vs-lmms-") as folder:
        parquet = write_sqa_parquet(folder / "sqa", args.samples, image_share=1.0, image_size=args.image_size)
        lmms_wall, lmms_acc = run_lmms_eval(python, folder, parquet, CHECKPOINT_DIR, args.threads)
        print(f"lmms-eval 'llava_hf', batch 1:  {lmms_wall:7.1f} s wall ({lmms_acc}) | {load_average()}", flush=True)
        for batch_size in dict.fromkeys((1, args.batch_size)):
            wall, accuracy = run_vlmeval(folder, parquet.parent, CHECKPOINT_DIR, batch_size, args.threads)
            print(f"vlmeval, batch {batch_size:<3}:            {wall:7.1f} s wall ({accuracy}) | {load_average()}; "
                  f"lmms-eval / vlmeval = {lmms_wall / wall:.2f}x", flush=True)
        print("(the prompts are not byte-identical: llava_hf writes its own conversation around the "
              "text, so accuracies may differ; the figure compared is the wall time of the same job)")


if __name__ == "__main__":
    main()
