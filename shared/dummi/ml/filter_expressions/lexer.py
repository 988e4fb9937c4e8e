"""The tokens of a filter expression, and the values of a ``filterValues`` entry (pure Python)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from dummi.ml.filter_expressions.syntax import FilterExpressionError, FilterValuesError, Value

NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
END = "end"


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # name, string, number, param, op, punct, end
    text: str  # the source text (for strings: the unquoted value)
    position: int

    def is_word(self, word: str) -> bool:
        return self.kind == "name" and self.text.lower() == word

    def describe(self) -> str:
        if self.kind == END:
            return "the end of the expression"
        if self.kind == "string":
            return f'the text "{self.text}"'
        if self.kind == "param":
            return f"the parameter ${self.text}"
        return repr(self.text)


def read_string(text: str, start: int) -> tuple[str, int | None]:
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


def tokens(text: str) -> Iterator[Token]:
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos].isspace():
            pos += 1
        if pos == n:
            yield Token(END, "", pos)
            return
        ch = text[pos]
        if ch == '"':
            value, end = read_string(text, pos)
            if end is None:
                raise FilterExpressionError(text, pos, 'a closing "', "the end of the expression")
            yield Token("string", value, pos)
            pos = end
        elif ch == "$":
            name = NAME.match(text, pos + 1)
            if name is None:
                found = repr(text[pos + 1]) if pos + 1 < n else "the end of the expression"
                raise FilterExpressionError(text, pos + 1, "a parameter name after $", found)
            yield Token("param", name.group(), pos)
            pos = name.end()
        elif number := NUMBER.match(text, pos):
            yield Token("number", number.group(), pos)
            pos = number.end()
        elif name := NAME.match(text, pos):
            yield Token("name", name.group(), pos)
            pos = name.end()
        elif text.startswith(("<=", ">="), pos):
            yield Token("op", text[pos : pos + 2], pos)
            pos += 2
        elif ch in "<>=":
            yield Token("op", ch, pos)
            pos += 1
        elif ch in "(),.|":
            yield Token("punct", ch, pos)
            pos += 1
        else:
            raise FilterExpressionError(text, pos, "a keyword, a name, a value or an operator", repr(ch))


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
            text, end = read_string(raw, pos)
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
            values.append(float(word) if NUMBER.fullmatch(word) else word)
            pos = end
        while pos < n and raw[pos].isspace():
            pos += 1
        if pos == n:
            return tuple(values)
        if raw[pos] != ",":
            raise fail(f"expected ',' between values, found {raw[pos]!r}")
        pos += 1
