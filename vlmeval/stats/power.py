"""How small a difference a test at this size can see: the minimal detectable difference (MDD).

For a two-sided test at level alpha with power 1 - beta, a true difference is detected when it
is at least (z_{1-alpha/2} + z_{1-beta}) standard errors (the normal approximation; e.g. Cohen,
*Statistical Power Analysis*, ch. 2). The standard error of B - A is read off the paired 95%
interval `compare` already computed: SE = (high - low) / (2 z_{0.975}). With power 80% and alpha
5%, MDD = 2.80 SE: a "no significant change" on a metric whose MDD is 6 points says nothing about
a 2-point change.
"""

from __future__ import annotations

from statistics import NormalDist

POWER = 0.8


def minimal_detectable_difference(interval: tuple[float, float], alpha: float = 0.05, power: float = POWER,
                                  level: float = 0.95) -> float:
    """The MDD of a paired test whose `level` interval for B - A is `interval`."""
    z = NormalDist().inv_cdf
    se = (interval[1] - interval[0]) / (2 * z(0.5 + level / 2))
    return (z(1 - alpha / 2) + z(power)) * se
