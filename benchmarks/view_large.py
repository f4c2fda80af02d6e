"""`vlmeval view` at VQAv2 val scale (214,354 questions): page size, time to write it, time to open it.

Builds a synthetic split in the lmms-lab/VQAv2 validation schema (questions from VQAv2's question
types, 10 human answers in VQAv2-val proportions from `vqa_scoring.build_questions`, a 640x480 JPEG
per row as the COCO images are, written in row groups of 100 as `datasets` writes image splits; two
distinct images per row group keep the file small through parquet's dictionary encoding), two
prediction files that differ on ~8% of the questions, and scores both with `vlmeval score`. Then:

- `vlmeval view A` and `vlmeval view A B`: wall time and peak memory of the command, page size;
- each page in headless Chromium (Debian's `chromium`, via Playwright): from navigation to the
  first rows drawn, the JS heap, and the time a search, a verdict filter and a sort take.

Run: ``python benchmarks/view_large.py [--questions N] [--thumbnails N] [--workdir DIR [--reuse]]``.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from benchmarks._common import bench_env, print_header, require_tasks, run_process, vlmeval_command, workdir
from benchmarks.vqa_scoring import build_questions

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
NOUNS = ("dog", "man", "bus", "cake", "sign", "table", "train", "woman", "cat", "plate", "kite", "horse")
TEMPLATES = {"yes/no": [("is the", "Is the {} {}?"), ("are there", "Are there any {}s near the {}?")],
             "number": [("how many", "How many {}s are next to the {}?")],
             "other": [("what color is the", "What color is the {} by the {}?"),
                       ("what is the", "What is the {} holding near the {}?")]}


def jpegs(count: int, seed: int) -> list[bytes]:
    from PIL import Image, ImageDraw

    rng, out = random.Random(seed), []
    for _ in range(count):
        image = Image.new("RGB", (640, 480), tuple(rng.randrange(256) for _ in range(3)))
        draw = ImageDraw.Draw(image)
        for _ in range(12):
            x, y = rng.randrange(640), rng.randrange(480)
            draw.ellipse((x, y, x + rng.randrange(40, 200), y + rng.randrange(40, 160)),
                         fill=tuple(rng.randrange(256) for _ in range(3)))
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=85)
        out.append(buffer.getvalue())
    return out


def write_inputs(folder: Path, n: int, seed: int) -> tuple[Path, Path, Path]:
    """The split (hub layout) and predictions of two checkpoints, A and B."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    questions = build_questions(n, seed)
    pool = jpegs(64, seed)
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    writer = None
    predictions_a, predictions_b = [], []
    for start in range(0, n, 100):
        rows = []
        for i in range(start, min(n, start + 100)):
            kind, prediction, gts = questions[i]
            question_type, template = rng.choice(TEMPLATES[kind])
            qid = str(i * 1000 + 1)
            rows.append({"question_type": question_type, "multiple_choice_answer": gts[0],
                         "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": j + 1}
                                     for j, a in enumerate(gts)],
                         "image_id": i, "answer_type": kind, "question_id": int(qid),
                         "question": template.format(rng.choice(NOUNS), rng.choice(NOUNS)),
                         "image": {"bytes": pool[(2 * (start // 100) + i % 2) % len(pool)], "path": None}})
            predictions_a.append({"id": qid, "prediction": prediction})
            changed = rng.random() < 0.08
            predictions_b.append({"id": qid, "prediction": rng.choice(gts + ["no", "2"]) if changed else prediction})
        schema = pa.schema([("question_type", pa.string()), ("multiple_choice_answer", pa.string()),
                            ("answers", pa.list_(pa.struct([("answer", pa.string()),
                                                            ("answer_confidence", pa.string()),
                                                            ("answer_id", pa.int64())]))),
                            ("image_id", pa.int64()), ("answer_type", pa.string()),
                            ("question_id", pa.int64()), ("question", pa.string()), ("image", image_type)])
        table = pa.Table.from_pylist(rows, schema=schema)
        if writer is None:
            writer = pq.ParquetWriter(data / "validation-00000-of-00001.parquet", schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()
    files = []
    for name, predictions in (("a", predictions_a), ("b", predictions_b)):
        path = folder / f"predictions-{name}.jsonl"
        path.write_text("".join(json.dumps(p) + "\n" for p in predictions), encoding="utf-8")
        files.append(path)
    return data, files[0], files[1]


def time_page(browser: object, page_file: Path) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    start = time.perf_counter()
    page.goto(page_file.as_uri(), timeout=300_000)
    page.wait_for_selector("body[data-ready='1']", timeout=300_000)
    opened = time.perf_counter() - start
    heap = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : 0") / 2**20
    rows = page.locator("tr.row").count()
    print(f"  open to first rows drawn: {opened:.2f} s ({rows} rows on page 1); JS heap {heap:.0f} MiB; "
          f"count line: {page.inner_text('#count')!r}")
    before = page.inner_text("#count")
    start = time.perf_counter()
    page.fill("#search", "color")
    expect(page.locator("#count")).not_to_have_text(before, timeout=120_000)
    print(f"  search 'color' (incl. the {250} ms debounce and building the search text): "
          f"{time.perf_counter() - start:.2f} s -> {page.inner_text('#count')!r}")
    chip = page.locator("#chips button").first
    before = page.inner_text("#count")
    start = time.perf_counter()
    chip.click()
    expect(page.locator("#count")).not_to_have_text(before, timeout=120_000)
    print(f"  toggle the first verdict chip: {time.perf_counter() - start:.2f} s -> {page.inner_text('#count')!r}")
    start = time.perf_counter()
    page.click("th[data-k='prompt']")
    page.wait_for_selector("th.sorted[data-k='prompt']")
    print(f"  sort by prompt: {time.perf_counter() - start:.2f} s")
    print(f"  page errors: {errors or 'none'}")
    page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=214_354)
    parser.add_argument("--thumbnails", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", help="keep the data and pages here (default: a temporary folder)")
    parser.add_argument("--reuse", action="store_true", help="with --workdir: reuse the scored runs there")
    args = parser.parse_args()
    require_tasks()
    print_header("vlmeval view at VQAv2 val scale", vars(args))
    with workdir(args.workdir, "vlmeval-view-") as folder:
        runs = [folder / "results" / name / "vqav2_val" for name in ("a", "b")]
        if args.reuse and all((run / "report.json").is_file() for run in runs):
            print(f"reusing the runs in {folder} (--reuse)")
        else:
            start = time.perf_counter()
            data, predictions_a, predictions_b = write_inputs(folder, args.questions, args.seed)
            size = sum(p.stat().st_size for p in data.iterdir()) / 2**20
            print(f"built the split ({size:.0f} MiB parquet) and two prediction files in "
                  f"{time.perf_counter() - start:.1f} s")
            for run, predictions in zip(runs, (predictions_a, predictions_b), strict=True):
                run_process(vlmeval_command("score", "--task", "vqav2_val", "--data", str(data), "--predictions",
                                            str(predictions), "--output", str(run)), env=bench_env()).check()
        pages = []
        for label, run_dirs in (("one run", runs[:1]), ("two runs", runs)):
            page = folder / f"view-{len(run_dirs)}.html"
            result = run_process(vlmeval_command("view", *map(str, run_dirs), "-o", str(page), "--thumbnails",
                                                 str(args.thumbnails)), env=bench_env()).check()
            data_json = page.read_text(encoding="utf-8").split('id="vlmeval-data">', 1)[1]
            thumbs = data_json.count("/9j/")  # every embedded JPEG's base64 starts so
            print(f"vlmeval view, {label}: {result.wall_s:.1f} s wall, {result.cpu_s:.1f} s CPU, peak "
                  f"{result.peak_rss_mib:.0f} MiB; page {page.stat().st_size / 2**20:.1f} MiB "
                  f"({thumbs} thumbnails)")
            pages.append((label, page))
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            print("no playwright: browser figures not taken (pip install -e .[test])")
            return
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for label, page in pages:
                print(f"headless Chromium {browser.version}, {label}:")
                time_page(browser, page)
            browser.close()


if __name__ == "__main__":
    main()
