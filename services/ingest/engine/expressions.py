"""Derived-column expressions: a hand-written recursive-descent parser that emits SQL.

The grammar (DeriveStep in ingest.proto), loosest binding first:

    expr       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := sum (("=" | "!=" | "<" | "<=" | ">" | ">=") sum)?      -- no chaining
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/" | "%") unary)*
    unary      := "-" unary | primary
    primary    := number | 'string' | true | false | null | "(" expr ")"
                | function "(" [expr ("," expr)*] ")" | column | "quoted column"

Keywords and function names are case-insensitive; '' inside a string and "" inside a quoted column
are the quote itself. Literals become bound parameters, columns quoted identifiers, functions fixed
SQL from the allow-list below. `/` is true division (x / 0 is +-inf, 0 / 0 NaN); `x % 0` is null
(the engine turns error_on_division_by_zero off); `%` takes the dividend's sign (C, not Python).
`weekday` is Monday=0 .. Sunday=6 (as pandas); `date_diff_days(start, end)` is the number of
calendar days from start to end; `round` rounds exact halves away from zero; `trim` strips Unicode
whitespace (as str.strip); `concat` skips nulls; `log` is the natural logarithm.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from services.common.errors import InvalidArgument
from services.ingest.engine import ROW_COLUMN, Params, quote_ident
from services.ingest.engine.expression_lexer import Token, error_at, shown, tokenize

MAX_LENGTH = 10_000
MAX_DEPTH = 100
_INT64_MAX = 2**63 - 1
# Every character for which Python's str.isspace() is true (a test keeps it so) ...
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# ... and the same set in RE2 syntax (RE2's \s alone is ASCII only).
WHITESPACE_CLASS = r"[\s\v\x{1c}-\x{1f}\x{85}\p{Z}]"


_WHITESPACE_CODES = (
    "BETWEEN 9 AND 13 OR {c} BETWEEN 28 AND 32 OR {c} BETWEEN 8192 AND 8202 OR {c} IN "
    "(133, 160, 5760, 8232, 8233, 8239, 8287, 12288)"
)


def _is_whitespace(code: str) -> str:
    return f"({code} " + _WHITESPACE_CODES.format(c=code) + ")"


def trim_sql(sql: str) -> str:
    """SQL stripping Unicode whitespace from both ends, as str.strip().

    DuckDB's trim(x, characters) is ten times slower than trim(x) (spaces only), so the character
    set is only used when a value still starts or ends with other whitespace. Printable ASCII at
    both ends (most text) is settled by two range checks before the full whitespace test, which
    halves the cost of trimming on ASCII text. The last character is taken with substring(x, -1),
    which costs about half of right(x, 1). The set is the engine's constant, never user text.
    """
    spaced = f"trim({sql})"
    first, last = f"ascii({spaced})", f"ascii(substring({spaced}, -1))"
    return (
        f"(CASE WHEN {first} BETWEEN 33 AND 126 AND {last} BETWEEN 33 AND 126 THEN {spaced} "
        f"WHEN {_is_whitespace(first)} OR {_is_whitespace(last)} "
        f"THEN trim({spaced}, '{WHITESPACE}') ELSE {spaced} END)"
    )


_KEYWORDS = {"and", "or", "not", "true", "false", "null"}
_COMPARISONS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _call(name: str) -> Callable[[list[str]], str]:
    return lambda args: f"{name}({', '.join(args)})"


# name -> (least arguments, most arguments or None for any, SQL builder)
FUNCTIONS: dict[str, tuple[int, int | None, Callable[[list[str]], str]]] = {
    "abs": (1, 1, _call("abs")),
    "round": (1, 2, _call("round")),
    "floor": (1, 1, _call("floor")),
    "ceil": (1, 1, _call("ceil")),
    "sqrt": (1, 1, _call("sqrt")),
    "exp": (1, 1, _call("exp")),
    "log": (1, 1, _call("ln")),
    "log10": (1, 1, _call("log10")),
    "pow": (2, 2, _call("pow")),
    "least": (2, None, _call("least")),
    "greatest": (2, None, _call("greatest")),
    "coalesce": (1, None, _call("coalesce")),
    "if": (3, 3, lambda a: f"(CASE WHEN {a[0]} THEN {a[1]} ELSE {a[2]} END)"),
    "lower": (1, 1, _call("lower")),
    "upper": (1, 1, _call("upper")),
    "trim": (1, 1, lambda a: trim_sql(a[0])),
    "length": (1, 1, _call("length")),
    "substr": (2, 3, _call("substr")),
    "concat": (1, None, _call("concat")),
    "year": (1, 1, _call("year")),
    "month": (1, 1, _call("month")),
    "day": (1, 1, _call("day")),
    "hour": (1, 1, _call("hour")),
    "weekday": (1, 1, lambda a: f"(isodow({a[0]}) - 1)"),
    "date_diff_days": (
        2,
        2,
        lambda a: f"date_diff('day', CAST({a[0]} AS DATE), CAST({a[1]} AS DATE))",
    ),
}


@dataclass(frozen=True)
class CompiledExpression:
    sql: str
    params: list[object]
    columns: list[str]  # columns the expression reads, in first-use order


def compile_expression(text: str, columns: Mapping[str, str]) -> CompiledExpression:
    """Parse `text` against the table's columns; INVALID_ARGUMENT with a 1-based position."""
    if not text.strip():
        raise InvalidArgument("expression is empty")
    if len(text) > MAX_LENGTH:
        raise InvalidArgument(f"expression is {len(text)} characters; the limit is {MAX_LENGTH}")
    parser = _Parser(tokenize(text), columns)
    sql = parser.expression(0)
    token = parser.peek()
    if token.kind != "end":
        raise error_at(token, f"unexpected {shown(token)}; expected an operator or the end")
    return CompiledExpression(sql, parser.params.values, parser.used)


class _Parser:
    def __init__(self, tokens: list[Token], columns: Mapping[str, str]) -> None:
        self.tokens = tokens
        self.index = 0
        self.columns = columns
        self.params = Params()
        self.used: list[str] = []

    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at_keyword(self, word: str) -> bool:
        token = self.peek()
        return token.kind == "name" and token.text.lower() == word

    def at_op(self, *ops: str) -> bool:
        token = self.peek()
        return token.kind == "op" and token.text in ops

    def expect_op(self, op: str, what: str) -> None:
        token = self.take()
        if token.kind != "op" or token.text != op:
            raise error_at(token, f"expected {op!r} {what}, found {shown(token)}")

    def expression(self, depth: int) -> str:
        if depth > MAX_DEPTH:
            raise error_at(self.peek(), f"expression nests deeper than {MAX_DEPTH} levels")
        return self.logical(depth, "or")

    def logical(self, depth: int, word: str) -> str:
        sql = self.logical(depth, "and") if word == "or" else self.negation(depth)
        while self.at_keyword(word):
            self.take()
            right = self.logical(depth, "and") if word == "or" else self.negation(depth)
            sql = f"({sql} {word.upper()} {right})"
        return sql

    def negation(self, depth: int) -> str:
        if self.at_keyword("not"):
            self.take()
            return f"(NOT {self.negation(depth + 1)})"
        return self.comparison(depth)

    def comparison(self, depth: int) -> str:
        sql = self.sum(depth)
        if self.at_op(*_COMPARISONS):
            op = self.take().text
            sql = f"({sql} {_COMPARISONS[op]} {self.sum(depth)})"
            if self.at_op(*_COMPARISONS):
                raise error_at(self.peek(), "comparisons do not chain; combine them with and")
        return sql

    def sum(self, depth: int) -> str:
        sql = self.product(depth)
        while self.at_op("+", "-"):
            op = self.take().text
            sql = f"({sql} {op} {self.product(depth)})"
        return sql

    def product(self, depth: int) -> str:
        sql = self.unary(depth)
        while self.at_op("*", "/", "%"):
            op = self.take().text
            sql = f"({sql} {op} {self.unary(depth)})"
        return sql

    def unary(self, depth: int) -> str:
        if self.at_op("-"):
            self.take()
            return f"(- {self.unary(depth + 1)})"
        return self.primary(depth)

    def primary(self, depth: int) -> str:
        token = self.take()
        if token.kind == "number":
            return self.params.bind(_number_value(token))
        if token.kind == "string":
            return self.params.bind(token.text)
        if token.kind == "quoted":
            return self.column(token)
        if token.kind == "op" and token.text == "(":
            sql = self.expression(depth + 1)
            self.expect_op(")", "to close the parenthesis")
            return sql
        if token.kind == "name":
            word = token.text.lower()
            if self.at_op("("):
                return self.function(token, depth)
            if word in ("true", "false", "null"):
                return word.upper()
            if word not in _KEYWORDS:
                return self.column(token)
        raise error_at(token, f"unexpected {shown(token)}; expected a value, a column or '('")

    def column(self, token: Token) -> str:
        if token.text not in self.columns or token.text == ROW_COLUMN:
            known = ", ".join(repr(name) for name in list(self.columns)[:20] if name != ROW_COLUMN)
            raise error_at(token, f"unknown column {token.text!r}; columns are {known}")
        if token.text not in self.used:
            self.used.append(token.text)
        return quote_ident(token.text)

    def function(self, token: Token, depth: int) -> str:
        name = token.text.lower()
        if name not in FUNCTIONS:
            raise error_at(
                token, f"unknown function {token.text!r}; allowed: {', '.join(sorted(FUNCTIONS))}"
            )
        least, most, build = FUNCTIONS[name]
        self.expect_op("(", f"after {token.text}")
        args: list[str] = []
        if not self.at_op(")"):
            args.append(self.expression(depth + 1))
            while self.at_op(","):
                self.take()
                args.append(self.expression(depth + 1))
        self.expect_op(")", f"to close {token.text}(")
        if len(args) < least or (most is not None and len(args) > most):
            wanted = str(least) if least == most else f"{least} or more"
            if most is not None and least != most:
                wanted = f"{least} to {most}"
            raise error_at(token, f"{name} takes {wanted} arguments, got {len(args)}")
        return build(args)


def _number_value(token: Token) -> int | float:
    if any(char in token.text for char in ".eE"):
        return float(token.text)
    value = int(token.text)
    if value > _INT64_MAX:
        raise error_at(token, f"integer {token.text} is too large; write it as {token.text}.0")
    return value
