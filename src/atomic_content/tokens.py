"""Personalization tokens: the safe template subset, its linter and its sandboxed renderer.

Contract
--------
Atom texts and layouts may contain *tokens* such as ``{{ customer.first_name | default("there") }}``
or ``{% if customer.vip %}...{% endif %}``. Tokens are a deliberately small subset of Jinja2:

* values: ``customer.<attribute>`` (dotted, e.g. ``customer.address.country``), ``brand.<field>``,
  ``slots.<slot>.<field>``, written with ``.name`` or ``["name"]``, and string, number, boolean
  and ``none`` constants;
* the filters in :data:`ALLOWED_FILTERS` and nothing else;
* ``{% if %}`` / ``{% elif %}`` / ``{% else %}``, comparisons, ``and`` / ``or`` / ``not``, the
  inline ``a if b else c`` and the tests ``is defined`` / ``is none``.

Everything else -- calls, arithmetic, ``~``, loops, assignments, includes, macros, blocks, raw
blocks, list or dict literals, attributes starting with ``_`` -- is refused.

Messages are *assembled* at build time into a variant template (layout plus atom texts, tokens
still in) and *rendered* once per customer at send time. This module serves both phases:

* :func:`lint_template` parses (never renders) a source and reports every violation as a
  :class:`TokenProblem` with a 1-based line and column and a hint written for content editors.
* :func:`protect_tokens` / :func:`restore_tokens` hide tokens behind ASCII placeholders while
  Markdown or MJML conversion runs, then put them back byte for byte.
* :class:`TokenEnvironment` compiles a variant template once (refusing anything outside the
  subset again -- defence in depth for sources that skipped lint) and
  :meth:`CompiledTemplate.render` renders it in an immutable Jinja2 sandbox with
  ``StrictUndefined``, no globals, only the allowlisted filters and no arithmetic at all.

Customer values are data: they are inserted at render time and are never parsed as template or
Markdown syntax. In ``html`` mode they are HTML-escaped, in ``json`` mode escaped for the inside
of a JSON string literal, in ``header`` mode refused when they could inject or spoof a header,
in ``text`` mode inserted as they are. Render errors (:class:`~atomic_content.errors.RenderError`)
name the customer and the attribute, never the value.
"""

from __future__ import annotations

import bisect
import datetime as dt
import difflib
import functools
import re
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext
from json.encoder import encode_basestring
from typing import Any, Final, Literal

import babel
import babel.dates
import babel.numbers
from jinja2 import Environment, nodes
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.runtime import Context, StrictUndefined, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from atomic_content.errors import RenderError, UsageError

__all__ = [
    "ALLOWED_FILTERS",
    "NUMBER_TOO_LARGE_HINT",
    "ROOTS",
    "AttributeInfo",
    "CompiledTemplate",
    "TokenEnvironment",
    "TokenProblem",
    "build_customer_context",
    "check_header_value",
    "customer_paths",
    "filtered_paths",
    "lint_template",
    "number_too_large_message",
    "protect_tokens",
    "required_customer_paths",
    "restore_tokens",
    "too_large_integer",
]

ROOTS: Final = frozenset({"customer", "brand", "slots"})
"""The only variable names a token may start with."""

ALLOWED_FILTERS: Final = frozenset(
    {
        "default",
        "d",
        "upper",
        "lower",
        "title",
        "capitalize",
        "trim",
        "truncate",
        "urlencode",
        "number",
        "currency",
        "date",
        "percent",
    }
)
"""Filters a token may use; the sandbox installs exactly these."""

_DEFAULT_FILTERS: Final = frozenset({"default", "d"})
_LOCALE_FILTERS: Final = frozenset({"number", "currency", "date", "percent"})
"""Filters that refuse a value of the wrong kind at render time (``render.bad_value``)."""
_ALLOWED_TESTS: Final = frozenset({"defined", "none"})

# The example every hint points to: what a correct token looks like.
_EXAMPLE = '{{ customer.first_name | default("there") }}'


@dataclass(frozen=True)
class AttributeInfo:
    """What the content knows about one customer attribute.

    ``type`` is one of ``string``, ``integer``, ``number``, ``boolean``, ``date``, ``datetime``,
    ``list``; ``optional`` says that some customers do not have it, so every use needs a
    ``default``.
    """

    type: str
    optional: bool


@dataclass(frozen=True)
class TokenProblem:
    """One problem with the tokens of a template source.

    ``line`` and ``col`` are 1-based positions inside the source that was linted; ``code`` is
    stable (``token.syntax``, ``token.not_allowed`` ...); ``hint`` tells a content editor how to
    fix it.
    """

    line: int
    col: int
    code: str
    message: str
    hint: str


# --------------------------------------------------------------------------------------------
# Lexing with positions
# --------------------------------------------------------------------------------------------

# Used only to lex and parse. Nothing is ever rendered with it.
_PARSE_ENV: Final = Environment()

_Path = tuple[str, ...]  # (root, part, part, ...)
_Pattern = tuple[str, "str | frozenset[str] | None"]


@dataclass(frozen=True, slots=True)
class _Lexeme:
    line: int
    col: int
    kind: str
    value: str


def _normalize_newlines(source: str) -> str:
    # Jinja's lexer normalizes newlines too; doing it first keeps offsets comparable.
    return source.replace("\r\n", "\n").replace("\r", "\n")


def _line_starts(text: str) -> list[int]:
    starts = [0]
    starts.extend(m.end() for m in re.finditer("\n", text))
    return starts


def _line_col(starts: Sequence[int], offset: int) -> tuple[int, int]:
    index = bisect.bisect_right(starts, offset) - 1
    return index + 1, offset - starts[index] + 1


def _lex(source: str, env: Environment | None = None) -> list[_Lexeme]:
    """Jinja lexemes of ``env`` (default: the token environment's) with their 1-based line and
    column (whitespace dropped).

    Jinja's lexer reports lines only; columns are recovered by finding each raw lexeme in the
    source after the previous one. Stops quietly at a lexing error (the parser reports it).
    Never converts a literal, so it works on any text the parser would refuse.
    """
    starts = _line_starts(source)
    lexemes: list[_Lexeme] = []
    offset = 0
    try:
        for _lineno, kind, value in (env or _PARSE_ENV).lexer.tokeniter(source, None):
            found = source.find(value, offset) if value else offset
            if found < 0:
                continue
            offset = found + len(value)
            if kind == "whitespace":
                continue
            line, col = _line_col(starts, found)
            lexemes.append(_Lexeme(line, col, kind, value))
    except TemplateSyntaxError:
        pass
    return lexemes


def _matches(lexeme: _Lexeme, pattern: _Pattern) -> bool:
    kind, value = pattern
    if lexeme.kind != kind:
        return False
    if value is None:
        return True
    if isinstance(value, str):
        return lexeme.value == value
    return lexeme.value in value


# --------------------------------------------------------------------------------------------
# The linter: one walk over the Jinja AST
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rules:
    attributes: Mapping[str, AttributeInfo]
    brand_fields: frozenset[str]
    slot_fields: Mapping[str, frozenset[str]]
    readable_slot_fields: Mapping[str, frozenset[str]] | None = None


@dataclass(frozen=True, slots=True)
class _PathUse:
    path: _Path
    guarded: bool  # has a default, is the operand of a test, or sits under an `is defined` guard


@dataclass(frozen=True)
class _Analysis:
    problems: tuple[TokenProblem, ...]
    uses: tuple[_PathUse, ...]
    syntax_ok: bool
    # (filter, path) for every path read in the value a locale filter formats, in source
    # order: so a value the filter refuses at render time can be named by its attribute.
    filtered: tuple[tuple[str, _Path], ...] = ()


_STATEMENT_KEYWORDS: Final[Mapping[type[nodes.Node], str]] = {
    nodes.For: "for",
    nodes.Macro: "macro",
    nodes.CallBlock: "call",
    nodes.FilterBlock: "filter",
    nodes.With: "with",
    nodes.Block: "block",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from",
    nodes.Extends: "extends",
    nodes.Assign: "set",
    nodes.AssignBlock: "set",
    nodes.ScopedEvalContextModifier: "autoescape",
    nodes.EvalContextModifier: "autoescape",
    nodes.ExprStmt: "do",
    nodes.Continue: "continue",
    nodes.Break: "break",
}

_COLLECTION_OPENERS: Final[Mapping[type[nodes.Node], str]] = {
    nodes.List: "[",
    nodes.Dict: "{",
    nodes.Tuple: "(",
    nodes.Slice: ":",
}

_ONLY_IF_HINT = (
    "only {% if %}, {% elif %}, {% else %} and {% endif %} are allowed around text; "
    "ask a developer if you need more"
)
_VALUE_HINT = (
    f"a token can only show a customer, brand or slot value, optionally with filters, "
    f"for example {_EXAMPLE}"
)


def _written(node: nodes.Node) -> str | None:
    """``customer.first_name`` for a plain dotted access, else None."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        base = _written(node.node)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _string_key(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return node.value
    return None


def _static_path(node: nodes.Node) -> _Path | None:
    """The dotted path of ``name.a["b"].c``-style access, or None for anything else."""
    parts: list[str] = []
    current = node
    while True:
        if isinstance(current, nodes.Getattr):
            parts.append(current.attr)
            current = current.node
        elif isinstance(current, nodes.Getitem) and _string_key(current.arg) is not None:
            key = _string_key(current.arg)
            assert key is not None
            parts.append(key)
            current = current.node
        else:
            break
    if not isinstance(current, nodes.Name):
        return None
    return (current.name, *reversed(parts))


def _proven_defined(test: nodes.Node) -> frozenset[_Path]:
    """Paths that are certainly defined when ``test`` is true (``x is defined [and ...]``)."""
    if isinstance(test, nodes.Test) and test.name == "defined":
        path = _static_path(test.node)
        return frozenset({path}) if path is not None else frozenset()
    if isinstance(test, nodes.And):
        return _proven_defined(test.left) | _proven_defined(test.right)
    return frozenset()


def _known(names: Iterable[str], limit: int = 12) -> str:
    """A short, sorted list of names for a hint (long lists are cut)."""
    ordered = sorted(names)
    if not ordered:
        return "none"
    shown = ", ".join(ordered[:limit])
    return shown if len(ordered) <= limit else f"{shown} and {len(ordered) - limit} more"


def _did_you_mean(word: str, candidates: Iterable[str]) -> str:
    match = difflib.get_close_matches(word, sorted(candidates), n=1)
    return f"did you mean {match[0]!r}? " if match else ""


class _Walker:
    """Walks a parsed template in source order, collecting problems and path uses.

    Jinja nodes carry a line but no column, so every node that can be at fault is *anchored* to
    the lexeme that spelled it: the walk visits nodes in source order and a cursor moves through
    the lexemes, which tells apart two equal names on one line.
    """

    def __init__(self, lexemes: list[_Lexeme], rules: _Rules | None) -> None:
        self._lex = lexemes
        self._rules = rules
        self._cursor = 0
        self._line_first: dict[int, int] = {}
        for index, lexeme in enumerate(lexemes):
            self._line_first.setdefault(lexeme.line, index)
        self._guards: list[frozenset[_Path]] = []
        self.problems: list[TokenProblem] = []
        self.uses: list[_PathUse] = []
        self.filtered: list[tuple[str, _Path]] = []

    # -- positions ---------------------------------------------------------------------------

    def _search(self, start: int, line: int, pattern: Sequence[_Pattern], pick: int) -> int | None:
        lex = self._lex
        for index in range(start, len(lex) - len(pattern) + 1):
            anchor_line = lex[index + pick].line
            if anchor_line > line:
                return None
            if anchor_line < line:
                continue
            if all(_matches(lex[index + k], pat) for k, pat in enumerate(pattern)):
                return index
        return None

    def _anchor(self, line: int, pattern: Sequence[_Pattern], pick: int = 0) -> tuple[int, int]:
        index = self._search(self._cursor, line, pattern, pick)
        if index is None:
            # The walk order and the source order disagreed: look again from the line start.
            index = self._search(self._line_first.get(line, len(self._lex)), line, pattern, pick)
        if index is None:
            return line, self._fallback_col(line)
        self._cursor = index + len(pattern)
        lexeme = self._lex[index + pick]
        return lexeme.line, lexeme.col

    def _line(self, node: nodes.Node) -> int:
        # A few statement nodes (autoescape) come without a line: use the cursor's.
        if node.lineno:
            return node.lineno
        if self._cursor < len(self._lex):
            return self._lex[self._cursor].line
        return self._lex[-1].line if self._lex else 1

    def _here(self, node: nodes.Node) -> tuple[int, int]:
        line = self._line(node)
        return line, self._fallback_col(line)

    def _fallback_col(self, line: int) -> int:
        for lexeme in self._lex[self._line_first.get(line, len(self._lex)) :]:
            if lexeme.line != line:
                break
            if lexeme.kind in ("variable_begin", "block_begin"):
                return lexeme.col
        return 1

    # -- reporting ---------------------------------------------------------------------------

    def _problem(self, where: tuple[int, int], code: str, message: str, hint: str) -> None:
        self.problems.append(TokenProblem(where[0], where[1], code, message, hint))

    # -- the walk ----------------------------------------------------------------------------

    def walk(self, template: nodes.Template) -> None:
        for lexeme in self._lex:
            # Raw blocks never reach the AST (they become plain text), so find them here.
            if lexeme.kind == "raw_begin":
                self._problem(
                    (lexeme.line, lexeme.col),
                    "token.not_allowed",
                    "{% raw %} blocks are not allowed",
                    "remove {% raw %} and {% endraw %}; write the text directly",
                )
        for child in template.body:
            self.visit(child)

    def visit(self, node: nodes.Node, operand: str | None = None) -> None:
        """Visit one node. ``operand`` is "default" or "test" when the parent guards it."""
        if isinstance(node, nodes.Output):
            for child in node.nodes:
                self.visit(child)
        elif isinstance(node, nodes.TemplateData):
            return
        elif isinstance(node, nodes.If):
            self._visit_if(node, "if")
        elif isinstance(node, nodes.Getitem) and _string_key(node.arg) is None:
            self.visit(node.node)
            where = self._anchor(self._line(node), [("operator", "[")])
            self._problem(
                where,
                "token.not_allowed",
                "only names in quotes may be used inside [ ]",
                'write customer.field or customer["field"]; ' + _VALUE_HINT,
            )
        elif isinstance(node, (nodes.Name, nodes.Getattr, nodes.Getitem)):
            self._visit_access(node, operand)
        elif isinstance(node, nodes.Const):
            if node.value is not None and not isinstance(node.value, (str, int, float, bool)):
                self._problem(
                    self._here(node),
                    "token.not_allowed",
                    "this kind of value is not allowed in a token",
                    _VALUE_HINT,
                )
        elif isinstance(node, nodes.Filter):
            self._visit_filter(node)
        elif isinstance(node, nodes.Test):
            self._visit_test(node)
        elif isinstance(node, nodes.Compare):
            self.visit(node.expr)
            for op in node.ops:
                self.visit(op.expr)
        elif isinstance(node, nodes.And):
            self.visit(node.left)
            # `a is defined and a == "x"`: the right side runs only when the left is true.
            self._guards.append(_proven_defined(node.left))
            self.visit(node.right)
            self._guards.pop()
        elif isinstance(node, nodes.Or):
            self.visit(node.left)
            self.visit(node.right)
        elif isinstance(node, nodes.Not):
            self.visit(node.node, operand)
        elif isinstance(node, nodes.CondExpr):
            self._visit_condexpr(node)
        elif isinstance(node, nodes.Call):
            self._visit_call(node)
        elif isinstance(node, nodes.BinExpr):
            self.visit(node.left)
            where = self._anchor(self._line(node), [("operator", node.operator)])
            self._problem(
                where,
                "token.not_allowed",
                f"calculations ({node.operator}) are not allowed in tokens",
                "ask a developer for an attribute that already holds the result; " + _VALUE_HINT,
            )
            self.visit(node.right)
        elif isinstance(node, nodes.UnaryExpr):
            where = self._anchor(self._line(node), [("operator", node.operator)])
            self._problem(
                where,
                "token.not_allowed",
                f"calculations ({node.operator}) are not allowed in tokens",
                _VALUE_HINT,
            )
            self.visit(node.node)
        elif isinstance(node, nodes.Concat):
            self._visit_concat(node)
        elif isinstance(node, nodes.Stmt):
            self._visit_statement(node)
        else:
            opener = _COLLECTION_OPENERS.get(type(node))
            where = (
                self._anchor(self._line(node), [("operator", opener)])
                if opener is not None
                else self._here(node)
            )
            self._problem(
                where,
                "token.not_allowed",
                f"this is not allowed in a token ({type(node).__name__})",
                _VALUE_HINT,
            )

    def _visit_if(self, node: nodes.If, keyword: str) -> None:
        self._anchor(self._line(node), [("block_begin", None), ("name", keyword)], pick=1)
        self.visit(node.test)
        self._guards.append(_proven_defined(node.test))
        for child in node.body:
            self.visit(child)
        self._guards.pop()
        for branch in node.elif_:
            self._visit_if(branch, "elif")
        for child in node.else_:
            self.visit(child)

    def _visit_condexpr(self, node: nodes.CondExpr) -> None:
        # Source order is `expr1 if test else expr2`.
        self._guards.append(_proven_defined(node.test))
        self.visit(node.expr1)
        self._guards.pop()
        where = self._anchor(self._line(node), [("name", "if")])
        self.visit(node.test)
        if node.expr2 is None:
            # Without `else` Jinja yields an undefined value, which fails at send time.
            self._problem(
                where,
                "token.not_allowed",
                "an inline `if` needs an `else` part",
                'write it as {{ "Gold member" if customer.vip else "" }}',
            )
        else:
            self.visit(node.expr2)

    def _visit_call(self, node: nodes.Call) -> None:
        callee = node.node
        base = _written(callee.node) if isinstance(callee, nodes.Getattr) else None
        if isinstance(callee, nodes.Getattr) and base is not None:
            # `customer.first_name.upper()`: a method on a value; the filter is the way.
            self.visit(callee.node)
            where = self._anchor(
                self._line(callee), [("operator", "."), ("name", callee.attr)], pick=1
            )
            self._anchor(self._line(node), [("operator", "(")])
            allowed = callee.attr in ALLOWED_FILTERS
            self._problem(
                where,
                "token.call_not_allowed",
                f"{callee.attr}() is a method call; tokens use filters, not methods",
                f"filters, not methods: `{{{{ {base} | {callee.attr} }}}}`"
                if allowed
                else f"filters, not methods; allowed filters: {', '.join(sorted(ALLOWED_FILTERS))}",
            )
        else:
            self.visit(callee)
            where = self._anchor(self._line(node), [("operator", "(")])
            self._problem(
                where,
                "token.call_not_allowed",
                "calling functions or methods is not allowed in tokens",
                "use a filter instead, for example {{ customer.first_name | upper }}; "
                + _VALUE_HINT,
            )
        for arg in node.args:
            self.visit(arg)
        for keyword in node.kwargs:
            self.visit(keyword.value)

    def _visit_concat(self, node: nodes.Concat) -> None:
        for index, child in enumerate(node.nodes):
            if index == 1:
                where = self._anchor(self._line(node), [("operator", "~")])
                self._problem(
                    where,
                    "token.not_allowed",
                    "joining values with ~ is not allowed in tokens",
                    "write two tokens next to each other: {{ customer.first_name }} "
                    "{{ customer.last_name }}",
                )
            self.visit(child)

    def _visit_statement(self, node: nodes.Stmt) -> None:
        keyword = _STATEMENT_KEYWORDS.get(type(node))
        if keyword is None:
            where = self._here(node)
            label = type(node).__name__
        else:
            where = self._anchor(self._line(node), [("block_begin", None), ("name", keyword)])
            label = "{% " + keyword + " %}"
        # Nothing inside a refused statement is visited: one problem per statement is enough.
        self._problem(where, "token.not_allowed", f"{label} is not allowed", _ONLY_IF_HINT)

    def _visit_filter(self, node: nodes.Filter) -> None:
        if node.node is not None:
            first = len(self.uses)
            self.visit(node.node, "default" if node.name in _DEFAULT_FILTERS else None)
            if node.name in _LOCALE_FILTERS:
                self.filtered.extend((node.name, use.path) for use in self.uses[first:])
        where = self._anchor(self._line(node), [("operator", "|"), ("name", node.name)], pick=1)
        if node.name not in ALLOWED_FILTERS:
            self._problem(
                where,
                "token.filter_not_allowed",
                f"the filter {node.name!r} is not allowed",
                _did_you_mean(node.name, ALLOWED_FILTERS)
                + "allowed filters: "
                + ", ".join(sorted(ALLOWED_FILTERS)),
            )
        self._visit_arguments(node)

    def _visit_test(self, node: nodes.Test) -> None:
        self.visit(node.node, "test")
        where = self._anchor(self._line(node), [("name", node.name)])
        if node.name not in _ALLOWED_TESTS:
            self._problem(
                where,
                "token.not_allowed",
                f"the test `is {node.name}` is not allowed",
                "only `is defined` and `is none` (and their `is not` forms) are allowed, "
                "for example {% if customer.nickname is defined %}",
            )
        self._visit_arguments(node)

    def _visit_arguments(self, node: nodes.Filter | nodes.Test) -> None:
        for arg in node.args:
            self.visit(arg)
        for keyword in node.kwargs:
            self.visit(keyword.value)
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            self._problem(
                self._here(node),
                "token.not_allowed",
                "* and ** arguments are not allowed",
                _VALUE_HINT,
            )

    def _visit_access(
        self, node: nodes.Name | nodes.Getattr | nodes.Getitem, operand: str | None
    ) -> None:
        # Unwind a.b["c"].d into its base and its segments, then visit them in source order.
        segments: list[tuple[str, nodes.Getattr | nodes.Getitem]] = []
        current: nodes.Node = node
        while True:
            if isinstance(current, nodes.Getattr):
                segments.append((current.attr, current))
                current = current.node
            elif isinstance(current, nodes.Getitem) and _string_key(current.arg) is not None:
                key = _string_key(current.arg)
                assert key is not None
                segments.append((key, current))
                current = current.node
            else:
                break
        segments.reverse()

        if isinstance(current, nodes.Name):
            start = self._anchor(self._line(current), [("name", current.name)])
            private, _ = self._anchor_segments(segments)
            if current.name not in ROOTS:
                self._unknown_variable(current.name, start)
            elif not private:
                path: _Path = (current.name, *(key for key, _ in segments))
                guarded = operand is not None or any(path in g for g in self._guards)
                self.uses.append(_PathUse(path, guarded))
                self._check_path(path, start, guarded, operand)
            return

        before = len(self.problems)
        self.visit(current)
        private, where = self._anchor_segments(segments)
        if not private and len(self.problems) == before:
            self._problem(
                where or self._here(node),
                "token.not_allowed",
                "only customer, brand and slots have attributes",
                _VALUE_HINT,
            )

    def _anchor_segments(
        self, segments: Sequence[tuple[str, nodes.Getattr | nodes.Getitem]]
    ) -> tuple[bool, tuple[int, int] | None]:
        """Anchor each `.name` / `["name"]` and report private ones.

        Returns whether any was private, and the position of the first segment.
        """
        private = False
        first: tuple[int, int] | None = None
        for key, segment in segments:
            if isinstance(segment, nodes.Getattr):
                where = self._anchor(
                    self._line(segment), [("operator", "."), ("name", key)], pick=1
                )
            else:
                where = self._anchor(
                    self._line(segment), [("operator", "["), ("string", None)], pick=1
                )
            first = first or where
            if key.startswith("_"):
                private = True
                self._problem(
                    where,
                    "token.private_attribute",
                    f"names starting with _ are not allowed ({key!r})",
                    _VALUE_HINT,
                )
        return private, first

    def _unknown_variable(self, name: str, where: tuple[int, int]) -> None:
        hint = _did_you_mean(name, ROOTS)
        if self._rules is not None and name in self._rules.attributes:
            hint = f"customer attributes are written with customer. in front: customer.{name}; "
        self._problem(
            where,
            "token.unknown_variable",
            f"unknown name {name!r}: tokens start with customer, brand or slots",
            hint + _VALUE_HINT,
        )

    def _check_path(
        self, path: _Path, where: tuple[int, int], guarded: bool, operand: str | None
    ) -> None:
        rules = self._rules
        if rules is None:
            return  # structural check only (compile time): names are not known here
        root, parts = path[0], path[1:]
        dotted = ".".join(parts)
        written = ".".join(path)
        if root == "customer":
            attributes = rules.attributes
            if dotted in attributes:
                if attributes[dotted].optional and not guarded:
                    self._problem(
                        where,
                        "token.missing_default",
                        f"not every customer has {written}, and this token has no fallback",
                        f'add a fallback: {{{{ {written} | default("...") }}}}',
                    )
                return
            group = sorted(k for k in attributes if dotted and k.startswith(dotted + "."))
            if group and operand == "test":
                return  # `customer.address is defined` is a fine question to ask
            if group:
                hint = "use one of its fields: " + ", ".join(f"customer.{k}" for k in group)
            elif not parts:
                hint = "name an attribute, for example customer.first_name"
            else:
                hint = _did_you_mean(dotted, attributes) + f"known attributes: {_known(attributes)}"
            message = (
                f"{written} is not a known customer attribute"
                if parts
                else "customer on its own is not a value"
            )
            self._problem(where, "token.unknown_attribute", message, hint)
        elif root == "brand":
            if dotted not in rules.brand_fields:
                self._problem(
                    where,
                    "token.unknown_brand_field",
                    f"{written} is not a known brand field",
                    _did_you_mean(dotted, rules.brand_fields)
                    + f"known brand fields: {_known(rules.brand_fields)}",
                )
        else:
            slots = rules.slot_fields
            if not parts or parts[0] not in slots:
                self._problem(
                    where,
                    "token.unknown_slot",
                    f"{written} does not name a known slot",
                    _did_you_mean(parts[0] if parts else "", slots)
                    + f"known slots: {_known(slots)}; write slots.<slot>.<field>",
                )
            elif len(parts) != 2 or parts[1] not in slots[parts[0]]:
                fields = slots[parts[0]]
                self._problem(
                    where,
                    "token.unknown_slot_field",
                    f"{written} is not a known field of slot {parts[0]!r}",
                    _did_you_mean(parts[1] if len(parts) > 1 else "", fields)
                    + f"known fields: {_known(fields)}",
                )
            elif rules.readable_slot_fields is not None and parts[1] not in (
                rules.readable_slot_fields.get(parts[0], frozenset())
            ):
                readable = sorted(
                    f"slots.{slot}.{name}"
                    for slot, names in rules.readable_slot_fields.items()
                    for name in names
                )
                self._problem(
                    where,
                    "token.slot_field_not_allowed",
                    f"{written} cannot be shown here: that field may hold tokens of its own, "
                    "which would be printed as written",
                    f"here tokens can read only {_known(readable)}; write the text itself",
                )


def _syntax_col(source: str, line: int) -> int:
    """Best-effort column of the tag at fault on ``line`` (1 if none)."""
    lines = source.split("\n")
    if not 1 <= line <= len(lines):
        return 1
    text = lines[line - 1]
    openers = [m.start() for m in re.finditer(r"\{[{%]", text)]
    for start in openers:
        if text.startswith("{{", start):
            end = _tag_end(text, start)
            if end is None:
                return start + 1
            try:
                _PARSE_ENV.parse(text[start:end])
            except (TemplateSyntaxError, ValueError):  # ValueError: see _too_large_number
                return start + 1
    return openers[0] + 1 if openers else 1


def _unreadable_integer(written: str) -> bool:
    """Whether Jinja's integer literal ``written`` is too large to use: Jinja converts it with
    ``int(..., 0)``, which refuses a decimal one past Python's digit limit (ValueError from the
    parser, not a syntax error), and the compiled template prints it, which fails for a
    hexadecimal, octal or binary one whose decimal form is that long."""
    try:
        value = int(written.replace("_", ""), 0)
        str(value)
    except ValueError:
        return True
    return False


NUMBER_TOO_LARGE_HINT: Final = "write a smaller number, or text in quotes"


def number_too_large_message() -> str:
    """The message of a number literal too large to use (tokens, layouts and YAML agree)."""
    limit = sys.get_int_max_str_digits()
    return f"this number is too large: written out, it has more than {limit:,} digits"


def too_large_integer(source: str, env: Environment | None = None) -> tuple[int, int] | None:
    """(line, column) of the first integer literal in the tags of ``source`` that is too large
    to use (see :func:`_unreadable_integer`), lexed as ``env`` (default: the token
    environment) lexes it; None when there is none. Parsing or compiling such a template
    raises ValueError, so callers check this first."""
    found = _too_large_number(_lex(source, env))
    return (found.line, found.col) if found is not None else None


def _too_large_number(lexemes: Sequence[_Lexeme]) -> TokenProblem | None:
    """``token.number_too_large`` at the first integer literal too large to use, if any."""
    for lexeme in lexemes:
        # 500 hexadecimal digits are at most 603 decimal ones: under the lowest digit limit
        # Python can be set to (640), so a shorter literal needs no conversion to tell.
        if (
            lexeme.kind == "integer"
            and len(lexeme.value) > 500
            and _unreadable_integer(lexeme.value)
        ):
            return TokenProblem(
                lexeme.line,
                lexeme.col,
                "token.number_too_large",
                number_too_large_message(),
                NUMBER_TOO_LARGE_HINT,
            )
    return None


def _analyse(source: str, rules: _Rules | None) -> _Analysis:
    source = _normalize_newlines(source)
    lexemes = _lex(source)
    too_large = _too_large_number(lexemes)
    if too_large is not None:  # neither parsed nor compiled: both would raise ValueError
        return _Analysis((too_large,), (), syntax_ok=False)
    try:
        template = _PARSE_ENV.parse(source)
    except TemplateSyntaxError as exc:
        line = exc.lineno or 1
        problem = TokenProblem(
            line,
            _syntax_col(source, line),
            "token.syntax",
            f"this token cannot be read: {(exc.message or 'syntax error').rstrip('.')}",
            "check that every {{ has a matching }}, every {% if %} an {% endif %}, and that "
            f"quotes are closed; a correct token looks like {_EXAMPLE}",
        )
        return _Analysis((problem,), (), syntax_ok=False)
    walker = _Walker(lexemes, rules)
    walker.walk(template)
    problems = sorted(walker.problems, key=lambda p: (p.line, p.col))
    return _Analysis(
        tuple(problems), tuple(walker.uses), syntax_ok=True, filtered=tuple(walker.filtered)
    )


_NO_TOKENS: Final = _Analysis((), (), syntax_ok=True)


def _structure(source: str) -> _Analysis:
    """What ``source`` reads and which tokens break the subset, without any declared names.

    Text without a Jinja opener (``{{``, ``{%``, ``{#``) holds no token, so it is not parsed
    (JSON and HTML parts are full of single braces); the rest is memoized by source text: a
    build asks about the same atom texts in the static check, the privacy check, the plan and
    the renderers.
    """
    if not has_template_syntax(source):
        return _NO_TOKENS
    return _structure_of(source)


def has_template_syntax(source: str) -> bool:
    """Whether ``source`` holds any Jinja syntax: without ``{{``, ``{%`` or ``{#`` (line
    statements are off) Jinja reads it all as text."""
    return "{" in source and ("{{" in source or "{%" in source or "{#" in source)


@functools.lru_cache(maxsize=32_768)
def _structure_of(source: str) -> _Analysis:
    return _analyse(source, None)


def lint_template(
    source: str,
    attributes: Mapping[str, AttributeInfo],
    *,
    brand_fields: frozenset[str],
    slot_fields: Mapping[str, frozenset[str]],
    readable_slot_fields: Mapping[str, frozenset[str]] | None = None,
) -> list[TokenProblem]:
    """Check the tokens of ``source`` against the safe subset and the declared names.

    ``attributes`` maps dotted customer attribute paths (``"address.country"``) to their info;
    ``brand_fields`` are the usable ``brand.X`` names; ``slot_fields`` maps slot names to their
    fields (``slots.S.F``). When ``readable_slot_fields`` is given (atom texts: slot values reach
    their tokens as plain data, so a field that may hold tokens would print them as written), a
    known slot field outside it is refused with ``token.slot_field_not_allowed``.

    Returns every problem found, ordered by position (empty when the source is fine). A syntax
    error is reported alone (``token.syntax``), since nothing else can be checked then. Never
    renders and never raises for bad content.
    """
    if "{" not in source:
        return []  # no token can be written without one (fast path: most texts are plain)
    rules = _Rules(attributes, frozenset(brand_fields), slot_fields, readable_slot_fields)
    return list(_analyse(source, rules).problems)


def customer_paths(source: str) -> frozenset[str]:
    """Dotted customer attribute paths used in ``source`` (``"address.country"``).

    Returns an empty set when ``source`` has a syntax error (lint reports it).
    """
    return frozenset(
        ".".join(use.path[1:])
        for use in _structure(source).uses
        if use.path[0] == "customer" and len(use.path) > 1
    )


def filtered_paths(source: str) -> frozenset[str]:
    """Dotted customer attribute paths whose values ``source`` formats with ``number``,
    ``currency``, ``percent`` or ``date``: the attributes a ``render.bad_value`` can be about.

    Returns an empty set when ``source`` has a syntax error (lint reports it).
    """
    return frozenset(
        ".".join(path[1:])
        for _name, path in _structure(source).filtered
        if path[0] == "customer" and len(path) > 1
    )


def uses_whole_customer(source: str) -> bool:
    """Whether ``source`` reads ``customer`` itself rather than named attributes of it."""
    return any(use.path == ("customer",) for use in _structure(source).uses)


def required_customer_paths(source: str) -> frozenset[str]:
    """Customer paths whose absence makes rendering fail.

    That is every use without a ``default`` filter applied directly, that is not the operand of
    an ``is defined`` / ``is none`` test, and that is not inside ``{% if <path> is defined %}``
    (or the ``a if <path> is defined else b`` form) for that same path.
    """
    return frozenset(
        ".".join(use.path[1:])
        for use in _structure(source).uses
        if use.path[0] == "customer" and len(use.path) > 1 and not use.guarded
    )


# --------------------------------------------------------------------------------------------
# Protecting tokens through Markdown / HTML / MJML
# --------------------------------------------------------------------------------------------

_PLACEHOLDER_PREFIX: Final = "atmtk"
_OPENER_RE: Final = re.compile(r"\{[{%#]")
_CLOSERS: Final = {"{{": "}}", "{%": "%}", "{#": "#}"}


def _tag_end(text: str, start: int) -> int | None:
    """End offset (exclusive) of the tag opening at ``start``, or None if it never closes.

    Quoted strings inside ``{{ }}`` and ``{% %}`` are skipped the way Jinja's lexer does, so
    ``default("}}")`` does not end the token early.
    """
    opener = text[start : start + 2]
    closer = _CLOSERS[opener]
    if opener == "{#":
        end = text.find(closer, start + 2)
        return None if end < 0 else end + 2
    index = start + 2
    length = len(text)
    while index < length:
        char = text[index]
        if char in "\"'":
            index += 1
            while index < length and text[index] != char:
                index += 2 if text[index] == "\\" else 1
            index += 1
        elif text.startswith(closer, index):
            return index + 2
        else:
            index += 1
    return None


def _token_spans(text: str) -> Iterator[tuple[int, int]]:
    position = 0
    while True:
        match = _OPENER_RE.search(text, position)
        if match is None:
            return
        end = _tag_end(text, match.start())
        if end is None:
            return  # an unclosed tag: leave the rest alone, lint reports it
        yield match.start(), end
        position = end


@dataclass(frozen=True)
class _Protected:
    text: str
    mapping: dict[str, str]
    # (protected_start, protected_end, original_start, original_end) for every placeholder
    spans: tuple[tuple[int, int, int, int], ...]

    def original_offset(self, offset: int) -> int:
        """Map an offset in the protected text back to the original text."""
        index = bisect.bisect_right([s[0] for s in self.spans], offset) - 1
        if index < 0:
            return offset
        _, p_end, o_start, o_end = self.spans[index]
        if offset < p_end:
            return o_start
        return offset - p_end + o_end


def _choose_prefix(text: str) -> str:
    # The prefix never occurs in the text (case-insensitively) and has no border (no proper
    # prefix equal to a suffix), so every occurrence in the protected text is a placeholder.
    prefix = _PLACEHOLDER_PREFIX
    lowered = text.lower()
    while prefix in lowered:
        prefix += "q"
    return prefix


def _protect(text: str) -> _Protected:
    prefix = _choose_prefix(text)
    pieces: list[str] = []
    mapping: dict[str, str] = {}
    spans: list[tuple[int, int, int, int]] = []
    position = 0
    length = 0
    for number, (start, end) in enumerate(_token_spans(text)):
        placeholder = f"{prefix}{number:06d}z"
        literal = text[position:start]
        pieces.append(literal)
        length += len(literal)
        pieces.append(placeholder)
        spans.append((length, length + len(placeholder), start, end))
        length += len(placeholder)
        mapping[placeholder] = text[start:end]
        position = end
    pieces.append(text[position:])
    return _Protected("".join(pieces), mapping, tuple(spans))


def protect_tokens(text: str) -> tuple[str, dict[str, str]]:
    """Replace every ``{{ ... }}``, ``{% ... %}`` (and ``{# ... #}``) with a placeholder.

    Placeholders are ASCII letters and digits (``atmtk000000z``, ``atmtk000001z`` ...) so that
    Markdown, HTML escaping and MJML leave them alone. If the text already contains the prefix,
    a longer prefix is chosen, so a placeholder never collides with existing text.

    Returns the protected text and the placeholder -> original token mapping; an unclosed tag
    and everything after it is left as it is. Guarantees
    ``restore_tokens(*protect_tokens(x)) == x``.
    """
    protected = _protect(text)
    return protected.text, protected.mapping


def restore_tokens(text: str, mapping: Mapping[str, str]) -> str:
    """Put the original tokens back in place of their placeholders (inverse of protect)."""
    if not mapping:
        return text
    pattern = re.compile("|".join(re.escape(k) for k in sorted(mapping, key=len, reverse=True)))
    return pattern.sub(lambda m: mapping[m.group(0)], text)


# --------------------------------------------------------------------------------------------
# Customer context and header safety
# --------------------------------------------------------------------------------------------


class _Drop:
    """Marker for a value that cannot be handed to a template."""


_DROP: Final = _Drop()


def _plain_value(value: Any) -> Any:
    """A plain copy of an *untrusted* value, or ``_DROP``.

    ``str`` subclasses (``Markup`` above all, which autoescape would trust) become plain ``str``;
    lists keep their plain scalar items; mappings and other objects are dropped, so no model
    object and no undeclared key ever reaches a template.
    """
    if value is None or isinstance(value, (bool, Decimal, dt.date, dt.time)):
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (list, tuple)):
        items = [_plain_value(item) for item in value if not isinstance(item, Mapping)]
        return [item for item in items if item is not _DROP]
    return _DROP


def _lookup(attributes: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    if path in attributes:  # a flat record: {"address.country": "DE"}
        return True, attributes[path]
    current: Any = attributes
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return False, None
        current = current[part]
    return True, current


@functools.lru_cache(maxsize=64)
def _context_plan(declared: frozenset[str]) -> tuple[tuple[str, list[str]], ...]:
    """Declared paths in order with their parts, bad names left out (computed once per set:
    this runs for every customer)."""
    plan = []
    for path in sorted(declared):
        parts = path.split(".")
        if all(parts) and not any(part.startswith("_") for part in parts):
            plan.append((path, parts))
    return tuple(plan)


def build_customer_context(
    attributes: Mapping[str, Any], declared: Iterable[str]
) -> dict[str, Any]:
    """The ``customer`` dict a template sees: declared paths only, as nested plain dicts.

    ``attributes`` may be nested (``{"address": {"country": "DE"}}``) or flat
    (``{"address.country": "DE"}``). Only the dotted paths in ``declared`` that are present and
    not None are copied; every other key is left out, whatever it holds. Values are copied as
    plain data (``str``, numbers, booleans, dates, lists of those); anything else, including
    ``Markup``, is turned into plain ``str`` or dropped. A declared path naming a group
    (``address`` when ``address.country`` is declared too) yields a dict with only the declared
    children.
    """
    context: dict[str, Any] = {}
    for path, parts in _context_plan(
        declared if isinstance(declared, frozenset) else frozenset(declared)
    ):
        found, value = _lookup(attributes, path)
        if not found or value is None:
            continue
        plain: Any = {} if isinstance(value, Mapping) else _plain_value(value)
        if plain is _DROP:
            continue
        target = context
        for part in parts[:-1]:
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                break
            target = child
        else:
            existing = target.get(parts[-1])
            if isinstance(existing, dict) and isinstance(plain, dict):
                continue  # the group exists already (created by one of its fields)
            target[parts[-1]] = plain
    return context


_CONTROL_NAMES: Final = {
    "\r": "a carriage return (CR)",
    "\n": "a line feed (LF)",
    "\u2028": "a line separator (U+2028)",
    "\u2029": "a paragraph separator (U+2029)",
    "\x00": "a NUL character",
    "\x85": "a next-line character (U+0085)",
}
_BIDI: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
# Invisible characters that only serve to disguise text. ZWJ/ZWNJ (U+200D/U+200C) are left
# alone: emoji sequences and several scripts need them.
_ZERO_WIDTH: Final = frozenset("\u200b\u2060\ufeff")
_MAX_HEADER_CHARS: Final = 998  # RFC 5322 line length limit


def check_header_value(value: str) -> str | None:
    """Why ``value`` must not go into an e-mail header, or None if it may.

    Refused: CR, LF, U+2028/U+2029, NUL and every other C0/C1 control (including TAB and DEL),
    bidi controls (U+202A-U+202E, U+2066-U+2069, U+200E/U+200F, U+061C), invisible zero-width
    characters (U+200B, U+2060, U+FEFF), ``=?`` (the start of an RFC 2047 encoded word) and
    values longer than 998 characters. The reason names the problem, never the value.
    """
    for char in value:
        named = _CONTROL_NAMES.get(char)
        if named is not None:
            return f"contains {named}"
        code = ord(char)
        if code < 0x20 or 0x7F <= code <= 0x9F:
            return f"contains a control character (U+{code:04X})"
        if char in _BIDI:
            return f"contains a text direction control (U+{code:04X})"
        if char in _ZERO_WIDTH:
            return f"contains an invisible character (U+{code:04X})"
    if "=?" in value:
        return "contains '=?', which mail programs may decode as an encoded word"
    if len(value) > _MAX_HEADER_CHARS:
        return f"is longer than {_MAX_HEADER_CHARS} characters"
    return None


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------

_ARITHMETIC: Final = frozenset({"+", "-", "*", "/", "//", "%", "**"})
_CURRENCY_RE: Final = re.compile(r"[A-Z]{3}")
_CACHE_SIZE: Final = 512


MAX_NUMBER_DIGITS: Final = 309
"""Digits before the decimal point that ``number``, ``currency`` and ``percent`` format: every
finite float has at most 309 (``sys.float_info.max`` is about 1.8e308), so only text such as
``"1e400"`` can be longer, and formatting it would only fill the message with digits."""

_PRECISION: Final = 28
"""Significant digits of Python's default decimal context: what Babel rounds with."""


class _FilterValueError(Exception):
    """A locale filter got a value it cannot format. Only the identity of the value is kept
    (``value_id``, to find the attribute that held it), never the value."""

    def __init__(self, filter_name: str, reason: str, value: object) -> None:
        super().__init__(f"the {filter_name} filter {reason}")
        self.filter_name = filter_name
        self.reason = reason
        self.value_id = id(value)


def _require_defined(value: object) -> None:
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises UndefinedError here


def _to_number(value: object, filter_name: str) -> Decimal:
    """``value`` as a finite Decimal with at most :data:`MAX_NUMBER_DIGITS` digits before the
    point. Raises _FilterValueError for anything else: true/false, text that is not a number,
    NaN and infinity (from text; the record check refuses them in number attributes)."""
    _require_defined(value)
    if isinstance(value, bool):
        raise _FilterValueError(filter_name, "needs a number, not true/false", value)
    number: Decimal | None = None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(str(value))  # as Babel converts it: 0.1 stays 0.1
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise _FilterValueError(filter_name, "needs a number", value) from None
    if number is None:
        raise _FilterValueError(filter_name, "needs a number", value)
    if not number.is_finite():
        raise _FilterValueError(filter_name, "needs a finite number, not infinity or NaN", value)
    if number and number.adjusted() >= MAX_NUMBER_DIGITS:
        raise _FilterValueError(
            filter_name,
            f"cannot format a number with more than {MAX_NUMBER_DIGITS} digits",
            value,
        )
    return number


def _format_number(number: Decimal, format: Callable[[Decimal], str]) -> str:
    """``format(number)`` with enough decimal precision for every digit before the point.
    Babel rounds in the current decimal context, whose default 28 digits raise
    InvalidOperation for a currency amount from 1e26 on; the digits of ``number`` (plus two
    for percent's scaling) on top of the default keep every smaller number as it was."""
    digits = max(number.adjusted() + 1, 0) + 2
    with localcontext(prec=_PRECISION + digits):
        return format(number)


def _to_date(value: object) -> dt.date:
    _require_defined(value)
    if isinstance(value, dt.date):  # datetime is a date too
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return (
                dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
            )
        except ValueError:
            pass
    raise _FilterValueError("date", "needs a date such as 2024-03-05", value)


def _locale_filters(locale: babel.Locale) -> dict[str, Callable[..., str]]:
    def number(value: object) -> str:
        return _format_number(
            _to_number(value, "number"), lambda n: babel.numbers.format_decimal(n, locale=locale)
        )

    def currency(value: object, code: object = None) -> str:
        amount = _to_number(value, "currency")
        if not isinstance(code, str) or not _CURRENCY_RE.fullmatch(code):
            raise _FilterValueError(
                "currency", 'needs a currency code such as currency("EUR")', value
            )
        return _format_number(
            amount, lambda n: babel.numbers.format_currency(n, code, locale=locale)
        )

    def date(value: object, format: str = "medium") -> str:  # the name editors write
        when = _to_date(value)
        try:
            return babel.dates.format_date(when, format=format, locale=locale)
        except (ValueError, KeyError, AttributeError, TypeError):
            raise _FilterValueError("date", "got a format it does not know", value) from None

    def percent(value: object) -> str:
        return _format_number(
            _to_number(value, "percent"), lambda n: babel.numbers.format_percent(n, locale=locale)
        )

    return {"number": number, "currency": currency, "date": date, "percent": percent}


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Jinja's ``default``, except that text that is empty or only whitespace counts as missing:
    a first name of "   " shows the fallback, not "Hello   "."""
    if isinstance(value, Undefined) or (boolean and not value):
        return default_value
    if isinstance(value, str) and not value.strip():
        return default_value
    return value


def _text_of(value: Any) -> str:
    _require_defined(value)
    return "" if value is None else str(value)


def _finalize_markup(value: Any) -> Any:
    # html / text: Jinja escapes (html) or str()s (text) whatever this returns.
    _require_defined(value)
    return "" if value is None else value


def _finalize_json(value: Any) -> str:
    # json.dumps(text, ensure_ascii=False) without making an encoder per value
    return encode_basestring(_text_of(value))[1:-1]


def _finalize_header(value: Any) -> str:
    text = _text_of(value)
    reason = check_header_value(text)
    if reason is not None:
        raise RenderError(
            "render.header_injection",
            f"a value for this header {reason}",
            hint="clean the customer data, or do not use this attribute in a subject or header",
        )
    return text


_FINALIZERS: Final[Mapping[str, Callable[[Any], Any]]] = {
    "html": _finalize_markup,
    "text": _finalize_markup,
    "json": _finalize_json,
    "header": _finalize_header,
}


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, narrowed to the token subset.

    Arithmetic is intercepted (so ``'a' * 10**9`` is neither folded at compile time nor run),
    every call is refused, and attribute/item access only reads string keys of plain dicts.
    """

    intercepted_binops = _ARITHMETIC
    intercepted_unops = frozenset({"+", "-"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        raise SecurityError(f"the operator {operator!r} is not allowed")

    def call_unop(self, context: Context, operator: str, arg: Any) -> Any:
        raise SecurityError(f"the operator {operator!r} is not allowed")

    def call(
        __self,  # mirrors the base class signature
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        raise SecurityError("calling functions is not allowed")

    def getattr(self, obj: Any, attribute: str) -> Any:
        return self._read(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        return self._read(obj, argument)

    def _read(self, obj: Any, key: Any) -> Any:
        if isinstance(obj, Undefined):
            return obj  # a.b.c with `a` missing stays undefined; `default` can still catch it
        if isinstance(obj, dict) and isinstance(key, str) and not key.startswith("_"):
            if key in obj:
                return obj[key]
            return self.undefined(obj=obj, name=key)
        return self.unsafe_undefined(obj, str(key))


def _parse_locale(locale: str) -> babel.Locale:
    try:
        return babel.Locale.parse(locale.replace("-", "_"))
    except (ValueError, TypeError, babel.UnknownLocaleError):
        raise UsageError(
            f"unknown locale {locale!r}", hint="use a locale such as 'en', 'de' or 'de-AT'"
        ) from None


def prepare_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """The roots of ``context`` copied as plain data: ``customer`` as untrusted (see
    :func:`build_customer_context`), ``brand`` and ``slots`` as trusted; other keys dropped."""
    plain: dict[str, Any] = {}
    for root in sorted(ROOTS):
        if root in context:
            value = context[root]
            plain[root] = _plain_untrusted(value) if root == "customer" else _plain_trusted(value)
    return plain


def _plain_trusted(value: Any) -> Any:
    # brand and slots come from the content repository (as trusted as the template itself):
    # containers become plain dicts/lists, scalars are kept.
    if isinstance(value, Mapping):
        return {str(k): _plain_trusted(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_trusted(v) for v in value]
    return value


def _plain_untrusted(value: Any) -> Any:
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and not key.startswith("_"):
                plain = _plain_untrusted(item)
                if plain is not _DROP:
                    result[str.__str__(key)] = plain
        return result
    return _plain_value(value)


_ABSENT: Final = object()


def _value_at(context: Mapping[str, Any], path: _Path) -> object:
    """The value at ``path`` in a plain context, or :data:`_ABSENT` when it has none (both
    callers explain an error: not on the render path)."""
    current: Any = context
    for part in path:
        if not isinstance(current, dict) or part not in current:
            return _ABSENT
        current = current[part]
    return current


def _missing(context: Mapping[str, Any], path: _Path) -> bool:
    return _value_at(context, path) is _ABSENT


def _attribute_name(path: _Path) -> str:
    # Customer attributes are named as declared ("address.country"); others with their root.
    return ".".join(path[1:]) if path[0] == "customer" and len(path) > 1 else ".".join(path)


class CompiledTemplate:
    """A variant template compiled for one :class:`TokenEnvironment`; safe to share and reuse.

    ``required_paths`` are the customer attribute paths the template cannot render without
    (see :func:`required_customer_paths`).
    """

    def __init__(
        self,
        template: Any,
        *,
        name: str,
        mode: str,
        max_output_chars: int,
        uses: tuple[_PathUse, ...],
        required_paths: frozenset[str],
        filtered: tuple[tuple[str, _Path], ...] = (),
    ) -> None:
        self._template = template
        self.name = name
        self.mode = mode
        self._max = max_output_chars
        self._uses = uses
        self.required_paths = required_paths
        self._filtered = filtered

    def render(self, context: Mapping[str, Any], *, customer_id: str | None = None) -> str:
        """Render for one customer.

        ``context`` holds the roots ``customer`` (untrusted: copied as plain data, see
        :func:`build_customer_context`), ``brand`` and ``slots``; other keys are ignored.

        Returns the output text. Raises :class:`RenderError` with code ``render.missing_value``
        (attribute named), ``render.output_too_large`` (rendering stops as soon as the limit
        is passed), ``render.header_injection``, ``render.security`` (the sandbox refused an
        operation), ``render.bad_value`` (a filter could not format a value) or
        ``render.failed``. Messages never contain customer values.
        """
        return self.render_prepared(prepare_context(context), customer_id=customer_id)

    def render_prepared(self, plain: dict[str, Any], *, customer_id: str | None = None) -> str:
        """Like :meth:`render`, for a context already made by :func:`prepare_context`.

        Lets a caller that renders several parts for one customer copy the data once.
        """
        pieces: list[str] = []
        total = 0
        # What Template.generate() runs, without its copy of the context and its extra
        # generator layer (a tenth of a short push's render); errors are handled below.
        template = self._template
        stream = template.root_render_func(template.new_context(plain))
        try:
            for chunk in stream:
                total += len(chunk)
                if total > self._max:
                    raise RenderError(
                        "render.output_too_large",
                        f"the output is longer than {self._max} characters",
                        customer_id=customer_id,
                        hint="check for very long customer values or repeated content",
                    )
                pieces.append(chunk)
        except RenderError as exc:
            raise RenderError(
                exc.code,
                exc.message,
                customer_id=customer_id,
                atom_id=exc.atom_id,
                attribute=exc.attribute,
                hint=exc.hint,
            ) from None
        except UndefinedError:
            raise self._missing_value(plain, customer_id) from None
        except SecurityError:
            raise RenderError(
                "render.security",
                "the template tried something the sandbox does not allow",
                customer_id=customer_id,
                hint="run the content linter; tokens may only show values",
            ) from None
        except _FilterValueError as exc:
            raise RenderError(
                "render.bad_value",
                f"the {exc.filter_name} filter {exc.reason}",
                customer_id=customer_id,
                attribute=self._filtered_attribute(plain, exc),
                hint="check the customer data type, or the filter arguments in the token",
            ) from None
        except Exception as exc:  # anything failing in a template is this customer's error
            # The original message may quote a value, so only the type is kept.
            raise RenderError(
                "render.failed",
                f"rendering failed ({type(exc).__name__})",
                customer_id=customer_id,
            ) from None
        finally:
            stream.close()
        return "".join(pieces)

    def _filtered_attribute(
        self, context: Mapping[str, Any], error: _FilterValueError
    ) -> str | None:
        """The attribute whose value the filter refused: the first path fed to a filter of
        that name whose value is the very object refused (the sandbox hands the filter the
        context's own object); None when the value came from elsewhere (a literal default)."""
        for name, path in self._filtered:
            if name == error.filter_name and id(_value_at(context, path)) == error.value_id:
                return _attribute_name(path)
        return None

    def _missing_value(self, context: Mapping[str, Any], customer_id: str | None) -> RenderError:
        # Jinja does not say which full path was missing; find the first unguarded one that is.
        candidates = [u.path for u in self._uses if not u.guarded] + [u.path for u in self._uses]
        path = next((p for p in candidates if _missing(context, p)), None)
        if path is None:
            return RenderError(
                "render.missing_value",
                "a value used by the template is missing",
                customer_id=customer_id,
            )
        written = ".".join(path)
        return RenderError(
            "render.missing_value",
            f"{written} has no value for this customer",
            customer_id=customer_id,
            attribute=_attribute_name(path),
            hint=f'Give the token a fallback: {{{{ {written} | default("...") }}}}',
        )


class LiteralTemplate(CompiledTemplate):
    """A template without Jinja syntax: every customer gets its text, as Jinja would render it
    (line breaks written ``\\n``; the last one kept, as the environment keeps it). Compiling
    such text, every unique part of a variant that names no customer value, was a fifth of a
    build's rendering; this does what the compiled template did, limit check included."""

    def __init__(self, source: str, *, name: str, mode: str, max_output_chars: int) -> None:
        super().__init__(
            None,
            name=name,
            mode=mode,
            max_output_chars=max_output_chars,
            uses=(),
            required_paths=frozenset(),
        )
        self._text = _JINJA_NEWLINES.sub("\n", source)

    def render_prepared(self, plain: dict[str, Any], *, customer_id: str | None = None) -> str:
        if len(self._text) > self._max:
            raise RenderError(
                "render.output_too_large",
                f"the output is longer than {self._max} characters",
                customer_id=customer_id,
                hint="check for very long customer values or repeated content",
            )
        return self._text


_JINJA_NEWLINES: Final = re.compile(r"\r\n|\r")
"""The line breaks Jinja's lexer writes as ``\\n`` in text."""


class TokenEnvironment:
    """Compiles and renders token templates for one locale and one output mode.

    ``mode`` decides how inserted values are escaped: ``html`` (HTML escaping), ``text`` (none),
    ``json`` (escaped for the inside of a JSON string literal), ``header`` (refused when
    :func:`check_header_value` objects). ``max_output_chars`` caps the output of one render.

    Raises :class:`~atomic_content.errors.UsageError` for an unknown locale, mode or a
    non-positive limit.
    """

    def __init__(
        self,
        *,
        locale: str,
        mode: Literal["html", "text", "json", "header"],
        max_output_chars: int = 200_000,
    ) -> None:
        if mode not in _FINALIZERS:
            raise UsageError(f"unknown render mode {mode!r}", hint="use html, text, json or header")
        if max_output_chars < 1:
            raise UsageError("max_output_chars must be positive")
        self.locale = locale
        self.mode = mode
        self.max_output_chars = max_output_chars
        env = _Sandbox(
            undefined=StrictUndefined,
            autoescape=mode == "html",
            keep_trailing_newline=True,
            finalize=_FINALIZERS[mode],
            auto_reload=False,
        )
        # Only the allowlisted filters and tests; no globals (range, lipsum, cycler ...).
        builtin = {k: v for k, v in env.filters.items() if k in ALLOWED_FILTERS}
        env.filters = {
            **builtin,
            **dict.fromkeys(_DEFAULT_FILTERS, _default),
            **_locale_filters(_parse_locale(locale)),
        }
        env.tests = {k: v for k, v in env.tests.items() if k in {"defined", "undefined", "none"}}
        env.globals.clear()
        self._env = env
        self._cache: OrderedDict[str, CompiledTemplate] = OrderedDict()
        self._lock = threading.Lock()

    def compile(self, source: str, *, name: str = "<template>") -> CompiledTemplate:
        """Compile ``source`` once (cached by source text) and return it.

        Raises :class:`RenderError` ``render.template_not_allowed`` when the source uses
        anything outside the token subset (the first problem is named) and
        ``render.template_invalid`` when it does not parse.
        """
        with self._lock:
            cached = self._cache.get(source)
            if cached is not None:
                self._cache.move_to_end(source)
                return cached
        analysis = _structure(source)
        if analysis.problems:
            first = analysis.problems[0]
            code = (
                "render.template_invalid"
                if not analysis.syntax_ok
                else ("render.template_not_allowed")
            )
            raise RenderError(
                code,
                f"{name} line {first.line} column {first.col}: {first.message} [{first.code}]",
                hint=first.hint,
            )
        compiled = (
            self._compile_unchecked(
                source, name=name, uses=analysis.uses, filtered=analysis.filtered
            )
            if has_template_syntax(source)
            else LiteralTemplate(
                source, name=name, mode=self.mode, max_output_chars=self.max_output_chars
            )
        )
        with self._lock:
            self._cache[source] = compiled
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return compiled

    def _compile_unchecked(
        self,
        source: str,
        *,
        name: str = "<template>",
        uses: tuple[_PathUse, ...] = (),
        filtered: tuple[tuple[str, _Path], ...] = (),
    ) -> CompiledTemplate:
        """Compile without the subset check: the sandbox alone stands guard.

        Used by :meth:`compile` after its check, and by the security tests to prove the second
        line of defence on its own.
        """
        try:
            code = self._env.compile(source, name=name, filename=name)
            template = self._env.template_class.from_code(
                self._env, code, self._env.make_globals(None), None
            )
        except (TemplateError, ValueError) as exc:  # ValueError: a number too large to print
            line = getattr(exc, "lineno", None)
            raise RenderError(
                "render.template_invalid",
                f"{name} cannot be compiled" + (f" (line {line})" if line else ""),
                hint="run the content linter on this template",
            ) from None
        required = frozenset(
            ".".join(u.path[1:])
            for u in uses
            if u.path[0] == "customer" and len(u.path) > 1 and not u.guarded
        )
        return CompiledTemplate(
            template,
            name=name,
            mode=self.mode,
            max_output_chars=self.max_output_chars,
            uses=uses,
            required_paths=required,
            filtered=filtered,
        )
