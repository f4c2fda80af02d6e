"""`EvalCallback`: evaluate the model a Hugging Face Trainer is training, in memory, as it trains.

    trainer = Trainer(model, args, train_dataset=..., processing_class=processor,
                      callbacks=[EvalCallback(tasks=["sqa"], subset="quick", every=500)])

At every `every`-th step (or, without `every`, at each of the Trainer's evaluation or save
steps, `at="evaluate"`/`"save"`) the callback runs `vlmeval.evaluate` on the model object, writes
the run to `<output_dir>/vlmeval/step-N/<task>` labelled `step-N` (so `vlmeval trend
<output_dir>/vlmeval/step-*` draws the trend), and logs `vlmeval/<task>/<metric>` with
`Trainer.log`, which hands it to every `report_to` integration and to `state.log_history`.
Under torch.distributed every rank evaluates its slice (the Trainer calls callbacks on all ranks).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from transformers import Trainer, TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from vlmeval.errors import UsageError


class EvalCallback(TrainerCallback):  # type: ignore[misc]
    """Evaluates the model in memory during training; see the module docstring."""

    def __init__(
        self,
        tasks: str | Sequence[str],
        *,
        subset: str | None = None,
        every: int | None = None,
        at: Literal["evaluate", "save"] = "evaluate",
        processor: Any = None,
        prefix: str = "vlmeval",
        **evaluate_options: Any,
    ) -> None:
        if every is not None and every < 1:
            raise UsageError(f"EvalCallback: every must be at least 1 (got {every})")
        if at not in ("evaluate", "save"):
            raise UsageError(f"EvalCallback: at must be 'evaluate' or 'save' (got {at!r})")
        for taken in ("output", "run_name", "label", "step", "processor"):
            if taken in evaluate_options:
                raise UsageError(f"EvalCallback sets {taken}= itself "
                                 "(from the Trainer's output_dir and step)")
        self.tasks = [tasks] if isinstance(tasks, str) else list(tasks)
        self.subset = subset
        self.every = every
        self.at = at
        self.processor = processor
        self.prefix = prefix
        self.options = evaluate_options
        self.trainer: Trainer | None = None  # found on the call stack at the first event
        self.evaluated_steps: list[int] = []

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                    **kwargs: Any) -> None:
        if self.every is not None and state.global_step % self.every == 0:
            self._evaluate(args, state, kwargs)

    def on_evaluate(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                    **kwargs: Any) -> None:
        if self.every is None and self.at == "evaluate":
            self._evaluate(args, state, kwargs)

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                **kwargs: Any) -> None:
        if self.every is None and self.at == "save":
            self._evaluate(args, state, kwargs)

    def _evaluate(self, args: TrainingArguments, state: TrainerState, event: dict[str, Any]) -> None:
        from vlmeval.api import evaluate

        step = state.global_step
        if step in self.evaluated_steps:  # an evaluation step that is also a save step
            return
        processor = self.processor or event.get("processing_class")
        if processor is None:
            raise UsageError("EvalCallback: pass processor=..., "
                             "or give the Trainer processing_class=processor")
        name = f"step-{step}"
        output = Path(args.output_dir or "trainer_output") / "vlmeval"
        result = evaluate(event["model"], self.tasks, processor=processor, subset=self.subset, output=output,
                          run_name=name, label=name, step=step, **self.options)
        self.evaluated_steps.append(step)
        scalars = result.scalars(self.prefix)
        trainer = self.trainer or _calling_trainer()
        if trainer is not None:
            self.trainer = trainer
            trainer.log(dict(scalars))
        else:  # no Trainer on the stack (a custom loop driving the callback): the history still gets them
            state.log_history.append({**scalars, "step": step})


def _calling_trainer() -> Trainer | None:
    """The Trainer whose event this is: callbacks are not handed it, so look up the call stack."""
    frame = inspect.currentframe()
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, Trainer):
            return candidate
        frame = frame.f_back
    return None
