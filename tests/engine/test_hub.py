"""Real data from the hub: only the asked split's files are fetched (a fake hub, never the network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.hub import FakeHub
from tests.helpers import mmb_row, sqa_row, vqa_row, write_parquet
from vlmeval.engine.hub import MOVED_ORGS, candidates
from vlmeval.engine.samples import load_samples
from vlmeval.errors import DataError
from vlmeval.registry import load_registry


@pytest.fixture()
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    return FakeHub(tmp_path / "hub").install(monkeypatch)


def _load(task: str, split: str | None = None) -> list[str]:
    return [s.id for s in load_samples(load_registry().get(task), None, split, None).samples]


def test_only_the_files_of_the_split_are_fetched(hub: FakeHub, capsys: pytest.CaptureFixture[str]) -> None:
    from vlmeval import console

    repo = hub.repo("lmms-lab/VQAv2")
    write_parquet(repo / "data" / "validation-00000-of-00002.parquet", [vqa_row(1, ["yes"] * 10)])
    write_parquet(repo / "data" / "validation-00001-of-00002.parquet", [vqa_row(2, ["no"] * 10)])
    write_parquet(repo / "data" / "test-00000-of-00001.parquet", [vqa_row(3, None)])
    write_parquet(repo / "data" / "testdev-00000-of-00001.parquet", [vqa_row(4, None)])
    console.configure(verbose=True)
    try:
        assert _load("vqav2_val") == ["1", "2"]
    finally:
        console.configure()
    assert hub.fetched == ["lmms-lab/VQAv2/data/validation-00000-of-00002.parquet",
                           "lmms-lab/VQAv2/data/validation-00001-of-00002.parquet"]
    size = sum((repo / "data" / f"validation-0000{i}-of-00002.parquet").stat().st_size for i in (0, 1))
    err = capsys.readouterr().err
    assert f"fetching 2 files of lmms-lab/VQAv2 ({size / 1000:.1f} KB; only this split)" in err
    assert "file 2 of 2: data/validation-00001-of-00002.parquet" in err


def test_only_the_config_asked_is_fetched_and_a_missing_one_is_named(hub: FakeHub) -> None:
    repo = hub.repo("lmms-lab/MMBench")
    write_parquet(repo / "cn" / "dev-00000-of-00001.parquet", [mmb_row(5, "问题", ["a", "b"])])
    with pytest.raises(DataError, match=r"hub dataset lmms-lab/MMBench: no file of config 'en'.*cn"):
        _load("mmbench_en_dev")
    assert hub.fetched == []
    write_parquet(repo / "en" / "dev-00000-of-00001.parquet", [mmb_row(7, "Which?", ["a", "b"])])
    assert _load("mmbench_en_dev") == ["7"] and hub.fetched == ["lmms-lab/MMBench/en/dev-00000-of-00001.parquet"]


def test_the_moved_ids_are_tried_first_then_the_declared_ones(hub: FakeHub) -> None:
    write_parquet(hub.repo("lmms-lab-encoder/ScienceQA") / "ScienceQA-FULL" / "test-00000-of-00001.parquet",
                  [sqa_row(question="new home?")])
    write_parquet(hub.repo("lmms-lab/ScienceQA") / "ScienceQA-FULL" / "test-00000-of-00001.parquet",
                  [sqa_row(question="old home?"), sqa_row()])
    samples = load_samples(load_registry().get("sqa"), None, None, None)
    assert len(samples.samples) == 1 and samples.source == "lmms-lab-encoder/ScienceQA (ScienceQA-FULL)"
    assert hub.listed == ["lmms-lab-encoder/ScienceQA"]
    write_parquet(hub.repo("lmms-lab/POPE") / "data" / "test-00000-of-00001.parquet",
                  [{"question_id": "1", "question": "Is there a cat?", "answer": "yes", "image_source": "x",
                    "category": "adversarial", "image": None}])
    hub.listed.clear()
    try:
        _load("pope")
    except DataError:
        pass  # only the look-up order matters here
    assert hub.listed == ["lmms-lab-encoder/POPE", "lmms-lab/POPE"]


def test_every_task_on_a_moved_org_tries_the_new_id_first() -> None:
    """The id table: each registered task's declared id, and what is asked first."""
    registry = load_registry()
    for name in registry.names():
        hub_id = registry.get(name).data.hub
        org, _, rest = hub_id.partition("/")
        expected = [f"{MOVED_ORGS[org]}/{rest}", hub_id] if org in MOVED_ORGS else [hub_id]
        assert candidates(hub_id) == expected, name
    assert candidates("lmms-lab/VQAv2") == ["lmms-lab-encoder/VQAv2", "lmms-lab/VQAv2"]
    assert candidates("someone/data") == ["someone/data"]


def test_no_repository_under_either_id_is_one_line(hub: FakeHub) -> None:
    with pytest.raises(DataError, match=r"no dataset lmms-lab-encoder/VQAv2 or lmms-lab/VQAv2 on the "
                                        r"Hugging Face hub; pass a local copy with --data"):
        _load("vqav2_val")


def test_offline_a_cached_copy_is_read(hub: FakeHub) -> None:
    write_parquet(hub.repo("lmms-lab-encoder/VQAv2") / "data" / "validation-00000-of-00001.parquet",
                  [vqa_row(9, ["yes"] * 10)])
    hub.offline = True
    assert _load("vqav2_val") == ["9"] and hub.fetched == []


def test_offline_a_cached_copy_that_lacks_shards_of_the_split_is_refused(hub: FakeHub) -> None:
    """A download cut short keeps the files it fetched: one shard of two is not the split."""
    data = hub.repo("lmms-lab-encoder/VQAv2") / "data"
    write_parquet(data / "validation-00000-of-00003.parquet", [vqa_row(1, ["yes"] * 10)])
    write_parquet(data / "validation-00002-of-00003.parquet", [vqa_row(3, ["yes"] * 10)])
    write_parquet(data / "test-00000-of-00001.parquet", [vqa_row(4, None)])
    hub.offline = True
    with pytest.raises(DataError, match=r"lacks 1 of the files of split 'validation' "
                                        r"\(data/validation-00001-of-00003.parquet; a download cut short\?\)"):
        _load("vqav2_val")
    write_parquet(data / "validation-00001-of-00003.parquet", [vqa_row(2, ["no"] * 10)])
    assert _load("vqav2_val") == ["1", "2", "3"] and hub.fetched == []


def test_a_declared_size_that_differs_from_the_rows_read_is_a_note_in_the_report(
        hub: FakeHub, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from tests.fakes.scripted import ScriptedBackend
    from vlmeval.cli import main

    monkeypatch.setattr("vlmeval.engine.evaluate.make_backend", lambda model, options: ScriptedBackend())
    write_parquet(hub.repo("lmms-lab/VQAv2") / "data" / "validation-00000-of-00001.parquet",
                  [vqa_row(1, ["A"] * 10), vqa_row(2, ["b"] * 10)])
    out = tmp_path / "out"
    assert main(["run", "--task", "vqav2_val", "--model", "scripted", "--output", str(out), "--no-progress"]) == 0
    report = json.loads((out / "scripted" / "vqav2_val" / "report.json").read_text())
    assert "has 2 rows where vqav2_val declares 214,354" in report["spec"]["dataset"]["note"]
    assert "the dataset on the hub has changed" in (out / "scripted" / "vqav2_val" / "report.md").read_text()
    assert "note: the hub copy of split 'validation' has 2 rows" in capsys.readouterr().out


MMSTAR_CARD = """---
configs:
- config_name: val
  data_files:
  - split: val
    path: mmstar.parquet
---
# MMStar
"""


def test_the_files_a_dataset_card_declares_are_taken(hub: FakeHub) -> None:
    """Lin-Chen/MMStar keeps its split in `mmstar.parquet`: only the card says it is config val, split val."""
    from vlmeval.registry import load_registry

    task = load_registry().get("mmstar")
    repo = hub.repo("Lin-Chen/MMStar")
    (repo / "README.md").write_text(MMSTAR_CARD)
    write_parquet(repo / "mmstar.parquet", task.demo_rows())
    write_parquet(repo / "other.parquet", task.demo_rows())
    samples = load_samples(task, None, None, None).samples
    assert len(samples) == len(task.demo_rows())
    assert hub.fetched == ["Lin-Chen/MMStar/README.md", "Lin-Chen/MMStar/mmstar.parquet"]
    (repo / "README.md").write_text(MMSTAR_CARD.replace("config_name: val", "config_name: full"))
    with pytest.raises(DataError, match=r"Lin-Chen/MMStar: no config 'val'; its card declares: full"):
        load_samples(task, None, None, None)
    (repo / "README.md").write_text(MMSTAR_CARD.replace("split: val", "split: test"))
    with pytest.raises(DataError, match=r"config 'val' has no split 'val'; its card declares: test"):
        load_samples(task, None, None, None)


def test_data_that_is_not_on_the_hub_says_to_pass_it(hub: FakeHub) -> None:
    with pytest.raises(DataError, match=r"https://.*MMBench_DEV_EN_V11.tsv is not a Hugging Face dataset: "
                                        r"download it and pass it with --data PATH"):
        _load("mmbench_v11_en_dev")
    assert hub.listed == []


def test_a_split_of_two_splits_is_fetched_from_the_hub_too(hub: FakeHub) -> None:
    """HallusionBench's `image+non_image`: the files of both, by the layout rules and by a card."""
    task = load_registry().get("hallusionbench")
    rows = task.demo_rows()
    repo = hub.repo("lmms-lab/HallusionBench")
    write_parquet(repo / "data" / "image-00000-of-00001.parquet", [r for r in rows if r["visual_input"] != "0"])
    write_parquet(repo / "data" / "non_image-00000-of-00001.parquet", [r for r in rows if r["visual_input"] == "0"])
    assert len(load_samples(task, None, None, None).samples) == len(rows)
    assert [f.rsplit("/", 1)[-1].split("-")[0] for f in hub.fetched] == ["image", "non_image"]
    (repo / "README.md").write_text("---\nconfigs:\n- config_name: default\n  data_files:\n  - split: image\n"
                                    "    path: data/image-*\n  - split: non_image\n    path: data/non_image-*\n---\n")
    hub.fetched.clear()
    assert len(load_samples(task, None, None, None).samples) == len(rows)
    assert [f.rsplit("/", 1)[-1].split("-")[0] for f in hub.fetched] == ["README.md", "image", "non_image"]


def test_offline_without_a_cached_copy_names_both_ids_and_the_way_out(hub: FakeHub) -> None:
    hub.offline = True
    with pytest.raises(DataError, match=r"cannot list the files of lmms-lab-encoder/ScienceQA or lmms-lab/ScienceQA "
                                        r"on the Hugging Face hub \(offline\); pass a local copy with --data PATH"):
        _load("sqa")
    write_parquet(hub.repo("lmms-lab/ScienceQA") / "ScienceQA-FULL" / "test-00000-of-00001.parquet", [sqa_row()])
    assert _load("sqa") == ["0"]  # the old id's copy in the cache
