"""Why an item is in a list: its ``method`` (which path produced it) and a ``reason`` a person can read,
from what the scorer worked out (the blend's two sides, co-likes, interest matches, what came next)."""

from __future__ import annotations

import numpy as np

from dummi.domain.ranking import Recommendation
from dummi.ml.interests import item_labels, label
from dummi.ml.ranking.items import ItemSpace
from dummi.ml.ranking.profile import Profile
from dummi.ml.ranking.scorers import Cold, Warm
from dummi.ml.ranking.types import UserState


def explain(items: ItemSpace, pos: int, score: float, scored: Warm | Cold, user: UserState, profile: Profile):
    cid, title, category = str(items.ids[pos]), items.titles[pos], items.categories[pos]
    make = lambda method, reason: Recommendation(cid, title, category, score, method, reason)  # noqa: E731
    if isinstance(scored, Cold):
        return make(*_newcomer(items, int(pos), scored, user, profile))
    where = np.searchsorted(scored.pool, pos)
    cf = scored.cf[where] if scored.cf is not None else None
    content = scored.content[where] if scored.content is not None else None
    method = "hybrid" if cf is not None and content is not None else ("cf" if cf is not None else "embedding")
    if content is not None and (cf is None or content >= cf):
        sims = items.vectors[profile.positions] @ items.vectors[pos]
        return make(method, f"similar to {items.titles[int(profile.positions[int(np.argmax(sims))])]}")
    after = chosen_after(items, pos, scored.signals.following, scored.signals.cf_all, profile)
    if after is not None:
        return make(method, f"often chosen after {after}")
    return make(method, "liked by people with similar taste")


def _newcomer(items: ItemSpace, i: int, scored: Cold, user: UserState, profile: Profile) -> tuple[str, str]:
    category = items.categories[i]
    if scored.matched is not None and scored.matched[i]:
        labels = item_labels(category, items.tags[i])
        interest = next((x for x in user.interests if label(x) in labels), None)
        if interest is not None:
            return "interest", f"matches your interest {interest}"
        return "interest", f"close to your interest {matching_interest(user.interests, items.titles[i], category)}"
    if scored.own[i] > 0.25 and len(profile.positions):
        return "embedding", f"similar to {items.titles[int(profile.positions[0])]}"
    if scored.colike[i] > 1.0:  # co-liked at more than e x its popular share
        return "cf", "liked by people with similar taste"
    after = chosen_after(items, i, scored.following, None, profile)
    if after is not None:
        return "cf", f"often chosen after {after}"
    if scored.nothing_matched:
        return "popular", f"nothing matches your interests ({', '.join(user.interests)}) yet; popular in {category}"
    return "popular", f"popular in {category}"


def chosen_after(items: ItemSpace, pos: int, following, cf_all, profile: Profile, latest: int = 5) -> str | None:
    """The title of the user's recent item that others most often went on from to ``pos``, when the next-item
    signal lifted ``pos`` by a full z unit or more and, for warm users, is most of its CF-side score."""
    if following is None or pos >= items.n_model:
        return None
    rest = float(cf_all[pos] - following[pos]) if cf_all is not None else 0.0
    if following[pos] < max(1.0, rest):
        return None
    sequence = items.bundle.sequence
    best, best_share = None, 0.0
    for item in profile.positions[:latest]:
        if item >= items.n_model:
            continue
        lo, hi = sequence.indptr[item], sequence.indptr[item + 1]
        hit = np.flatnonzero(sequence.indices[lo:hi] == pos)
        if len(hit) and sequence.data[lo + hit[0]] > best_share:
            best, best_share = int(item), float(sequence.data[lo + hit[0]])
    return items.titles[best] if best is not None else None


def matching_interest(interests: list[str], title: str, category: str) -> str:
    """The interest named in the item's title or category, else the user's first."""
    text = f"{title} {category}".lower().replace("-", " ")
    for interest in interests:
        if interest.lower().replace("-", " ") in text:
            return interest
    return interests[0]
