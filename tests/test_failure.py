"""Failure codes (vlmeval.failure): one list, strings in JSON, and the retried ones decide completeness."""

from __future__ import annotations

import json

from vlmeval.failure import RETRIED_ON_RESUME, Failure, retried_on_resume
from vlmeval.metrics import Record
from vlmeval.registry import load_registry
from vlmeval.run_spec import RunSpec
from vlmeval.reporting.report import build_report, incomplete_summary


def test_codes_are_their_strings_in_comparisons_and_json() -> None:
    assert Failure.ERROR == "error" and "judge_error" in RETRIED_ON_RESUME
    assert json.dumps({"failure": Failure.UNPARSED}) == '{"failure": "unparsed"}'
    assert f"{Failure.EMPTY} {Failure.OTHER}" == "empty other"


def test_only_missing_answers_errors_and_judge_errors_are_retried() -> None:
    retried = {code.value for code in Failure if code.retried_on_resume}
    assert retried == {"missing", "error", "judge_error"}
    assert retried_on_resume("error") and not retried_on_resume("empty") and not retried_on_resume("a_task_code")


def _report_with(failure: str | None) -> tuple[bool, str]:
    records = [Record(id=str(i), prompt="Q", prediction="A", answer="A", target="A", scores={"correct": 1.0},
                      failure=failure if i == 0 else None, meta={}) for i in range(3)]
    report = build_report(load_registry().get("pope"), records, "m", False, RunSpec())
    return report.complete, incomplete_summary(report)


def test_a_report_is_incomplete_exactly_when_a_retried_failure_is_in_it() -> None:
    for code in Failure:
        complete, summary = _report_with(code.value)  # read back from JSON: a plain string
        assert complete is not code.retried_on_resume, code
        if not complete:
            assert summary == f"1 samples to redo ({code.value} 1)"
    assert _report_with(None)[0]
