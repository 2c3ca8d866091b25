"""Static lint of layout templates: what ``atomic build`` would reject, found by ``validate``.

A layout template is parsed with the renderer's own sandbox environment
(:func:`atomic_content.channels.base.render_layout`) and its syntax tree is walked, without
rendering anything. Every problem is a :class:`~atomic_content.errors.Diagnostic` positioned at
the template file's line (from the Jinja node) and column (where the offending name is on that
line, inside a Jinja tag):

``layout.syntax``
    the template does not parse (at the line Jinja names, column 1);
``layout.unknown_slot``
    ``slots.<name>`` (also in ``{% if %}`` and ``is defined``) that the layout's YAML does not
    declare under ``slots:`` — at render time it would silently print nothing;
``layout.unknown_field``
    a field a slot value does not have (``slots.cta.lable``; line and markdown slots have no
    fields), or a ``loop`` attribute Jinja does not provide;
``layout.unknown_brand_field``
    a ``brand.*`` path that :class:`~atomic_content.models.Brand` does not have;
``layout.unknown_message_field``
    a ``message.*`` name the channel does not provide (:data:`MESSAGE_FIELDS`, plus the
    channel renderer's own ``message_fields``);
``layout.unknown_name``
    any other top-level name than ``slots``, ``brand``, ``message``, ``range``, ``loop`` (inside
    ``{% for %}``) and the layout's own ``{% set %}``/``{% for %}``/``{% with %}`` names, used
    where they are defined;
``layout.unknown_filter`` / ``layout.unknown_test``
    a filter or test the sandbox does not provide;
``layout.not_allowed``
    a statement the renderer refuses (macro, call, filter block, set block, include, import,
    extends, block), a call of anything but ``range``, the sandbox's string and dictionary
    methods and ``loop.cycle``/``loop.changed``, and attributes starting with ``_``.

What it cannot see: values are not computed, so an alias (``{% set o = slots.offer %}``) is not
followed, and an optional slot or brand field that is absent at render time is not predicted.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError
from pydantic import BaseModel

from .channels import RENDERERS
from .channels.base import (
    _FORBIDDEN_NODES,
    _LAYOUT_ENV,
    _SAFE_DICT_METHODS,
    _SAFE_STR_METHODS,
)
from .errors import Diagnostic, Severity, did_you_mean
from .models import Brand, SlotKind
from .repository import LayoutEntry
from .strings import KEYS as STRING_KEYS
from .tokens import NUMBER_TOO_LARGE_HINT, number_too_large_message, too_large_integer
from .validate import SLOT_FIELDS

__all__ = [
    "MESSAGE_FIELDS",
    "lint_layout",
    "lint_layout_source",
]

MESSAGE_FIELDS: Final = frozenset(
    {"journey", "journey_name", "step", "step_name", "channel", "locale", "lang"}
)
"""``message.*`` names every layout receives (the keys of ``channels.base.message_vars``)."""

_LOOP_FIELDS: Final = frozenset(
    {"index", "index0", "revindex", "revindex0", "first", "last", "length", "depth", "depth0"}
)
_LOOP_METHODS: Final = frozenset({"cycle", "changed"})
_ANY_METHODS: Final = _SAFE_STR_METHODS | _SAFE_DICT_METHODS | _LOOP_METHODS
_ROOTS: Final = ("slots", "brand", "message", "strings")

_NOT_ALLOWED_HINT: Final = (
    "layouts may use {% if %}, {% for %} and {% set x = ... %}; write the markup out"
)
_CALL_HINT: Final = (
    "layouts may call range(), the text methods "
    + ", ".join(sorted(_SAFE_STR_METHODS))
    + ", the mapping methods "
    + ", ".join(sorted(_SAFE_DICT_METHODS))
    + " and loop.cycle/loop.changed"
)


# --------------------------------------------------------------------------------------------
# What a layout may read on a value
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    """What a layout may read on a value.

    ``fields`` are readable names (a mapping's keys); ``methods`` the names it may call;
    ``open`` means the value is not known statically (a ``{% set %}`` value, a loop item), so
    only sandbox rules apply to it. ``describe`` completes "<path> is ..." in hints.
    """

    fields: Mapping[str, _Shape] = field(default_factory=dict)
    methods: frozenset[str] = frozenset()
    open: bool = False
    describe: str = ""


_OPEN: Final = _Shape(open=True)
_TEXT: Final = _Shape(methods=_SAFE_STR_METHODS, describe="a single value")


def _mapping(names: Iterable[str], describe: str = "") -> _Shape:
    return _Shape(dict.fromkeys(names, _TEXT), _SAFE_DICT_METHODS, describe=describe)


def _model_shape(model: type[BaseModel]) -> _Shape:
    """The shape of ``model.model_dump(mode="json")``: nested models are mappings."""
    fields: dict[str, _Shape] = {}
    for name, info in model.model_fields.items():
        nested = _nested_model(info.annotation)
        fields[name] = _model_shape(nested) if nested is not None else _TEXT
    return _Shape(fields, _SAFE_DICT_METHODS)


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


_BRAND: Final = _model_shape(Brand)
_LOOP: Final = _Shape(
    {**dict.fromkeys(_LOOP_FIELDS, _TEXT), "previtem": _OPEN, "nextitem": _OPEN},
    _LOOP_METHODS,
)


def _slot_shape(slot: str, kind: SlotKind | None) -> _Shape:
    """A slot value as ``layout_slots`` hands it to layouts (docs/format.md, layout contract)."""
    if kind is None:  # not in atomic.yaml: validate reports ref.unknown_slot on the YAML
        return _OPEN
    if kind in (SlotKind.LINE, SlotKind.MARKDOWN):
        # Line and markdown slots arrive as HTML text, not as {text}: they have no fields.
        return _Shape(
            methods=_SAFE_STR_METHODS,
            describe=f"a {kind.value} slot: insert it as it is, {{{{ slots.{slot} }}}}",
        )
    names = SLOT_FIELDS[kind]
    article = "an" if kind.value[0] in "aeiou" else "a"
    return _mapping(
        names, f"{article} {kind.value} slot with the fields {', '.join(sorted(names))}"
    )


# --------------------------------------------------------------------------------------------
# Positions
# --------------------------------------------------------------------------------------------

_TAGS: Final = re.compile(r"\{#.*?#\}|(\{\{.*?\}\}|\{%.*?%\})", re.DOTALL)
_NEWLINE: Final = re.compile(r"\r\n|\r|\n")


class _Source:
    """Line texts of a template and where its Jinja tags are, for columns."""

    def __init__(self, text: str) -> None:
        self.lines = _NEWLINE.split(text)
        self.starts: list[int] = []
        offset = 0
        for match in _NEWLINE.finditer(text):
            self.starts.append(offset)
            offset = match.end()
        self.starts.append(offset)
        self.tags = [m.span(1) for m in _TAGS.finditer(text) if m.group(1) is not None]
        self._tag_starts = [start for start, _end in self.tags]

    def _in_tag(self, offset: int) -> bool:
        index = bisect.bisect_right(self._tag_starts, offset) - 1
        return index >= 0 and self.tags[index][0] <= offset < self.tags[index][1]

    def column(self, line: int, pattern: str) -> int:
        """1-based column of group ``name`` of ``pattern`` on ``line``, preferring a match
        inside a Jinja tag (the same word may be static text); else the line's first
        non-blank column."""
        if not 0 < line <= len(self.lines):
            return 1
        text = self.lines[line - 1]
        matches = list(re.finditer(pattern, text))
        for match in matches:
            if self._in_tag(self.starts[line - 1] + match.start("name")):
                return match.start("name") + 1
        if matches:
            return matches[0].start("name") + 1
        return len(text) - len(text.lstrip()) + 1


def _attr_pattern(attr: str) -> str:
    """``.attr`` or ``["attr"]``; the column is the name's."""
    return rf"(?:\.\s*|\[\s*['\"])(?P<name>{re.escape(attr)})\b"


def _name_pattern(name: str) -> str:
    return rf"(?<![\w.])(?P<name>{re.escape(name)})\b"


# --------------------------------------------------------------------------------------------
# The walk
# --------------------------------------------------------------------------------------------


class _Linter:
    def __init__(
        self, source: str, path: str, channel: str, slots: Mapping[str, SlotKind | None]
    ) -> None:
        self.source = _Source(source)
        self.path = path
        self.found: dict[tuple[int, int, str, str], Diagnostic] = {}
        # A channel may give its layouts more message fields; the renderer says which.
        renderer = RENDERERS.get(channel)
        message_fields = MESSAGE_FIELDS | (
            renderer.message_fields if renderer is not None else frozenset()
        )
        self.roots: dict[str, _Shape] = {
            "slots": _Shape(
                {slot: _slot_shape(slot, kind) for slot, kind in slots.items()},
                _SAFE_DICT_METHODS,
            ),
            "brand": _BRAND,
            "message": _mapping(message_fields),
            "strings": _mapping(frozenset(STRING_KEYS)),
        }
        self.scopes: list[set[str]] = [set()]
        self.loop_depth = 0

    # -- reporting ---------------------------------------------------------------------------
    def report(self, node: nodes.Node, pattern: str, code: str, message: str, hint: str) -> None:
        line = node.lineno or 1
        col = self.source.column(line, pattern)
        diagnostic = Diagnostic(self.path, line, col, Severity.ERROR, code, message, hint)
        self.found.setdefault((line, col, code, message), diagnostic)

    def unknown_field(
        self, node: nodes.Node, path: str, attr: str, shape: _Shape, *, called: bool
    ) -> None:
        root = path.split(".")[0]
        known = sorted(shape.fields) + (sorted(shape.methods) if called else [])
        suggestion = did_you_mean(attr, known)
        lead = suggestion + " " if suggestion else ""
        pattern = _attr_pattern(attr)
        if path == "slots":
            declared = ", ".join(sorted(shape.fields)) or "nothing"
            self.report(
                node,
                pattern,
                "layout.unknown_slot",
                f"the layout does not declare slot {attr!r}",
                f"{lead}this layout declares: {declared}; a new slot must be added under "
                "`slots:` in the layout's YAML",
            )
            return
        code = {
            "brand": "layout.unknown_brand_field",
            "message": "layout.unknown_message_field",
            "strings": "layout.unknown_string",
        }.get(root, "layout.unknown_field")
        if shape.describe:
            hint = f"{lead}{path} is {shape.describe}"
        else:
            hint = f"{lead}fields of {path}: {', '.join(sorted(shape.fields)) or 'none'}"
        self.report(node, pattern, code, f"{path} has no field {attr!r}", hint)

    # -- names -------------------------------------------------------------------------------
    def is_local(self, name: str) -> bool:
        return any(name in scope for scope in self.scopes)

    def declare(self, target: nodes.Node) -> None:
        """Add the names a ``{% set %}``/``{% for %}``/``{% with %}`` target binds."""
        names = [target] if isinstance(target, nodes.Name) else target.find_all(nodes.Name)
        for name in names:
            if isinstance(name, nodes.Name) and name.ctx in ("store", "param"):
                self.scopes[-1].add(name.name)

    def name_shape(self, node: nodes.Name) -> _Shape:
        name = node.name
        if self.is_local(name):
            return _OPEN
        if name in self.roots:
            return self.roots[name]
        if name == "loop" and self.loop_depth:
            return _LOOP
        if name == "range":
            return _OPEN
        known = [*_ROOTS, "range", *sorted({n for scope in self.scopes for n in scope})]
        if self.loop_depth:
            known.append("loop")
        suggestion = did_you_mean(name, known)
        self.report(
            node,
            _name_pattern(name),
            "layout.unknown_name",
            f"unknown name {name!r}",
            (suggestion + " " if suggestion else "")
            + "layouts see slots, brand and message, and the names they set with "
            "{% set %} or {% for %}",
        )
        return _OPEN

    # -- expressions -------------------------------------------------------------------------
    def expr(self, node: nodes.Node) -> tuple[_Shape, str]:
        """Check an expression; return the shape of its value and its dotted path ("" when
        it is not a chain of fields on a known name)."""
        if isinstance(node, nodes.Name) and node.ctx == "load":
            shape = self.name_shape(node)
            return shape, "" if shape.open else node.name
        attr = _constant_attr(node)
        if attr is not None:
            assert isinstance(node, nodes.Getattr | nodes.Getitem)
            base, path = self.expr(node.node)
            shape = self.read(node, base, path, attr)
            return shape, f"{path}.{attr}" if path and not shape.open else ""
        if isinstance(node, nodes.Filter | nodes.Test):
            self.check_filter(node)
            return _OPEN, ""
        if isinstance(node, nodes.Call):
            self.call(node)
            return _OPEN, ""
        self.generic(node)
        return _OPEN, ""

    def read(self, node: nodes.Node, base: _Shape, path: str, attr: str) -> _Shape:
        """The shape of ``base.<attr>``; reports a name ``base`` does not have."""
        if attr.startswith("_"):
            self.report(
                node,
                _attr_pattern(attr),
                "layout.not_allowed",
                f"attribute {attr!r} is not allowed in layouts",
                "names starting with an underscore are internal; layouts may only show "
                "slots, brand and message values",
            )
            return _OPEN
        if base.open:
            return _OPEN
        if attr in base.fields:
            return base.fields[attr]
        self.unknown_field(node, path, attr, base, called=False)
        return _OPEN

    def call(self, node: nodes.Call) -> None:
        """A call: the sandbox runs only ``range`` and a few string, mapping and loop methods."""
        callee = node.node
        if isinstance(callee, nodes.Getattr):
            attr = callee.attr
            base, path = self.expr(callee.node)
            if base.open:
                allowed = attr in _ANY_METHODS
            else:
                allowed = attr in base.methods
                if not allowed and base.fields and attr not in base.fields:
                    # Most likely a misspelt field of a mapping: say which fields there are.
                    self.unknown_field(callee, path, attr, base, called=True)
                    allowed = True
            if not allowed:
                self.not_callable(callee, repr(attr), _attr_pattern(attr))
        elif isinstance(callee, nodes.Name) and callee.ctx == "load":
            name = callee.name
            shape = self.name_shape(callee)  # reports an unknown name
            if name != "range" and (self.is_local(name) or not shape.open):
                self.not_callable(callee, repr(name), _name_pattern(name))
        else:
            self.expr(callee)
            self.not_callable(node, "this value", r"(?P<name>\()")
        for child in (*node.args, *node.kwargs, node.dyn_args, node.dyn_kwargs):
            if child is not None:
                self.expr(child)

    def not_callable(self, node: nodes.Node, what: str, pattern: str) -> None:
        message = f"calling {what} is not allowed in layouts"
        self.report(node, pattern, "layout.not_allowed", message, _CALL_HINT)

    def check_filter(self, node: nodes.Filter | nodes.Test) -> None:
        is_filter = isinstance(node, nodes.Filter)
        known = _LAYOUT_ENV.filters if is_filter else _LAYOUT_ENV.tests
        if node.name not in known:
            what = "filter" if is_filter else "test"
            word = re.escape(node.name)
            pattern = (
                rf"\|\s*(?P<name>{word})\b"
                if is_filter
                else rf"\bis\s+(?:not\s+)?(?P<name>{word})\b"
            )
            suggestion = did_you_mean(node.name, known)
            self.report(
                node,
                pattern,
                f"layout.unknown_{what}",
                f"unknown {what} {node.name!r}",
                (suggestion + " " if suggestion else "")
                + f"{what}s layouts may use: {', '.join(sorted(known))}",
            )
        for child in node.iter_child_nodes():
            self.expr(child)

    # -- statements --------------------------------------------------------------------------
    def generic(self, node: nodes.Node) -> None:
        for child in node.iter_child_nodes():
            self.visit(child)

    def visit(self, node: nodes.Node) -> None:
        keyword = _FORBIDDEN_NODES.get(type(node))
        if keyword is not None:
            first = keyword.split()[0]
            self.report(
                node,
                rf"\{{%[-+]?\s*(?P<name>{re.escape(first)})\b",
                "layout.not_allowed",
                f"{{% {keyword} %}} is not allowed in layouts",
                _NOT_ALLOWED_HINT,
            )
            return  # what is inside is refused with it
        if isinstance(node, nodes.For):
            self.visit_for(node)
        elif isinstance(node, nodes.With):
            for value in node.values:
                self.expr(value)
            self.scopes.append(set())
            for target in node.targets:
                self.declare(target)
            for child in node.body:
                self.visit(child)
            self.scopes.pop()
        elif isinstance(node, nodes.Assign):
            self.expr(node.node)
            self.declare(node.target)
        elif isinstance(node, nodes.Filter | nodes.Test):
            self.check_filter(node)
        elif isinstance(node, nodes.Expr):
            self.expr(node)
        else:
            self.generic(node)

    def visit_for(self, node: nodes.For) -> None:
        self.expr(node.iter)
        self.scopes.append(set())
        self.loop_depth += 1
        self.declare(node.target)
        if node.test is not None:
            self.expr(node.test)
        for child in node.body:
            self.visit(child)
        self.loop_depth -= 1
        self.scopes.pop()
        for child in node.else_:
            self.visit(child)

    def diagnostics(self) -> list[Diagnostic]:
        return sorted(self.found.values())


def _constant_attr(node: nodes.Node) -> str | None:
    """The name read by ``x.name`` or ``x["name"]``; None for anything else."""
    if isinstance(node, nodes.Getattr):
        return node.attr
    if (
        isinstance(node, nodes.Getitem)
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
    ):
        return node.arg.value
    return None


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def lint_layout_source(
    source: str, *, path: str, channel: str, slots: Mapping[str, SlotKind | None]
) -> list[Diagnostic]:
    """Every problem of one layout template, sorted by position.

    ``path`` is the template's display path (diagnostics name it), ``channel`` decides which
    ``message.*`` names exist, ``slots`` maps every slot the layout's YAML declares to its kind
    in atomic.yaml (None when atomic.yaml does not know it: its fields are then not checked).
    Never raises for bad templates; a template that does not parse yields one
    ``layout.syntax`` diagnostic.
    """
    too_large = too_large_integer(source, _LAYOUT_ENV)
    if too_large is not None:  # the parser or the compiler would raise ValueError
        return [
            Diagnostic(
                path,
                *too_large,
                Severity.ERROR,
                "layout.number_too_large",
                number_too_large_message(),
                NUMBER_TOO_LARGE_HINT,
            )
        ]
    try:
        tree = _LAYOUT_ENV.parse(source)
    except TemplateSyntaxError as exc:
        message = exc.message or "invalid template"
        message = (message[:1].lower() + message[1:]).rstrip(".")
        return [
            Diagnostic(
                path,
                exc.lineno or 1,
                1,
                Severity.ERROR,
                "layout.syntax",
                f"template syntax error: {message}",
                "fix the Jinja tag on this line",
            )
        ]
    linter = _Linter(source, path, channel, slots)
    linter.visit(tree)
    return linter.diagnostics()


def lint_layout(entry: LayoutEntry, slot_kinds: Mapping[str, SlotKind]) -> list[Diagnostic]:
    """:func:`lint_layout_source` of a loaded layout (empty when it has no template file).

    ``slot_kinds`` is the slot vocabulary of atomic.yaml (slot -> kind).
    """
    if entry.template_source is None or entry.template_path is None:
        return []
    return lint_layout_source(
        entry.template_source,
        path=entry.template_path,
        channel=entry.channel,
        slots={slot: slot_kinds.get(slot) for slot in entry.layout.slots},
    )
