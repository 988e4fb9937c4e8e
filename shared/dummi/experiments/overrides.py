"""What an experiment variant may change, checked when the experiment is created, applied per request.

A variant's overrides replace the request's own ``cf_weight``, ``use_cf``, ``use_embeddings``,
``max_per_category`` and ``explore_slots`` (so every user of a variant gets the variant), choose the CF
``algorithm`` (one the training published: it publishes every algorithm a running experiment names beside
the chosen one), and set any ranking setting the recommender exposes (``dummi.ml.recommender.
DEFAULT_SETTINGS``, ``diversity`` among them) over the model's own; a ``diversity`` override also replaces
the request's own (for warm users and newcomers alike; ``newcomer_diversity`` sets the newcomers' default
alone).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from dummi.domain.ranking import RankRequest
from dummi.ml.cf import ALGORITHMS
from dummi.ml.recommender import DEFAULT_SETTINGS

REQUEST_FIELDS = {
    "cf_weight": (0.0, 1.0),
    "use_cf": None,
    "use_embeddings": None,
    "max_per_category": (1, 100),
    "explore_slots": (0, 100),
}
# Ranking settings: (low, high, whole number?)
_SPECIAL = {
    "cold_threshold": (1, 1000, True),
    "candidates": (10, 10_000, True),
    "skip_similarity": (-1.0, 1.0, False),
    "diversity": (0.0, 1.0, False),
    "newcomer_diversity": (0.0, 1.0, False),
    "event_weighting": (0.0, 1.0, False),
}
SETTING_BOUNDS: dict[str, tuple[float, float, bool]] = {
    key: _SPECIAL.get(key, (0.0, 1e6, False)) for key in DEFAULT_SETTINGS
}
ALLOWED = sorted({"algorithm", *REQUEST_FIELDS, *SETTING_BOUNDS})
# What the API's schema of a variant's overrides offers (the routes do not reach into dummi.ml for it).
ALGORITHM_NAMES: tuple[str, ...] = tuple(sorted(ALGORITHMS))
SETTING_DEFAULTS: dict[str, Any] = dict(DEFAULT_SETTINGS)


@dataclass(frozen=True)
class Overrides:
    algorithm: str | None = None
    request: dict[str, Any] = field(default_factory=dict)  # RankRequest fields
    settings: dict[str, float] = field(default_factory=dict)  # ranking settings

    def apply(self, request: RankRequest) -> RankRequest:
        fields = dict(self.request)
        if "diversity" in self.settings:  # the variant's diversity wins over the request's own too
            fields["diversity"] = self.settings["diversity"]
        return replace(request, **fields) if fields else request

    @property
    def changes_model(self) -> bool:
        return self.algorithm is not None or bool(self.settings)


def check(overrides: dict[str, Any]) -> Overrides:
    """Validated overrides; ValueError names the first key at fault and why."""
    algorithm = None
    request: dict[str, Any] = {}
    settings: dict[str, float] = {}
    for key, value in overrides.items():
        if key == "algorithm":
            if value not in ALGORITHMS:
                raise ValueError(f"algorithm must be one of {sorted(ALGORITHMS)}, not {value!r}")
            algorithm = value
        elif key in ("use_cf", "use_embeddings"):
            if not isinstance(value, bool):
                raise ValueError(f"{key} must be true or false")
            request[key] = value
        elif key == "cf_weight":
            request[key] = _number(key, value, 0.0, 1.0, whole=False)
        elif key in ("max_per_category", "explore_slots"):
            low, high = REQUEST_FIELDS[key]
            request[key] = _number(key, value, low, high, whole=True)
        elif key in SETTING_BOUNDS:
            low, high, whole = SETTING_BOUNDS[key]
            settings[key] = _number(key, value, low, high, whole=whole)
        else:
            raise ValueError(f"{key!r} cannot be overridden; allowed: {', '.join(ALLOWED)}")
    return Overrides(algorithm, request, settings)


def _number(key: str, value: Any, low: float, high: float, *, whole: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ValueError(f"{key} must be a number")
    if whole and value != int(value):
        raise ValueError(f"{key} must be a whole number")
    if not low <= value <= high:
        raise ValueError(f"{key} must be between {low:g} and {high:g}")
    return int(value) if whole else float(value)
