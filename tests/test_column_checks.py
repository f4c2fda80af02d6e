"""Bad data is refused with one line naming the file, row and column; splits are never guessed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers import sqa_row, vlmeval, write_parquet
from tests.tasks.test_mmbench import mmb_row, write_tsv
from tests.tasks.test_mme import mme_row
from tests.tasks.test_vizwiz import vizwiz_row
from tests.tasks.test_vqav2 import vqa_row
from vlmeval.engine.samples import load_samples
from vlmeval.errors import DataError
from vlmeval.registry import load_registry


def _load(task: str, data: Path, split: str | None = None) -> Any:
    return load_samples(load_registry().get(task), str(data), split, None)


def _refused(task: str, data: Path, *expected: str, split: str | None = None) -> str:
    with pytest.raises(DataError) as caught:
        _load(task, data, split)
    message = str(caught.value)
    assert "\n" not in message
    for text in expected:
        assert text in message, message
    return message


def test_a_bad_cell_in_a_later_file_is_named_by_file_row_and_column(tmp_path: Path) -> None:
    folder = tmp_path / "sqa"
    write_parquet(folder / "test-00000-of-00002.parquet", [sqa_row() for _ in range(3)])
    late = write_parquet(folder / "test-00001-of-00002.parquet",
                         [sqa_row(), sqa_row(), sqa_row(choices=["a", "b"], answer=2)])
    _refused("sqa", folder, str(late), "row 2", "'answer'", "outside the 2 entries of 'choices'")


@pytest.mark.parametrize(
    ("change", "column", "problem"),
    [
        ({"choices": None}, "choices", "is empty"),
        ({"answer": -1}, "answer", "outside"),
        ({"question": None}, "question", "is empty"),
    ],
)
def test_scienceqa_cells(tmp_path: Path, change: dict[str, Any], column: str, problem: str) -> None:
    rows = [sqa_row(), {**sqa_row(), **change}]
    data = write_parquet(tmp_path / "t.parquet", rows)
    _refused("sqa", data, str(data), "row 1", f"column {column!r}", problem)


def test_scienceqa_types(tmp_path: Path) -> None:
    numbers = write_parquet(tmp_path / "n.parquet", [{**sqa_row(), "choices": [1, 2]}])
    _refused("sqa", numbers, "column 'choices'", "expected a list of text")
    text_index = write_parquet(tmp_path / "s.parquet", [{**sqa_row(), "answer": "0"}])
    _refused("sqa", text_index, "column 'answer'", "expected an integer index")


def test_mmbench_answer_must_name_a_present_option(tmp_path: Path) -> None:
    rows = [mmb_row(1, "q?", ["x", "y", "z"], "C"), mmb_row(2, "q?", ["x", "y", None, "w"], "D")]
    data = write_parquet(tmp_path / "dev-0.parquet", rows)
    _refused("mmbench_en_dev", data, "row 1", "column 'answer'", "'D' is not one of the row's options (A, B)")
    tsv = write_tsv(tmp_path / "mmbench_dev_20230712.tsv", [mmb_row(1, "q?", ["x", "y"], "E")])
    _refused("mmbench_en_dev", tsv, str(tsv), "row 0", "'E' is not one of the row's options (A, B)")
    lower = write_parquet(tmp_path / "dev-1.parquet", [mmb_row(1, "q?", ["x", "y"], None)])
    _refused("mmbench_en_dev", lower, "row 0", "column 'answer'", "is empty")


def test_mme_answer_is_yes_or_no(tmp_path: Path) -> None:
    rows = [mme_row("a.png", "Is it red?", "Yes", "color"), mme_row("a.png", "Is it blue?", "Maybe", "color")]
    data = write_parquet(tmp_path / "test.parquet", rows)
    _refused("mme", data, "row 1", "column 'answer'", "'Maybe' is not Yes or No")


def test_vqa_answers_are_lists_of_text(tmp_path: Path) -> None:
    rows = [vizwiz_row("v1", ["a"] * 10), {**vizwiz_row("v2", ["a"] * 10), "answers": None}]
    data = write_parquet(tmp_path / "val.parquet", rows)
    _refused("vizwiz_val", data, "row 1", "column 'answers'", "is empty")
    rows = [vqa_row(1, ["yes"] * 10), {**vqa_row(2, ["no"] * 10), "question": None}]
    data = write_parquet(tmp_path / "validation.parquet", rows)
    _refused("vqav2_val", data, "row 1", "column 'question'", "is empty")
    hidden = write_parquet(tmp_path / "test.parquet", [vqa_row(3, None), vqa_row(4, None)])
    assert len(_load("vqav2_test", hidden).samples) == 2  # test splits hide their answers


def test_a_hidden_answer_list_of_null_items_is_accepted_and_a_mixed_one_is_not(tmp_path: Path) -> None:
    nulls = [{**vqa_row(3, None), "answers": [{"answer": None, "answer_confidence": None, "answer_id": i}
                                              for i in range(10)]}, vqa_row(4, None)]
    samples = _load("vqav2_test", write_parquet(tmp_path / "test.parquet", nulls)).samples
    assert [s.target for s in samples] == [None, None]
    vizwiz = [{**vizwiz_row("v1", ["a"]), "answers": [None, None]}, {**vizwiz_row("v2", ["a"]), "answers": None}]
    assert len(_load("vizwiz_test", write_parquet(tmp_path / "vizwiz" / "test.parquet", vizwiz)).samples) == 2
    mixed = [vqa_row(5, None), {**vqa_row(6, None), "answers": [{"answer": "yes", "answer_confidence": "yes",
                                                                 "answer_id": 1}, None]}]
    _refused("vqav2_test", write_parquet(tmp_path / "mixed" / "test.parquet", mixed), "row 1", "null")
    _refused("vqav2_val", write_parquet(tmp_path / "val" / "validation.parquet",
                                        [vqa_row(7, ["yes"]), {**vqa_row(8, ["no"]), "answers": [None]}]),
             "row 1", "holds an empty (null) item")


def test_a_folder_without_the_split_is_refused_not_read_whole(tmp_path: Path) -> None:
    folder = tmp_path / "sqa"
    write_parquet(folder / "train-00000-of-00001.parquet", [sqa_row()])
    write_parquet(folder / "validation-00000-of-00001.parquet", [sqa_row()])
    _refused("sqa", folder, "no file of split 'test'", "train-00000-of-00001.parquet",
             "validation-00000-of-00001.parquet")


def test_a_split_given_for_a_single_file_must_match_its_name(tmp_path: Path) -> None:
    data = write_parquet(tmp_path / "train.parquet", [sqa_row()])
    _refused("sqa", data, str(data), "--split test", split="test")
    assert len(_load("sqa", data).samples) == 1  # no --split: the file is what the user chose
    named = write_parquet(tmp_path / "sqa_test_2024.parquet", [sqa_row()])
    assert len(_load("sqa", named, split="test").samples) == 1


@pytest.mark.slow
def test_the_command_exits_2_with_one_line(tmp_path: Path) -> None:
    data = write_parquet(tmp_path / "t.parquet", [sqa_row(), sqa_row(answer=9)])
    result = vlmeval("score", "--task", "sqa", "--data", str(data), "--predictions", "x.jsonl")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"vlmeval: error: {data} row 1 column 'answer': index 9 is outside the 4 entries of 'choices'")


def test_the_hub_copy_is_checked_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fakes.hub import FakeHub

    hub = FakeHub(tmp_path / "hub").install(monkeypatch)
    rows = [sqa_row(), sqa_row(), sqa_row(answer=7)]
    write_parquet(hub.repo("lmms-lab/ScienceQA") / "ScienceQA-FULL" / "test-00000-of-00001.parquet", rows)
    with pytest.raises(DataError, match=r"ScienceQA-FULL/test-00000-of-00001.parquet row 2 column 'answer'"):
        load_samples(load_registry().get("sqa"), None, None, None)


@pytest.mark.parametrize(("answers", "problem"), [
    (["A", "C", "B"], None),
    (["A", "D", "B"], "row 1 column 'answer': 'D' is not a letter among the row's 3 options in 'options' (A, B, C)"),
    (["A", "c", "B"], "row 1 column 'answer': 'c' is not a letter among the row's 3 options"),
    (["A", None, "B"], "row 1 column 'answer': is empty"),
    (["A", "B", "AB"], "row 2 column 'answer': 'AB' is not a letter among the row's 2 options"),
])
def test_a_letter_answer_among_a_list_of_options(answers: list[str | None], problem: str | None) -> None:
    import pyarrow as pa

    from vlmeval import LetterAmong
    from vlmeval.column_checks import check_table

    table = pa.table({"answer": answers, "options": [["x", "y"], ["x", "y", "z"], ["x", "y"]]})
    if problem is None:
        check_table(table, [LetterAmong("answer", "options")], ("answer", "options"), "f.parquet")
    else:
        with pytest.raises(DataError) as raised:
            check_table(table, [LetterAmong("answer", "options")], ("answer", "options"), "f.parquet")
        assert str(raised.value).startswith(f"f.parquet {problem}")
