"""Answers from a saved predictions file, by sample id: re-scores any run through the pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vlmeval.backends.base import GenerationSettings, Request, SampleError
from vlmeval.engine.predictions import read_predictions


class ReplayBackend:
    name = "replay"

    def __init__(self, path: str) -> None:
        self.path = path
        self.predictions = read_predictions(path)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "file": self.path}

    def generate(
        self, requests: Sequence[Request], settings: GenerationSettings
    ) -> list[str | SampleError]:
        answers: list[str | SampleError] = []
        for request in requests:
            prediction = self.predictions.get(request.sample_id)
            if prediction is None:
                answers.append(SampleError(f"no prediction in {self.path}"))
            else:
                answers.append(prediction)
        return answers
