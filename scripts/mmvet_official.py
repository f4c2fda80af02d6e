"""Convert the official MM-Vet release (yuweihao/MM-Vet, `mm-vet.zip`) for vlmeval.

    python scripts/mmvet_official.py data MM_VET_DIR OUT.parquet
        MM_VET_DIR holds `mm-vet.json` ({"v1_0": {"imagename", "capability": [...], "question",
        "answer"}, ...}) and `images/`. Writes one parquet in the lmms-lab/MMVet schema
        (question_id, image, question, answer, capability as "rec,ocr"), in the JSON's order;
        then: vlmeval run --task mmvet --data OUT.parquet ...
    python scripts/mmvet_official.py predictions RESULTS.json OUT.jsonl
        RESULTS.json is the official tool's model-output file ({"v1_0": "answer", ...});
        writes the JSONL `vlmeval score --task mmvet --predictions OUT.jsonl` reads.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def convert_data(folder: Path, out: Path) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    entries: dict[str, dict[str, Any]] = json.loads((folder / "mm-vet.json").read_text(encoding="utf-8"))
    rows = []
    for question_id, entry in entries.items():
        image = folder / "images" / entry["imagename"]
        if not image.is_file():
            raise SystemExit(f"{image}: missing image of {question_id}")
        rows.append({
            "question_id": question_id,
            "image": {"bytes": image.read_bytes(), "path": entry["imagename"]},
            "question": entry["question"],
            "answer": entry["answer"],
            "capability": ",".join(entry["capability"]),
        })
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), out)
    return len(rows)


def convert_predictions(results: Path, out: Path) -> int:
    answers: dict[str, str] = json.loads(results.read_text(encoding="utf-8"))
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = (json.dumps({"id": k, "prediction": v}, ensure_ascii=False) + "\n" for k, v in answers.items())
    out.write_text("".join(lines), encoding="utf-8")
    return len(answers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=("data", "predictions"))
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    convert = convert_data if args.kind == "data" else convert_predictions
    print(f"{args.out}: {convert(args.source, args.out)} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
