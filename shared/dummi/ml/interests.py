"""Interests: what a stated interest matches, and which interests are worth asking a newcomer about.

Pure Python (no numpy): the users function, which has neither numpy nor the model, answers
``GET /users/{user_id}/suggested-interests`` with it.

An interest matches an item when it equals the item's category or one of its tags, compared as labels:
case, hyphens, underscores and runs of spaces do not count ("Machine-Learning" = "machine learning").
The recommender adds a second kind of match, by embedding (``dummi.ml.recommender``).
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

_SEPARATORS = re.compile(r"[\s_\-]+")


@lru_cache(maxsize=1 << 16)  # a catalog repeats a few thousand categories and tags over all its items
def label(text: str) -> str:
    """The form labels are compared in."""
    return _SEPARATORS.sub(" ", text).strip().lower()


def item_labels(category: str, tags: Sequence[str]) -> set[str]:
    """An item's labels: its category and its tags."""
    out = {label(category)} if category.strip() else set()
    out.update(label(t) for t in tags if t.strip())
    out.discard("")
    return out


def label_index(categories: Sequence[str], tags: Sequence[Sequence[str]], start: int = 0) -> dict[str, list[int]]:
    """label -> positions of the items that carry it; item k is at position ``start + k``."""
    index: dict[str, list[int]] = {}
    for k, (category, item_tags) in enumerate(zip(categories, tags, strict=True)):
        for key in item_labels(category, item_tags):
            index.setdefault(key, []).append(start + k)
    return index


@dataclass(frozen=True)
class SuggestedInterest:
    interest: str  # as the catalog spells it most often
    items: int  # items with this category or tag
    share: float  # share of all the weight (engagement, or items before any training) that its items hold


def suggest(
    items: Iterable[tuple[str, Sequence[str], float]],
    *,
    exclude: Iterable[str] = (),
    n: int = 10,
) -> list[SuggestedInterest]:
    """Up to ``n`` interests, varied: greedy maximum coverage. Each pick is the label whose items carry the
    most weight not yet covered by the labels picked before it (or by ``exclude``, the user's own
    interests), so a second tag on the same items as the first is worth little; once the picks cover all
    that the others could add, the others are weighed again from a clean slate (a second round).

    ``items``: (category, tags, weight) per item; weight is the item's engagement (or 1 per item).
    """
    spelled: dict[str, dict[str, int]] = {}
    members: dict[str, list[int]] = {}
    weights: list[float] = []
    for i, (category, tags, weight) in enumerate(items):
        weights.append(max(float(weight), 0.0))
        for raw in (category, *tags):
            key = label(raw)
            if not key:
                continue
            if not members.get(key) or members[key][-1] != i:
                members.setdefault(key, []).append(i)
            forms = spelled.setdefault(key, {})
            forms[raw.strip().lower()] = forms.get(raw.strip().lower(), 0) + 1
    total = sum(weights) or 1.0
    base = bytearray(len(weights))  # what the user's own interests cover
    for key in {label(e) for e in exclude}:
        for i in members.pop(key, ()):
            base[i] = 1
    covered = bytearray(base)

    def gain(key: str) -> float:
        return sum(weights[i] for i in members[key] if not covered[i])

    def round_heap() -> list[tuple[float, int, str]]:
        heap = [(-gain(key), -len(members[key]), key) for key in members]
        heapq.heapify(heap)
        return heap

    # Lazy greedy: a label's gain only shrinks as others are picked, so a stale gain is an upper bound.
    # When the picks cover everything the rest could add, a new round starts over what they cover.
    heap = round_heap()
    picked: list[SuggestedInterest] = []
    while heap and len(picked) < n:
        _, size, key = heapq.heappop(heap)
        fresh = gain(key)
        if heap and fresh < -heap[0][0]:
            heapq.heappush(heap, (-fresh, size, key))
            continue
        if fresh <= 0:  # everything the rest could add is covered: weigh them again over a clean slate
            covered = bytearray(base)
            heap = round_heap()
            if not heap or heap[0][0] >= 0:
                break
            continue
        forms = spelled[key]
        own = members.pop(key)
        share = sum(weights[i] for i in own) / total
        picked.append(SuggestedInterest(max(forms, key=lambda f: (forms[f], f)), len(own), share))
        for i in own:
            covered[i] = 1
    return picked
