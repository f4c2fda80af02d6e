"""Confidence intervals and paired tests with numpy and the standard library (no scipy).

- Percentile bootstrap (Efron & Tibshirani, "An Introduction to the Bootstrap", 1993, ch. 13):
  resample units with replacement, recompute the statistic, take the 2.5th and 97.5th percentiles.
  Every statistic here is a ratio of unit sums, sum(c_u s_u) / sum(c_u w_u) where c_u counts how
  often unit u was drawn, so one matrix product evaluates many metrics on many resamples.
- McNemar's test (McNemar, Psychometrika 1947) on the discordant pairs b (right in A, wrong in B)
  and c (wrong in A, right in B): the exact two-sided binomial test p = min(1, 2 P(X <= min(b, c))),
  X ~ Binomial(b + c, 1/2), computed in exact integer arithmetic while b + c <= 1000; above that
  the chi-square statistic with Edwards' continuity correction, (|b - c| - 1)^2 / (b + c), with one
  degree of freedom (p = erfc(sqrt(stat / 2))), which is then within ~1e-3 of the exact value.
- A paired sign-flip permutation test (Fisher 1935) for per-unit scores that are not right/wrong:
  exact enumeration up to 16 non-zero differences, Monte Carlo (fixed seed) above.
- The delete-a-group jackknife (Kott 2001; Efron & Tibshirani ch. 11) for reductions that are no
  mean or sum over units: G leave-one-group-out recomputations give a standard error, and a normal
  interval and z-test. A bootstrap would repeat records, which a reduction keyed on meta fields
  (pairs of questions on one image, say) silently merges; the jackknife only ever leaves units out.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

RESAMPLES = 1000
SEED = 0
LEVEL = 0.95
CHUNK = 25  # resamples drawn per step; fixed so that a seed always gives the same stream
EXACT_MCNEMAR_MAX = 1000
EXACT_SIGN_FLIP_MAX = 16
MULTINOMIAL_MAX_TYPES = 5000


@dataclass(frozen=True)
class TestResult:
    """A paired test: its name, two-sided p-value and what it counted."""

    name: str
    p_value: float
    detail: str = ""


def resample_counts(n: int, resamples: int, seed: int = SEED) -> Iterator[np.ndarray]:
    """Bootstrap resamples of `n` units as count matrices (rows: resamples, columns: units).

    The stream depends only on (n, seed): the first k resamples are the same whatever `resamples` is.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    done = 0
    while done < resamples:
        drawn = rng.integers(0, n, size=(CHUNK, n))
        rows = min(CHUNK, resamples - done)
        flat = (drawn[:rows] + (np.arange(rows) * n)[:, None]).ravel()
        yield np.bincount(flat, minlength=rows * n).reshape(rows, n)
        done += rows


def ratio_replicates(sums: np.ndarray, weights: np.ndarray, resamples: int = RESAMPLES,
                     seed: int = SEED) -> np.ndarray:
    """(resamples, k) bootstrap replicates of sum(sums[:, j]) / sum(weights[:, j]) for each column j.

    Units with equal rows are one *type*; a bootstrap resample of n units holds each type a
    Multinomial(n, size / n) number of times, so with few types (right/wrong scores, a few subgroup
    masks) a resample costs O(types) instead of O(n), in distribution exactly the same bootstrap.
    A resample whose denominator is 0 (no unit of a subgroup drawn) gives NaN.
    """
    import numpy as np

    sums = np.asarray(sums, dtype=float).reshape(len(sums), -1)
    weights = np.asarray(weights, dtype=float).reshape(len(weights), -1)
    inverse, sizes, table = unit_types(np.hstack([sums, weights]))
    type_sums, type_weights = table[:, : sums.shape[1]], table[:, sums.shape[1]:]
    blocks = []
    for counts in type_counts(inverse, sizes, resamples, seed):
        with np.errstate(invalid="ignore", divide="ignore"):
            blocks.append((counts @ type_sums) / (counts @ type_weights))
    out = np.concatenate(blocks) if blocks else np.empty((0, sums.shape[1]))
    out[~np.isfinite(out)] = np.nan
    return out


def unit_types(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(type of each row, rows per type, one row per type) for a 2-D float array."""
    import numpy as np

    # A random projection finds equal rows in O(n log n); the check below catches any collision.
    projection = rows @ np.random.default_rng(SEED).uniform(1.0, 2.0, rows.shape[1])
    _, first, inverse, sizes = np.unique(projection, return_index=True, return_inverse=True,
                                         return_counts=True)
    table = rows[first]
    if not np.array_equal(table[inverse], rows):
        packed = np.ascontiguousarray(rows).view(np.dtype((np.void, rows.itemsize * rows.shape[1])))
        _, first, inverse, sizes = np.unique(packed.ravel(), return_index=True, return_inverse=True,
                                             return_counts=True)
        table = rows[first]
    return inverse.ravel(), sizes, table


def type_counts(inverse: np.ndarray, sizes: np.ndarray, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Bootstrap resamples of the units as counts per type, CHUNK resamples at a time (float)."""
    import numpy as np

    n, k = len(inverse), len(sizes)
    if k > MULTINOMIAL_MAX_TYPES:
        for counts in resample_counts(n, resamples, seed):
            rows = np.repeat(np.arange(len(counts)) * k, n) + np.tile(inverse, len(counts))
            yield np.bincount(rows, weights=counts.ravel(), minlength=len(counts) * k).reshape(-1, k)
        return
    rng = np.random.default_rng(seed)
    for start in range(0, resamples, CHUNK):
        yield rng.multinomial(n, sizes / n, size=min(CHUNK, resamples - start)).astype(float)


def percentile_interval(replicates: np.ndarray, level: float = LEVEL) -> list[tuple[float, float] | None]:
    """The percentile interval of each column of `replicates` (NaN replicates ignored)."""
    import numpy as np

    replicates = np.asarray(replicates, dtype=float).reshape(len(replicates), -1)
    tail = (1.0 - level) / 2.0 * 100.0
    intervals: list[tuple[float, float] | None] = []
    for column in replicates.T:
        column = column[~np.isnan(column)]
        if column.size == 0:
            intervals.append(None)
            continue
        low, high = np.percentile(column, [tail, 100.0 - tail])
        intervals.append((float(low), float(high)))
    return intervals


def mcnemar_exact_p(b: int, c: int) -> float:
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1))
    return min(1.0, 2 * tail / 2**n)


def mcnemar_chi2_p(b: int, c: int) -> float:
    n = b + c
    if n == 0:
        return 1.0
    statistic = max(abs(b - c) - 1, 0) ** 2 / n
    return math.erfc(math.sqrt(statistic / 2.0))


def mcnemar(b: int, c: int) -> TestResult:
    """McNemar's test on b (right in A only) and c (right in B only); see the module docstring."""
    if b + c <= EXACT_MCNEMAR_MAX:
        return TestResult("McNemar exact", mcnemar_exact_p(b, c), f"b={b}, c={c}")
    return TestResult("McNemar chi2 cc", mcnemar_chi2_p(b, c), f"b={b}, c={c}")


def sign_flip_test(differences: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED) -> TestResult:
    """Two-sided paired permutation test of mean(differences) = 0, flipping each difference's sign."""
    import numpy as np

    d = np.asarray(differences, dtype=float)
    d = d[d != 0]
    observed = abs(d.sum())
    tolerance = 1e-9 * max(1.0, observed)
    if d.size == 0:
        return TestResult("sign-flip exact", 1.0, "no differing unit")
    if d.size <= EXACT_SIGN_FLIP_MAX:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=d.size)))
        extreme = int((np.abs(signs @ d) >= observed - tolerance).sum())
        return TestResult("sign-flip exact", extreme / len(signs), f"{d.size} differing units")
    # Units with the same difference v flip as a group: their sum is v * (m - 2 Binomial(m, 1/2)).
    values, multiplicity = np.unique(d, return_counts=True)
    flipped = np.random.default_rng(seed).binomial(multiplicity, 0.5, size=(resamples, values.size))
    statistics = (multiplicity - 2.0 * flipped) @ values
    extreme = int((np.abs(statistics) >= observed - tolerance).sum())
    return TestResult("sign-flip", (extreme + 1) / (resamples + 1), f"{d.size} differing units")


def bootstrap_p_value(differences: np.ndarray) -> TestResult:
    """Two-sided p from a bootstrap distribution of a difference: twice the smaller tail at 0.

    Used only for metrics that are no mean over units (a generic reduction): it inverts the
    percentile interval rather than simulating the null, so read it as approximate.
    """
    import numpy as np

    d = np.asarray(differences, dtype=float)
    d = d[~np.isnan(d)]
    if d.size == 0:
        return TestResult("paired bootstrap", 1.0)
    tail = min(float((d <= 0).mean()), float((d >= 0).mean()))
    return TestResult("paired bootstrap", min(1.0, 2.0 * tail), f"{d.size} resamples")


def jackknife_se(leave_out: Sequence[float]) -> float:
    """Standard error from G leave-one-group-out estimates: sqrt((G - 1) / G * sum((x - mean)^2))."""
    count = len(leave_out)
    mean = sum(leave_out) / count
    return math.sqrt((count - 1) / count * sum((x - mean) ** 2 for x in leave_out))


def normal_interval(value: float, se: float, level: float = LEVEL) -> tuple[float, float]:
    z = statistics.NormalDist().inv_cdf(0.5 + level / 2.0)
    return value - z * se, value + z * se


def z_test(difference: float, se: float, detail: str = "") -> TestResult:
    """Two-sided p of a normal z statistic (1 when both the difference and its error are 0)."""
    if se == 0.0:
        return TestResult("jackknife z", 1.0 if difference == 0.0 else 0.0, detail)
    return TestResult("jackknife z", math.erfc(abs(difference) / se / math.sqrt(2.0)), detail)
