"""What a ranking is asked and what it answers, as serving, batch, evaluation, experiments and the API share
them: the request and one recommended item (the ranking's own working types stay in ``dummi.ml.ranking``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

Condition = tuple[str, str, Any]  # (field, op, value), checked by the API's schema


class ItemGate(Protocol):
    """A mask a caller works out over the catalog at ranking time: called with the catalog's state
    (``dummi.ml.catalog.Catalog``), its positions by id and the user as the ranking read it (``UserState``; None
    for lists that are not personal), it answers a bool array over the positions (True: may be listed). A
    Personalize filter program is one (``dummi.services.personalize.runtime``)."""

    def __call__(self, catalog: Any, position: Mapping[str, int], user: Any) -> Any: ...


@dataclass(frozen=True)
class Promotion:
    """A share of a list's slots for items that match ``filters`` and, when it has one, its ``gate``
    (``dummi.ml.ranking.promotions``)."""

    name: str
    share: float  # 0..1: ceil(share x n) slots
    filters: tuple[Condition, ...] = ()
    gate: ItemGate | None = None  # a caller's own mask of the matching items, ANDed with filters (a Personalize filter)


@dataclass(frozen=True)
class RankRequest:
    n: int = 10
    use_cf: bool = True
    use_embeddings: bool = True
    cf_weight: float = 0.5
    category: str | None = None
    exclude: frozenset[str] = frozenset()
    diversity: float | None = None  # 0..1: MMR re-rank (None: the model's setting); 0 is the ranked order
    max_per_category: int | None = None  # a hard cap on items of one category in the list
    explore_slots: int | None = None  # slots for young items (None: 1 from n = 10 up, else 0)
    filters: tuple[Condition, ...] = ()  # business rules every listed item meets (applied by ``dummi.ml.catalog``)
    at: float | None = None  # the request's time, seconds since 1970 (None: now): availability windows
    gate: ItemGate | None = None  # a caller's own mask, ANDed with the filters (None: none)
    promotion: Promotion | None = None  # a share of the slots for items matching its filters

    def leaving_out(self, items: Iterable[str]) -> RankRequest:
        """This request, its list also leaving out ``items`` (e.g. a page token's earlier pages)."""
        return replace(self, exclude=self.exclude | frozenset(items))


@dataclass(frozen=True)
class Recommendation:
    content_id: str
    title: str
    category: str
    score: float
    method: str  # hybrid | cf | embedding | interest | popular | explore
    reason: str
    propensity: float | None = None  # explore: the probability the exploration policy had of choosing it
    explore_context: dict[str, Any] | None = None  # explore: the decision as made (for off-policy evaluation)
    promoted: str | None = None  # the promotion whose slot the item holds (None: a personal slot)
