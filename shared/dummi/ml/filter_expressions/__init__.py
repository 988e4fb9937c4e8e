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
The modules: ``syntax`` (the names, the errors and the parsed program's parts), ``lexer`` (the tokens of an
expression and of a ``filterValues`` entry), ``parser`` (the grammar above), ``program`` (``FilterProgram``)
and ``evaluation`` (a program applied to a catalog; the only one that imports numpy).
"""

from dummi.ml.filter_expressions.lexer import parse_filter_values
from dummi.ml.filter_expressions.parser import parse
from dummi.ml.filter_expressions.program import FilterProgram
from dummi.ml.filter_expressions.syntax import (
    ACTION_INTERACTIONS,
    ACTIONS,
    ALL_EVENT_TYPES,
    COMPARISONS,
    CURRENT_ITEM,
    CURRENT_USER,
    EVENT_TYPE,
    EXCLUDE,
    INCLUDE,
    INTERACTIONS,
    ITEMS,
    TARGET_DATASETS,
    TARGETS,
    USERS,
    Condition,
    Expression,
    Field,
    FilterExpressionError,
    FilterValuesError,
    ItemRef,
    Literal,
    Operand,
    Param,
    Value,
    property_key,
)

__all__ = [
    "ACTIONS",
    "ACTION_INTERACTIONS",
    "ALL_EVENT_TYPES",
    "COMPARISONS",
    "CURRENT_ITEM",
    "CURRENT_USER",
    "EVENT_TYPE",
    "EXCLUDE",
    "INCLUDE",
    "INTERACTIONS",
    "ITEMS",
    "TARGETS",
    "TARGET_DATASETS",
    "USERS",
    "Condition",
    "Expression",
    "Field",
    "FilterExpressionError",
    "FilterProgram",
    "FilterValuesError",
    "ItemRef",
    "Literal",
    "Operand",
    "Param",
    "Value",
    "parse",
    "parse_filter_values",
    "property_key",
]
