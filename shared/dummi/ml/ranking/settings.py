"""Ranking settings: what training chooses per catalog (``dummi.ml.choice``) and a model carries in its
manifest, as a frozen dataclass. ``DEFAULT_SETTINGS`` is the same as a dict, for the manifest, the trials
and experiment overrides (which may set any of these numbers)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class Settings:
    cold_threshold: int = 5  # fewer than 5 interactions is a cold-start user
    recency_half_life: float = 10.0  # in items: the 10th most recent item counts half as much as the latest
    sequence_weight: float = 0.5  # weight of "engaged with next" beside CF (z units; 0 turns it off)
    sequence_half_life: float = 2.5  # in sessions: the next-item signal follows the latest items closely
    cf_share: float = 0.75  # CF's share of the blend at the request's default cf_weight = 0.5 (tuned)
    popularity_penalty: float = 0.0  # warm users: how far popular items are pushed down (z of log-popularity)
    skip_penalty: float = 0.5  # how far an item as close as a skipped one is pushed down (in z units)
    skip_similarity: float = 0.6  # cosine above which an item counts as a close neighbour of a skipped one
    interest_boost: float = 0.5  # cold start, hand-set formula: weight of the interest match (z units)
    profile_boost: float = 0.3  # cold start, hand-set formula: weight of similarity to the few items (z units)
    prior_strength: float = 50.0  # cold start: how strongly co-likes are shrunk toward popularity
    sequence_boost: float = 0.1  # cold start, hand-set formula: weight of what followed the user's items
    match_boost: float = 1000.0  # cold start: how far matches of a stated interest move up the order (never the score)
    diversity: float = 0.0  # warm users: default of the request's diversity (MMR re-rank; chosen by training)
    newcomer_diversity: float = 0.0  # newcomers: the same, chosen on simulated newcomers
    event_weighting: float = 1.0  # 1: a profile item counts as its events' weight (a like fully, a click 2/5)
    candidates: int = 500  # per source (CF top, content top) before blending
    # fitted by training, not overridable: score's sigmoid per mode, the newcomers' learned weights and the
    # CF model they read (None: the hand-set formula, the recipe's CF model)
    calibration: dict[str, list[float]] = field(default_factory=dict)
    newcomer_weights: dict[str, float] | None = None
    newcomer_cf: dict[str, Any] | None = None

    @classmethod
    def of(cls, values: dict[str, Any]) -> Settings:
        """From a manifest's (or an override's) dict: unknown keys ignored, numbers as numbers."""
        known = {f.name: f for f in fields(cls)}
        out: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known or value is None and key not in ("newcomer_weights", "newcomer_cf"):
                continue
            kind = known[key].type
            out[key] = int(value) if kind == "int" else float(value) if kind == "float" else value
        return cls(**out)

    def merged(self, values: dict[str, Any]) -> Settings:
        return Settings.of({**self.as_dict(), **values})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_FITTED = ("calibration", "newcomer_weights", "newcomer_cf")
DEFAULT_SETTINGS: dict[str, Any] = {k: v for k, v in Settings().as_dict().items() if k not in _FITTED}
