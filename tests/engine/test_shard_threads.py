"""CPU shards split the cores between them instead of each taking all of them."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from vlmeval.engine import shards


class FakePopen:
    started: ClassVar[list[dict[str, str]]] = []

    def __init__(self, command: Any, env: dict[str, str]) -> None:
        FakePopen.started.append(env)

    def wait(self) -> int:
        return 0

    def poll(self) -> int:
        return 0


@pytest.fixture()
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    FakePopen.started = []
    monkeypatch.setattr(shards.subprocess, "Popen", FakePopen)
    monkeypatch.setattr(shards.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


@pytest.mark.usefixtures("two_cores")
def test_cpu_workers_get_the_cores_split_between_them() -> None:
    results = shards.spawn_workers(["run"], 2, gpus=[], per_shard=1)
    assert [r.returncode for r in results] == [0, 0]
    assert [env["OMP_NUM_THREADS"] for env in FakePopen.started] == ["1", "1"]
    assert [env[shards.SHARD_ENV] for env in FakePopen.started] == ["0/2", "1/2"]


@pytest.mark.usefixtures("two_cores")
def test_more_shards_than_cores_still_get_one_thread() -> None:
    shards.spawn_workers(["run"], 3, gpus=[], per_shard=1)
    assert {env["OMP_NUM_THREADS"] for env in FakePopen.started} == {"1"}


@pytest.mark.usefixtures("two_cores")
def test_the_users_thread_count_and_gpu_workers_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    shards.spawn_workers(["run"], 2, gpus=["0", "1"], per_shard=1)
    assert all("OMP_NUM_THREADS" not in env for env in FakePopen.started)
    assert [env["CUDA_VISIBLE_DEVICES"] for env in FakePopen.started] == ["0", "1"]
    FakePopen.started = []
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    shards.spawn_workers(["run"], 2, gpus=[], per_shard=1)
    assert [env["OMP_NUM_THREADS"] for env in FakePopen.started] == ["2", "2"]
