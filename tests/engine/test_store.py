"""Answer files are read as bytes: a last line torn anywhere, even inside a character, costs that line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.scripted import ScriptedBackend
from vlmeval.cli import main
from vlmeval.engine.store import Answer, AnswerStore

ANSWERS = [Answer("0", "红色"), Answer("1", "café crème"), Answer("2", "Ölförväxling ñ"), Answer("3", "蓝 é")]


def _written(run_dir: Path) -> Path:
    store = AnswerStore(run_dir)
    with store.writer(0, 1) as writer:
        writer.write(ANSWERS)
    return store.shard_file(0, 1)


def test_a_tail_torn_at_every_byte_is_dropped_and_counted(tmp_path: Path) -> None:
    file = _written(tmp_path)
    whole = file.read_bytes()
    last_start = whole.rstrip(b"\n").rfind(b"\n") + 1
    assert any(byte >= 0x80 for byte in whole[last_start:])  # the cut falls inside characters too
    for cut in range(last_start + 1, len(whole) - 1):  # a tail without its end
        file.write_bytes(whole[:cut])
        state = AnswerStore(tmp_path).read()
        assert state.answers == {a.id: a for a in ANSWERS[:-1]}, cut
        assert len(state.torn_lines) == 1, cut
        # Appending after the tear closes it off; the new line reads back whole.
        with AnswerStore(tmp_path).writer(0, 1) as writer:
            writer.write([ANSWERS[-1]])
        assert AnswerStore(tmp_path).read().answers == {a.id: a for a in ANSWERS}, cut


def test_a_tail_missing_only_its_newline_is_a_whole_answer(tmp_path: Path) -> None:
    file = _written(tmp_path)
    file.write_bytes(file.read_bytes()[:-1])
    state = AnswerStore(tmp_path).read()
    assert state.answers == {a.id: a for a in ANSWERS} and state.torn_lines == []


class Multilingual(ScriptedBackend):
    def generate(self, requests, settings):  # type: ignore[no-untyped-def]
        self.calls.append([r.sample_id for r in requests])
        return [f"答案 {r.sample_id} é" for r in requests]


@pytest.fixture()
def multilingual(monkeypatch: pytest.MonkeyPatch) -> Iterator[Multilingual]:
    backend = Multilingual()
    monkeypatch.setattr("vlmeval.engine.evaluate.make_backend", lambda model, options: backend)
    yield backend


def test_runs_and_merge_survive_a_tail_torn_inside_a_character(
    tmp_path: Path, multilingual: Multilingual, caplog: pytest.LogCaptureFixture
) -> None:
    args = ["run", "--task", "sqa", "--model", "scripted", "--data", "demo", "--output", str(tmp_path),
            "--limit", "6", "--no-progress"]
    assert main(args) == 3  # no answer reads as a letter: the metrics are missing; the answer file is tested
    run_dir = tmp_path / "scripted" / "sqa"
    file = next((run_dir / "answers").glob("*.jsonl"))
    whole = file.read_bytes()
    last_start = whole.rstrip(b"\n").rfind(b"\n") + 1
    last_id = json.loads(whole[last_start:])["id"]
    # Every cut inside a character (a continuation byte follows), and two between characters; the
    # store test above covers every offset through the same reader that runs and merges use.
    inside = [cut for cut in range(last_start + 1, len(whole) - 1) if 0x80 <= whole[cut] < 0xC0]
    assert len(inside) >= 4
    for cut in [last_start + 3, *inside, len(whole) - 3]:
        file.write_bytes(whole[:cut])
        caplog.clear()
        assert main(["merge", str(run_dir)]) == 3, cut  # scored; the torn sample is missing
        assert "unreadable answer lines skipped" in caplog.text
        report = json.loads((run_dir / "report.json").read_text())
        assert report["counts"]["missing"] == 1 and report["counts"]["answered"] == 5
    multilingual.calls.clear()
    assert main(args) == 3
    assert multilingual.calls == [[last_id]]  # only the torn answer was asked again


@pytest.mark.parametrize("one_file", [True, False])
def test_an_error_after_a_good_answer_does_not_replace_it(tmp_path: Path, one_file: bool) -> None:
    """A resumed or repeated shard that fails on a sample keeps the answer an earlier pass gave;
    a later good answer still replaces an earlier error."""
    store = AnswerStore(tmp_path)
    with store.writer(0, 1) as writer:
        writer.write([Answer("0", "B"), Answer("1", None, "timeout")])
    with store.writer(0, 1) if one_file else store.writer(1, 2) as writer:
        writer.write([Answer("0", None, "CUDA out of memory"), Answer("1", "C")])
    assert store.read().answers == {"0": Answer("0", "B"), "1": Answer("1", "C")}
