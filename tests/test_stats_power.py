"""The minimal detectable difference `compare` prints: power 80%, alpha 5%, from the paired interval."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.reporting.test_compare import baseline, flip, sqa_records, write_run
from vlmeval.reporting.compare import compare, render_markdown
from vlmeval.stats.power import minimal_detectable_difference


def test_mdd_is_2_80_standard_errors() -> None:
    # a 95% interval of half-width 1.959964 is one standard error: MDD = z_0.975 + z_0.8
    assert minimal_detectable_difference((-1.959964, 1.959964)) == pytest.approx(1.959964 + 0.841621, abs=1e-5)
    assert minimal_detectable_difference((0.0, 2 * 1.959964), alpha=0.01) == pytest.approx(2.575829 + 0.841621,
                                                                                       abs=1e-5)


def test_compare_prints_the_mdd_of_the_paired_test(tmp_path: Path) -> None:
    a, b = baseline(400), flip(baseline(400), lose=20, gain=12)
    write_run(tmp_path / "a", "model-a", sqa_records(a))
    write_run(tmp_path / "b", "model-b", sqa_records(b))
    text = render_markdown(compare(tmp_path / "a", tmp_path / "b"))
    row = next(line for line in text.splitlines() if line.startswith("| accuracy |"))
    header = next(line for line in text.splitlines() if line.startswith("| metric |"))
    mdd = float(row.split("|")[header.split("|").index(" MDD ")])
    # Oracle: the paired differences d_i in {-1, 0, 1} (x100), SE = sd(d) / sqrt(n), MDD = 2.80 SE.
    d = [100.0 * (y - x) for x, y in zip(a, b, strict=True)]
    mean = sum(d) / len(d)
    se = math.sqrt(sum((v - mean) ** 2 for v in d) / (len(d) - 1) / len(d))
    assert mdd == pytest.approx((1.959964 + 0.841621) * se, rel=0.08)  # bootstrap interval: a few % noise
    assert "MDD: the smallest difference" in text
