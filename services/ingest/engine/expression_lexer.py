"""The tokens of a derive expression, each with its 1-based position (see expressions.py)."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.errors import InvalidArgument

_TWO_CHAR = {"!=", "<=", ">="}
_ONE_CHAR = set("+-*/%=<>(),")


@dataclass(frozen=True)
class Token:
    kind: str  # number, string, name, quoted, op, end
    text: str
    pos: int  # 1-based character position in the expression


def error_at(token: Token, message: str) -> InvalidArgument:
    return InvalidArgument(f"expression error at position {token.pos}: {message}")


def shown(token: Token) -> str:
    return "end of expression" if token.kind == "end" else repr(token.text)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char.isdigit() or (char == "." and text[i + 1 : i + 2].isdigit()):
            i = _number(text, i, tokens)
        elif char.isalpha() or char == "_":
            end = i + 1
            while end < len(text) and (text[end].isalnum() or text[end] == "_"):
                end += 1
            tokens.append(Token("name", text[i:end], i + 1))
            i = end
        elif char in "'\"":
            i = _quoted(text, i, tokens)
        elif text[i : i + 2] in _TWO_CHAR:
            tokens.append(Token("op", text[i : i + 2], i + 1))
            i += 2
        elif char in _ONE_CHAR:
            tokens.append(Token("op", char, i + 1))
            i += 1
        else:
            raise error_at(Token("op", char, i + 1), f"unexpected character {char!r}")
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


def _number(text: str, start: int, tokens: list[Token]) -> int:
    i = start
    while i < len(text) and text[i].isdigit():
        i += 1
    if i < len(text) and text[i] == ".":
        i += 1
        while i < len(text) and text[i].isdigit():
            i += 1
    if i < len(text) and text[i] in "eE":
        j = i + 1
        if j < len(text) and text[j] in "+-":
            j += 1
        if j < len(text) and text[j].isdigit():
            i = j
            while i < len(text) and text[i].isdigit():
                i += 1
    if i < len(text) and (text[i].isalnum() or text[i] == "_"):
        raise error_at(Token("number", text[start:i], i + 1), f"unexpected character {text[i]!r}")
    tokens.append(Token("number", text[start:i], start + 1))
    return i


def _quoted(text: str, start: int, tokens: list[Token]) -> int:
    quote = text[start]
    parts: list[str] = []
    i = start + 1
    while True:
        end = text.find(quote, i)
        if end < 0:
            what = "string" if quote == "'" else "quoted column name"
            raise error_at(Token("op", quote, start + 1), f"unterminated {what}")
        parts.append(text[i:end])
        if text[end + 1 : end + 2] == quote:
            parts.append(quote)
            i = end + 2
            continue
        tokens.append(Token("string" if quote == "'" else "quoted", "".join(parts), start + 1))
        return end + 1
