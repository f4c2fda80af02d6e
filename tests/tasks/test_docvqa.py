"""DocVQA / InfographicVQA: the RRC ANLS script, re-written here from QwenLM/Qwen-VL
`eval_mm/infographicsvqa_eval.py` (e6bbb9dd), against vlmeval's scores on adversarial answers;
the test splits' submission.json against the script's `validate_data` rules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import write_jsonl, write_parquet
from vlmeval.cli import main
from vlmeval.demo_data import image_cell, png_bytes
from vlmeval.errors import DataError
from vlmeval_tasks.docvqa import validate_rrc_submission


def rrc_levenshtein(s1: str, s2: str) -> int:
    if len(s1) > len(s2):
        s1, s2 = s2, s1
    distances: Any = range(len(s1) + 1)
    for i2, c2 in enumerate(s2):
        distances_ = [i2 + 1]
        for i1, c1 in enumerate(s1):
            if c1 == c2:
                distances_.append(distances[i1])
            else:
                distances_.append(1 + min((distances[i1], distances[i1 + 1], distances_[-1])))
        distances = distances_
    return distances[-1]


def rrc_question_result(answers: list[str], det: str, threshold: float = 0.5) -> float:
    values = []
    for answer in answers:
        gt_answer = " ".join(answer.strip().lower().split())
        det_answer = " ".join(det.strip().lower().split())
        dist = rrc_levenshtein(gt_answer, det_answer)
        length = max(len(answer.upper()), len(det.upper()))
        values.append(0.0 if length == 0 else float(dist) / float(length))
    result = 1 - min(values)
    return 0 if result < threshold else result


# (answers, raw generation, question types / answer types): whitespace runs, the raw-length
# denominator, ß whose upper case is longer, exactly 0.5, empty sides, a sentence holding the number.
CASES: list[tuple[list[str], str, list[str]]] = [
    (["Coca Cola", "Coca Cola Company"], "The Coca", ["form"]),
    (["Coca Cola", "Coca Cola Company"], "CocaCola", ["form", "layout"]),
    (["a  b"], "a b", ["table/list"]),
    (["0.28"], "The value is 0.24 per 1000", ["figure/diagram"]),
    (["abc"], "abd", ["handwritten"]),
    (["ß"], "ss", ["others"]),
    (["abcd"], "ab", ["Yes/No"]),
    (["  Paul "], "PAUL", ["layout"]),
    (["$975.00", "975.00"], "975", ["table/list"]),
    (["ﬁle"], "file", ["free_text"]),
    (["University of California"], "", ["Image/Photo"]),
]


def docvqa_row(i: int, answers: list[str], types: list[str]) -> dict[str, Any]:
    return {"questionId": str(24580 + i), "question": f"What is item {i}?", "question_types": types,
            "image": image_cell(png_bytes()), "docId": 7027 + i, "ucsf_document_id": "nkbl0226",
            "ucsf_document_page_no": "1", "answers": answers, "data_split": "val"}


def score(tmp_path: Path, task: str, rows: list[dict[str, Any]], predictions: list[str],
          exit_code: int = 0) -> dict[str, Any]:
    data = write_parquet(tmp_path / "data" / f"{task.split('_')[1]}.parquet", rows)
    preds = write_jsonl(tmp_path / "preds.jsonl", [{"id": r["questionId"], "prediction": p}
                                                   for r, p in zip(rows, predictions)])
    out = tmp_path / "out"
    code = main(["score", "--task", task, "--predictions", str(preds), "--data", str(data), "--output", str(out)])
    assert code == exit_code
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def test_oracle_cases_are_the_adversarial_ones() -> None:
    assert rrc_question_result(["abc"], "  abd  ") == pytest.approx(1 - 1 / 7)  # raw length 7
    assert rrc_question_result(["abcd"], "ab") == 0.5  # strict threshold keeps 0.5
    assert rrc_question_result(["ß"], "ss") == 0  # 'SS' is two long: distance 2 / 2
    assert rrc_question_result(["Coca Cola", "Coca Cola Company"], "CocaCola") == pytest.approx(1 - 1 / 9)


def test_docvqa_anls_and_types_equal_the_rrc_script(tmp_path: Path) -> None:
    rows = [docvqa_row(i, answers, types) for i, (answers, _, types) in enumerate(CASES)]
    # 3: the one Image/Photo question's answer is empty, so that type has no number (reported missing)
    report = score(tmp_path, "docvqa_val", rows, [p for _, p, _ in CASES], exit_code=3)
    assert list(report["missing_metrics"]) == ["image_photo"]
    # the harness-wide rule: the generation is stripped once, then scored as the server scores it
    results = [rrc_question_result(answers, p.strip()) for answers, p, _ in CASES]
    assert report["metrics"]["anls"] == pytest.approx(100 * sum(results) / len(results))
    for label, name in (("table/list", "table_list"), ("layout", "layout"), ("Yes/No", "yes_no")):
        chosen = [r for r, (_, _, types) in zip(results, CASES) if label in types]
        assert report["metrics"][name] == pytest.approx(100 * sum(chosen) / len(chosen))
    assert report["counts"]["failures"] == {"empty": 1}


def test_generation_is_stripped_before_scoring(tmp_path: Path) -> None:
    rows = [docvqa_row(0, ["abc"], ["form"])]
    report = score(tmp_path, "docvqa_val", rows, ["  abd  "])
    assert report["metrics"]["anls"] == pytest.approx(100 * (1 - 1 / 3))  # not 1 - 1/7: stripped


def test_infovqa_answer_types_and_reasoning(tmp_path: Path) -> None:
    kinds = [["image span"], ["question span", "multiple spans"], ["non span"], ["image span"]]
    reasoning = [["counting"], None, ["arithmetic", "counting"], None]
    cases = CASES[:4]
    rows = [{"questionId": str(98000 + i), "question": f"q{i}?", "answers": answers, "answer_type": kinds[i],
             "image": image_cell(png_bytes()), "image_url": "u", "operation/reasoning": reasoning[i], "ocr": "",
             "data_split": "val"} for i, (answers, _, _) in enumerate(cases)]
    report = score(tmp_path, "infovqa_val", rows, [p for _, p, _ in cases])
    results = [rrc_question_result(a, p.strip()) for a, p, _ in cases]
    assert report["metrics"]["image_span"] == pytest.approx(100 * (results[0] + results[3]) / 2)
    assert report["metrics"]["counting"] == pytest.approx(100 * (results[0] + results[2]) / 2)
    assert "comparison" not in report["metrics"]  # no question of that type: no metric, no division by zero


def test_test_split_writes_rrc_submission_with_every_question(tmp_path: Path) -> None:
    rows = [{**docvqa_row(i, [], []), "question_types": None, "data_split": "test"} for i in range(3)]
    data = write_parquet(tmp_path / "data" / "test.parquet", rows)
    preds = write_jsonl(tmp_path / "preds.jsonl", [{"id": "24580", "prediction": " ITC Limited\n"},
                                                   {"id": "24582", "prediction": "2"}])
    out = tmp_path / "out"
    assert main(["score", "--task", "docvqa_test", "--predictions", str(preds), "--data", str(data),
                 "--output", str(out)]) == 3  # one question unanswered: incomplete
    submission = json.loads((out / "submission.json").read_text(encoding="utf-8"))
    assert submission == [{"questionId": 24580, "answer": "ITC Limited"}, {"questionId": 24581, "answer": ""},
                          {"questionId": 24582, "answer": "2"}]
    validate_rrc_submission(submission, [24580, 24581, 24582])


@pytest.mark.parametrize("entries", [
    {"questionId": 1, "answer": "a"},  # not a list
    [{"questionId": 1, "answer": "a"}],  # too few
    [{"questionId": 1, "answer": "a"}, {"questionId": 1, "answer": "b"}],  # a question twice, one missing
    [{"questionId": 1}, {"questionId": 2, "answer": "b"}],  # no answer key
    [{"questionId": 1, "answer": ["a"]}, {"questionId": 2, "answer": "b"}],  # a list answer
])
def test_submission_rules_refuse_what_rrc_refuses(entries: Any) -> None:
    with pytest.raises(DataError, match="submission.json"):
        validate_rrc_submission(entries, [1, 2])
