"""Amazon Personalize's filter-expression language, parsed into a typed program and applied to a ``Catalog``.

The grammar (keywords, dataset names and ``ItemID`` are case-insensitive; field and parameter names are not)::

    filter      := expression ("|" expression)*
    expression  := ("INCLUDE" | "EXCLUDE") target "WHERE" where ["IF" user ("AND" user)*]
    target      := "ItemID" | "UserID" | "ActionID"
    where       := conjunction ("OR" conjunction)*            -- AND binds tighter than OR
    conjunction := condition ("AND" condition)*
    condition   := DATASET "." FIELD (("IN" | "NOT" "IN") list | ("=" | "<" | "<=" | ">" | ">=") operand)
    user        := "CurrentUser" "." FIELD (("IN" | "NOT" "IN") list | ("=" | "<" | "<=" | ">" | ">=") operand)
    list        := "(" value ("," value)* ")" | current
    operand     := value | "(" value ")"
    value       := STRING | NUMBER | "$" NAME | current
    current     := "CurrentItem" "." FIELD

with Personalize's rules checked while parsing, each error naming its character offset (0-based) and what was
expected there: the datasets a target may filter on (ItemID: Items, Interactions; UserID: Users, Interactions;
ActionID: Actions, Action_Interactions), one dataset per expression (conditions joined by AND/OR "can only
affect fields of the dataset used in the first condition"), only ``EVENT_TYPE`` of the interactions, compared
with IN / NOT IN and text, ``CurrentUser`` only after IF, ``CurrentItem`` only as the value of an Items
condition, a text literal never with ``<``, ``<=``, ``>``, ``>=``.

What an expression means (Personalize's documentation, see ``tests/unit/test_filter_expressions.py``):

- ``Items.CATEGORY`` is Dummi's category, ``Items.TAGS`` its tags, any other ``Items.FIELD`` the property of the
  camelCase name (``NUMBER_OF_RATINGS`` -> ``numberOfRatings``, as Personalize's ``properties`` keys are
  named; a name already in camelCase is kept). ``Items.CREATION_TIMESTAMP`` is the property
  ``creationTimestamp``: the catalog holds no creation time of its own.
- A property holding Personalize's pipe-separated values (``"Action|Comedy"``) or a list is multi-valued: IN
  matches when any value does, NOT IN when none does; an item without the property is matched by every NOT IN
  and by nothing else. Text compares exactly; a number also matches text that spells it (``12`` and
  ``"12"``: Personalize types values by its schema, Dummi stores what it was sent), so do ``<`` ... ``>=``.
- ``Interactions.EVENT_TYPE IN (...)`` matches the items the user has events of those types on (types
  compared ignoring case, as Personalize does; ``"*"`` is every type).
- ``CurrentItem.FIELD`` is the request's item (related items): IN matches items sharing a value with it, a
  comparison compares with its number. Without an item, such a filter cannot be applied.
- ``IF CurrentUser.FIELD ...`` applies the expression only when the user's attribute meets the condition.
- ``A | B | ...``: the result is (the union of the INCLUDE expressions, or every item if none applies) minus the
  union of the EXCLUDE expressions, whatever their order (Personalize's "Combining multiple expressions").
- ``$NAME`` takes its values from the request's ``filterValues`` (``{"NAME": "\\"a\\",\\"b\\""}``): an INCLUDE
  expression needs every parameter it names; an EXCLUDE expression missing one is not applied ("Amazon
  Personalize doesn't use that portion of the expression").

Parsing is pure Python (the control plane validates expressions without numpy); evaluation imports numpy.
"""

from __future__ import annotations

import math
import re
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dummi.errors import InvalidRequestError

if TYPE_CHECKING:
    import numpy as np

    from dummi.ml.catalog import Catalog

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


# -- the program ---------------------------------------------------------------------------------------
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
        return _unique(op.name for c in self.conditions() for op in c.operands if isinstance(op, Param))


@dataclass(frozen=True, slots=True)
class FilterProgram:
    text: str
    expressions: tuple[Expression, ...]

    @property
    def parameters(self) -> tuple[str, ...]:
        """Every ``$NAME`` the filter uses, in order of appearance (without the ``$``)."""
        return _unique(p for e in self.expressions for p in e.parameters)

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
        return _Evaluation(self, catalog, values or {}, current, interacted or {}, user).run()


def parse(text: str, *, items_only: bool = True) -> FilterProgram:
    """The program of a filter expression; ``FilterExpressionError`` names the position of a malformed one.

    ``items_only`` (the default) refuses ``UserID`` and ``ActionID`` expressions, which Dummi cannot apply
    (it has no user segments nor actions); ``False`` parses the whole language."""
    return _Parser(text, items_only).program()


def property_key(name: str) -> str:
    """``NUMBER_OF_RATINGS`` -> ``numberOfRatings``; a name with lower-case letters and no underscore (already
    camelCase, or one word) is kept as written."""
    if "_" not in name and not name.isupper():
        return name
    parts = [p for p in name.split("_") if p]
    if not parts:
        return name
    return parts[0].lower() + "".join(p[:1].upper() + p[1:].lower() for p in parts[1:])


def parse_filter_values(raw: str, parameter: str = "") -> tuple[Value, ...]:
    r"""One ``filterValues`` entry as Personalize's clients send it: comma-separated values, each a quoted text
    (``"comedy"``; ``\"`` and ``\\`` inside stand for ``"`` and ``\``) or a bare number or word (``10``,
    ``comedy``). The JSON string ``"\"comedy\",\"drama\""`` (the text ``"comedy","drama"``) gives
    ``("comedy", "drama")``, ``"10"`` gives ``(10.0,)``."""
    values: list[Value] = []
    pos, n = 0, len(raw)

    def fail(message: str) -> FilterValuesError:
        return FilterValuesError(f"filterValues {parameter!r} at position {pos}: {message}", parameter)

    while True:
        while pos < n and raw[pos].isspace():
            pos += 1
        if pos < n and raw[pos] == '"':
            text, end = _read_string(raw, pos)
            if end is None:
                raise fail("a quoted value is not closed")
            values.append(text)
            pos = end
        else:
            end = raw.find(",", pos)
            end = n if end < 0 else end
            word = raw[pos:end].strip()
            if not word:
                raise fail("expected a value")
            values.append(float(word) if _NUMBER.fullmatch(word) else word)
            pos = end
        while pos < n and raw[pos].isspace():
            pos += 1
        if pos == n:
            return tuple(values)
        if raw[pos] != ",":
            raise fail(f"expected ',' between values, found {raw[pos]!r}")
        pos += 1


# -- the tokenizer ------------------------------------------------------------------------------------
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_END = "end"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # name, string, number, param, op, punct, end
    text: str  # the source text (for strings: the unquoted value)
    position: int

    def is_word(self, word: str) -> bool:
        return self.kind == "name" and self.text.lower() == word

    def describe(self) -> str:
        if self.kind == _END:
            return "the end of the expression"
        if self.kind == "string":
            return f'the text "{self.text}"'
        if self.kind == "param":
            return f"the parameter ${self.text}"
        return repr(self.text)


def _read_string(text: str, start: int) -> tuple[str, int | None]:
    """The value of the quoted text starting at ``start`` and the offset after its closing quote (None if it
    is never closed). A backslash keeps the character after it."""
    out, pos = [], start + 1
    while pos < len(text):
        ch = text[pos]
        if ch == "\\" and pos + 1 < len(text):
            out.append(text[pos + 1])
            pos += 2
        elif ch == '"':
            return "".join(out), pos + 1
        else:
            out.append(ch)
            pos += 1
    return "".join(out), None


def _tokens(text: str) -> Iterator[_Token]:
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos].isspace():
            pos += 1
        if pos == n:
            yield _Token(_END, "", pos)
            return
        ch = text[pos]
        if ch == '"':
            value, end = _read_string(text, pos)
            if end is None:
                raise FilterExpressionError(text, pos, 'a closing "', "the end of the expression")
            yield _Token("string", value, pos)
            pos = end
        elif ch == "$":
            name = _NAME.match(text, pos + 1)
            if name is None:
                found = repr(text[pos + 1]) if pos + 1 < n else "the end of the expression"
                raise FilterExpressionError(text, pos + 1, "a parameter name after $", found)
            yield _Token("param", name.group(), pos)
            pos = name.end()
        elif number := _NUMBER.match(text, pos):
            yield _Token("number", number.group(), pos)
            pos = number.end()
        elif name := _NAME.match(text, pos):
            yield _Token("name", name.group(), pos)
            pos = name.end()
        elif text.startswith(("<=", ">="), pos):
            yield _Token("op", text[pos : pos + 2], pos)
            pos += 2
        elif ch in "<>=":
            yield _Token("op", ch, pos)
            pos += 1
        elif ch in "(),.|":
            yield _Token("punct", ch, pos)
            pos += 1
        else:
            raise FilterExpressionError(text, pos, "a keyword, a name, a value or an operator", repr(ch))


# -- the parser ---------------------------------------------------------------------------------------
class _Parser:
    """Recursive descent over the grammar in the module's docstring, one token of lookahead."""

    def __init__(self, text: str, items_only: bool) -> None:
        self.text = text
        self.items_only = items_only
        self._stream = _tokens(text)
        self.token = next(self._stream)

    def fail(self, expected: str, token: _Token | None = None) -> FilterExpressionError:
        token = token or self.token
        return FilterExpressionError(self.text, token.position, expected, token.describe())

    def advance(self) -> _Token:
        token = self.token
        self.token = next(self._stream)
        return token

    def word(self, word: str, expected: str | None = None) -> _Token:
        if not self.token.is_word(word):
            raise self.fail(expected or word.upper())
        return self.advance()

    def punct(self, ch: str, expected: str | None = None) -> _Token:
        if self.token.kind != "punct" or self.token.text != ch:
            raise self.fail(expected or f"'{ch}'")
        return self.advance()

    def at_punct(self, ch: str) -> bool:
        return self.token.kind == "punct" and self.token.text == ch

    # filter := expression ("|" expression)*
    def program(self) -> FilterProgram:
        expressions = [self.expression()]
        while self.at_punct("|"):
            self.advance()
            expressions.append(self.expression())
        return FilterProgram(self.text, tuple(expressions))

    def expression(self) -> Expression:
        start = self.token
        if start.is_word("include") or start.is_word("exclude"):
            action = self.advance().text.upper()
        else:
            raise self.fail("INCLUDE or EXCLUDE")
        target_token = self.token
        target = TARGETS.get(target_token.text.lower()) if target_token.kind == "name" else None
        if target is None:
            raise self.fail("ItemID, UserID or ActionID")
        if self.items_only and target != "ItemID":
            raise self.fail("ItemID (Dummi filters items: user segments and actions are not supported)")
        self.advance()
        self.word("where")
        where = [self.conjunction(target)]
        while self.token.is_word("or"):
            self.advance()
            where.append(self.conjunction(target))
        when: list[Condition] = []
        if self.token.is_word("if"):
            self.advance()
            when.append(self.user_condition())
            while self.token.is_word("and"):
                self.advance()
                when.append(self.user_condition())
        if self.token.kind != _END and not self.at_punct("|"):
            raise self.fail("AND, '|' or the end of the expression" if when else "AND, OR, IF, '|' or the end")
        expression = Expression(action, target, tuple(tuple(c) for c in where), tuple(when), start.position)
        self.check_one_dataset(expression)
        return expression

    def conjunction(self, target: str) -> list[Condition]:
        conditions = [self.condition(target)]
        while self.token.is_word("and"):
            self.advance()
            conditions.append(self.condition(target))
        return conditions

    def field(self, allowed: Iterable[str], expected: str) -> Field:
        token = self.token
        dataset = next((d for d in allowed if d.lower() == token.text.lower()), None)
        if dataset is None or token.kind != "name":
            raise self.fail(expected)
        self.advance()
        self.punct(".", f"'.' after {dataset}")
        if self.token.kind != "name":
            raise self.fail(f"a field name after {dataset}.")
        if dataset in (INTERACTIONS, ACTION_INTERACTIONS) and self.token.text.upper() != EVENT_TYPE:
            raise self.fail(f"EVENT_TYPE (the only field of {dataset} a filter can name)")
        return Field(dataset, self.advance().text, token.position)

    def condition(self, target: str) -> Condition:
        datasets = TARGET_DATASETS[target]
        field = self.field(datasets, " or ".join(f"{d}.FIELD" for d in datasets))
        return self.comparison(field, allow_item=field.dataset == ITEMS and target == "ItemID")

    def user_condition(self) -> Condition:
        field = self.field((CURRENT_USER,), "CurrentUser.FIELD (IF checks only the current user)")
        return self.comparison(field, allow_item=False)

    def comparison(self, field: Field, *, allow_item: bool) -> Condition:
        events = field.dataset in (INTERACTIONS, ACTION_INTERACTIONS)
        if self.token.is_word("in") or self.token.is_word("not"):
            negated = self.advance().text.lower() == "not"
            if negated:
                self.word("in", "IN after NOT")
            operands = self.value_list(allow_item=allow_item, events=events)
            return Condition(field, "not_in" if negated else "in", operands)
        if events:
            raise self.fail(f"IN or NOT IN after {field.dataset}.{field.name}")
        if self.token.kind != "op":
            raise self.fail(f"IN, NOT IN, =, <, <=, > or >= after {field.dataset}.{field.name}")
        op = COMPARISONS[self.advance().text]
        if self.at_punct("("):
            self.advance()
            operand = self.value(allow_item=allow_item, text_ok=op == "eq", events=False)
            self.punct(")")
        else:
            operand = self.value(allow_item=allow_item, text_ok=op == "eq", events=False)
        return Condition(field, op, (operand,))

    def value_list(self, *, allow_item: bool, events: bool) -> tuple[Operand, ...]:
        if self.token.kind == "name" and self.token.text.lower() == CURRENT_ITEM.lower() and allow_item:
            return (self.value(allow_item=True, text_ok=True, events=False),)
        self.punct("(", "'(' and a list of values" + (" or CurrentItem.FIELD" if allow_item else ""))
        values = [self.value(allow_item=allow_item, text_ok=True, events=events)]
        while self.at_punct(","):
            self.advance()
            values.append(self.value(allow_item=allow_item, text_ok=True, events=events))
        self.punct(")", "',' or ')'")
        return tuple(values)

    def value(self, *, allow_item: bool, text_ok: bool, events: bool) -> Operand:
        token = self.token
        if token.kind == "param":
            self.advance()
            return Param(token.text, token.position)
        if token.kind == "string" and text_ok:
            self.advance()
            return Literal(token.text, token.position)
        if token.kind == "number" and not events:
            self.advance()
            return Literal(float(token.text), token.position)
        if token.kind == "name" and token.text.lower() == CURRENT_ITEM.lower() and allow_item:
            return ItemRef(self.field((CURRENT_ITEM,), "CurrentItem.FIELD"))
        if events:
            kinds = ["a quoted event type", "a $PARAMETER"]
        else:
            kinds = ["a quoted value"] * text_ok + ["a number", "a $PARAMETER"] + ["CurrentItem.FIELD"] * allow_item
        raise self.fail(", ".join(kinds[:-1]) + " or " + kinds[-1])

    def check_one_dataset(self, expression: Expression) -> None:
        first = expression.where[0][0].field.dataset
        for conjunction in expression.where:
            for condition in conjunction:
                if condition.field.dataset != first:
                    raise FilterExpressionError(
                        self.text,
                        condition.field.position,
                        f"a condition on {first} (one expression filters on one dataset: join expressions "
                        f"on {first} and {condition.field.dataset} with '|')",
                        f"{condition.field.dataset}.{condition.field.name}",
                    )


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


# -- evaluation ---------------------------------------------------------------------------------------
def _real(value: Any) -> float | None:
    """An int or float (not a bool), as a float; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _as_number(value: Any) -> float | None:
    """The number a value stands for: an int or float (not a bool), or text that spells one."""
    if isinstance(value, str):
        return float(value) if _NUMBER.fullmatch(value.strip()) else None
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
        import numpy as np

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
        import numpy as np

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


class _Evaluation:
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
        import numpy as np

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
        import numpy as np

        if field.column in ("category", "tags"):
            texts = tuple(v for v in values if isinstance(v, str))
            if not texts:
                return np.zeros(self.catalog.size, bool)
            return self.catalog.matching([(field.column, "in", texts)])
        return _column(self.catalog, field.key).holding(self.catalog.size, values)

    def item_compare(self, condition: Condition) -> np.ndarray:
        import numpy as np

        number = self.number(condition)
        if number is None or condition.field.column in ("category", "tags"):
            return np.zeros(self.catalog.size, bool)
        scalar = _column(self.catalog, condition.field.key).scalar
        with np.errstate(invalid="ignore"):  # NaN (no number) compares False
            return {"lt": scalar < number, "lte": scalar <= number, "gt": scalar > number, "gte": scalar >= number}[
                condition.op
            ]

    def events(self, condition: Condition) -> np.ndarray:
        import numpy as np

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
