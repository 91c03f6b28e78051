"""The FEEL a form designer writes in a field's ``conditional.hide``: comparisons of the form's own fields with
literals, joined by ``and`` / ``or``, with ``not(…)`` and parentheses — ``=kind = "expense"``,
``=amount > 100 and has_car``. Nothing else: FEEL is a whole language and the server must evaluate exactly what
the browser shows, so a condition outside this subset is refused when the form is saved, with the reason.

Evaluation follows FEEL's three-valued logic: comparing values of different types (or a missing value with ``<``)
gives null, ``and``/``or`` propagate null, and a field is hidden only when its condition is exactly true.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_CONDITION = 500  # characters: a condition is a line a designer writes, not a program

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<number>-?\d+(?:\.\d+)?)
    | (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<op><=|>=|!=|=|<|>)
    | (?P<paren>[()])
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""", re.VERBOSE)

_KEYWORDS = {"and", "or", "not", "true", "false", "null"}


class ConditionError(ValueError):
    """A condition outside the supported subset; the message says why, in Chinese."""


@dataclass(frozen=True)
class Condition:
    source: str
    names: frozenset[str]  # the fields it reads
    _evaluate: Callable[[dict], Any]

    def is_true(self, values: dict) -> bool:
        """True only when the condition holds (null and false both leave the field shown)."""
        return self._evaluate(values) is True


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ConditionError(f"条件中“{text[pos:].strip()[:20]}”无法识别：只支持字段与常量的比较（= != < <= > >=）"
                                 "及 and、or、not()")
        kind = m.lastgroup or ""
        value = m.group(kind)
        if (kind == "name" and value in _KEYWORDS) or kind == "paren":
            kind = value
        out.append((kind, value))
        pos = m.end()
    return out


def _compare(op: str, left: Any, right: Any) -> bool | None:
    if op in ("=", "!="):
        if left is None or right is None:
            equal = left is None and right is None
        elif _kind(left) != _kind(right):
            return None
        else:
            equal = left == right
        return equal if op == "=" else not equal
    if left is None or right is None or _kind(left) != _kind(right) or _kind(left) not in ("number", "string"):
        return None
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"


def _and(values: list) -> bool | None:
    if any(v is False for v in values):
        return False
    return True if all(v is True for v in values) else None


def _or(values: list) -> bool | None:
    if any(v is True for v in values):
        return True
    return False if all(v is False for v in values) else None


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens = tokens
        self.pos = 0
        self.names: set[str] = set()

    def peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def take(self, kind: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise ConditionError("条件不完整")
        token = self.tokens[self.pos]
        if kind is not None and token[0] != kind:
            raise ConditionError(f"条件中“{token[1]}”处应为“{kind}”" if kind in ("(", ")") else f"条件中“{token[1]}”位置不对")
        self.pos += 1
        return token

    def expression(self) -> Callable[[dict], Any]:
        parts = [self.conjunction()]
        while self.peek() == "or":
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda v: _or([p(v) for p in parts]))

    def conjunction(self) -> Callable[[dict], Any]:
        parts = [self.comparison()]
        while self.peek() == "and":
            self.take()
            parts.append(self.comparison())
        return parts[0] if len(parts) == 1 else (lambda v: _and([p(v) for p in parts]))

    def comparison(self) -> Callable[[dict], Any]:
        left = self.operand()
        if self.peek() != "op":
            return left
        op = self.take()[1]
        right = self.operand()
        return lambda v: _compare(op, left(v), right(v))

    def operand(self) -> Callable[[dict], Any]:
        kind, text = self.take()
        if kind == "(":
            inner = self.expression()
            self.take(")")
            return inner
        if kind == "not":
            self.take("(")
            inner = self.expression()
            self.take(")")

            def negate(v):
                value = inner(v)
                return (not value) if isinstance(value, bool) else None
            return negate
        if kind == "number":
            number = float(text) if "." in text else int(text)
            return lambda v: number
        if kind == "string":
            literal = re.sub(r"\\(.)", r"\1", text[1:-1])
            return lambda v: literal
        if kind in ("true", "false", "null"):
            constant = {"true": True, "false": False, "null": None}[kind]
            return lambda v: constant
        if kind == "name":
            self.names.add(text)
            return lambda v: v.get(text)
        raise ConditionError(f"条件中“{text}”位置不对")


def parse_condition(source: Any) -> Condition:
    """Parse ``=<expression>``; raise :class:`ConditionError` for anything outside the subset."""
    if not isinstance(source, str) or not source.strip().startswith("="):
        raise ConditionError("条件须为以 = 开头的表达式，如 =kind = \"expense\"")
    if len(source) > MAX_CONDITION:
        raise ConditionError(f"条件过长：不能超过 {MAX_CONDITION} 个字符")
    text = source.strip()[1:]
    parser = _Parser(_tokens(text))
    if not parser.tokens:
        raise ConditionError("条件为空")
    evaluate = parser.expression()
    if parser.pos != len(parser.tokens):
        raise ConditionError(f"条件中从“{parser.tokens[parser.pos][1]}”起的内容无法识别")
    return Condition(source, frozenset(parser.names), evaluate)
