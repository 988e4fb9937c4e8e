"""The names of the filter-expression language, its errors, and the parts of a parsed program (pure Python)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from dummi.errors import InvalidRequestError

Value = str | float

INCLUDE, EXCLUDE = "INCLUDE", "EXCLUDE"
ITEMS, INTERACTIONS, USERS, ACTIONS, ACTION_INTERACTIONS = (
    "Items",
    "Interactions",
    "Users",
    "Actions",
    "Action_Interactions",
)
CURRENT_USER, CURRENT_ITEM = "CurrentUser", "CurrentItem"
TARGETS = {"itemid": "ItemID", "userid": "UserID", "actionid": "ActionID"}
# the datasets a target's WHERE may name (the first is the target's own)
TARGET_DATASETS = {
    "ItemID": (ITEMS, INTERACTIONS),
    "UserID": (USERS, INTERACTIONS),
    "ActionID": (ACTIONS, ACTION_INTERACTIONS),
}
EVENT_TYPE = "EVENT_TYPE"
ALL_EVENT_TYPES = "*"
COMPARISONS = {"=": "eq", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}


class FilterExpressionError(InvalidRequestError):
    """A malformed expression: ``position`` is the 0-based character offset, ``expected`` what could stand
    there. Its message is what Personalize's ``InvalidInputException`` says."""

    def __init__(self, text: str, position: int, expected: str, found: str) -> None:
        super().__init__(
            f"invalid filter expression at position {position}: expected {expected}, found {found}",
            field="filterExpression",
        )
        self.text, self.position, self.expected, self.found = text, position, expected, found


class FilterValuesError(InvalidRequestError):
    """A request's ``filterValues`` cannot fill the filter: a parameter missing or malformed, or a
    ``CurrentItem`` filter without an item. ``parameter`` names the parameter (None for the item)."""

    def __init__(self, message: str, parameter: str | None = None) -> None:
        super().__init__(message, field=f"filterValues.{parameter}" if parameter else "itemId")
        self.parameter = parameter


@dataclass(frozen=True, slots=True)
class Field:
    dataset: str  # canonical: Items, Interactions, Users, Actions, Action_Interactions, CurrentUser, CurrentItem
    name: str  # as written: NUMBER_OF_RATINGS
    position: int

    @property
    def key(self) -> str:
        """The camelCase key Personalize's ``properties`` use for this field."""
        return property_key(self.name)

    @property
    def column(self) -> str:
        """Dummi's field for an item field: ``category``, ``tags`` or ``properties.<key>``."""
        special = {"CATEGORY": "category", "TAGS": "tags"}
        return special.get(self.name.upper(), f"properties.{self.key}")


@dataclass(frozen=True, slots=True)
class Literal:
    value: Value
    position: int


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    position: int


@dataclass(frozen=True, slots=True)
class ItemRef:
    """``CurrentItem.FIELD``."""

    field: Field


Operand = Literal | Param | ItemRef


@dataclass(frozen=True, slots=True)
class Condition:
    field: Field
    op: str  # in, not_in, eq, lt, lte, gt, gte
    operands: tuple[Operand, ...]  # one for a comparison; the list's values for in / not_in


@dataclass(frozen=True, slots=True)
class Expression:
    action: str  # INCLUDE or EXCLUDE
    target: str  # ItemID, UserID, ActionID
    where: tuple[tuple[Condition, ...], ...]  # OR of ANDs
    when: tuple[Condition, ...]  # the IF conditions on CurrentUser, all of which must hold
    position: int

    @property
    def dataset(self) -> str:
        return self.where[0][0].field.dataset

    def conditions(self) -> Iterator[Condition]:
        for conjunction in self.where:
            yield from conjunction
        yield from self.when

    @property
    def parameters(self) -> tuple[str, ...]:
        return unique(op.name for c in self.conditions() for op in c.operands if isinstance(op, Param))


def property_key(name: str) -> str:
    """``NUMBER_OF_RATINGS`` -> ``numberOfRatings``; a name with lower-case letters and no underscore (already
    camelCase, or one word) is kept as written."""
    if "_" not in name and not name.isupper():
        return name
    parts = [p for p in name.split("_") if p]
    if not parts:
        return name
    return parts[0].lower() + "".join(p[:1].upper() + p[1:].lower() for p in parts[1:])


def unique(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))
