"""What benchmarks/gpu.py reads off the GPU: its name and versions, peak memory, and how busy it is.

GPU busy share: NVML's utilisation ("percent of time over the past sample period during which one
or more kernels was executing"), sampled every 50 ms in a thread. Read straight from the driver's
libnvidia-ml.so.1 with ctypes or, where that fails, through `torch.cuda.utilization` (which needs
the pynvml package). Without either (a CPU, no driver) every busy figure is
None and the source says why: the script degrades, it never guesses.
"""

from __future__ import annotations

import bisect
import ctypes
import os
import threading
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

SAMPLE_EVERY_S = 0.05


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def device_facts(device: str) -> dict[str, Any]:
    import torch

    facts: dict[str, Any] = {"device": device, "torch": torch.__version__, "transformers": _package("transformers"),
                             "accelerate": _package("accelerate"), "vlmeval": _package("vlmeval")}
    if device.startswith("cuda") and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        facts.update(gpu=props.name, memory_gib=round(props.total_memory / 2**30, 1),
                     capability=f"{props.major}.{props.minor}", cuda=torch.version.cuda,
                     bf16=torch.cuda.is_bf16_supported(), gpus_visible=torch.cuda.device_count())
    return facts


def reset_peak_memory(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def peak_memory_gib(device: str) -> float | None:
    import torch

    if not device.startswith("cuda"):
        return None
    return round(torch.cuda.max_memory_allocated() / 2**30, 2)


class _Utilization(ctypes.Structure):
    _fields_ = [("gpu", ctypes.c_uint), ("memory", ctypes.c_uint)]


def _nvml_reader() -> tuple[Callable[[], float] | None, str]:
    """A function returning the GPU's utilisation in [0, 1], and where it comes from (or why there is none)."""
    import torch

    if not torch.cuda.is_available():
        return None, "none (no CUDA device)"
    # The driver's library first: a ctypes call releases the GIL and initialises NVML once, where
    # torch.cuda.utilization goes through pynvml (often not installed) on every call.
    try:
        nvml = ctypes.CDLL("libnvidia-ml.so.1")
        handle = ctypes.c_void_p()
        # CUDA device 0 is the first entry of CUDA_VISIBLE_DEVICES when that lists indices.
        first = (os.environ.get("CUDA_VISIBLE_DEVICES") or "0").split(",")[0].strip()
        index = int(first) if first.isdigit() else 0
        if nvml.nvmlInit_v2() != 0 or nvml.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(handle)) != 0:
            raise OSError(f"NVML refused GPU {index}")
    except (OSError, AttributeError) as exc:
        why_driver = f"libnvidia-ml: {exc}"
    else:
        def read() -> float:
            rates = _Utilization()
            if nvml.nvmlDeviceGetUtilizationRates(handle, ctypes.byref(rates)) != 0:
                raise OSError("nvmlDeviceGetUtilizationRates failed")
            return rates.gpu / 100

        return read, f"libnvidia-ml.so.1 via ctypes, GPU {index}"
    try:
        torch.cuda.utilization(0)
    except Exception as exc:  # noqa: BLE001 - pynvml missing or NVML refused: no busy figures
        return None, f"none ({why_driver}; torch.cuda.utilization: {type(exc).__name__}: {exc})"
    return (lambda: torch.cuda.utilization(0) / 100), "torch.cuda.utilization (NVML through pynvml)"


class BusySampler:
    """Samples GPU utilisation in a thread between `start` and `stop`: a list of (time, share)."""

    def __init__(self) -> None:
        self._read, self.source = _nvml_reader()
        self._samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._samples = []
        if self._read is None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        assert self._read is not None
        while not self._stop.wait(SAMPLE_EVERY_S):
            try:
                self._samples.append((time.perf_counter(), self._read()))
            except Exception:  # noqa: BLE001 - a failed read loses one sample, not the run
                continue

    def stop(self) -> list[tuple[float, float]]:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        return list(self._samples)

    @staticmethod
    def mean(samples: list[tuple[float, float]], after: float | None = None, before: float | None = None
             ) -> float | None:
        """Mean utilisation of the samples taken in [after, before]; None without samples."""
        times = [t for t, _ in samples]
        low = 0 if after is None else bisect.bisect_left(times, after)
        high = len(samples) if before is None else bisect.bisect_right(times, before)
        chosen = [share for _, share in samples[low:high]]
        return round(sum(chosen) / len(chosen), 3) if chosen else None
