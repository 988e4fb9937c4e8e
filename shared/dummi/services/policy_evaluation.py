"""Off-policy evaluation of exploration: how another policy's exploration slots would have done, worked out
from the logged decisions (their context and propensities) and the clicks they got, without running it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from dummi.db.connection import Database
from dummi.db.impressions_repository import ImpressionsRepository
from dummi.ml.explore import PRIOR_STRENGTH, snips, target_probability
from dummi.services.event_types_service import click_types


def evaluate_policy(
    db: Database, policy: str, *, prior_strength: float = PRIOR_STRENGTH, days: float = 30.0
) -> dict[str, Any]:
    """The self-normalised IPS estimate of ``policy``'s CTR on the exploration slots of the last ``days``,
    beside the logged policy's own CTR; ``effective_decisions`` (sum(w)^2 / sum(w^2)) says how many of the
    logged decisions the estimate really rests on."""
    since = datetime.now(UTC) - timedelta(days=days)
    clicks = click_types(db)
    rows = db.read(lambda conn: ImpressionsRepository(conn).explore_decisions(since, clicks))
    if not rows:
        return {"policy": policy, "decisions": 0, "estimate": None, "logged_ctr": None, "effective_decisions": 0.0}
    rewards = [float(clicked) for _, clicked in rows]
    logged = [float(d["propensity"]) for d, _ in rows]
    target = [target_probability(d, policy, prior_strength) for d, _ in rows]
    w = np.asarray(target) / np.asarray(logged)
    return {
        "policy": policy,
        "prior_strength": prior_strength,
        "decisions": len(rows),
        "logged_ctr": round(float(np.mean(rewards)), 6),
        "estimate": snips(rewards, logged, target),
        "effective_decisions": round(float(w.sum() ** 2 / (w**2).sum()), 1) if (w**2).sum() > 0 else 0.0,
    }
