"""A parsed filter: what a request must bring to apply it, and the items it lets through (``mask``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dummi.ml.filter_expressions.syntax import INTERACTIONS, Expression, ItemRef, unique

if TYPE_CHECKING:
    import numpy as np

    from dummi.ml.catalog import Catalog


@dataclass(frozen=True, slots=True)
class FilterProgram:
    text: str
    expressions: tuple[Expression, ...]

    @property
    def parameters(self) -> tuple[str, ...]:
        """Every ``$NAME`` the filter uses, in order of appearance (without the ``$``)."""
        return unique(p for e in self.expressions for p in e.parameters)

    @property
    def uses_interactions(self) -> bool:
        """Whether evaluating needs the user's events by type (``interacted``)."""
        return any(e.dataset == INTERACTIONS for e in self.expressions)

    @property
    def uses_current_item(self) -> bool:
        return any(isinstance(op, ItemRef) for e in self.expressions for c in e.conditions() for op in c.operands)

    @property
    def uses_current_user(self) -> bool:
        return any(e.when for e in self.expressions)

    def mask(
        self,
        catalog: Catalog,
        values: Mapping[str, str] | None = None,
        *,
        current: int | None = None,
        interacted: Mapping[str, Iterable[int]] | None = None,
        user: Mapping[str, Any] | None = None,
    ) -> np.ndarray:
        """The items the filter lets through, over the catalog's positions (a bool array of its size).

        ``values``: the request's ``filterValues`` as sent (parameter name -> the text ``"a","b"``);
        ``current``: the position of the request's item (``CurrentItem``); ``interacted``: event type -> the
        positions the user has events of that type on; ``user``: the user's attributes by camelCase key
        (``CurrentUser``). Raises ``FilterValuesError`` for a parameter an INCLUDE needs and lacks, a
        malformed value, or a ``CurrentItem`` filter without ``current``; ValueError for a program parsed with
        ``items_only=False`` that filters users or actions."""
        # evaluation imports numpy; parsing must not (the control plane validates filters without it)
        from dummi.ml.filter_expressions.evaluation import Evaluation

        return Evaluation(self, catalog, values or {}, current, interacted or {}, user).run()
