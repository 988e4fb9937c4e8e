"""Personalize's filter expressions (``dummi.ml.filter_expressions``): every expression found in Amazon
Personalize's documentation, parsed and applied to a small catalog with a known answer; the ones the
documentation got wrong, and other malformed ones, refused at the right position; parameters filled from
``filterValues`` as Personalize's clients send them.

Sources (cited per entry below):
- [EX] https://docs.aws.amazon.com/personalize/latest/dg/item-recommendation-filter-examples.html
- [SEG] https://docs.aws.amazon.com/personalize/latest/dg/user-segment-filter-examples.html
- [ACT] https://docs.aws.amazon.com/personalize/latest/dg/action-recommendation-filter-examples.html
- [MULTI] https://docs.aws.amazon.com/personalize/latest/dg/multiple-expression-example.html
- [STRUCT] https://docs.aws.amazon.com/personalize/latest/dg/creating-filter-expressions.html
- [GUIDE@<commit>] the developer guide's sources, github.com/awsdocs/amazon-personalize-developer-guide,
  ``doc_source/<file>`` at that commit (the repository was archived in 2023; older versions carry examples
  the current pages dropped).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from dummi.ml.catalog import Catalog
from dummi.ml.filter_expressions import (
    FilterExpressionError,
    FilterValuesError,
    parse,
    parse_filter_values,
    property_key,
)

# position: category, tags, properties (Personalize's camelCase keys; some numbers arrive as text)
ITEMS = [
    (
        "shoe",
        ["sale"],
        {
            "categoryL1": "shoe",
            "categoryL2": "boot",
            "price": 80,
            "genre": "Action|Drama",
            "creationTimestamp": 1_600_000_000,
            "description": "boot",
            "owner": "in-house",
            "available": "True",
            "numberOfDownloads": 5,
        },
    ),
    (
        "shoe",
        [],
        {
            "categoryL1": "shoe",
            "categoryL2": "sandal",
            "price": 30,
            "genre": "Comedy",
            "creationTimestamp": 1_700_000_000,
            "description": "summer",
            "owner": "partner",
            "available": "False",
            "numberOfDownloads": 50,
        },
    ),
    (
        "watch",
        ["luxury"],
        {
            "categoryL1": "watch",
            "price": 900,
            "genre": "Drama",
            "creationTimestamp": 1_650_000_000,
            "description": "luxury",
            "owner": "in-house",
            "available": "True",
            "numberOfDownloads": 20,
        },
    ),
    (
        "movie",
        [],
        {"price": "12", "genre": "Comedy|Romance", "creationTimestamp": "1690000000", "numberOfDownloads": "19"},
    ),
    ("movie", [], {"price": 15, "genre": ["Horror", "Drama"], "creationTimestamp": 1_500_000_000}),
    ("clothing", [], {"categoryL1": "clothing", "price": 25, "available": "True", "owner": "partner"}),
    ("clothing", [], {}),
    ("movie", [], {"price": "cheap", "genre": "Action"}),
]
ALL = list(range(len(ITEMS)))
# the user's events by type, as the router reads them (types as the events carried them)
INTERACTED = {"Click": [0, 3], "stream": [4], "favorite": [2], "purchased": [1]}
USER = {"age": 25, "membership": "Premium"}


def _catalog() -> Catalog:
    return Catalog([f"t{i}" for i in ALL], [c for c, _, _ in ITEMS], [t for _, t, _ in ITEMS], [p for _, _, p in ITEMS])


def _apply(expression: str, values=None, **kwargs) -> list[int]:
    kwargs.setdefault("interacted", INTERACTED)
    kwargs.setdefault("user", USER)
    mask = parse(expression).mask(_catalog(), values, **kwargs)
    assert mask.dtype == bool and mask.shape == (len(ITEMS),)
    return np.flatnonzero(mask).tolist()


LUXURY_WATCHES_FOR_ADULTS = (
    'INCLUDE ItemID WHERE Items.CATEGORY IN ("watch") AND Items.DESCRIPTION IN ("luxury") IF CurrentUser.AGE > 18'
)


def _case(source: str, expression: str, expected: list[int], values: dict | None = None, **kwargs):
    """One documented expression: its page, the filterValues and mask arguments, the positions let through."""
    return pytest.param(expression, values, kwargs, expected, id=f"{source}: {expression}")


CORPUS = [
    # [EX] item interaction data; event types match ignoring case ("Click" events)
    _case("EX", "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($EVENT_TYPE)", [1, 2, 4, 5, 6, 7],
          {"EVENT_TYPE": '"click"'}),
    _case("EX", 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click", "stream")', [1, 2, 5, 6, 7]),
    _case("EX", 'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")', [0, 3]),
    # [EX] item data
    _case("EX", "EXCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)", [3, 4, 5, 6, 7], {"CATEGORY": '"shoe","watch"'}),
    # cheaper than the watch (900) and sharing its genre (Drama)
    _case("EX", "INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE AND Items.GENRE IN CurrentItem.GENRE", [0, 4],
          current=2),
    _case("EX", 'EXCLUDE ItemID WHERE Items.CATEGORY_L1 IN ("shoe") AND Items.CATEGORY_L2 NOT IN ("boot")',
          [0, 2, 3, 4, 5, 6, 7]),
    _case("EX", "INCLUDE ItemID WHERE Items.PRICE <= $PRICE", [3, 4, 5], {"PRICE": '"25"'}),  # "12" counts as 12
    _case("EX", "INCLUDE ItemID WHERE Items.CREATION_TIMESTAMP < $DATE", [0, 4], {"DATE": '"1650000000"'}),
    _case("EX", "INCLUDE ItemID WHERE Items.GENRE IN ($GENRE)", [1, 3, 4], {"GENRE": '"Comedy","Horror"'}),
    _case("EX", "INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE AND Items.CREATION_TIMESTAMP > $DATE",
          [0, 1, 3], {"DATE": '"1550000000"'}, current=2),
    # [EX] user data (the user is 25)
    _case("EX", "EXCLUDE ItemID WHERE Items.GENRE IN ($GENRE) IF CurrentUser.AGE = $AGE", [1, 3, 5, 6, 7],
          {"GENRE": '"Drama"', "AGE": '"25"'}),
    _case("EX", "EXCLUDE ItemID WHERE Items.GENRE IN ($GENRE) IF CurrentUser.AGE = $AGE", ALL,
          {"GENRE": '"Drama"', "AGE": '"30"'}),
    _case("GUIDE@4661646 filter-expressions.md",
          LUXURY_WATCHES_FOR_ADULTS,
          [2]),
    _case("GUIDE@4661646 filter-expressions.md",
          LUXURY_WATCHES_FOR_ADULTS,
          ALL, user={"age": 16}),
    _case("GUIDE@4661646 filter-expressions.md",
          'EXCLUDE ItemID WHERE Items.CATEGORY IN ("shoe") AND Items.DESCRIPTION NOT IN ("boot")',
          [0, 2, 3, 4, 5, 6, 7]),
    # [MULTI] combining expressions
    _case("MULTI",
          "INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)"
          ' | INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("favorite")',
          [2, 3, 4, 7], {"CATEGORY": '"movie"'}),
    _case("MULTI",
          "INCLUDE ItemID WHERE Items.GENRE IN ($GENRE)"
          ' | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click", "stream")',
          [1, 2], {"GENRE": '"Drama","Comedy"'}),
    # older versions of the guide
    _case("GUIDE@448e57e filter-expressions.md", 'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")',
          [0, 1, 2, 3, 4]),
    _case("GUIDE@9b63b3d filter-expressions.md", "INCLUDE ItemID WHERE Items.NUMBER_OF_DOWNLOADS < 20", [0, 3]),
    _case("GUIDE@9b63b3d filter-expressions.md",
          "EXCLUDE ItemID WHERE Items.NUMBER_OF_DOWNLOADS < 20 IF CurrentUser.AGE > 18 AND CurrentUser.AGE < 30",
          [1, 2, 4, 5, 6, 7]),
    _case("GUIDE@f955d8d filter-expressions.md",
          "INCLUDE ItemID WHERE Items.NUMBER_OF_DOWNLOADS = $NUMBER_OF_DOWNLOADS", [2],
          {"NUMBER_OF_DOWNLOADS": '"20"'}),
    # values match case-sensitively: no item is of the genre "drama"
    _case("GUIDE@9b63b3d filter-expressions.md",
          'INCLUDE ItemID WHERE Items.GENRE IN ("drama")'
          ' | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click", "stream")',
          []),
    _case("GUIDE@55c8cf5 promoting-items.md", 'INCLUDE ItemID WHERE Items.OWNER IN ("in-house")', [0, 2]),
    _case("GUIDE@55c8cf5 promoting-items.md",
          'INCLUDE ItemID WHERE Items.CATEGORY IN ("clothing") AND Items.AVAILABLE IN ("True")', [5]),
    _case("GUIDE@55c8cf5 promoting-items.md", "INCLUDE ItemID WHERE Items.CREATION_TIMESTAMP < $DATE", [0, 4],
          {"DATE": "1600000001"}),  # a bare number
    _case("GUIDE@adcff52 frequently-asked-questions.md",
          'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchased")', [0, 2, 3, 4, 5, 6, 7]),
]  # fmt: skip

# expressions for user segments and actions: Personalize's language, which Dummi parses but cannot apply
NOT_ITEMS = [
    ("INCLUDE UserID WHERE Users.MEMBERSHIP_STATUS IN ($MEMBERSHIP)", "SEG"),
    ("EXCLUDE UserID WHERE Users.AGE < $AGE", "SEG"),
    ('INCLUDE UserID WHERE Interactions.EVENT_TYPE IN ("click", "rating")', "SEG"),
    ("EXCLUDE UserID WHERE Interactions.EVENT_TYPE IN ($EVENT_TYPE)", "SEG"),
    ("EXCLUDE UserID WHERE Users.AGE < 18", "GUIDE@448e57e filter-expressions.md"),
    ('INCLUDE UserID WHERE Interactions.EVENT_TYPE IN ("click, rating")', "GUIDE@4661646 filter-expressions.md"),
    ("INCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ($EVENT_TYPE)", "ACT"),
    ('EXCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ("NOT_TAKEN")', "ACT"),
    ("EXCLUDE ActionID WHERE Actions.CATEGORY IN ($CATEGORY)", "ACT"),
    ("INCLUDE ActionID WHERE Actions.VALUE > ($VALUE)", "ACT"),
    ("EXCLUDE ActionID WHERE Actions.VALUE < ($VALUE) IF CurrentUser.MEMBERSHIP = $PREMIUM", "ACT"),
]

# expressions printed in the documentation that Personalize's own grammar refuses: (text, source, position,
# what the error says was expected)
DOCUMENTED_BUT_MALFORMED = [
    # a typo in the guide between December 2021 and January 2022: a stray quote
    (
        'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (""click")',
        "GUIDE@448e57e filter-expressions.md",
        51,
        "',' or ')'",
    ),
    # the syntax of August 2020 (dataset "item", lower-case fields), replaced in September 2020
    (
        'EXCLUDE ItemID WHERE item.category IN ("shoe") AND item.description NOT IN ("boot")',
        "GUIDE@adcff52 filter-expressions.md",
        21,
        "Items.FIELD or Interactions.FIELD",
    ),
    (
        'EXCLUDE ItemID WHERE Interaction.event_type IN ("click", "stream")',
        "GUIDE@adcff52 filter-expressions.md",
        21,
        "Items.FIELD or Interactions.FIELD",
    ),
    # the structure's placeholders, not an expression
    (
        "EXCLUDE/INCLUDE ItemID/ActionID/UserID WHERE dataset type.field IN/NOT IN (value/parameter)",
        "STRUCT",
        7,
        "a keyword, a name, a value or an operator",
    ),
]


@pytest.mark.parametrize(("expression", "values", "kwargs", "expected"), CORPUS)
def test_the_documented_expressions_filter_the_catalog(expression, values, kwargs, expected):
    program = parse(expression)
    assert program.text == expression and all(e.target == "ItemID" for e in program.expressions)
    assert _apply(expression, values, **kwargs) == expected


@pytest.mark.parametrize(("expression", "source"), NOT_ITEMS)
def test_segment_and_action_expressions_parse_but_are_refused_for_items(expression, source):
    program = parse(expression, items_only=False)
    assert program.expressions[0].target in ("UserID", "ActionID"), source
    with pytest.raises(FilterExpressionError) as refused:
        parse(expression)
    assert refused.value.position == 8 and "ItemID" in refused.value.expected


def test_the_action_example_naming_an_action_dataset_that_does_not_exist_is_refused():
    # [ACT] prints "Action.MEMBERSHIP_LEVEL"; the dataset is Actions
    text = 'INCLUDE ActionID WHERE Action.MEMBERSHIP_LEVEL IN ("Premium") IF CurrentUser.MEMBERSHIP = $PREMIUM'
    with pytest.raises(FilterExpressionError) as refused:
        parse(text, items_only=False)
    assert refused.value.position == text.index("Action.")
    assert refused.value.expected == "Actions.FIELD or Action_Interactions.FIELD"


@pytest.mark.parametrize(("expression", "source", "position", "expected"), DOCUMENTED_BUT_MALFORMED)
def test_expressions_the_documentation_got_wrong_are_refused_at_their_fault(expression, source, position, expected):
    with pytest.raises(FilterExpressionError) as refused:
        parse(expression)
    assert (refused.value.position, refused.value.expected) == (position, expected), source
    assert f"at position {position}: expected {expected}" in refused.value.message


@pytest.mark.parametrize(
    ("expression", "position", "expected"),
    [
        ("", 0, "INCLUDE or EXCLUDE"),
        ("KEEP ItemID WHERE Items.A IN (1)", 0, "INCLUDE or EXCLUDE"),
        ("INCLUDE Item WHERE Items.A IN (1)", 8, "ItemID, UserID or ActionID"),
        ("INCLUDE ItemID Items.A IN (1)", 15, "WHERE"),
        ("INCLUDE ItemID WHERE Items A", 27, "'.' after Items"),
        ("INCLUDE ItemID WHERE Items.", 27, "a field name after Items."),
        ("INCLUDE ItemID WHERE Items.A LIKE (1)", 29, "IN, NOT IN, =, <, <=, > or >= after Items.A"),
        ("INCLUDE ItemID WHERE Items.A NOT (1)", 33, "IN after NOT"),
        ("INCLUDE ItemID WHERE Items.A IN 1", 32, "'(' and a list of values or CurrentItem.FIELD"),
        ('INCLUDE ItemID WHERE Items.A IN ("x" "y")', 37, "',' or ')'"),
        ('INCLUDE ItemID WHERE Items.A IN ("x",)', 37, "a quoted value, a number, a $PARAMETER or CurrentItem.FIELD"),
        ('INCLUDE ItemID WHERE Items.A IN ("x"', 36, "',' or ')'"),
        ('INCLUDE ItemID WHERE Items.A IN ("x)', 33, 'a closing "'),
        ('INCLUDE ItemID WHERE Items.A < "x"', 31, "a number, a $PARAMETER or CurrentItem.FIELD"),
        ("INCLUDE ItemID WHERE Items.A < ($P", 34, "')'"),
        ("INCLUDE ItemID WHERE Items.A IN ($)", 34, "a parameter name after $"),
        ("INCLUDE ItemID WHERE Items.A != 1", 29, "a keyword, a name, a value or an operator"),
        ("INCLUDE ItemID WHERE Interactions.EVENT_TYPE = 1", 45, "IN or NOT IN after Interactions.EVENT_TYPE"),
        ("INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (1)", 49, "a quoted event type or a $PARAMETER"),
        (
            'INCLUDE ItemID WHERE Interactions.ITEM_ID IN ("a")',
            34,
            "EVENT_TYPE (the only field of Interactions a filter can name)",
        ),
        ("INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN CurrentItem.X", 48, "'(' and a list of values"),
        (
            'INCLUDE ItemID WHERE Items.A IN ("x") AND Interactions.EVENT_TYPE IN ("click")',
            42,
            "a condition on Items (one expression filters on one dataset: join expressions on Items and Interactions "
            "with '|')",
        ),
        ("INCLUDE ItemID WHERE Users.AGE > 3", 21, "Items.FIELD or Interactions.FIELD"),
        ("INCLUDE ItemID WHERE CurrentUser.AGE > 3", 21, "Items.FIELD or Interactions.FIELD"),
        (
            'INCLUDE ItemID WHERE Items.A IN ("x") IF Items.B IN ("y")',
            41,
            "CurrentUser.FIELD (IF checks only the current user)",
        ),
        ('INCLUDE ItemID WHERE Items.A IN ("x") IF CurrentUser.B > CurrentItem.C', 57, "a number or a $PARAMETER"),
        (
            'INCLUDE ItemID WHERE Items.A IN ("x") IF CurrentUser.B > 1 OR CurrentUser.B < 0',
            59,
            "AND, '|' or the end of the expression",
        ),
        ('INCLUDE ItemID WHERE Items.A IN ("x") Items.B IN ("y")', 38, "AND, OR, IF, '|' or the end"),
        ('INCLUDE ItemID WHERE Items.A IN ("x") |', 39, "INCLUDE or EXCLUDE"),
    ],
)
def test_a_malformed_expression_is_refused_naming_the_position_and_what_was_expected(expression, position, expected):
    with pytest.raises(FilterExpressionError) as refused:
        parse(expression)
    assert (refused.value.position, refused.value.expected) == (position, expected)
    assert refused.value.field == "filterExpression"


def test_keywords_and_dataset_names_ignore_case_field_and_parameter_names_do_not():
    lower = 'include itemid where items.GENRE in ($GENRE) | exclude ItemId where interactions.event_type in ("stream")'
    assert _apply(lower, {"GENRE": '"Drama"'}) == [0, 2]
    assert parse(lower).parameters == ("GENRE",)
    with pytest.raises(FilterValuesError, match=r"\$GENRE"):
        _apply(lower, {"genre": '"Drama"'})


def test_and_binds_tighter_than_or():
    # (category movie AND price < 14) OR category watch
    text = 'INCLUDE ItemID WHERE Items.CATEGORY IN ("movie") AND Items.PRICE < 14 OR Items.CATEGORY IN ("watch")'
    assert [len(c) for c in parse(text).expressions[0].where] == [2, 1]
    assert _apply(text) == [2, 3]


def test_the_order_of_include_and_exclude_expressions_does_not_matter():
    include = 'INCLUDE ItemID WHERE Items.CATEGORY IN ("movie", "shoe")'
    exclude = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")'
    assert _apply(f"{include} | {exclude}") == _apply(f"{exclude} | {include}") == [1, 4, 7]
    assert _apply(f"{exclude} | {exclude}") == [1, 2, 4, 5, 6, 7]  # excludes alone: every other item


def test_a_quoted_dollar_is_text_not_a_parameter():
    # filter-real-time.md@4661646 passes the CLI argument "... IN (\"$CATEGORY\")": what arrives is text
    program = parse('INCLUDE ItemID WHERE Items.CATEGORY IN ("$CATEGORY")')
    assert program.parameters == ()
    assert not program.mask(_catalog()).any()  # no item's category is "$CATEGORY"; no filterValues needed


# -- fields ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("NUMBER_OF_RATINGS", "numberOfRatings"),
        ("CATEGORY_L1", "categoryL1"),
        ("GENRE", "genre"),
        ("genres", "genres"),
        ("numberOfRatings", "numberOfRatings"),
        ("number_of_ratings", "numberOfRatings"),
    ],
)
def test_a_field_name_maps_to_personalizes_camel_case_property_key(name, key):
    assert property_key(name) == key
    assert parse(f'INCLUDE ItemID WHERE Items.{name} IN ("x")').expressions[0].where[0][0].field.column == (
        f"properties.{key}"
    )


def test_category_and_tags_are_dummis_own_fields():
    assert _apply('INCLUDE ItemID WHERE Items.CATEGORY IN ("clothing")') == [5, 6]
    assert _apply('INCLUDE ItemID WHERE Items.TAGS IN ("luxury", "sale")') == [0, 2]
    assert _apply('EXCLUDE ItemID WHERE Items.TAGS IN ("sale")') == [1, 2, 3, 4, 5, 6, 7]
    assert _apply("INCLUDE ItemID WHERE Items.TAGS IN CurrentItem.TAGS", current=2) == [2]
    assert _apply("INCLUDE ItemID WHERE Items.CATEGORY IN CurrentItem.CATEGORY", current=5) == [5, 6]


def test_values_match_by_type_text_exactly_numbers_by_value():
    stored = [12, "12", "12.0", True, [12, "x"], "a|12", "x|y", None]
    catalog = Catalog([f"t{i}" for i in range(9)], ["c"] * 9, [[]] * 9, [{"code": v} for v in stored] + [{}])

    def matching(expression: str, values=None) -> list[int]:
        return np.flatnonzero(parse(expression).mask(catalog, values)).tolist()

    assert matching('INCLUDE ItemID WHERE Items.CODE IN ("12")') == [0, 1, 4, 5]  # not "12.0", not True
    assert matching("INCLUDE ItemID WHERE Items.CODE IN (12)") == [0, 1, 2, 4, 5]  # any spelling of 12
    assert matching("INCLUDE ItemID WHERE Items.CODE = $C", {"C": '"12"'}) == [0, 1, 4, 5]
    assert matching('INCLUDE ItemID WHERE Items.CODE IN ("y")') == [6]  # a part of pipe-separated values
    assert matching('INCLUDE ItemID WHERE Items.CODE IN ("x|y")') == [6]  # and the whole text
    assert matching('EXCLUDE ItemID WHERE Items.CODE IN ("x")') == [0, 1, 2, 3, 5, 7, 8]
    assert matching('INCLUDE ItemID WHERE Items.CODE NOT IN ("x", "12")') == [2, 3, 7, 8]  # holding neither
    assert matching("INCLUDE ItemID WHERE Items.CODE >= 12") == [0, 1, 2]  # a scalar number, or text spelling one


def test_an_item_without_the_property_meets_only_not_in():
    assert _apply('INCLUDE ItemID WHERE Items.OWNER NOT IN ("in-house")') == [1, 3, 4, 5, 6, 7]
    assert _apply("INCLUDE ItemID WHERE Items.PRICE > 0") == [0, 1, 2, 3, 4, 5]  # not 6 (none), not 7 ("cheap")


# -- parameters -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "values"),
    [
        ('"comedy","drama"', ("comedy", "drama")),  # the form of Personalize's documentation
        ('"comedy", "drama" ', ("comedy", "drama")),
        ('"Comedy"', ("Comedy",)),
        ('"a\\"b","c\\\\d"', ('a"b', "c\\d")),
        ('"a,b"', ("a,b",)),
        ("10", (10.0,)),
        ("-2.5, 7", (-2.5, 7.0)),
        ('"10"', ("10",)),
        ("comedy", ("comedy",)),
    ],
)
def test_filter_values_are_read_as_personalizes_clients_send_them(raw, values):
    assert parse_filter_values(raw) == values


@pytest.mark.parametrize(("raw", "position"), [("", 0), ('"a",', 4), ('"a" "b"', 4), ('"a', 0), ('"a",,"b"', 4)])
def test_malformed_filter_values_are_refused_naming_the_parameter(raw, position):
    with pytest.raises(FilterValuesError) as refused:
        _apply("INCLUDE ItemID WHERE Items.GENRE IN ($GENRE)", {"GENRE": raw})
    assert refused.value.parameter == "GENRE" and refused.value.field == "filterValues.GENRE"
    assert f"'GENRE' at position {position}" in refused.value.message


def test_a_parameter_is_filled_the_same_quoted_or_bare():
    text = "INCLUDE ItemID WHERE Items.PRICE <= $PRICE"
    assert _apply(text, {"PRICE": '"25"'}) == _apply(text, {"PRICE": "25"}) == _apply(text, {"PRICE": "25.0"})
    assert _apply("INCLUDE ItemID WHERE Items.PRICE < ($PRICE)", {"PRICE": "25"}) == [3, 4]


def test_an_include_missing_a_parameter_is_refused_naming_it():
    with pytest.raises(FilterValuesError) as refused:
        _apply("INCLUDE ItemID WHERE Items.GENRE IN ($GENRE) AND Items.PRICE < $PRICE", {"GENRE": '"Drama"'})
    assert refused.value.parameter == "PRICE" and "$PRICE" in refused.value.message
    with pytest.raises(FilterValuesError, match=r"\$AGE"):
        _apply("INCLUDE ItemID WHERE Items.GENRE IN ($GENRE) IF CurrentUser.AGE > $AGE", {"GENRE": '"Drama"'})


def test_an_exclude_missing_a_parameter_is_not_applied():
    text = "EXCLUDE ItemID WHERE Items.GENRE IN ($GENRE) | EXCLUDE ItemID WHERE Items.PRICE > $PRICE"
    assert _apply(text) == ALL
    assert _apply(text, {"PRICE": "100"}) == [0, 1, 3, 4, 5, 6, 7]
    assert _apply(text, {"PRICE": "100", "GENRE": '"Comedy"'}) == [0, 4, 5, 6, 7]


def test_a_comparison_needs_one_number():
    for raw in ('"cheap"', '"1","2"'):
        with pytest.raises(FilterValuesError) as refused:
            _apply("INCLUDE ItemID WHERE Items.PRICE < $PRICE", {"PRICE": raw})
        assert refused.value.parameter == "PRICE"


def test_current_item_filters_need_the_requests_item():
    text = "INCLUDE ItemID WHERE Items.GENRE IN CurrentItem.GENRE"
    with pytest.raises(FilterValuesError, match="CurrentItem.GENRE") as refused:
        _apply(text)
    assert refused.value.field == "itemId"
    assert _apply(text, current=4) == [0, 2, 4]  # Horror or Drama
    assert _apply(text, current=6) == []  # the item has no genre: nothing shares it
    assert _apply("INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE", current=6) == []


def test_a_user_condition_needs_the_users_attribute():
    text = 'INCLUDE ItemID WHERE Items.CATEGORY IN ("watch") IF CurrentUser.MEMBERSHIP = $PREMIUM'
    assert _apply(text, {"PREMIUM": '"Premium"'}) == [2]
    assert _apply(text, {"PREMIUM": '"Basic"'}) == ALL
    assert _apply(text, {"PREMIUM": '"Premium"'}, user=None) == ALL
    assert _apply(text, {"PREMIUM": '"Premium"'}, user={"age": 3}) == ALL
    in_list = 'INCLUDE ItemID WHERE Items.CATEGORY IN ("watch") IF CurrentUser.MEMBERSHIP IN ("Gold", "Premium")'
    assert _apply(in_list) == [2]


def test_interactions_not_in_and_every_type():
    assert _apply('INCLUDE ItemID WHERE Interactions.EVENT_TYPE NOT IN ("click", "stream")') == [1, 2]
    assert _apply('EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")') == [5, 6, 7]
    assert _apply('INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")', interacted={}) == []


def test_the_program_says_what_a_request_must_bring():
    program = parse(
        "INCLUDE ItemID WHERE Items.GENRE IN ($GENRE) AND Items.PRICE < CurrentItem.PRICE IF CurrentUser.AGE > $AGE"
        ' | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($TYPES, "click")'
        " | INCLUDE ItemID WHERE Items.A IN ($GENRE)"
    )
    assert program.parameters == ("GENRE", "AGE", "TYPES")
    assert program.uses_interactions and program.uses_current_item and program.uses_current_user
    plain = parse('INCLUDE ItemID WHERE Items.GENRE IN ("x")')
    assert not (plain.uses_interactions or plain.uses_current_item or plain.uses_current_user)


def test_parsing_needs_no_numpy():
    """The control plane (CreateFilter) validates expressions in functions that ship without numpy."""
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'numpy': raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from dummi.ml.filter_expressions import parse\n"
        "print(parse('INCLUDE ItemID WHERE Items.GENRE IN ($GENRE)').parameters)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "('GENRE',)"
