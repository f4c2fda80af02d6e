"""MMBench: LLaVA's prompt (pinned), the hub and TSV schemas, CircularEval, the test submission."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from vlmeval_tasks.mmbench import is_none

from tests.fakes.openai_server import FakeOpenAIServer, last_user_text
from tests.helpers import FINE, mmb_row, read_jsonl, vlmeval, write_jsonl, write_parquet
from vlmeval.answers.vlmevalkit import JUDGE_PROMPT_EN, VLMEVALKIT_COMMIT
from vlmeval.cli import main
from vlmeval.engine.samples import load_samples
from vlmeval.engine.scoring import score_answers
from vlmeval.engine.store import Answer
from vlmeval.judge import prompt_hash
from vlmeval.metrics import Record, compute_metrics
from vlmeval.registry import load_registry
from vlmeval.stats.resampling import RecordView
from vlmeval.task import ScoreContext, Task

EN_SUFFIX = "Answer with the option's letter from the given choices directly."
TSV_COLUMNS = ["index", "question", "hint", "A", "B", "C", "D", "answer", "category", "image", "source",
               "l2-category", "comment", "split"]


def rotations(index: int, question: str, options: Sequence[str], right: int,
              **kw: Any) -> list[dict[str, Any]]:
    """A question and its CircularEval copies: rotation k shifts the options by k, index + k * 1e6."""
    rows = []
    for k in range(len(options)):
        rotated = list(options[k:]) + list(options[:k])
        answer = "ABCDE"[rotated.index(options[right])]
        rows.append(mmb_row(index + k * 1_000_000, question, rotated, answer, **kw))
    return rows


def task_named(name: str) -> Task:
    return load_registry().get(name)


def samples_of(name: str, data: Path) -> list[Any]:
    return load_samples(task_named(name), str(data), None, None).samples


def test_prompts_match_llava(tmp_path: Path) -> None:
    rows = [
        mmb_row(11, "What color is the car?", ["red", "green", "blue", "yellow"], hint="The car is parked."),
        mmb_row(12, "What color is the car?", ["red", "green", "blue", "yellow"], hint=None),
        mmb_row(13, "Which one?", ["left", "right", "nan", "top"], hint="nan"),  # 'nan' ends the options
        mmb_row(14, "Which one?", ["left", "right", None, None], hint="None"),
        mmb_row(15, "Pick.", ["a", "b", "c", "d", "e"], hint="NONE"),
    ]
    samples = samples_of("mmbench_en_dev", write_parquet(tmp_path / "dev.parquet", rows))
    assert [s.id for s in samples] == ["11", "12", "13", "14", "15"]
    assert [s.text for s in samples] == [
        f"The car is parked.\nWhat color is the car?\nA. red\nB. green\nC. blue\nD. yellow\n{EN_SUFFIX}",
        f"What color is the car?\nA. red\nB. green\nC. blue\nD. yellow\n{EN_SUFFIX}",
        f"Which one?\nA. left\nB. right\n{EN_SUFFIX}",
        f"Which one?\nA. left\nB. right\n{EN_SUFFIX}",
        f"Pick.\nA. a\nB. b\nC. c\nD. d\nE. e\n{EN_SUFFIX}",
    ]
    assert samples[0].meta["options"] == {"A": "red", "B": "green", "C": "blue", "D": "yellow"}
    assert len(samples[0].images) == 1
    assert is_none(float("nan")) and is_none(None) and not is_none("none of these")


def test_cn_prompt(tmp_path: Path) -> None:
    rows = [mmb_row(7, "图中汽车是什么颜色？", ["红色", "绿色", "蓝色"], hint="汽车停着。", answer="B")]
    sample = samples_of("mmbench_cn_dev", write_parquet(tmp_path / "cn.parquet", rows))[0]
    assert sample.text == "汽车停着。\n图中汽车是什么颜色？\nA. 红色\nB. 绿色\nC. 蓝色\n请直接回答选项字母。"
    assert sample.target == "B"
    assert task_named("mmbench_cn_dev").data.config == "cn"


def write_tsv(path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str] = TSV_COLUMNS) -> Path:
    """The official MMBench TSV: `l2-category`, base64 images, empty cells for missing values."""
    import pandas as pd

    table = []
    for row in rows:
        cells = {**row, "l2-category": row["L2-category"],
                 "image": base64.b64encode(row["image"]["bytes"]).decode()}
        table.append({c: cells.get(c) for c in columns})
    pd.DataFrame(table, columns=list(columns)).to_csv(path, sep="\t", index=False)
    return path


def test_official_tsv_reads_like_the_hub_parquet(tmp_path: Path) -> None:
    rows = [mmb_row(1, "What color?", ["red", "green", None, None], hint="A hint.", answer="B"),
            mmb_row(2, "What shape?", ["round", "square", "flat", "tall"], category="shape", l2="coarse")]
    from_tsv = samples_of("mmbench_en_dev", write_tsv(tmp_path / "mmbench_dev_20230712.tsv", rows))
    from_parquet = samples_of("mmbench_en_dev", write_parquet(tmp_path / "dev.parquet", rows))
    assert [(s.id, s.text, s.target) for s in from_tsv] == [(s.id, s.text, s.target) for s in from_parquet]
    assert [s.meta["L2-category"] for s in from_tsv] == [FINE, "coarse"]
    assert from_tsv[0].images[0].load().size == (32, 32)  # the base64 cell decodes


def circular_fixture(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Five questions with their rotated copies, rows interleaved (not grouped by question)."""
    colors = ["red", "green", "blue", "yellow"]
    q1 = rotations(1, "Car color?", colors, right=0, category="color", l2=FINE)
    q2 = rotations(2, "Hat color?", colors, right=2, category="color", l2="coarse_perception")
    q3 = rotations(3, "Which word?", ["stone", "apple"], right=1, category="count", l2="logic_reasoning")
    q4 = rotations(4, "How many?", ["two", "three"], right=0, category="count", l2="logic_reasoning")
    q5 = [mmb_row(5, "Any dog?", ["yes", "no"], answer="A", category="count", l2="logic_reasoning")]
    rows = [q4[1], q1[0], q2[0], q3[0], q4[0], q5[0], q1[1], q2[1], q3[1], q1[2], q2[2], q1[3], q2[3]]
    predictions = {
        **{str(r["index"]): r["answer"] for r in q1},  # all right
        **{str(r["index"]): r["answer"] for r in q2},
        "2": "A",  # q2 fails its original (vanilla) row only
        "3": "apple", "1000003": "It is an apple.",  # q3 right by option text
        "4": "A", "1000004": "I cannot tell",  # q4: one rotation unresolved
        "5": "(A)",
    }
    return write_parquet(tmp_path / "dev" / "dev-00000-of-00001.parquet", rows), predictions


def score_fixture(name: str, data: Path, predictions: dict[str, str], context: ScoreContext) -> list[Record]:
    task = task_named(name)
    samples = load_samples(task, str(data), None, None).samples
    answers = {i: Answer(i, p) for i, p in predictions.items()}
    return score_answers(task, samples, answers, context)


def test_circular_eval_on_rotated_copies(tmp_path: Path) -> None:
    data, predictions = circular_fixture(tmp_path)
    task = task_named("mmbench_en_dev")
    records = score_fixture("mmbench_en_dev", data, predictions, ScoreContext())
    metrics = compute_metrics(task.metrics, records)
    # q1, q3, q5 right in every row; q2 fails one rotation, q4 has an unresolved one.
    assert metrics["circular_accuracy"] == pytest.approx(60.0)
    assert metrics["vanilla_accuracy"] == pytest.approx(80.0)  # rows 1-5: only 2 wrong
    assert metrics["unresolved"] == 1.0
    by_id = {r.id: r for r in records}
    assert by_id["1000004"].failure == "unparsed" and by_id["1000004"].answer is None
    assert by_id["1000003"].answer == "A" and by_id["1000003"].scores["correct"] == 1.0
    primary = task.metrics[0]
    assert task.breakdowns == ("category", "L2-category")
    by_category = RecordView(records).grouped(primary, "category")
    assert by_category["color"]["circular_accuracy"] == pytest.approx(50.0)
    assert by_category["count"]["circular_accuracy"] == pytest.approx(200 / 3)
    by_l2 = RecordView(records).grouped(primary, "L2-category")
    assert {k: v["circular_accuracy"] for k, v in by_l2.items()} == pytest.approx(
        {FINE: 100.0, "coarse_perception": 0.0, "logic_reasoning": 200 / 3})


def test_test_split_without_answers_writes_the_submission(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pandas as pd

    rows = [mmb_row(i, f"Question {i}?", ["cat", "dog", "bird", "fish"], answer=None, split="test",
                    hint="A hint." if i == 1 else None) for i in range(3)]
    columns = [c for c in TSV_COLUMNS if c != "answer"]  # the released test TSV has no answers
    data = write_tsv(tmp_path / "mmbench_test_en_20231003.tsv", rows, columns)
    predictions = write_jsonl(tmp_path / "p.jsonl", [{"id": "0", "prediction": "B"},
                                                      {"id": "1", "prediction": "the dog"}])
    out = tmp_path / "out"
    code = main(["score", "--task", "mmbench_en_test", "--predictions", str(predictions), "--data", str(data),
                 "--output", str(out)])
    assert code == 3  # written, but sample 2 has no answer
    report = json.loads((out / "report.json").read_text())
    assert report["scored"] is False and report["metrics"] == {}
    assert report["artifacts"] == ["submission.xlsx"] and (out / "submission.xlsx").is_file()
    assert "Submission file written" in capsys.readouterr().out
    sheet = pd.read_excel(out / "submission.xlsx", engine="openpyxl")
    assert list(sheet.columns) == ["index", "question", "hint", "A", "B", "C", "D", "category", "l2-category",
                                   "source", "split", "comment", "prediction"]
    assert sheet["index"].tolist() == [0, 1, 2]
    assert sheet["hint"].tolist()[1] == "A hint."
    assert sheet["prediction"].fillna("").tolist() == ["B", "the dog", ""]  # raw answers; 2 has none
    assert report["counts"]["missing"] == 1


def test_answered_test_split_is_scored_like_dev(tmp_path: Path) -> None:
    rows = rotations(8, "图中是什么？", ["猫", "狗"], right=1, split="test")
    data = write_parquet(tmp_path / "test-00000-of-00001.parquet", rows)
    predictions = write_jsonl(tmp_path / "p.jsonl", [{"id": "8", "prediction": "B"},
                                                      {"id": "1000008", "prediction": "是狗"}])
    out = tmp_path / "out"
    assert main(["score", "--task", "mmbench_cn_test", "--predictions", str(predictions), "--data", str(data),
                 "--output", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["scored"] is True and "artifacts" not in report
    assert report["metrics"]["circular_accuracy"] == 100.0
    assert not (out / "submission.xlsx").exists()


def test_judge_resolves_what_the_rules_cannot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLMEVAL_CACHE", str(tmp_path / "cache"))
    data, predictions = circular_fixture(tmp_path)

    def reply(body: dict, headers: dict) -> str:
        return "B" if "\nAnswer: I cannot tell\nYour output: " in last_user_text(body) else "Z"

    out = tmp_path / "out"
    file = write_jsonl(tmp_path / "p.jsonl", [{"id": i, "prediction": p} for i, p in predictions.items()])
    with FakeOpenAIServer(reply) as server:
        code = main(["score", "--task", "mmbench_en_dev", "--predictions", str(file), "--data", str(data),
                     "--output", str(out), "--judge", "judge-1", "--judge-base-url", server.base_url,
                     "--judge-api-key-env", "NO_SUCH_KEY"])
    assert code == 0
    assert len(server.requests) == 1  # only the one unresolved row is judged
    report = json.loads((out / "report.json").read_text())
    assert report["judge"]["model"] == "judge-1"
    assert report["judge"]["prompts"] == {"vlmevalkit-en": prompt_hash(JUDGE_PROMPT_EN)}
    assert report["answer_reading"]["name"] == "vlmevalkit" and report["answer_reading"]["official"]
    assert VLMEVALKIT_COMMIT in report["answer_reading"]["reference"]
    assert report["metrics"]["unresolved"] == 0.0
    assert report["metrics"]["circular_accuracy"] == pytest.approx(80.0)  # B is right: q4 now counts
    judged = [r for r in read_jsonl(out / "predictions.jsonl") if r["scores"]["judged"]]
    assert [(r["id"], r["answer"]) for r in judged] == [("1000004", "B")]


@pytest.mark.slow
def test_score_command_writes_the_report(tmp_path: Path) -> None:
    data, predictions = circular_fixture(tmp_path)
    file = write_jsonl(tmp_path / "p.jsonl", [{"id": i, "prediction": p} for i, p in predictions.items()])
    out = tmp_path / "O"
    result = vlmeval("score", "--task", "mmbench_en_dev", "--predictions", str(file), "--data", str(data),
                     "--output", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["primary_metric"] == "circular_accuracy"
    assert set(report["metrics"]) == {"circular_accuracy", "vanilla_accuracy", "unresolved"}
    assert set(report["breakdown"]) == {"category", "L2-category"}
    assert report["counts"]["failures"] == {"unparsed": 1}


def test_hub_folder_with_both_configs_reads_the_task_config(tmp_path: Path) -> None:
    """`--data MMBench/` holding `en/dev-*.parquet` and `cn/dev-*.parquet`: each task takes its own."""
    write_parquet(tmp_path / "MMBench" / "en" / "dev-00000-of-00001.parquet",
                  [mmb_row(1, "What color?", ["red", "green"])])
    write_parquet(tmp_path / "MMBench" / "cn" / "dev-00000-of-00001.parquet",
                  [mmb_row(1, "什么颜色？", ["红色", "绿色"])])
    assert samples_of("mmbench_cn_dev", tmp_path / "MMBench")[0].meta["question"] == "什么颜色？"
    assert samples_of("mmbench_en_dev", tmp_path / "MMBench")[0].meta["question"] == "What color?"


@pytest.mark.parametrize("language", ["en", "cn"])
def test_v11_is_the_v10_definition_on_vlmevalkit_tsvs(tmp_path: Path, language: str) -> None:
    """MMBench v1.1 is a parameter: same prompt, reading and CircularEval, read from the v1.1 TSV."""
    data, predictions = circular_fixture(tmp_path)
    rows = pd_rows(data)
    tsv = write_tsv(tmp_path / f"MMBench_DEV_{language.upper()}_V11.tsv", rows)
    v11, v10 = f"mmbench_v11_{language}_dev", f"mmbench_{language}_dev"
    assert [(s.id, s.text, s.target) for s in samples_of(v11, tsv)] == [
        (s.id, s.text, s.target) for s in samples_of(v10, tsv)]
    records = score_fixture(v11, tsv, predictions, ScoreContext())
    assert compute_metrics(task_named(v11).metrics, records) == compute_metrics(
        task_named(v10).metrics, score_fixture(v10, tsv, predictions, ScoreContext()))
    assert compute_metrics(task_named(v11).metrics, records)["circular_accuracy"] == pytest.approx(60.0)
    assert task_named(v11).data.config is None and "V11" in task_named(v11).data.hub


def pd_rows(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()
