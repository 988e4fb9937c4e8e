"""The parser: recursive descent over the grammar in the package's docstring (pure Python)."""

from __future__ import annotations

from collections.abc import Iterable

from dummi.ml.filter_expressions.lexer import END, Token, tokens
from dummi.ml.filter_expressions.program import FilterProgram
from dummi.ml.filter_expressions.syntax import (
    ACTION_INTERACTIONS,
    COMPARISONS,
    CURRENT_ITEM,
    CURRENT_USER,
    EVENT_TYPE,
    INTERACTIONS,
    ITEMS,
    TARGET_DATASETS,
    TARGETS,
    Condition,
    Expression,
    Field,
    FilterExpressionError,
    ItemRef,
    Literal,
    Operand,
    Param,
)


def parse(text: str, *, items_only: bool = True) -> FilterProgram:
    """The program of a filter expression; ``FilterExpressionError`` names the position of a malformed one.

    ``items_only`` (the default) refuses ``UserID`` and ``ActionID`` expressions, which Dummi cannot apply
    (it has no user segments nor actions); ``False`` parses the whole language."""
    return Parser(text, items_only).program()


class Parser:
    """Recursive descent over the grammar in the package's docstring, one token of lookahead."""

    def __init__(self, text: str, items_only: bool) -> None:
        self.text = text
        self.items_only = items_only
        self._stream = tokens(text)
        self.token = next(self._stream)

    def fail(self, expected: str, token: Token | None = None) -> FilterExpressionError:
        token = token or self.token
        return FilterExpressionError(self.text, token.position, expected, token.describe())

    def advance(self) -> Token:
        token = self.token
        self.token = next(self._stream)
        return token

    def word(self, word: str, expected: str | None = None) -> Token:
        if not self.token.is_word(word):
            raise self.fail(expected or word.upper())
        return self.advance()

    def punct(self, ch: str, expected: str | None = None) -> Token:
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
        if self.token.kind != END and not self.at_punct("|"):
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
