"""`--model replay:FILE`: answers come from a saved predictions file, by sample id."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import read_jsonl, write_jsonl
from vlmeval.cli import main


def test_replay_answers_by_id_and_records_the_ones_it_lacks(tmp_path: Path) -> None:
    answers = {"0": "D", "1": "The answer is D.", "2": "B", "3": None}  # "4" is not in the file
    predictions = write_jsonl(tmp_path / "preds.jsonl", [{"id": i, "prediction": p} for i, p in answers.items()])
    code = main(["run", "--task", "sqa", "--model", f"replay:{predictions}", "--data", "demo", "--limit", "5",
                 "--output", str(tmp_path / "out"), "--run-name", "replay", "--no-progress"])
    assert code == 3  # two samples have no answer: the report is written, the run is incomplete
    run_dir = tmp_path / "out" / "replay" / "sqa"
    records = {r["id"]: r for r in read_jsonl(run_dir / "predictions.jsonl")}
    assert [records[i]["prediction"] for i in "012"] == ["D", "The answer is D.", "B"]
    assert records["3"]["prediction"] is None and "no prediction in" in records["3"]["error"]
    assert records["4"]["prediction"] is None and "no prediction in" in records["4"]["error"]
    report = json.loads((run_dir / "report.json").read_text())
    assert report["spec"]["backend"] == {"backend": "replay", "file": str(predictions)}
    assert report["counts"]["errors"] == 2
    # Demo rows 0, 1 and 2 have answer D (3): the replayed D's are right, the B is wrong.
    assert [records[i]["scores"]["correct"] for i in "01234"] == [1.0, 1.0, 0.0, 0.0, 0.0]
