"""A filter program applied to a ``Catalog``: a bool mask over its positions (numpy)."""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from dummi.ml.filter_expressions.lexer import NUMBER, parse_filter_values
from dummi.ml.filter_expressions.syntax import (
    ALL_EVENT_TYPES,
    INCLUDE,
    INTERACTIONS,
    Condition,
    Expression,
    Field,
    FilterValuesError,
    ItemRef,
    Literal,
    Param,
    Value,
)

if TYPE_CHECKING:
    from dummi.ml.catalog import Catalog
    from dummi.ml.filter_expressions.program import FilterProgram


def _real(value: Any) -> float | None:
    """An int or float (not a bool), as a float; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _as_number(value: Any) -> float | None:
    """The number a value stands for: an int or float (not a bool), or text that spells one."""
    if isinstance(value, str):
        return float(value) if NUMBER.fullmatch(value.strip()) else None
    return _real(value)


def _parts(value: Any) -> tuple[Any, ...]:
    """The values a stored value holds: a list's elements, pipe-separated text's parts (and the whole text)."""
    if isinstance(value, list | tuple):
        return tuple(value)
    if isinstance(value, str) and "|" in value:
        return (value, *(p for p in value.split("|") if p))
    return (value,)


def _equal(stored: Any, given: Value) -> bool:
    """Text equals the same text; a number equals a number, or text spelling it, of the same value."""
    if isinstance(stored, str) and isinstance(given, str):
        return stored == given
    if _real(stored) is None and _real(given) is None:
        return False
    return _as_number(stored) is not None and _as_number(stored) == _as_number(given)


def _holds(value: Any, values: Iterable[Value]) -> bool:
    """Whether any value a stored value holds equals any of ``values`` (IN)."""
    return any(_equal(part, given) for part in _parts(value) for given in values)


def _compare(number: float | None, op: str, other: float) -> bool:
    if number is None:
        return False
    return {"lt": number < other, "lte": number <= other, "gt": number > other, "gte": number >= other}[op]


class _PropertyColumn:
    """One property over a catalog's positions, built once per catalog (catalogs are immutable): the
    positions holding each text, each number and each real number (lists' elements and pipe-separated parts
    included), and the number each item's value stands for (NaN for none), for ``<`` ... ``>=``."""

    def __init__(self, catalog: Catalog, key: str) -> None:
        texts: dict[str, list[int]] = {}
        numbers: dict[float, list[int]] = {}
        reals: dict[float, list[int]] = {}
        scalar = np.full(catalog.size, np.nan)
        for pos, props in enumerate(catalog.properties):
            if key not in props:
                continue
            value = props[key]
            if (number := _as_number(value)) is not None:
                scalar[pos] = number
            for part in _parts(value):
                if isinstance(part, str):
                    texts.setdefault(part, []).append(pos)
                if (number := _as_number(part)) is not None:
                    numbers.setdefault(number, []).append(pos)
                if (number := _real(part)) is not None:
                    reals.setdefault(number, []).append(pos)
        self.texts, self.numbers, self.reals = (
            {k: np.array(v, np.int64) for k, v in index.items()} for index in (texts, numbers, reals)
        )
        self.scalar = scalar

    def holding(self, size: int, values: Iterable[Value]) -> np.ndarray:
        """Mask of the items holding any of ``values`` (the positions ``_holds`` is true for)."""
        found = np.zeros(size, bool)
        for given in values:
            if isinstance(given, str):
                found[self.texts.get(given, [])] = True
                if (number := _as_number(given)) is not None:
                    found[self.reals.get(number, [])] = True
            elif (number := _real(given)) is not None:
                found[self.numbers.get(number, [])] = True
        return found


# per catalog (serving swaps whole catalogs, so a column lives as long as its catalog is referenced)
_COLUMNS: weakref.WeakKeyDictionary[Catalog, dict[str, _PropertyColumn]] = weakref.WeakKeyDictionary()
_COLUMNS_LOCK = threading.Lock()


def _column(catalog: Catalog, key: str) -> _PropertyColumn:
    with _COLUMNS_LOCK:
        found = _COLUMNS.get(catalog, {}).get(key)
    if found is None:  # built outside the lock: two requests may build the same column, both correctly
        found = _PropertyColumn(catalog, key)
        with _COLUMNS_LOCK:
            _COLUMNS.setdefault(catalog, {})[key] = found
    return found


class Evaluation:
    def __init__(
        self,
        program: FilterProgram,
        catalog: Catalog,
        values: Mapping[str, str],
        current: int | None,
        interacted: Mapping[str, Iterable[int]],
        user: Mapping[str, Any] | None,
    ) -> None:
        if any(e.target != "ItemID" for e in program.expressions):
            raise ValueError("only ItemID filters apply to a catalog")
        self.program, self.catalog, self.raw = program, catalog, values
        self.current, self.user = current, user
        self.interacted = interacted
        self._values: dict[str, tuple[Value, ...]] = {}

    def run(self) -> np.ndarray:
        include: np.ndarray | None = None
        exclude = np.zeros(self.catalog.size, bool)
        for expression in self.program.expressions:
            missing = [p for p in expression.parameters if p not in self.raw]
            if missing:
                if expression.action == INCLUDE:
                    raise FilterValuesError(
                        f"the filter's INCLUDE expression needs filterValues for ${missing[0]}", missing[0]
                    )
                continue  # an EXCLUDE without its values is not applied
            if not all(self.user_condition(c) for c in expression.when):
                continue
            matched = self.where(expression)
            if expression.action == INCLUDE:
                include = matched if include is None else include | matched
            else:
                exclude |= matched
        return ~exclude if include is None else include & ~exclude

    def where(self, expression: Expression) -> np.ndarray:
        out = None
        for conjunction in expression.where:
            part = None
            for condition in conjunction:
                mask = self.condition(condition)
                part = mask if part is None else part & mask
            out = part if out is None else out | part
        return out

    # values ---------------------------------------------------------------------------------------
    def param(self, name: str) -> tuple[Value, ...]:
        found = self._values.get(name)
        if found is None:
            found = self._values[name] = parse_filter_values(self.raw[name], name)
        return found

    def values(self, condition: Condition) -> tuple[Value, ...]:
        out: list[Value] = []
        for operand in condition.operands:
            if isinstance(operand, Literal):
                out.append(operand.value)
            elif isinstance(operand, Param):
                out.extend(self.param(operand.name))
            else:
                out.extend(self.current_values(operand.field))
        return tuple(out)

    def current_values(self, field: Field) -> tuple[Value, ...]:
        if self.current is None:
            raise FilterValuesError(
                f"the filter compares with CurrentItem.{field.name}: it applies to related items (give an itemId)"
            )
        catalog, pos = self.catalog, self.current
        if field.column == "category":
            return (catalog.categories[pos],)
        if field.column == "tags":
            return tuple(catalog.tags[pos])
        props = catalog.properties[pos]
        if field.key not in props:
            return ()
        return tuple(p for p in _parts(props[field.key]) if isinstance(p, str) or _real(p) is not None)

    def number(self, condition: Condition) -> float | None:
        """The number ``<`` ... ``>=`` compares with (None: the current item has none)."""
        operand = condition.operands[0]
        values = self.values(condition)
        if isinstance(operand, ItemRef):
            return next((n for v in values if (n := _as_number(v)) is not None), None)
        if len(values) != 1 or _as_number(values[0]) is None:
            name = operand.name if isinstance(operand, Param) else None
            raise FilterValuesError(
                f"{condition.field.dataset}.{condition.field.name} compares with one number, got "
                f"{','.join(str(v) for v in values)!r}" + (f" for ${name}" if name else ""),
                name,
            )
        return _as_number(values[0])

    # conditions -----------------------------------------------------------------------------------
    def condition(self, condition: Condition) -> np.ndarray:
        if condition.field.dataset == INTERACTIONS:
            return self.events(condition)
        if condition.op in ("in", "not_in", "eq"):  # = is IN with one value
            found = self.item_in(condition.field, self.values(condition))
            return ~found if condition.op == "not_in" else found
        return self.item_compare(condition)

    def item_in(self, field: Field, values: tuple[Value, ...]) -> np.ndarray:
        if field.column in ("category", "tags"):
            texts = tuple(v for v in values if isinstance(v, str))
            if not texts:
                return np.zeros(self.catalog.size, bool)
            return self.catalog.matching([(field.column, "in", texts)])
        return _column(self.catalog, field.key).holding(self.catalog.size, values)

    def item_compare(self, condition: Condition) -> np.ndarray:
        number = self.number(condition)
        if number is None or condition.field.column in ("category", "tags"):
            return np.zeros(self.catalog.size, bool)
        scalar = _column(self.catalog, condition.field.key).scalar
        with np.errstate(invalid="ignore"):  # NaN (no number) compares False
            return {"lt": scalar < number, "lte": scalar <= number, "gt": scalar > number, "gte": scalar >= number}[
                condition.op
            ]

    def events(self, condition: Condition) -> np.ndarray:
        wanted = {str(v).casefold() for v in self.values(condition)}
        every = ALL_EVENT_TYPES in wanted
        found = np.zeros(self.catalog.size, bool)
        for event_type, positions in self.interacted.items():
            named = every or event_type.casefold() in wanted
            if named != (condition.op == "not_in"):
                found[np.fromiter(positions, np.int64)] = True
        return found

    def user_condition(self, condition: Condition) -> bool:
        if self.user is None or condition.field.key not in self.user:
            return False
        value = self.user[condition.field.key]
        if condition.op in ("in", "not_in", "eq"):
            return _holds(value, self.values(condition)) != (condition.op == "not_in")
        return _compare(_as_number(value), condition.op, self.number(condition))
