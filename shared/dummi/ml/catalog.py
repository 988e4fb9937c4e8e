"""The catalog as serving must see it now, on a recommender's positions: which items are taken down (hidden,
deleted, outside their availability window) and the fields business-rule filters read (category, tags,
properties). Pure code: serving builds it from the model's published item state and the catalog changes it
reads every second; the recommender applies it as a candidate mask before any top n is cut.

A filter is a list of conditions ``(field, op, value)``, all of which hold (AND):
``category`` / ``tags`` / ``properties.<key>`` with ``in`` / ``not_in`` (a list), and for numbers ``lt``,
``lte``, ``gt``, ``gte``. A value's type counts: ``True`` does not match 1, nor "1" match 1. An item without
the property is matched by no ``in`` and by every ``not_in``."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from dummi.domain.ranking import Condition


def epoch(value: str | datetime | None, missing: float) -> float:
    """Seconds since 1970 of an ISO string or aware datetime; ``missing`` for None."""
    if value is None:
        return missing
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.timestamp()


@dataclass(frozen=True)
class ItemFacts:
    """One item's state as published or changed: what take-downs and filters read."""

    title: str
    category: str
    tags: list[str]
    properties: dict[str, Any] = field(default_factory=dict)
    hidden: bool = False
    start: float = -math.inf  # available_from, seconds since 1970
    end: float = math.inf  # available_until
    deleted: bool = False


class Catalog:
    """Item state over positions 0..n-1 (immutable once built; serving swaps whole catalogs)."""

    def __init__(
        self,
        titles: Sequence[str],
        categories: Sequence[str],
        tags: Sequence[list[str]],
        properties: Sequence[dict[str, Any]] | None = None,
        blocked: np.ndarray | None = None,
        start: np.ndarray | None = None,
        end: np.ndarray | None = None,
    ) -> None:
        n = len(titles)
        self.titles = list(titles)
        self.categories = list(categories)
        self.tags = list(tags)
        self.properties = list(properties) if properties is not None else [{} for _ in range(n)]
        self.blocked = blocked if blocked is not None else np.zeros(n, bool)
        self.start = start if start is not None else np.full(n, -math.inf)
        self.end = end if end is not None else np.full(n, math.inf)
        # only items with a window are checked against the clock per request
        self._windowed = np.flatnonzero(np.isfinite(self.start) | np.isfinite(self.end))
        self._open = ~self.blocked
        self._nothing_blocked = not self.blocked.any() and not len(self._windowed)
        self._columns: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._tag_positions: dict[str, np.ndarray] | None = None
        self._category_positions: dict[str, np.ndarray] | None = None

    @property
    def size(self) -> int:
        return len(self.titles)

    def with_facts(self, changes: dict[int, ItemFacts]) -> Catalog:
        """A copy with these positions' facts replaced (the others shared or copied, never re-derived)."""
        if not changes:
            return self
        titles, categories, tags, properties = (
            list(self.titles),
            list(self.categories),
            list(self.tags),
            list(self.properties),
        )
        blocked, start, end = self.blocked.copy(), self.start.copy(), self.end.copy()
        for pos, facts in changes.items():
            titles[pos], categories[pos], tags[pos] = facts.title, facts.category, facts.tags
            properties[pos] = facts.properties
            blocked[pos] = facts.hidden or facts.deleted
            start[pos], end[pos] = facts.start, facts.end
        return Catalog(titles, categories, tags, properties, blocked, start, end)

    def extended(self, facts: Sequence[ItemFacts]) -> Catalog:
        """A copy with items appended at the end (content newer than the model)."""
        if not facts:
            return self
        return Catalog(
            self.titles + [f.title for f in facts],
            self.categories + [f.category for f in facts],
            self.tags + [f.tags for f in facts],
            self.properties + [f.properties for f in facts],
            np.concatenate([self.blocked, [f.hidden or f.deleted for f in facts]]),
            np.concatenate([self.start, [f.start for f in facts]]),
            np.concatenate([self.end, [f.end for f in facts]]),
        )

    # -- take-downs -----------------------------------------------------------------------------------
    def available(self, now: float) -> np.ndarray | None:
        """Mask of the items that may be in an answer at ``now`` (None: every item may)."""
        if self._nothing_blocked:
            return None
        if not len(self._windowed):
            return self._open
        mask = self._open.copy()
        w = self._windowed
        mask[w] &= (self.start[w] <= now) & (now < self.end[w])
        return mask

    def is_available(self, pos: int, now: float) -> bool:
        return bool(self._open[pos] and self.start[pos] <= now < self.end[pos])

    # -- filters --------------------------------------------------------------------------------------
    def matching(self, conditions: Sequence[Condition]) -> np.ndarray | None:
        """Mask of the items meeting every condition (None: no conditions)."""
        mask = None
        for fld, op, value in conditions:
            part = self._condition(fld, op, value)
            mask = part if mask is None else mask & part
        return mask

    def _condition(self, fld: str, op: str, value: Any) -> np.ndarray:
        if fld == "category":
            found = np.zeros(self.size, bool)
            index = self._categories()
            for v in value:
                found[index.get(v, [])] = True
        elif fld == "tags":
            found = np.zeros(self.size, bool)
            index = self._tags()
            for v in value:
                found[index.get(v, [])] = True
        elif fld.startswith("properties."):
            strings, numbers, flags = self._column(fld.removeprefix("properties."))
            if op in ("in", "not_in"):
                found = np.zeros(self.size, bool)
                for v in value:
                    if isinstance(v, bool):
                        found |= flags == int(v)
                    elif isinstance(v, int | float):
                        found |= numbers == float(v)
                    else:
                        found |= strings == v
            else:
                with np.errstate(invalid="ignore"):  # NaN (no number) compares False
                    if op == "lt":
                        return numbers < value
                    if op == "lte":
                        return numbers <= value
                    if op == "gt":
                        return numbers > value
                    if op == "gte":
                        return numbers >= value
                raise ValueError(f"unknown op {op!r}")
        else:
            raise ValueError(f"unknown field {fld!r}")
        if op == "in":
            return found
        if op == "not_in":
            return ~found
        raise ValueError(f"{op!r} does not apply to {fld}")

    def _tags(self) -> dict[str, np.ndarray]:
        if self._tag_positions is None:
            self._tag_positions = _positions((pos, tag) for pos, item_tags in enumerate(self.tags) for tag in item_tags)
        return self._tag_positions

    def _categories(self) -> dict[str, np.ndarray]:
        """Category -> its positions, built once per catalog: a category's items are found without a pass
        over every item's label (at 1M items, np.isin over the labels costs ~30 ms a request)."""
        if self._category_positions is None:
            self._category_positions = _positions(enumerate(self.categories))
        return self._category_positions

    def in_category(self, category: str) -> np.ndarray:
        return self._condition("category", "in", (category,))

    def _column(self, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(strings: object, None where not a string; numbers: float64, NaN where not a number; booleans:
        int8, -1 where not a boolean) of one property, built once per catalog."""
        found = self._columns.get(key)
        if found is None:
            n = self.size
            strings = np.full(n, None, dtype=object)
            numbers = np.full(n, np.nan)
            flags = np.full(n, -1, np.int8)
            for pos, props in enumerate(self.properties):
                if key not in props:
                    continue
                v = props[key]
                if isinstance(v, bool):
                    flags[pos] = int(v)
                elif isinstance(v, int | float):
                    numbers[pos] = float(v)
                elif isinstance(v, str):
                    strings[pos] = v
            found = (strings, numbers, flags)
            self._columns[key] = found
        return found


def _positions(labelled: Iterable[tuple[int, str]]) -> dict[str, np.ndarray]:
    """Label -> the positions carrying it, from (position, label) pairs."""
    index: dict[str, list[int]] = {}
    for pos, label in labelled:
        index.setdefault(label, []).append(pos)
    return {label: np.array(p, np.int64) for label, p in index.items()}


def allowed_mask(catalog: Catalog, now: float, conditions: Sequence[Condition] = ()) -> np.ndarray | None:
    """Items that may be answered at ``now`` and meet ``conditions`` (None: all of them)."""
    available = catalog.available(now)
    matching = catalog.matching(conditions) if conditions else None
    if available is None:
        return matching
    if matching is None:
        return available
    return available & matching
