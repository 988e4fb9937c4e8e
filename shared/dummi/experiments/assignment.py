"""Deterministic assignment of users to experiment variants.

A user's *bucket* (0..9,999) is a salted hash of (experiment, user): the user takes part when the bucket is
below ``traffic_percent`` x 100, so raising the traffic only adds users. The *variant* comes from a second,
independent hash, split by the variants' weights: it does not depend on the traffic, so a user keeps their
variant across calls, containers and ramp-ups. Several experiments may run at once; a user takes part in
the first to take users (its start, or its creation when it was created with a start already past) whose
traffic includes them, so experiments never mix overrides in one answer and nobody is moved when one begins.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

BUCKETS = 10_000


@dataclass(frozen=True)
class Variant:
    name: str
    weight: float
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Experiment:
    name: str
    salt: str
    variants: tuple[Variant, ...]  # the first is the control
    traffic_percent: float
    starts_at: datetime
    ends_at: datetime | None = None
    stopped_at: datetime | None = None
    created_at: datetime | None = None

    def running(self, now: datetime) -> bool:
        if self.stopped_at is not None or now < self.starts_at:
            return False
        return self.ends_at is None or now < self.ends_at

    @property
    def control(self) -> Variant:
        return self.variants[0]


@dataclass(frozen=True)
class Assignment:
    experiment: str
    variant: Variant


def _hash(*parts: str) -> int:
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def bucket(experiment: Experiment, user_id: str) -> int:
    return _hash(experiment.salt, experiment.name, "traffic", user_id) % BUCKETS


def in_traffic(experiment: Experiment, user_id: str) -> bool:
    return bucket(experiment, user_id) < round(experiment.traffic_percent * BUCKETS / 100)


def variant_of(experiment: Experiment, user_id: str) -> Variant:
    """The user's variant by the weights (whether or not the user is in the traffic)."""
    point = (_hash(experiment.salt, experiment.name, "variant", user_id) % BUCKETS) / BUCKETS
    total = sum(v.weight for v in experiment.variants)
    upto = 0.0
    for v in experiment.variants:
        upto += v.weight / total
        if point < upto:
            return v
    return experiment.variants[-1]


def assign(experiments: Sequence[Experiment], user_id: str, now: datetime) -> Assignment | None:
    """The user's (experiment, variant) among the running ``experiments`` (the first to take users first), or None."""
    for experiment in experiments:
        if experiment.running(now) and in_traffic(experiment, user_id):
            return Assignment(experiment.name, variant_of(experiment, user_id))
    return None
