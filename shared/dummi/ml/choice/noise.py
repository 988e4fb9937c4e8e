"""How sure a comparison of two recipes is: paired bootstrap standard errors over the same users, and the
rule that takes a simplification only when the evidence says it costs (nearly) nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Bootstrap resamples of the held-out users behind every standard error: 200 put the standard error itself
# within ~5% (its relative error is about 1 / sqrt(2 x rounds)).
NOISE_ROUNDS = 200
# A simplification (a blend's member alone, a component off, a wider popularity penalty) costs "nothing" when
# the one-sided 95% upper bound of its loss (the mean paired loss + 1.645 standard errors) is at most this
# share of the reference's NDCG@10, on the search cut and on the confirmation cut alike. On few users the
# bound is wide and nothing is simplified; the evidence has to be there.
SIMPLIFY_MARGIN = 0.01
UPPER_BOUND_Z = 1.645


class Noise:
    """Bootstrap resamples of one group's users, the same for every comparison within the group (paired)."""

    def __init__(self, n_users: int, rounds: int = NOISE_ROUNDS, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.resamples = rng.integers(0, max(n_users, 1), (rounds, n_users))

    def of(self, per_user: np.ndarray) -> float:
        """Standard error of the mean of ``per_user`` (one recipe's NDCG@10 per user)."""
        return float(per_user[self.resamples].mean(axis=1).std()) if per_user.size else 0.0

    def between(self, a: np.ndarray, b: np.ndarray) -> float:
        """Standard error of mean(a) - mean(b) on the same users."""
        return self.of(a - b)


@dataclass
class Trial:
    """One recipe scored on one group of one cut."""

    cf: dict[str, Any] | None
    settings: dict[str, Any]
    group: str
    ndcg: float
    coverage: float
    per_user: np.ndarray = field(repr=False)
    cut: str = "search"

    def record(self) -> dict[str, Any]:
        return {
            "cut": self.cut,
            "cf": self.cf,
            "settings": {k: v for k, v in self.settings.items() if k != "newcomer_weights"},
            "group": self.group,
            "ndcg": round(self.ndcg, 5),
            "coverage": round(self.coverage, 4),
            "users": int(self.per_user.size),
        }


def comparison(reference: Trial, candidate: Trial, noise: Noise) -> dict[str, float]:
    """The candidate against the reference on the same users: loss, its standard error and its one-sided
    95% upper bound, as shares of the reference where that reads better."""
    loss = reference.ndcg - candidate.ndcg
    se = noise.between(candidate.per_user, reference.per_user)
    return {
        "reference_ndcg": round(reference.ndcg, 5),
        "ndcg": round(candidate.ndcg, 5),
        "loss": round(loss, 5),
        "noise": round(se, 5),
        "upper_loss": round(loss + UPPER_BOUND_Z * se, 5),
        "users": int(reference.per_user.size),
    }


def costs_nothing(compared: dict[str, float]) -> bool:
    """The loss's upper bound is within SIMPLIFY_MARGIN of the reference."""
    return compared["upper_loss"] <= SIMPLIFY_MARGIN * compared["reference_ndcg"]


def within_noise(compared: dict[str, float]) -> bool:
    """At most one paired standard error below the reference."""
    return compared["loss"] <= compared["noise"]
