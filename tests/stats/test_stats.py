"""Bootstrap intervals, McNemar and sign-flip tests against hand-computed cases; report intervals."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence

import numpy as np
import pytest

from vlmeval.metrics import Metric, Record, mean_metric, meta_equals, natural_key
from vlmeval.stats.inference import (
    jackknife_se,
    mcnemar,
    mcnemar_chi2_p,
    mcnemar_exact_p,
    percentile_interval,
    ratio_replicates,
    sign_flip_test,
)
from vlmeval.stats.paired import paired_comparison
from vlmeval.stats.resampling import RecordView, breakdown_intervals, metric_intervals, unit_table


def records(correct: list[int], **meta_lists: list[object]) -> list[Record]:
    return [
        Record(id=str(i), prompt=f"q{i}", prediction="A", scores={"correct": float(c)},
               meta={key: values[i] for key, values in meta_lists.items()})
        for i, c in enumerate(correct)
    ]


def circular_accuracy(rs: list[Record]) -> float:
    """CircularEval: a question (meta q) is right only when all its rows are."""
    questions: dict[object, bool] = {}
    for r in rs:
        questions[r.meta["q"]] = questions.get(r.meta["q"], True) and r.scores["correct"] == 1.0
    return 100.0 * sum(questions.values()) / len(questions)


# McNemar, by hand: two-sided exact p = 2 * sum_{k <= min(b, c)} C(b + c, k) / 2^(b + c).
@pytest.mark.parametrize("b, c, expected", [
    (1, 7, 2 * (1 + 8) / 256),  # 0.0703125
    (2, 8, 2 * (1 + 10 + 45) / 1024),  # 0.109375
    (0, 6, 2 / 64),
    (3, 3, 1.0),  # 2 * 42/64 > 1 is capped
    (0, 0, 1.0),
])
def test_mcnemar_exact_by_hand(b: int, c: int, expected: float) -> None:
    assert mcnemar_exact_p(b, c) == pytest.approx(expected, abs=1e-15)
    assert mcnemar(b, c).name == "McNemar exact"


def test_mcnemar_chi_square_with_continuity_correction_by_hand() -> None:
    # (|100 - 150| - 1)^2 / 250 = 9.604; chi-square(1) survival = erfc(sqrt(9.604 / 2)) = 0.0019415
    assert mcnemar_chi2_p(100, 150) == pytest.approx(0.0019415, rel=1e-4)
    assert mcnemar_chi2_p(1, 7) == pytest.approx(math.erfc(math.sqrt(25 / 8 / 2)))
    large = mcnemar(600, 520)  # above 1000 discordant pairs: the chi-square form
    assert large.name == "McNemar chi2 cc" and large.detail == "b=600, c=520"
    assert large.p_value == pytest.approx(mcnemar_exact_p(600, 520), rel=2e-2)


def test_sign_flip_exact_by_hand() -> None:
    assert sign_flip_test(np.array([1.0, 1.0, 1.0])).p_value == pytest.approx(2 / 8)
    assert sign_flip_test(np.array([2.0, 1.0, 0.0])).p_value == pytest.approx(2 / 4)  # |±2±1| >= 3
    assert sign_flip_test(np.array([0.0, 0.0])).p_value == 1.0
    monte_carlo = sign_flip_test(np.full(40, 0.3), resamples=2000)  # exact p = 2 / 2^40
    assert monte_carlo.name == "sign-flip" and monte_carlo.p_value == pytest.approx(1 / 2001)


def mean_interval(values: list[float], resamples: int = 1000, level: float = 0.95) -> tuple[float, float]:
    """The percentile interval of a plain mean, the way every decomposed metric is bootstrapped."""
    ones = np.ones(len(values))
    interval = percentile_interval(ratio_replicates(np.asarray(values), ones, resamples), level)[0]
    assert interval is not None
    return interval


def test_bootstrap_percentiles_by_hand() -> None:
    # [0, 0, 100]: a resample's mean is 0, 33.3, 66.7, 100 with probability 8, 12, 6, 1 in 27.
    # 2.5% and 97.5% fall in the masses of 0 and 100 (26/27 = 0.963 < 0.975); 95% in that of 66.7.
    assert mean_interval([0.0, 0.0, 100.0], resamples=4000) == (0.0, 100.0)
    low, high = mean_interval([0.0, 0.0, 100.0], resamples=4000, level=0.90)
    assert low == 0.0 and high == pytest.approx(200 / 3)
    assert mean_interval([100.0] * 5) == (100.0, 100.0)


def test_ratio_replicates_match_a_plain_bootstrap() -> None:
    """Drawing per type (multinomial) is the same bootstrap as drawing units: same spread."""
    values = np.array([100.0] * 70 + [0.0] * 30)
    replicates = ratio_replicates(values, np.ones(100), resamples=4000)[:, 0]
    assert replicates.mean() == pytest.approx(70.0, abs=0.3)
    assert replicates.std() == pytest.approx(math.sqrt(70 * 30 / 100), rel=0.06)  # binomial s.e. 4.58
    assert percentile_interval(np.array([[np.nan], [np.nan]])) == [None]


def test_clusters_are_resampled_whole() -> None:
    # Two clusters of two identical rows. By cluster the mean is 0, 50, 100 with 1/4, 1/2, 1/4;
    # by sample it is Binomial(4, 1/2) / 4, whose 10th and 90th percentiles are 25 and 75.
    rs = records([1, 1, 0, 0], q=["x", "x", "y", "y"])
    by_sample = metric_intervals([mean_metric("acc", "correct")], rs, resamples=4000, level=0.8)["acc"]
    clustered = Metric("acc", mean_metric("acc", "correct").reduce, unit=lambda r: str(r.meta["q"]),
                       score_field="correct")
    by_cluster = metric_intervals([clustered], rs, resamples=4000, level=0.8)["acc"]
    assert (by_sample.low, by_sample.high, by_sample.unit) == (25.0, 75.0, "sample")
    assert (by_cluster.low, by_cluster.high, by_cluster.unit, by_cluster.n_units) == (0.0, 100.0, "cluster", 2)


def test_circular_eval_decomposes_over_questions() -> None:
    rng = random.Random(1)
    correct = [int(rng.random() < 0.8) for _ in range(400)]
    rs = records(correct, q=[i // 4 for i in range(400)])
    metric = Metric("circular", circular_accuracy, unit=lambda r: str(r.meta["q"]), reduces="mean")
    interval = metric_intervals([metric], rs)["circular"]
    assert interval.path == "bootstrap" and interval.unit == "cluster" and interval.n_units == 100
    assert interval.low < circular_accuracy(rs) < interval.high
    # A plain bootstrap over the 100 per-question results agrees within Monte Carlo noise.
    per_question = np.array([100.0 * all(correct[4 * q: 4 * q + 4]) for q in range(100)])
    draws = np.random.default_rng(7).choice(per_question, size=(4000, 100)).mean(axis=1)
    low, high = np.percentile(draws, [2.5, 97.5])
    assert abs(low - interval.low) <= 3 and abs(high - interval.high) <= 3


def mme_like(rs: list[Record]) -> float:
    """MME's shape: the sum over categories of acc + acc+, acc+ over question pairs keyed by meta
    `image` (right when both are); in points, no mean over units."""
    total = 0.0
    for category in sorted({r.meta["category"] for r in rs}):
        members = [r for r in rs if r.meta["category"] == category]
        images: dict[object, list[float]] = {}
        for r in members:
            images.setdefault(r.meta["image"], []).append(r.scores["correct"])
        plus = sum(all(v == 1.0 for v in vs) for vs in images.values()) / len(images)
        total += 100.0 * plus + 100.0 * sum(r.scores["correct"] for r in members) / len(members)
    return total


def test_jackknife_by_hand() -> None:
    # Leave-one-out means of [0, 100, 100, 100] are 100, 66.7, 66.7, 66.7: the jackknife's standard
    # error sqrt(3/4 * (25^2 + 3 * 8.33^2)) = 25 equals s / sqrt(n) = 50 / 2.
    assert jackknife_se([100.0, 200 / 3, 200 / 3, 200 / 3]) == pytest.approx(25.0)


def test_other_reductions_get_a_jackknife_that_never_repeats_a_record() -> None:
    rng = random.Random(3)
    rs = records([int(rng.random() < 0.75) for _ in range(200)], image=[i // 2 for i in range(200)],
                 category=["count" if i < 120 else "color" for i in range(200)])
    metric = Metric("perception", mme_like, unit=lambda r: str(r.meta["image"]), scale="points")
    interval = metric_intervals([metric], rs)["perception"]
    assert (interval.path, interval.unit, interval.n_units, interval.resamples) == ("jackknife", "cluster", 100, 100)
    assert interval.low < mme_like(rs) < interval.high and interval.high - interval.low < 120
    median = Metric("median_like", lambda x: float(sorted(r.scores["correct"] for r in x)[len(x) // 2]))
    assert metric_intervals([median], records([1, 0, 1]))["median_like"].path == "jackknife"
    flipped = [Record(r.id, r.prompt, r.prediction, scores={"correct": 1.0}, meta=r.meta) for r in rs]
    result = paired_comparison(metric, rs, flipped)
    assert result.test is not None and result.test.name == "jackknife z" and result.test.p_value < 0.001
    assert result.diff == pytest.approx(mme_like(flipped) - mme_like(rs))


def test_sums_and_opaque_means_are_bootstrapped_in_numpy() -> None:
    rs = records([1, 0, 1, 1, 0, 1, 1, 1])
    count = Metric("wrong", lambda x: float(sum(r.scores["correct"] == 0 for r in x)), scale="count",
                   reduces="sum")
    mean = Metric("acc", lambda x: 100.0 * sum(r.scores["correct"] for r in x) / len(x), reduces="mean")
    out = metric_intervals([count, mean], rs)
    assert out["wrong"].path == "bootstrap" and out["wrong"].low <= 2.0 <= out["wrong"].high <= 6.0
    assert out["acc"] == metric_intervals([mean_metric("acc", "correct")], rs)["acc"]


def test_breakdown_and_subset_intervals() -> None:
    rs = records([1, 0, 1, 1, 0, 1], s=["a", "a", "b", "b", "b", "c"])
    groups = breakdown_intervals(mean_metric("acc", "correct"), "s", rs)
    assert list(groups) == ["a", "b", "c"]
    assert (groups["c"].low, groups["c"].high) == (100.0, 100.0)
    subset = metric_intervals([mean_metric("b", "correct", where=meta_equals("s", "b"))], rs)["b"]
    assert subset.n_units == 3 and subset.low >= 0.0 and subset.high <= 100.0


def test_paired_comparison_counts_discordant_pairs() -> None:
    a = records([1] * 20 + [0] * 20)
    b = records([0] * 2 + [1] * 18 + [1] * 9 + [0] * 11)  # 2 lost, 9 gained: b=2, c=9
    result = paired_comparison(mean_metric("acc", "correct"), a, b)
    assert result.diff == pytest.approx(100 * 7 / 40)
    assert result.test is not None and result.test.detail == "b=2, c=9"
    assert result.test.p_value == pytest.approx(2 * (1 + 11 + 55) / 2048)
    assert result.interval is not None and result.interval[0] < result.diff < result.interval[1]
    same = paired_comparison(mean_metric("acc", "correct"), a, a)
    assert same.diff == 0.0 and same.interval == (0.0, 0.0) and same.test.p_value == 1.0


def test_paired_comparison_of_graded_scores_uses_sign_flip() -> None:
    a = [Record(id=str(i), prompt="", prediction="x", scores={"acc": 0.3 * (i % 4)}) for i in range(50)]
    b = [Record(id=str(i), prompt="", prediction="x", scores={"acc": min(1.0, 0.3 * (i % 4) + 0.3)})
         for i in range(50)]
    result = paired_comparison(mean_metric("vqa", "acc"), a, b)
    assert result.test is not None and result.test.name == "sign-flip" and result.test.p_value < 0.01


def test_a_large_run_is_fast() -> None:
    rng = random.Random(0)
    n = 214_000
    rs = [Record(id=str(i), prompt="", prediction="A", scores={"correct": float(rng.random() < 0.7)},
                 meta={"s": i % 3, "g": i % 12}) for i in range(n)]
    metrics = [mean_metric("acc", "correct")] + [
        mean_metric(f"s{k}", "correct", where=meta_equals("s", k)) for k in range(3)]
    start = time.perf_counter()
    view = RecordView(rs)
    out = metric_intervals(metrics, view)
    breakdown_intervals(metrics[0], "g", view)
    elapsed = time.perf_counter() - start
    assert out["acc"].resamples == 1000 and out["acc"].high - out["acc"].low < 0.6
    assert elapsed < 30, f"214k records x 1000 resamples took {elapsed:.1f} s"


def test_a_metric_declares_its_reduction_and_nothing_is_guessed() -> None:
    # The same opaque mean: declared, it is bootstrapped from per-sample values; undeclared
    # ("custom", the default) it gets the jackknife even though it happens to be a mean.
    rs = records([1, 0, 1, 1, 0, 1, 1, 1])

    def reduce(x: Sequence[Record]) -> float:
        return 100.0 * sum(r.scores["correct"] for r in x) / len(x)

    assert metric_intervals([Metric("acc", reduce, reduces="mean")], rs)["acc"].path == "bootstrap"
    assert metric_intervals([Metric("acc", reduce)], rs)["acc"].path == "jackknife"
    # A record mean over clusters of unequal size weighs each cluster by its rows.
    uneven = records([1, 1, 1, 0], q=["x", "x", "x", "y"])
    share = Metric("acc", reduce, unit=lambda r: str(r.meta["q"]), reduces="record_mean")
    table = unit_table(share, RecordView(uneven))
    assert table is not None and table.sums.tolist() == [300.0, 0.0] and table.weights.tolist() == [3.0, 1.0]


def test_record_view_metrics_equal_the_reductions_exactly() -> None:
    """The report reads metrics and breakdowns from RecordView's columns; they must be the values
    `Metric.compute` gives on the same records, to the last bit (scores 1/3 make the sum order
    matter), with groups named `str(meta[by])` in natural order (grade2 before grade10)."""
    from vlmeval.metrics import compute_metrics

    rng = random.Random(5)
    recs = [Record(id=str(i), prompt="", prediction="x",
                   scores={"acc": rng.choice([0.0, 1 / 3, 2 / 3, 1.0, 0.1]), "hit": rng.choice([0, 1, True])},
                   meta={"kind": rng.choice(["a", "b", None, 3, True]), "grade": f"grade{rng.randint(1, 12)}"})
            for i in range(3000)]
    custom = Metric(name="max", reduce=lambda rs: max(r.scores["acc"] for r in rs), where=meta_equals("kind", "a"))
    metrics = [mean_metric("acc", "acc"), mean_metric("hit", "hit", where=meta_equals("kind", 1, "b")),
               mean_metric("a_or_none", "acc", where=meta_equals("kind", "a", None)),
               mean_metric("lambda", "acc", where=lambda r: r.meta["grade"] < "grade5"), custom,
               mean_metric("nothing", "acc", where=meta_equals("kind", "zzz"))]
    view = RecordView(recs)
    from_view = {m.name: view.reduce(m, view.selected(m.where)) for m in metrics if view.selected(m.where).any()}
    assert from_view == compute_metrics(metrics, recs) and "nothing" not in from_view
    for by in ("kind", "grade"):
        for metric in metrics[:2]:
            members: dict[str, list[Record]] = {}
            for record in metric.select(recs):
                members.setdefault(str(record.meta.get(by)), []).append(record)
            expected = {group: {metric.name: metric.compute(rs), "n": len(rs)}
                        for group, rs in sorted(members.items(), key=lambda item: natural_key(item[0]))}
            assert view.grouped(metric, by) == expected
    assert list(view.grouped(metrics[0], "grade"))[:3] == ["grade1", "grade2", "grade3"]


def test_a_list_cell_puts_one_record_in_several_groups() -> None:
    """Multi-label breakdowns (MathVista skills): a record counts in each group its list names, once each;
    intervals are computed per group over the same members."""
    from vlmeval.stats.resampling import breakdown_intervals

    rng = random.Random(7)
    skills = ["algebra", "arithmetic", "geometry", "logic"]
    recs = [Record(id=str(i), prompt="", prediction="x", scores={"acc": float(rng.random() < 0.6)},
                   meta={"skills": rng.sample(skills, rng.randint(0, 3)) + (["algebra"] if i % 7 == 0 else [])})
            for i in range(400)]
    metric = mean_metric("acc", "acc")
    grouped = RecordView(recs).grouped(metric, "skills")
    for skill in skills:
        members = [r for r in recs if skill in r.meta["skills"]]
        assert grouped[skill] == {"acc": metric.compute(members), "n": len(members)}
    assert sum(g["n"] for g in grouped.values()) == sum(len(set(r.meta["skills"])) for r in recs)
    assert set(breakdown_intervals(metric, "skills", recs, resamples=200)) == set(skills)


def test_a_metric_has_one_computation_and_its_score_field_comes_from_its_reduce() -> None:
    from vlmeval.metrics import compute_metrics, percent_mean

    rs = records([1, 0, 1, 1], q=["a", "b", "c", "d"])
    hand_made = Metric("acc", percent_mean("correct"))
    assert hand_made.score_field == "correct" and Metric("n", len).score_field is None
    with pytest.raises(ValueError, match="score_field 'other' is not what its reduce reads"):
        Metric("acc", percent_mean("correct"), score_field="other")
    with pytest.raises(ValueError, match="use mean_metric"):
        Metric("acc", len, score_field="correct")  # a column read that its reduce would not give
    assert hand_made.compute(rs) == compute_metrics([hand_made], rs)["acc"] == 75.0
