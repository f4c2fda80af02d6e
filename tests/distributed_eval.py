"""Run by tests/test_api_distributed.py under torchrun (gloo): `vlmeval.evaluate` on every rank.

argv: OUTPUT_DIR MODE, MODE `ok` (every rank evaluates the demo model), `fail-rank-1` (rank 1
is given data that does not exist) or `fail-rank-0` (the run folder, which only rank 0 writes, is
below a file). Each rank writes what it got to OUTPUT_DIR/rank-K.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch.distributed as dist
import transformers

import vlmeval
from vlmeval.demo import CHECKPOINT_DIR


def main() -> None:
    output, mode = Path(sys.argv[1]), sys.argv[2]
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    model = transformers.AutoModelForImageTextToText.from_pretrained(str(CHECKPOINT_DIR))
    processor = transformers.AutoProcessor.from_pretrained(str(CHECKPOINT_DIR))
    data = str(output / "no-such-data.parquet") if mode == "fail-rank-1" and rank == 1 else "demo"
    runs = output / "runs"
    if mode == "fail-rank-0" and rank == 0:
        runs.write_text("a file where the run folders should go")
    dist.barrier()
    try:
        result = vlmeval.evaluate(model, "sqa", processor=processor, data=data, output=runs,
                                  run_name="dist", batch_size=1, quiet=True)
        outcome = {"metrics": result.metrics, "sharding": dict(result.reports["sqa"].spec.sharding)}
    except Exception as exc:  # noqa: BLE001 - the test reads what each rank saw
        outcome = {"error": f"{type(exc).__name__}: {exc}"}
    (output / f"rank-{rank}.json").write_text(json.dumps(outcome))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
