"""The statistics of experiment results, with the user as the unit of analysis.

- CTR of a variant = its clicks / its impressions, a ratio of two per-user sums: its variance by the delta
  method, Var(R) ~ (s_x^2 - 2 R s_xn + R^2 s_n^2) / (N mean_n^2), so users who see many lists do not count
  as many independent trials.
- Lift of a variant against the control, on the log scale (theta = log R_t - log R_c, variance the sum of
  the two delta-method variances over R^2), with an *always-valid* interval: the confidence sequence of the
  mixture sequential probability ratio test with a normal mixture (Robbins; Johari et al., "Always valid
  inference", 2017). It may be looked at after every day (or every request) and still covers the true lift
  with probability 1 - alpha at all times at once, so peeking does not inflate false positives.
- Sample-ratio mismatch: a chi-square test of users per variant against the configured weights.

Pure Python (math only): it runs in the API functions and in the simulation benchmark alike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z95 = 1.959963984540054
# Mixing scale of the sequential test, on the log-lift scale: the effects it is most sensitive to are of
# this order (a 10% relative lift); any fixed value keeps the guarantee, this one sets where the power is.
# Chosen in tests/benchmarks/simulate_experiments.py (A/A and +10% lift runs), not on any result.
MIXING_SCALE = 0.1
SRM_P_VALUE = 0.001


@dataclass(frozen=True)
class UserSums:
    """Per-user clicks x and impressions n of one variant, summed: N, sum x, sum n, sum x^2, sum n^2, sum xn."""

    users: int = 0
    clicks: float = 0.0
    impressions: float = 0.0
    clicks_sq: float = 0.0
    impressions_sq: float = 0.0
    cross: float = 0.0

    @classmethod
    def of(cls, clicks: Sequence[float], impressions: Sequence[float]) -> UserSums:
        return cls(
            len(clicks),
            float(sum(clicks)),
            float(sum(impressions)),
            float(sum(x * x for x in clicks)),
            float(sum(n * n for n in impressions)),
            float(sum(x * n for x, n in zip(clicks, impressions, strict=True))),
        )


@dataclass(frozen=True)
class RatioEstimate:
    ctr: float | None
    variance: float | None  # of the CTR estimate

    def interval(self, z: float = Z95) -> tuple[float, float] | None:
        if self.ctr is None or self.variance is None:
            return None
        half = z * math.sqrt(self.variance)
        return (max(0.0, self.ctr - half), min(1.0, self.ctr + half))  # a CTR is a share: within 0..1


def ratio(s: UserSums) -> RatioEstimate:
    """CTR and its delta-method variance (None with fewer than two users or no impressions)."""
    if s.users == 0 or s.impressions <= 0:
        return RatioEstimate(None, None)
    r = s.clicks / s.impressions
    if s.users < 2:
        return RatioEstimate(r, None)
    n = s.users
    mean_x, mean_n = s.clicks / n, s.impressions / n
    var_x = (s.clicks_sq - n * mean_x**2) / (n - 1)
    var_n = (s.impressions_sq - n * mean_n**2) / (n - 1)
    cov = (s.cross - n * mean_x * mean_n) / (n - 1)
    variance = max(0.0, (var_x - 2 * r * cov + r * r * var_n) / (n * mean_n**2))
    return RatioEstimate(r, variance)


@dataclass(frozen=True)
class Lift:
    relative: float  # R_t / R_c - 1
    interval: tuple[float, float]  # always-valid, relative
    fixed_interval: tuple[float, float]  # the classical 95% interval, valid only for one look at a fixed size
    significant: bool  # the always-valid interval excludes 0


def lift(control: RatioEstimate, treatment: RatioEstimate, *, alpha: float = 0.05, tau: float = MIXING_SCALE):
    """The treatment's relative lift over the control, or None while either has no CTR, variance or clicks."""
    if None in (control.ctr, control.variance, treatment.ctr, treatment.variance):
        return None
    if control.ctr <= 0 or treatment.ctr <= 0:
        return None
    theta = math.log(treatment.ctr) - math.log(control.ctr)
    v = treatment.variance / treatment.ctr**2 + control.variance / control.ctr**2
    if v <= 0:
        return None
    half = always_valid_half_width(v, alpha=alpha, tau=tau)
    fixed = Z95 * math.sqrt(v)
    lo, hi = theta - half, theta + half
    return Lift(
        relative=math.expm1(theta),
        interval=(math.expm1(lo), math.expm1(hi)),
        fixed_interval=(math.expm1(theta - fixed), math.expm1(theta + fixed)),
        significant=lo > 0 or hi < 0,
    )


def always_valid_half_width(variance: float, *, alpha: float = 0.05, tau: float = MIXING_SCALE) -> float:
    """Half-width of the normal-mixture confidence sequence for an estimate with this variance: the set of
    effects whose mixture likelihood ratio stays below 1/alpha."""
    t2 = tau * tau
    return math.sqrt(variance * (variance + t2) / t2 * (2 * math.log(1 / alpha) + math.log((variance + t2) / variance)))


def sample_ratio_mismatch(users: Sequence[int], weights: Sequence[float]) -> tuple[float, float]:
    """(chi-square statistic, p-value) of the users per variant against the weights' expected shares."""
    total = sum(users)
    if total == 0 or len(users) < 2:
        return 0.0, 1.0
    weight_sum = sum(weights)
    stat = 0.0
    for observed, w in zip(users, weights, strict=True):
        expected = total * w / weight_sum
        stat += (observed - expected) ** 2 / expected if expected > 0 else 0.0
    return stat, chi2_sf(stat, len(users) - 1)


def chi2_sf(x: float, dof: int) -> float:
    """P(X >= x) for X ~ chi-square(dof): the regularized upper incomplete gamma Q(dof/2, x/2)."""
    if x <= 0:
        return 1.0
    return _gamma_q(dof / 2, x / 2)


def _gamma_q(a: float, x: float) -> float:
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:  # series for P(a, x); Q = 1 - P
        term = total = 1.0 / a
        k = a
        for _ in range(1000):
            k += 1
            term *= x / k
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    # continued fraction for Q(a, x) (modified Lentz)
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return min(1.0, math.exp(log_front) * h)
