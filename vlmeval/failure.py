"""Why a sample's answer could not be used: the one list of failure codes.

A failed sample is scored wrong and counted in report.json's `counts.failures` under its code,
never guessed. Three codes say the answer may still come (`retried_on_resume`): re-running the same
command asks for those samples again, and a report that holds any of them is incomplete (exit 3).
The others are final: the model did answer, and its answer cannot be used.

`Failure` is a `str` enum: `Failure.ERROR == "error"`, and it is written to JSON as that string.
A third-party task may name its own final codes as plain strings.
"""

from __future__ import annotations

from enum import Enum


class Failure(str, Enum):
    # Retried on resume: the answer may still come.
    MISSING = "missing"  # no answer stored for the sample (an interrupted run, a predictions file without it)
    ERROR = "error"  # the model call failed for this sample (its error is recorded beside it)
    # A judge request failed for good (HTTP 5xx after the client's retries, a refused connection):
    # such replies are never cached, so re-running the same command asks the judge again.
    JUDGE_ERROR = "judge_error"
    # Final: the model answered, and the answer cannot be used.
    EMPTY = "empty"  # a blank answer
    UNPARSED = "unparsed"  # no answer could be read from it (no letter, no yes/no)
    JUDGE_FAILED = "judge_failed"  # the judge replied, but its reply could not be read
    OUT_OF_RANGE = "out_of_range"  # a letter beyond the question's options
    NO_OPTION = "no_option"  # VLMEvalKit's judge said no option matches
    OTHER = "other"  # MME's "other": neither yes nor no
    # An answer or judge reply over its size limit (vlmeval.limits): cut, stored cut, scored as no answer.
    OVERSIZED = "oversized"
    NEEDS_JUDGE = "needs_judge"  # only an LLM could read it and no --judge was given (MathVista's extraction)
    # The reply's reasoning block never closed, or the token limit cut it: never read for an answer.
    UNFINISHED_REASONING = "unfinished_reasoning"
    # The sample has more images than the model or server takes per prompt (`--max-images`, vLLM's
    # `--limit-mm-per-prompt`): asking again cannot help.
    TOO_MANY_IMAGES = "too_many_images"

    def __str__(self) -> str:
        return self.value

    @property
    def retried_on_resume(self) -> bool:
        return self in RETRIED_ON_RESUME


RETRIED_ON_RESUME: tuple[Failure, ...] = (Failure.ERROR, Failure.MISSING, Failure.JUDGE_ERROR)


def retried_on_resume(code: str) -> bool:
    """Whether a sample with this failure code is asked again by a re-run (any code, also a task's own)."""
    return code in RETRIED_ON_RESUME
