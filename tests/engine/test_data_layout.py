"""A task reads only its own data: the files of its split and config in the folder's own layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.scripted import ScriptedBackend
from tests.helpers import mmb_row, sqa_row, write_parquet
from vlmeval.cli import main
from vlmeval.engine.samples import load_samples
from vlmeval.errors import DataError
from vlmeval.registry import load_registry


def _mmbench(path: Path, question: str) -> Path:
    return write_parquet(path, [mmb_row(i, f"{question} {i}", ["a", "b"]) for i in range(3)])


def _samples(task: str, data: Path) -> list[str]:
    return [s.text for s in load_samples(load_registry().get(task), str(data), None, None).samples]


def _refused(task: str, data: Path, *expected: str) -> None:
    with pytest.raises(DataError) as caught:
        load_samples(load_registry().get(task), str(data), None, None)
    for text in expected:
        assert text in str(caught.value), caught.value


def test_the_hub_layout_of_several_configs_gives_each_task_its_own(tmp_path: Path) -> None:
    _mmbench(tmp_path / "MMBench" / "en" / "dev-00000-of-00001.parquet", "English")
    _mmbench(tmp_path / "MMBench" / "cn" / "dev-00000-of-00001.parquet", "Chinese")
    assert all("English" in text for text in _samples("mmbench_en_dev", tmp_path / "MMBench"))
    assert all("Chinese" in text for text in _samples("mmbench_cn_dev", tmp_path / "MMBench"))


def test_a_config_that_is_not_there_is_an_error_naming_what_is(tmp_path: Path) -> None:
    _mmbench(tmp_path / "MMBench" / "cn" / "dev-00000-of-00001.parquet", "Chinese")
    _refused("mmbench_en_dev", tmp_path / "MMBench", "no file of config 'en'", "cn")


def test_several_tasks_on_a_folder_without_one_config_do_not_read_the_other(
        tmp_path: Path, scripted: ScriptedBackend, capsys: pytest.CaptureFixture[str]) -> None:
    """The reported attack: `--tasks mmbench_en_dev,mmbench_cn_dev` with only `cn/` scored EN on CN rows."""
    _mmbench(tmp_path / "MMBench" / "cn" / "dev-00000-of-00001.parquet", "Chinese")
    code = main(["run", "--tasks", "mmbench_en_dev,mmbench_cn_dev", "--model", "scripted",
                 "--data", str(tmp_path), "--output", str(tmp_path / "out"), "--no-progress"])
    assert code == 2
    assert "task mmbench_en_dev: " in capsys.readouterr().err
    assert not (tmp_path / "out" / "scripted" / "mmbench_en_dev" / "report.json").exists()
    assert (tmp_path / "out" / "scripted" / "mmbench_cn_dev" / "report.json").exists()


def test_a_flat_folder_of_the_split_is_read(tmp_path: Path) -> None:
    _mmbench(tmp_path / "en" / "dev-00000-of-00001.parquet", "English")
    assert len(_samples("mmbench_en_dev", tmp_path / "en")) == 3
    write_parquet(tmp_path / "sqa" / "data" / "test-00000-of-00001.parquet", [sqa_row()])
    assert len(_samples("sqa", tmp_path / "sqa")) == 1  # `data/`: the hub's layout of one config


@pytest.mark.parametrize("other", ["backup/test-00000-of-00001.parquet", "ScienceQA-IMG/test-00000-of-00001.parquet"])
def test_loose_files_beside_another_folder_of_the_split_are_refused(tmp_path: Path, other: str) -> None:
    write_parquet(tmp_path / "test-00000-of-00001.parquet", [sqa_row()])
    write_parquet(tmp_path / other, [sqa_row(question="Another dataset's question?")])
    _refused("sqa", tmp_path, "loose files", other.split("/")[0])


def test_the_default_config_of_a_hub_copy_is_read_beside_named_ones(tmp_path: Path) -> None:
    """A hub repository's `data/` is its default config; `Full/` and the like are others."""
    write_parquet(tmp_path / "data" / "test-00000-of-00001.parquet", [sqa_row()])
    write_parquet(tmp_path / "Full" / "test-00000-of-00001.parquet", [sqa_row(), sqa_row()])
    from vlmeval.engine.data import split_files

    assert split_files(tmp_path, "test") == [tmp_path / "data" / "test-00000-of-00001.parquet"]
    assert split_files(tmp_path, "test", "Full") == [tmp_path / "Full" / "test-00000-of-00001.parquet"]
    assert split_files(tmp_path, "test", "ScienceQA-FULL") == []  # asked for a config that is not there


def test_two_copies_of_the_split_are_refused(tmp_path: Path) -> None:
    write_parquet(tmp_path / "test-00000-of-00001.parquet", [sqa_row()])
    write_parquet(tmp_path / "data" / "test-00000-of-00001.parquet", [sqa_row()])
    _refused("sqa", tmp_path, "lie in 2 folders", "data")


def test_several_datasets_in_one_folder_are_refused(tmp_path: Path) -> None:
    write_parquet(tmp_path / "a" / "test-00000-of-00001.parquet", [sqa_row()])
    write_parquet(tmp_path / "b" / "test-00000-of-00001.parquet", [sqa_row(question="Other?")])
    _refused("pope", tmp_path, "several folders", "a, b")


def test_a_plus_b_split_reads_both_splits_in_order(tmp_path: Path) -> None:
    """`image+non_image` (HallusionBench) is the files of `image`, then of `non_image`, as `datasets` reads it;
    `image` alone does not take `non_image-*` (the name must start with the split)."""
    from vlmeval.engine.data import split_files

    for name in ("non_image-00000-of-00001.parquet", "image-00000-of-00001.parquet", "train-00000-of-00001.parquet"):
        write_parquet(tmp_path / "hb" / "data" / name, [{"x": 1}])
    assert [p.name.split("-")[0] for p in split_files(tmp_path / "hb", "image+non_image")] == ["image", "non_image"]
    assert [p.name.split("-")[0] for p in split_files(tmp_path / "hb", "image")] == ["image"]
    assert split_files(tmp_path / "hb", "image+validation") == []  # a part without files: none, not half
