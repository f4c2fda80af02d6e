"""Run identity: stored answers are reused only for the same question, model and settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, FakeResponse
from tests.fakes.scripted import ScriptedBackend
from tests.faults import start_cli
from tests.helpers import COLORS, png_bytes, read_jsonl, sqa_row, write_parquet
from vlmeval.cli import main
from vlmeval.engine.claims import create_exclusive, try_claim
from vlmeval.io import ensure_writable


def _sqa(folder: Path, question: str = "Which color fills the picture?", n: int = 8,
         colors: list[tuple[int, int, int]] | None = None) -> Path:
    colors = colors or list(COLORS.values()) * (n // 4)
    rows = [sqa_row(question=f"{question} ({i})", answer=i % 4, image=png_bytes(rgb)) for i, rgb in enumerate(colors)]
    return write_parquet(folder / "test-00000-of-00001.parquet", rows)


def _run(out: Path, data: Path | str, *extra: str, model: str = "scripted") -> int:
    return main(["run", "--task", "sqa", "--model", model, "--data", str(data), "--output", str(out),
                 "--run-name", "r", "--no-progress", *extra])


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_other_data_into_the_same_run_folder_is_refused(tmp_path: Path, scripted: ScriptedBackend,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    first, second = _sqa(tmp_path / "a"), _sqa(tmp_path / "b", question="Which colour is it?")
    assert _run(tmp_path / "out", first) == 0
    capsys.readouterr()
    scripted.calls.clear()
    assert _run(tmp_path / "out", second) == 2
    error = _error(capsys)
    assert "holds answers of another run" in error and "--data/--split data" in error
    assert "--restart" in error and "--run-name" in error and scripted.calls == []
    report = json.loads((tmp_path / "out" / "r" / "sqa" / "report.json").read_text())
    assert report["spec"]["dataset"]["source"] == str(first)  # the old report was left alone


def test_changed_content_at_the_same_path_is_refused(tmp_path: Path, scripted: ScriptedBackend,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    data = _sqa(tmp_path / "d")
    assert _run(tmp_path / "out", data) == 0
    _sqa(tmp_path / "d", question="A rewritten prompt")
    capsys.readouterr()
    assert _run(tmp_path / "out", data) == 2
    assert "dataset content" in _error(capsys)


def test_a_replaced_image_is_noticed(tmp_path: Path, scripted: ScriptedBackend,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    colors = list(COLORS.values()) * 3
    data = _sqa(tmp_path / "d", colors=colors)
    assert _run(tmp_path / "out", data, "--limit", "8") == 0
    assert _run(tmp_path / "out", data) == 0  # more samples: the first 8 (and their images) are the same
    colors[2] = (0, 0, 0)  # same rows, same text, another picture
    _sqa(tmp_path / "d", colors=colors)
    capsys.readouterr()
    scripted.calls.clear()
    assert _run(tmp_path / "out", data) == 2
    assert "dataset images" in _error(capsys) and scripted.calls == []
    assert _run(tmp_path / "out", data, "--restart") == 0


def test_image_fingerprints_are_read_once_per_state_of_the_files(tmp_path: Path, scripted: ScriptedBackend,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from vlmeval.engine.data import LazyImage

    data = _sqa(tmp_path / "d")
    old = data.stat().st_mtime - 60
    os.utime(data, (old, old))  # not just written: its state may be cached
    reads: list[str] = []
    real = LazyImage.encoded
    monkeypatch.setattr(LazyImage, "encoded", lambda self: reads.append(self.where) or real(self))
    assert _run(tmp_path / "out", data) == 0
    assert len(reads) == 8
    assert _run(tmp_path / "out", data) == 0
    assert len(reads) == 8  # the second run found the fingerprint in the cache


def test_the_image_fingerprint_cache_tells_apart_samples_of_the_same_files(tmp_path: Path) -> None:
    """`--limit 4` and a `--subset` of 4 read the same file, but not the same images."""
    from vlmeval.engine.samples import SampleSet, load_samples
    from vlmeval.registry import load_registry

    data = _sqa(tmp_path / "d", colors=[(40 * i, 0, 0) for i in range(8)])
    old = data.stat().st_mtime - 60
    os.utime(data, (old, old))  # not just written: its state may be cached
    loaded = load_samples(load_registry().get("sqa"), str(data), None, None)
    first, last = (SampleSet(loaded.source, loaded.split, part, loaded.files)
                   for part in (loaded.samples[:4], loaded.samples[4:]))
    assert first.image_fingerprint("sqa-v1") != last.image_fingerprint("sqa-v1")


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--dtype", "float16"], "dtype"),
        (["--attn-implementation", "eager"], "attn_implementation"),
        (["--prompt-style", "plain"], "prompt_style"),
        (["--temperature", "0.7"], "generation"),
        (["--max-new-tokens", "3"], "generation"),
        (["--split", "validation"], "split"),
        (["--load-in-4bit"], "quantization"),
        (["--load-in-8bit"], "quantization"),
    ],
)
def test_each_setting_that_decides_answers_is_checked(tmp_path: Path, scripted: ScriptedBackend,
                                                      capsys: pytest.CaptureFixture[str],
                                                      flags: list[str], named: str) -> None:
    data = _sqa(tmp_path / "d")
    assert _run(tmp_path / "out", data) == 0
    capsys.readouterr()
    assert _run(tmp_path / "out", data, *flags) == 2
    assert named in _error(capsys)


def test_task_version_and_checkpoint_are_checked(tmp_path: Path, scripted: ScriptedBackend,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    data = _sqa(tmp_path / "d")
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text('{"hidden_size": 8}')
    assert _run(tmp_path / "out", data, model=str(checkpoint)) == 0
    (checkpoint / "config.json").write_text('{"hidden_size": 16}')
    capsys.readouterr()
    assert _run(tmp_path / "out", data, model=str(checkpoint)) == 2
    assert "checkpoint" in _error(capsys)
    (checkpoint / "config.json").write_text('{"hidden_size": 8}')
    import vlmeval.commands

    real_tasks = vlmeval.commands._selected_tasks
    monkeypatch.setattr(vlmeval.commands, "_selected_tasks",
                        lambda args: [replace(task, version=2) for task in real_tasks(args)])
    assert _run(tmp_path / "out", data, model=str(checkpoint)) == 2
    assert "task_version (recorded 1, now 2)" in _error(capsys)


@pytest.mark.parametrize("change", ["grown", "added", "removed"])
def test_a_checkpoint_whose_weight_files_change_is_another_run(tmp_path: Path, scripted: ScriptedBackend,
                                                               capsys: pytest.CaptureFixture[str],
                                                               change: str) -> None:
    """Weights decide answers as much as the config does: retrained weights under the same config."""
    data = _sqa(tmp_path / "d")
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text('{"hidden_size": 8}')
    (checkpoint / "model-00001-of-00002.safetensors").write_bytes(b"\x01" * 64)
    (checkpoint / "model-00002-of-00002.safetensors").write_bytes(b"\x02" * 64)
    assert _run(tmp_path / "out", data, model=str(checkpoint)) == 0
    capsys.readouterr()
    if change == "grown":
        (checkpoint / "model-00001-of-00002.safetensors").write_bytes(b"\x03" * 96)
    elif change == "added":
        (checkpoint / "adapter_model.safetensors").write_bytes(b"\x04" * 8)
    else:
        (checkpoint / "model-00002-of-00002.safetensors").unlink()
    assert _run(tmp_path / "out", data, model=str(checkpoint)) == 2
    assert "checkpoint (recorded" in _error(capsys)


def test_restart_starts_over(tmp_path: Path, scripted: ScriptedBackend) -> None:
    data = _sqa(tmp_path / "d")
    assert _run(tmp_path / "out", data) == 0
    scripted.calls.clear()
    assert _run(tmp_path / "out", data, "--temperature", "0.5", "--restart") == 0
    assert sum(map(len, scripted.calls)) == 8  # every sample asked again
    recorded = json.loads((tmp_path / "out" / "r" / "sqa" / "run.json").read_text())
    assert recorded["identity"]["generation"]["temperature"] == 0.5
    assert recorded["identity"]["schema_version"] == 1


def test_a_larger_or_smaller_limit_reuses_the_shared_answers(tmp_path: Path, scripted: ScriptedBackend) -> None:
    data = _sqa(tmp_path / "d", n=12)
    assert _run(tmp_path / "out", data, "--limit", "4") == 0
    scripted.calls.clear()
    assert _run(tmp_path / "out", data, "--limit", "8") == 0
    assert sorted(i for call in scripted.calls for i in call) == [str(i) for i in range(4, 8)]
    scripted.calls.clear()
    assert _run(tmp_path / "out", data, "--limit", "2") == 0
    assert _run(tmp_path / "out", data) == 0
    assert sorted(int(i) for call in scripted.calls for i in call) == list(range(8, 12))


def test_exactly_one_exclusive_create_wins(tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def race(n: int) -> None:
        barrier.wait()
        wins.append(create_exclusive(target, f"writer {n}"))

    threads = [threading.Thread(target=race, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]
    assert target.read_text().startswith("writer ") and [p.name for p in tmp_path.iterdir()] == ["run.json"]


@pytest.mark.slow
def test_a_claim_of_a_dead_process_is_taken_over_and_a_live_one_is_not(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    claim = tmp_path / "shard.claim"
    import socket

    claim.write_text(json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout)}))
    assert try_claim(claim) is None  # stale: this process holds it now
    assert json.loads(claim.read_text())["pid"] == os.getpid()
    claim.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getppid(), "since": time.time()}))
    holder = try_claim(claim)
    assert holder is not None and holder.pid == os.getppid()
    # A live pid that started after the claim was taken is another process that reused the pid.
    claim.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getppid(), "since": 1.0}))
    assert try_claim(claim) is None


def test_concurrent_write_checks_do_not_trip_over_each_other(tmp_path: Path) -> None:
    """The race behind 'output folder ... is not writable (No such file or directory)'."""
    errors: list[BaseException] = []

    def check() -> None:
        try:
            for _ in range(300):
                ensure_writable(tmp_path)
        except BaseException as exc:  # noqa: BLE001 - collected for the assert
            errors.append(exc)

    threads = [threading.Thread(target=check) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def _slow(body: dict[str, Any], headers: Any) -> FakeResponse:
    return FakeResponse.text("A", delay_s=0.03)


def _api_args(server: FakeOpenAIServer, out: Path, *extra: str) -> list[str]:
    return ["run", "--task", "sqa", "--model", "openai:fake-model", "--base-url", server.base_url,
            "--data", "demo", "--output", str(out), "--run-name", "api", "--batch-size", "4",
            "--concurrency", "1", "--no-progress", *extra]


@pytest.mark.slow
def test_a_killed_process_not_yet_reaped_holds_no_claim(tmp_path: Path) -> None:
    """After kill -9 a worker is a zombie until its parent waits for it: it answers nothing more."""
    import signal
    import socket

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        claim = tmp_path / "shard.claim"
        claim.write_text(json.dumps({"host": socket.gethostname(), "pid": child.pid, "since": time.time()}))
        assert try_claim(claim) is not None  # running: refused
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.time() + 10
        while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.time() < deadline
            time.sleep(0.01)
        claim.write_text(json.dumps({"host": socket.gethostname(), "pid": child.pid, "since": time.time()}))
        assert try_claim(claim) is None  # the zombie's claim is taken over
    finally:
        child.kill()
        child.wait()


@pytest.mark.slow
def test_two_conflicting_runs_started_together_do_not_both_pass(tmp_path: Path) -> None:
    with FakeOpenAIServer(reply=_slow) as server:
        runs = [start_cli(*_api_args(server, tmp_path, "--temperature", t)) for t in ("0", "0.5")]
        results = [(p.wait(timeout=240), p.communicate()[1]) for p in runs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, err in results if code == 2)
    assert "holds answers of another run" in refused and "generation" in refused
    answers = read_jsonl(tmp_path / "api" / "sqa" / "predictions.jsonl")
    assert len(answers) == 60


@pytest.mark.slow
def test_two_identical_runs_started_together_answer_each_sample_once(tmp_path: Path) -> None:
    with FakeOpenAIServer(reply=_slow) as server:
        runs = [start_cli(*_api_args(server, tmp_path)) for _ in range(2)]
        results = [(p.wait(timeout=240), p.communicate()[1]) for p in runs]
        asked = len(server.requests)
    assert 0 in [code for code, _ in results], results
    for code, err in results:
        assert code == 0 or (code == 2 and "is answering shard 0 of 1" in err), err
    assert asked == 60  # nobody answered a sample twice
    assert len(read_jsonl(tmp_path / "api" / "sqa" / "predictions.jsonl")) == 60


@pytest.mark.slow
def test_a_shard_finding_the_merge_claimed_leaves_the_merge_to_its_holder(tmp_path: Path) -> None:
    """The torchrun/Slurm merge is decided by an exclusively created file, not flock."""
    import socket

    env = {k: v for k, v in os.environ.items() if k not in {"RANK", "WORLD_SIZE", "SLURM_PROCID", "VLMEVAL_SHARD"}}
    run_dir = tmp_path / "api" / "sqa"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        with FakeOpenAIServer("A") as server:
            first = subprocess.run([sys.executable, "-m", "vlmeval", *_api_args(server, tmp_path)],
                                   env={**env, "RANK": "0", "WORLD_SIZE": "2"}, capture_output=True, text=True,
                                   check=False)
            assert first.returncode == 0, first.stderr
            (run_dir / ".merging").write_text(json.dumps(
                {"host": socket.gethostname(), "pid": holder.pid, "since": time.time()}))
            last = [sys.executable, "-m", "vlmeval", *_api_args(server, tmp_path)]
            second = subprocess.run(last, env={**env, "RANK": "1", "WORLD_SIZE": "2"}, capture_output=True,
                                    text=True, check=False)
            assert second.returncode == 0, second.stderr
            assert f"pid {holder.pid}" in second.stdout and "is merging" in second.stdout
            assert not (run_dir / "report.json").exists()
            holder.kill()
            holder.wait()
            again = subprocess.run(last, env={**env, "RANK": "1", "WORLD_SIZE": "2"}, capture_output=True,
                                   text=True, check=False)
        assert again.returncode == 0, again.stderr
        assert (run_dir / "report.json").exists() and not (run_dir / ".merging").exists()
    finally:
        holder.kill()
        holder.wait()


def test_merge_refuses_answers_to_samples_that_changed(tmp_path: Path, scripted: ScriptedBackend,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    data = _sqa(tmp_path / "d")
    assert _run(tmp_path / "out", data) == 0
    run_dir = tmp_path / "out" / "r" / "sqa"
    assert main(["merge", str(run_dir)]) == 0
    _sqa(tmp_path / "d", question="Rewritten after the run")
    capsys.readouterr()
    assert main(["merge", str(run_dir)]) == 2
    error = _error(capsys)
    assert "cannot merge" in error and "ids, prompts or targets changed" in error


def test_merge_refuses_answers_given_on_other_images(tmp_path: Path, scripted: ScriptedBackend,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    colors = list(COLORS.values()) * 2
    data = _sqa(tmp_path / "d", colors=colors)
    assert _run(tmp_path / "out", data) == 0
    run_dir = tmp_path / "out" / "r" / "sqa"
    assert main(["merge", str(run_dir)]) == 0
    colors[2] = (0, 0, 0)  # same rows, same text, another picture
    _sqa(tmp_path / "d", colors=colors)
    capsys.readouterr()
    assert main(["merge", str(run_dir)]) == 2
    error = _error(capsys)
    assert "cannot merge" in error and "image bytes changed" in error


def test_merge_refuses_answers_given_under_another_task_version(tmp_path: Path, scripted: ScriptedBackend,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    data = _sqa(tmp_path / "d")
    assert _run(tmp_path / "out", data) == 0
    run_dir = tmp_path / "out" / "r" / "sqa"
    import vlmeval.registry

    real = vlmeval.registry.Registry.get
    monkeypatch.setattr(vlmeval.registry.Registry, "get", lambda self, name: replace(real(self, name), version=2))
    capsys.readouterr()
    assert main(["merge", str(run_dir)]) == 2
    error = _error(capsys)
    assert "cannot merge" in error and "task sqa is at version 2, the run used 1" in error


@pytest.mark.slow
def test_a_checkpoint_retrained_over_the_same_folder_does_not_reuse_answers(
        tmp_path: Path, scripted: ScriptedBackend, capsys: pytest.CaptureFixture[str]) -> None:
    """Same file names, same sizes, other weights: the identity is the weights' content."""
    from scripts.tiny_llava import build_tiny_llava

    data, checkpoint = _sqa(tmp_path / "d"), tmp_path / "ckpt"
    build_tiny_llava(checkpoint, seed=0)
    sizes = {p.name: p.stat().st_size for p in checkpoint.iterdir()}
    assert _run(tmp_path / "out", data, model=str(checkpoint)) == 0
    scripted.calls.clear()
    assert _run(tmp_path / "out", data, model=str(checkpoint)) == 0 and scripted.calls == []  # resumed
    build_tiny_llava(checkpoint, seed=1)
    assert {p.name: p.stat().st_size for p in checkpoint.iterdir()} == sizes
    capsys.readouterr()
    assert _run(tmp_path / "out", data, model=str(checkpoint)) == 2
    assert "checkpoint (recorded" in _error(capsys) and scripted.calls == []


def test_two_servers_behind_one_model_name_do_not_share_a_run_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def args(url: str) -> list[str]:
        return ["run", "--task", "sqa", "--model", "openai:m", "--base-url", url, "--data", "demo",
                "--limit", "2", "--output", str(tmp_path), "--run-name", "api", "--no-progress"]

    with FakeOpenAIServer("A") as a, FakeOpenAIServer("B") as b:
        assert main(args(a.base_url)) == 0
        capsys.readouterr()
        assert main(args(b.base_url + "?key=SECRET")) == 2
        error = _error(capsys)
        assert "endpoint (recorded" in error and "SECRET" not in error and b.requests == []
    recorded = json.loads((tmp_path / "api" / "sqa" / "run.json").read_text())
    assert recorded["identity"]["endpoint"] == a.base_url.rstrip("/")


def _dead_pid() -> int:
    """A process id no process holds, found without starting one (the quick loop starts none)."""
    for pid in range(4_000_000, 3_000_000, -1):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            continue
    raise AssertionError("no free process id")


def test_a_folder_whose_run_wrote_no_answer_is_taken_over(tmp_path: Path, scripted: ScriptedBackend,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The model failed to load (wrong dtype, device): the corrected command is not refused."""
    import vlmeval.engine.evaluate
    from vlmeval.errors import UsageError

    data = _sqa(tmp_path / "d")

    def cannot_load(model: str, options: Any) -> Any:
        raise UsageError("float16 is not supported on this device")

    with monkeypatch.context() as patch:
        patch.setattr(vlmeval.engine.evaluate, "make_backend", cannot_load)
        assert _run(tmp_path / "out", data, "--dtype", "float16") == 2
    run_file = tmp_path / "out" / "r" / "sqa" / "run.json"
    recorded = json.loads(run_file.read_text())
    assert recorded["identity"]["dtype"] == "float16" and recorded["created_by"]["pid"] == os.getpid()
    recorded["created_by"]["pid"] = _dead_pid()  # that command has ended
    run_file.write_text(json.dumps(recorded))
    capsys.readouterr()
    assert _run(tmp_path / "out", data) == 0
    err = capsys.readouterr().err
    assert "takes it over" in err and "dtype" in err
    assert json.loads(run_file.read_text())["identity"]["dtype"] == "auto"


def test_a_folder_with_answers_or_a_live_creator_is_not_taken_over(
        tmp_path: Path, scripted: ScriptedBackend, capsys: pytest.CaptureFixture[str]) -> None:
    data = _sqa(tmp_path / "d")
    assert _run(tmp_path / "out", data, "--dtype", "float16") == 0
    run_file = tmp_path / "out" / "r" / "sqa" / "run.json"
    recorded = json.loads(run_file.read_text())
    recorded["created_by"]["pid"] = _dead_pid()
    run_file.write_text(json.dumps(recorded))
    capsys.readouterr()
    assert _run(tmp_path / "out", data) == 2  # it holds answers
    assert "holds answers of another run" in _error(capsys)
    (tmp_path / "out" / "r" / "sqa" / "report.json").unlink()
    for answers in (tmp_path / "out" / "r" / "sqa" / "answers").iterdir():
        answers.unlink()
    recorded["created_by"]["pid"] = os.getppid()  # a live process that started it
    recorded["created_by"]["since"] = time.time()
    run_file.write_text(json.dumps(recorded))
    assert _run(tmp_path / "out", data) == 2
    assert "holds answers of another run" in _error(capsys)


def _claim(run_dir: Path, host: str, pid: int) -> Path:
    claim = run_dir / "answers" / "shard-00000-of-00001.claim"
    claim.parent.mkdir(parents=True, exist_ok=True)
    claim.write_text(json.dumps({"host": host, "pid": pid, "since": time.time()}))
    return claim


@pytest.mark.slow
def test_restart_is_refused_while_another_process_answers(tmp_path: Path, scripted: ScriptedBackend,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    data = _sqa(tmp_path / "d")
    assert _run(tmp_path / "out", data) == 0
    run_dir = tmp_path / "out" / "r" / "sqa"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        claim = _claim(run_dir, socket.gethostname(), holder.pid)
        capsys.readouterr()
        scripted.calls.clear()
        assert _run(tmp_path / "out", data, "--restart") == 2
        error = _error(capsys)
        assert "--restart" in error and str(claim) in error and f"pid {holder.pid}" in error
        assert (run_dir / "predictions.jsonl").exists() and scripted.calls == []  # nothing deleted
    finally:
        holder.kill()
        holder.wait()
    assert _run(tmp_path / "out", data, "--restart") == 0  # the holder has ended: its claim is stale


@pytest.mark.parametrize("content", ["other-host", "", "{not json"])
def test_a_claim_that_cannot_be_checked_says_where_it_is_and_how_to_clear_it(
        tmp_path: Path, scripted: ScriptedBackend, capsys: pytest.CaptureFixture[str], content: str) -> None:
    data = _sqa(tmp_path / "d")
    run_dir = tmp_path / "out" / "r" / "sqa"
    claim = _claim(run_dir, "other-host", 4242)
    if content != "other-host":
        claim.write_text(content)
    assert _run(tmp_path / "out", data) == 2
    error = _error(capsys)
    assert str(claim) in error and f"delete {claim}" in error and "trusted because it changed 0 min ago" in error
    assert ("host other-host" in error) if content == "other-host" else ("empty or unreadable" in error)
    assert "let it finish" not in error and "it writes the report" not in error
    assert scripted.calls == []


@pytest.mark.slow
def test_a_surviving_shard_is_not_said_to_write_the_report(tmp_path: Path, scripted: ScriptedBackend,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """After kill -9 of one shard the others may still run, but nobody will merge: never promise it."""
    import socket

    data = _sqa(tmp_path / "d")
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        claim = _claim(tmp_path / "out" / "r" / "sqa", socket.gethostname(), holder.pid)
        assert _run(tmp_path / "out", data) == 2
    finally:
        holder.kill()
        holder.wait()
    error = _error(capsys)
    assert "it writes the report" not in error and "let it finish" not in error
    assert str(claim) in error and "once it has ended, re-run this command" in error
    assert _run(tmp_path / "out", data) == 0


def test_a_run_file_without_identity_is_refused_by_run_and_merge(tmp_path: Path, scripted: ScriptedBackend,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """No legacy path: answers with no recorded identity are never mixed in nor merged."""
    data = _sqa(tmp_path / "d")
    assert _run(tmp_path / "out", data) == 0
    run_file = tmp_path / "out" / "r" / "sqa" / "run.json"
    recorded = json.loads(run_file.read_text())
    run_file.write_text(json.dumps({k: v for k, v in recorded.items() if k != "identity"}))
    capsys.readouterr()
    assert _run(tmp_path / "out", data) == 2
    assert f"{run_file}: no run identity" in _error(capsys)
    assert main(["merge", str(run_file.parent)]) == 2
    assert f"{run_file}: no run identity" in _error(capsys)
