"""Safe YAML reading with positions — the only module that imports ruamel.yaml.

Contract of :func:`read_yaml_file`:

* never raises for bad input and never executes anything: every problem (I/O, size, encoding,
  binary data, syntax, duplicate keys, tags, alias bombs, a symlink that leaves the content root)
  is returned as a :class:`~atomic_content.errors.Diagnostic` with a 1-based line and column;
* on success returns a :class:`YamlDocument` whose ``data`` is plain Python (dict, list, str,
  int, float, bool, None, datetime.date/datetime) and which can map any location inside the
  data back to a line and column (:meth:`YamlDocument.position`).

YAML 1.2 rules apply (``yes`` is a string, not a boolean; numbers are those of the 1.2 core
schema, so ``1_000``, ``0b101`` and ``+0x1F`` are strings; plus ruamel's timestamps, so
``2026-12-31`` is a date) and a ``%YAML`` directive naming any other version is refused
(``yaml.version``). Only the standard tags are accepted; ``!!python/...``
and any custom tag are refused. Anchors and aliases are allowed, but a document whose aliases
would expand past :data:`MAX_EXPANDED_NODES` nodes is refused before anything walks it ("billion
laughs"), and so are an alias inside its own anchor (``yaml.recursive_alias``) and nesting deeper
than :data:`MAX_DEPTH` (``yaml.too_deep``): recursive code downstream (conversion, pydantic,
conditions, JSON) never sees a cycle or a structure deep enough to exhaust Python's stack.
An integer too large to write in decimal (``0x`` followed by 5 000 digits) is refused at its
position (``yaml.number_too_large``), so no code downstream meets a number it cannot print.

:func:`read_content_bytes` is the one way content bytes are read (YAML files, templates, the
build's input fingerprint): it never opens anything but a regular file and never reads more than
its limit, so a link to ``/dev/zero`` or a named pipe cannot hang or exhaust memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.constructor import DuplicateKeyError, RoundTripConstructor, SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    ScalarEvent,
)
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag
from ruamel.yaml.tokens import DirectiveToken, StreamStartToken

from . import yamlfast
from .errors import Diagnostic
from .inputs import MAX_FILE_BYTES, _error, display_path, read_content_bytes

MAX_EXPANDED_NODES = 100_000
"""Upper bound of nodes after alias expansion; the demo's largest file has under 200."""

MAX_DEPTH = 64
"""Deepest nesting of lists and mappings (values inside more enclosing collections are refused).

The formats need at most six levels (``channels.email.limits.subject_hard``), conditions a few
more; 64 leaves room for any real ``$and``/``$or`` tree while keeping every recursive consumer
(ruamel's composer, the plain-data conversion, pydantic, the condition compiler, JSON) far below
Python's default limit of 1 000 frames, which ruamel alone reaches at about 250 levels.
"""

_STANDARD_TAGS = frozenset(
    "tag:yaml.org,2002:" + name
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
)

Loc = tuple[str | int, ...]


_CHECKED_INT_BITS = 2_000
"""Integers longer than this are checked to be printable: 2 000 bits are 603 decimal digits,
under the lowest digit limit Python can be set to (640), so a shorter one always prints."""

_DECIMAL_INT = re.compile(r"[-+]?[0-9_]+")


class _TooLargeNumber(str):
    """The text of a plain scalar that YAML reads as an integer too large to use: one whose
    decimal form has more digits than Python converts (``sys.get_int_max_str_digits()``,
    4 300 by default). Reported at its position by :func:`_check_nodes`
    (``yaml.number_too_large``); never reaches the data."""

    __slots__ = ()


def _printable(value: int) -> bool:
    try:
        str(int(value))
    except ValueError:  # past sys.get_int_max_str_digits()
        return False
    return True


def _lenient(construct: Any, *, integers: bool = False) -> Any:
    """A scalar constructor that keeps the written text when the value cannot be built.

    ruamel resolves ``2026-13-01`` as a timestamp and ``0x_`` as an int by their look, then
    raises while building them, which aborts the whole file with an error at 1:1. In YAML 1.2's
    core schema neither is a date or a number at all, so the scalar stays text: the field's
    own check then reports it at its line and column (``valid_until: input should be a valid
    date``) and the rest of the file is still checked.

    With ``integers``, an integer too large to write in decimal becomes a
    :class:`_TooLargeNumber` instead. Python refuses to read a decimal literal of more than
    4 300 digits, but reads hexadecimal, octal and binary ones of any length, which then fail
    wherever they are printed (a duplicate key's message, a pydantic error, a hash): a crash,
    or an error at 1:1 in Python's words. Either way it is a number in YAML 1.2, so it is
    refused as one, at its position, whatever field holds it.
    """

    def build(constructor: Any, node: Any) -> Any:
        try:
            value = construct(constructor, node)
        except (ValueError, IndexError, OverflowError):
            text = str(node.value)
            # A decimal integer the resolver matched fails only for its number of digits.
            return _TooLargeNumber(text) if integers and _DECIMAL_INT.fullmatch(text) else text
        if (
            integers
            and isinstance(value, int)
            and value.bit_length() > _CHECKED_INT_BITS
            and not _printable(value)
        ):
            return _TooLargeNumber(str(node.value))
        return value

    return build


class _SafeConstructor(SafeConstructor):
    pass


class _RoundTripConstructor(RoundTripConstructor):
    pass


for _constructor in (_SafeConstructor, _RoundTripConstructor):
    for _name in ("timestamp", "int", "float"):
        _tag = f"tag:yaml.org,2002:{_name}"
        _constructor.add_constructor(
            _tag, _lenient(_constructor.yaml_constructors[_tag], integers=_name == "int")
        )


_INT_TAG, _FLOAT_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
# The numbers of the YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
# ruamel's "1.2" patterns also take YAML 1.1 spellings the core schema reads as text: `1_000`,
# `1_000.5`, `0b101`, `+0x1F`, `._5`; a sample customer's `count: 1_000` was then 1000 where
# the same value in JSON or CSV is text (and a record.type error).
_CORE_NUMBERS = (
    (_INT_TAG, re.compile(r"\A(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)\Z"), "-+0123456789"),
    (
        _FLOAT_TAG,
        re.compile(
            r"\A(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))\Z"
        ),
        "-+.0123456789",
    ),
)


class _CoreResolver(VersionedResolver):
    """ruamel's YAML 1.2 resolver with the core schema's numbers (:data:`_CORE_NUMBERS`, int
    before float) in place of its own; every other rule (booleans, null, timestamps) is
    ruamel's. The loaders below and :func:`_implicit_tag` (yamlfast) share it."""

    _core: dict[Any, list[tuple[Any, Any]]] | None = None

    @property
    def versioned_resolver(self) -> Any:
        if _CoreResolver._core is None:
            table: dict[Any, list[tuple[Any, Any]]] = {
                first: [(tag, rx) for tag, rx in rules if str(tag) not in (_INT_TAG, _FLOAT_TAG)]
                for first, rules in super().versioned_resolver.items()
            }
            for tag, pattern, firsts in reversed(_CORE_NUMBERS):
                for first in firsts:
                    table.setdefault(first, []).insert(0, (tag, pattern))
            _CoreResolver._core = table
        return _CoreResolver._core


def _core_number(pattern: re.Pattern[str], construct: Any) -> Any:
    """An explicit ``!!int`` / ``!!float`` scalar the core schema does not read as a number
    (``!!int 1_000``) stays text, as an unbuildable scalar does (see :func:`_lenient`)."""

    def build(constructor: Any, node: Any) -> Any:
        if isinstance(node.value, str) and pattern.match(node.value) is None:
            return str(node.value)
        return construct(constructor, node)

    return build


for _constructor in (_SafeConstructor, _RoundTripConstructor):
    for _tag, _pattern, _firsts in _CORE_NUMBERS:
        _constructor.add_constructor(
            _tag, _core_number(_pattern, _constructor.yaml_constructors[_tag])
        )


def _safe_loader() -> YAML:
    """The plain-data loader, made once per thread (building one costs more than a parse)."""
    loader: YAML | None = getattr(_LOADERS, "safe", None)
    if loader is None:
        loader = YAML(typ="safe", pure=True)
        loader.Resolver = _CoreResolver
        loader.Constructor = _SafeConstructor
        loader.allow_duplicate_keys = False
        _LOADERS.safe = loader
    return loader


def _round_trip_loader() -> YAML:
    """The loader whose tree knows every position (for errors and diagnostics)."""
    loader = YAML(typ="rt")
    loader.Resolver = _CoreResolver
    loader.Constructor = _RoundTripConstructor
    loader.allow_duplicate_keys = False
    return loader


_LOADERS = threading.local()

_TYPED_TAGS = frozenset(
    "tag:yaml.org,2002:" + name for name in ("bool", "int", "float", "null", "timestamp")
)
_TYPED: dict[str, Any] = {}  # plain scalar -> its typed value (immutable values only)
_STR_TAG = "tag:yaml.org,2002:str"
_IMPLICIT: dict[str | None, tuple[tuple[str, Any], ...]] = {}  # first character -> resolvers


def _implicit_tag(value: str) -> str:
    """The tag ruamel's resolver gives the plain scalar ``value`` (YAML 1.2), read from the
    resolver's own table (first character -> patterns) without its per-call overhead."""
    if not _IMPLICIT:
        table = _safe_loader().resolver.versioned_resolver
        _IMPLICIT.update({first: tuple(rules) for first, rules in table.items()})
    rules = _IMPLICIT.get(value[0] if value else "", ()) + _IMPLICIT.get(None, ())
    for tag, pattern in rules:
        if pattern.match(value):
            return str(tag)
    return _STR_TAG


def _resolve_plain(value: str) -> Any:
    """A plain scalar typed exactly as the safe loader types it (YAML 1.2, lenient dates).

    Used by :mod:`atomic_content.yamlfast`, so both readers agree by construction: the same
    resolver picks the type and the same constructor builds the value.
    """
    typed = _TYPED.get(value, _TYPED)
    if typed is not _TYPED:
        return typed
    name = _implicit_tag(value)
    if name == _STR_TAG:
        if len(value) <= 40 and len(_TYPED) < 10_000:
            _TYPED[value] = value  # ids, statuses, channels ... recur in every file
        return value
    if name not in _TYPED_TAGS:
        raise ValueError(f"tag {name} is left to the full parser")
    constructor = _safe_loader().constructor
    node = ScalarNode(Tag(suffix=name), value)
    built = constructor.yaml_constructors[name](constructor, node)
    if isinstance(built, _TooLargeNumber):
        raise ValueError("a number too large to read is left to the full parser (positions)")
    typed = _plain(built)
    if len(_TYPED) < 10_000:
        _TYPED[value] = typed
    return typed


_OTHER_BREAKS = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
"""Line breaks ``str.splitlines`` knows besides ``\\n``."""


def first_line_starting(text: str, prefix: str) -> tuple[int, str] | None:
    """(1-based number, text) of the first line of ``text`` that starts with ``prefix``,
    numbered as ``text.splitlines()`` numbers them; None when no line does. Searched in C
    when ``\\n`` is the only line break: a build's thousands of diagnostics point at
    top-level keys, and splitting the file into lines for each was most of their cost."""
    if "\n" in prefix or _OTHER_BREAKS.search(prefix) is not None:
        return None  # no line holds a line break
    if _OTHER_BREAKS.search(text) is not None:
        for number, line in enumerate(text.splitlines(), start=1):
            if line.startswith(prefix):
                return number, line
        return None
    if text.startswith(prefix):
        at = 0
    else:
        at = text.find("\n" + prefix) + 1
        if at == 0:
            return None
    end = text.find("\n", at)
    return text.count("\n", 0, at) + 1, text[at:] if end < 0 else text[at:end]


@dataclass
class YamlDocument:
    """A parsed file: plain data plus the ruamel tree that knows where every node came from.

    ``positions`` remembers the positions the tree answered (``(loc, key)`` -> ``(line,
    col)``): they depend on the text alone, so the load cache keeps them with the document and
    a later run answers them without building the tree (``grown``: some were added since the
    document was made or read from the cache)."""

    path: str
    data: Any
    text: str
    _parsed_tree: Any = None
    sha256: str = ""
    positions: dict[tuple[Loc, bool], tuple[int, int]] | None = None
    grown: bool = False

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    @property
    def _tree(self) -> Any:
        # Positions need ruamel's round-trip tree, which costs ~60% more to build than plain
        # data; clean files never ask for a position, so it is built on first use only.
        if self._parsed_tree is None:
            self._parsed_tree = _round_trip_loader().load(self.text)
        return self._parsed_tree

    def _top_level_position(self, loc: Loc, key: bool) -> tuple[int, int] | None:
        """Position of a top-level key with a scalar value, found by scanning the text.

        Most diagnostics point at such keys (``slot``, ``priority``, ``owner`` ...); scanning
        spares building the round-trip tree. Anything less plain returns None (the tree
        decides), so the answer is always the one the tree would give.
        """
        if len(loc) != 1 or not isinstance(loc[0], str) or not isinstance(self.data, dict):
            return None
        name = loc[0]
        value = self.data.get(name)
        if name not in self.data:
            # A missing key: the tree answers with the mapping itself, i.e. its first key,
            # the first line that is neither blank, a comment nor a document marker.
            for number, line in enumerate(self.text.splitlines(), start=1):
                if line.strip() and not line.startswith(("#", "---", "%", " ", "\t")):
                    return (number, 1) if not line.startswith(("{", "[", "?", "&", "!")) else None
            return None
        if isinstance(value, dict | list):
            return None
        prefix = f"{name}:"
        found = first_line_starting(self.text, prefix)
        if found is None:
            return None
        number, line = found
        if key:
            return number, 1
        rest = line[len(prefix) :]
        stripped = rest.lstrip(" ")
        if not stripped or stripped.startswith("#") or not rest.startswith(" "):
            return None
        return number, len(prefix) + (len(rest) - len(stripped)) + 1

    def plain_source(self, loc: Loc) -> str | None:
        """The characters of the plain (unquoted) one-word scalar at ``loc`` as written.

        None when the value there is quoted, a block scalar, an alias, an anchored value, a
        collection or several words: callers use it to see *how* a number was written
        (``010`` and ``10`` load as the same int). ``loc`` must exist in the data.
        """
        line, col = self.position(loc)
        lines = self.lines
        if not 1 <= line <= len(lines):
            return None
        match = _PLAIN_WORD.match(lines[line - 1], col - 1)
        return match.group(0) if match else None

    def position(self, loc: Loc, *, key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of the node at ``loc``.

        With ``key=True`` the position of the mapping *key* of the last element is returned
        (what an editor should look at for an unknown field). When ``loc`` does not exist in
        the document (a missing field), the deepest existing parent is returned, so the
        position is always inside the file.
        """
        quick = self._top_level_position(loc, key)
        if quick is not None:
            return quick
        where = (tuple(loc), key)
        remembered = self.positions.get(where) if self.positions else None
        if remembered is not None:
            return remembered
        found = self._tree_position(loc, key)
        if self.positions is None:
            self.positions = {}
        self.positions[where] = found
        self.grown = True
        return found

    def _tree_position(self, loc: Loc, key: bool) -> tuple[int, int]:
        node = self._tree
        line, col = 1, 1
        if isinstance(node, CommentedMap | CommentedSeq) and node.lc.line is not None:
            line, col = node.lc.line + 1, node.lc.col + 1
        for index, part in enumerate(loc):
            last = index == len(loc) - 1
            if isinstance(node, CommentedMap) and part in node:
                k_line, k_col = node.lc.key(part)
                if last and key:
                    return k_line + 1, k_col + 1
                v_line, v_col = node.lc.value(part)
                child = node[part]
                if isinstance(child, CommentedMap | CommentedSeq) and not last:
                    line, col = v_line + 1, v_col + 1
                else:
                    line, col = v_line + 1, v_col + 1
                    if isinstance(child, CommentedMap) and child.lc.line is not None:
                        # A block mapping value starts on the next line; point at its key.
                        line, col = child.lc.line + 1, child.lc.col + 1
                node = child
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                i_line, i_col = node.lc.item(part)
                line, col = i_line + 1, i_col + 1
                node = node[part]
            else:
                break
        return line, col


# A plain scalar of one word: not starting with an indicator, ending at a space, a flow indicator
# or a comment.
_PLAIN_WORD = re.compile(r"[^\s,\[\]{}#'\"|>&*!%@`?:-][^\s,\[\]{}]*|-[^\s,\[\]{}]+")


def _decode(raw: bytes, path: str) -> tuple[str | None, Diagnostic | None]:
    if b"\x00" in raw:
        offset = raw.index(b"\x00")
        line = raw.count(b"\n", 0, offset) + 1
        return None, _error(
            path,
            line,
            1,
            "yaml.binary",
            "this file contains binary data (a NUL byte), not YAML text",
            "content files must be UTF-8 text; remove the file or save it as plain text",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, _error(
            path,
            line,
            col,
            "yaml.encoding",
            f"invalid UTF-8 byte 0x{raw[exc.start]:02x}",
            "save the file as UTF-8 (most editors: 'Save with encoding' -> UTF-8)",
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, None


def _check_nodes(data: Any, path: str, doc: YamlDocument) -> Diagnostic | None:
    """Refuse cycles, deep nesting, alias bombs and non-standard tags without expanding aliases."""
    if not _shape_ok(data):
        return _shape_problem(doc.text, path)
    sizes: dict[int, int] = {}
    stack: list[tuple[Any, Loc]] = [(data, ())]
    # Each distinct object is visited once; aliases reuse objects, so a billion-laughs document
    # is small here. The expanded size is the sum over references of each target's size, which
    # the memo computes without expanding.
    expanded, written = _expanded_size(data, sizes)
    if written > MAX_EXPANDED_NODES:
        return _error(
            path,
            1,
            1,
            "yaml.too_many_values",
            f"this file holds more than {MAX_EXPANDED_NODES:,} values",
            "content files are small: split the lists into several files or shorten them",
        )
    if expanded > MAX_EXPANDED_NODES:
        return _error(
            path,
            1,
            1,
            "yaml.too_many_nodes",
            f"aliases in this file expand to more than {MAX_EXPANDED_NODES:,} values",
            "remove the anchors (&name) and aliases (*name) that repeat each other",
        )
    seen: set[int] = set()
    while stack:
        node, loc = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, _TooLargeNumber):
            line, col = doc.position(loc)
            return _too_large_number(path, line, col)
        tag = getattr(node, "tag", None)
        tag_value = getattr(tag, "value", tag) if tag is not None else None
        bad_tag = isinstance(node, TaggedScalar) or (
            isinstance(tag_value, str) and tag_value not in _STANDARD_TAGS
        )
        if isinstance(node, bytes):
            bad_tag, tag_value = True, "!!binary"
        if bad_tag:
            line, col = doc.position(loc)
            return _error(
                path,
                line,
                col,
                "yaml.tag_not_allowed",
                f"the YAML tag {tag_value!s} is not allowed",
                "remove the '!' tag; content files hold plain text, numbers, lists and mappings",
            )
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, _TooLargeNumber):
                    line, col = doc.position((*loc, str(key)), key=True)
                    return _too_large_number(path, line, col)
                if not isinstance(key, str | int | float | bool | dt.date) and key is not None:
                    line, col = doc.position(loc)
                    return _error(
                        path,
                        line,
                        col,
                        "yaml.complex_key",
                        "a mapping key must be plain text",
                        "write keys as simple words, e.g. `segments:`",
                    )
                stack.append((value, (*loc, str(key))))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                stack.append((value, (*loc, index)))
    return None


def _too_large_number(path: str, line: int, col: int) -> Diagnostic:
    limit = sys.get_int_max_str_digits()
    return _error(
        path,
        line,
        col,
        "yaml.number_too_large",
        f"this number is too large: written out, it has more than {limit:,} digits"
        if limit
        else "this number is too large",
        "write a smaller number; if this is text, not a number, put it in quotes",
    )


def _children(node: dict[Any, Any] | list[Any]) -> Iterable[Any]:
    return node.values() if isinstance(node, dict) else node


def _shape_ok(data: Any) -> bool:
    """False when ``data`` contains itself (a recursive alias) or, with aliases expanded, nests
    deeper than :data:`MAX_DEPTH`. Iterative, and each distinct object is walked once."""
    if not isinstance(data, dict | list):
        return True
    heights: dict[int, int] = {}  # finished collection -> levels below it (0 when empty)
    on_path = {id(data)}
    stack: list[tuple[Any, Iterator[Any], int]] = [(data, iter(_children(data)), 0)]
    while stack:
        node, children, depth = stack[-1]
        for child in children:
            if depth + 1 > MAX_DEPTH:
                return False
            if not isinstance(child, dict | list):
                continue
            if id(child) in on_path:
                return False
            if id(child) in heights:
                if depth + 1 + heights[id(child)] > MAX_DEPTH:
                    return False
                continue
            on_path.add(id(child))
            stack.append((child, iter(_children(child)), depth + 1))
            break
        else:
            stack.pop()
            on_path.discard(id(node))
            heights[id(node)] = max(
                (
                    1 + heights[id(child)] if isinstance(child, dict | list) else 1
                    for child in _children(node)
                ),
                default=0,
            )
    return True


def _shape_problem(text: str, path: str) -> Diagnostic:
    """The first recursive alias or over-deep node of ``text``, positioned.

    Works on ruamel's event stream, which is produced without recursion, so it also locates
    nesting that made the composer exhaust Python's stack. The events give what the composed
    tree cannot: where an *alias* stands (the tree only knows where its anchor is).
    """
    open_: list[tuple[str | None, int]] = []  # enclosing collections: (anchor, height so far)
    heights: dict[str, int] = {}  # anchor -> height of its value

    def too_deep(line: int, col: int) -> Diagnostic:
        return _error(
            path,
            line + 1,
            col + 1,
            "yaml.too_deep",
            f"lists and mappings are nested more than {MAX_DEPTH} levels deep here",
            "content files need only a few levels; flatten this value "
            "(or check for an alias that repeats a deep value inside itself)",
        )

    def close_child(height: int) -> None:
        if open_:
            anchor, parent = open_[-1]
            open_[-1] = (anchor, max(parent, height + 1))

    try:
        for event in YAML(typ="safe", pure=True).parse(text):
            mark = event.start_mark
            if isinstance(event, AliasEvent):
                if any(anchor == event.anchor for anchor, _height in open_):
                    return _error(
                        path,
                        mark.line + 1,
                        mark.column + 1,
                        "yaml.recursive_alias",
                        f"the alias *{event.anchor} is used inside the value it names",
                        f"an alias repeats a value defined before and outside it; remove "
                        f"*{event.anchor} here or copy the values it should stand for",
                    )
                height = heights.get(str(event.anchor), 0)
                if len(open_) + height > MAX_DEPTH:
                    return too_deep(mark.line, mark.column)
                close_child(height)
            elif isinstance(event, ScalarEvent | CollectionStartEvent):
                if len(open_) > MAX_DEPTH:
                    return too_deep(mark.line, mark.column)
                if isinstance(event, CollectionStartEvent):
                    open_.append((event.anchor, 0))
                else:
                    if event.anchor is not None:
                        heights[event.anchor] = 0
                    close_child(0)
            elif isinstance(event, CollectionEndEvent) and open_:
                anchor, height = open_.pop()
                if anchor is not None:
                    heights[anchor] = height
                close_child(height)
    except (YAMLError, RecursionError, ValueError, TypeError, AssertionError):
        pass
    # Unreachable for documents that composed; kept so that the contract (a diagnostic, never
    # an exception) holds whatever ruamel does.
    return too_deep(0, 0)


def _expanded_size(node: Any, sizes: dict[int, int]) -> tuple[int, int]:
    """(values ``node`` stands for once every alias is expanded, values written in the file).

    Memoized and iterative; ``node`` must be free of cycles (see :func:`_shape_ok`).
    """
    if not isinstance(node, dict | list):
        return 1, 1
    order: list[Any] = []
    stack = [node]
    visiting: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in visiting:
            continue
        visiting.add(id(current))
        order.append(current)
        stack.extend(child for child in _children(current) if isinstance(child, dict | list))
    written = 1 + sum(len(current) for current in order)
    for current in reversed(order):
        size = 1
        for child in _children(current):
            size += sizes.get(id(child), 1) if isinstance(child, dict | list) else 1
            if size > MAX_EXPANDED_NODES:
                break
        sizes[id(current)] = min(size, MAX_EXPANDED_NODES + 1)
    return sizes[id(node)], written


def _plain(node: Any) -> Any:
    """Convert ruamel's round-trip types into plain Python values."""
    if isinstance(node, dict):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(value) for value in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, dt.datetime):
        return dt.datetime.fromisoformat(node.isoformat())
    if isinstance(node, dt.date):
        return dt.date(node.year, node.month, node.day)
    if isinstance(node, str):
        return str(node)
    return node


def _marked_position(exc: MarkedYAMLError) -> tuple[int, int]:
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return 1, 1
    return mark.line + 1, mark.column + 1


def read_yaml_file(
    path: Path, root: Path | None = None
) -> tuple[YamlDocument | None, Diagnostic | None]:
    """Read one YAML file safely (through :func:`read_content_bytes`).

    Returns ``(document, None)`` on success and ``(None, diagnostic)`` otherwise; never raises
    for bad content. ``root`` (when given) is used for display paths and to refuse symlinks that
    leave it. An empty file yields a document whose data is ``None``.
    """
    shown = display_path(path, root)
    raw, problem = read_content_bytes(path, root)
    if raw is None:
        return None, problem
    return parse_yaml_text(raw, shown)


# -- the user cache -------------------------------------------------------------------------------


def cache_dir() -> Path | None:
    """Where results are cached: ``$ATOMIC_CACHE_DIR`` (``off`` disables it), else
    ``$XDG_CACHE_HOME/atomic-content`` or ``~/.cache/atomic-content``."""
    configured = os.environ.get("ATOMIC_CACHE_DIR")
    if configured is not None:
        return None if configured.strip().lower() in ("", "off", "0", "false") else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "atomic-content"


def parse_yaml_text(raw: bytes | str, shown: str) -> tuple[YamlDocument | None, Diagnostic | None]:
    """Parse YAML from memory (bytes are decoded as UTF-8); same contract as read_yaml_file."""
    digest = hashlib.sha256(raw if isinstance(raw, bytes) else raw.encode("utf-8")).hexdigest()
    if isinstance(raw, bytes):
        text, problem = _decode(raw, shown)
        if problem is not None or text is None:
            return None, problem
    else:
        text = raw
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        return None, _error(
            shown,
            0,
            0,
            "io.too_large",
            f"text is larger than {MAX_FILE_BYTES:,} bytes",
            "split the content into several small files",
        )
    if (problem := _version_problem(text, shown)) is not None:
        return None, problem
    # Fastest: the plain subset most content files are written in (yamlfast declines
    # everything else, which the loaders below read).
    understood, data = yamlfast.parse(
        text, _resolve_plain, max_values=MAX_EXPANDED_NODES, max_depth=MAX_DEPTH // 2
    )
    if understood:
        return YamlDocument(shown, data, text, sha256=digest), None
    try:
        # Fast path: plain data from the safe loader. It refuses duplicate keys and unknown
        # tags like the round-trip loader; any error is re-reported by the slow path below,
        # which knows positions.
        data = _safe_loader().load(text)
    except RecursionError:
        # The composer recurses once per level; the round-trip loader would fail the same way.
        return None, _shape_problem(text, shown)
    except Exception:
        pass
    else:
        document = YamlDocument(shown, None, text, sha256=digest)
        problem = _check_nodes(data, shown, document)
        if problem is not None:
            return None, problem
        document.data = _plain(data)
        return document, None
    try:
        tree = _round_trip_loader().load(text)
    except DuplicateKeyError as exc:
        line, col = _marked_position(exc)
        key = (exc.problem or "").split('"')
        name = key[1] if len(key) > 2 else ""
        return None, _error(
            shown,
            line,
            col,
            "yaml.duplicate_key",
            f"the key {name!r} appears twice in the same mapping" if name else str(exc.problem),
            "keep one of the two entries; YAML would otherwise silently drop one",
        )
    except MarkedYAMLError as exc:
        line, col = _marked_position(exc)
        problem_text = exc.problem or exc.context or "invalid YAML"
        hint = _list_indent_hint(text, line) or _syntax_hint(problem_text)
        if exc.context and exc.context_mark is not None and exc.problem:
            start = f"line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1}"
            problem_text += f" ({exc.context.removeprefix('while ')} started at {start})"
            if "expected ',' or ']'" in exc.problem:
                hint = f"a [ list is not closed: add the missing ] to the list at {start}"
            elif "expected ',' or '}'" in exc.problem:
                hint = f"a {{ mapping is not closed: add the missing }} to the mapping at {start}"
        return None, _error(
            shown,
            line,
            col,
            "yaml.syntax",
            f"YAML syntax error: {problem_text}",
            hint,
        )
    except RecursionError:
        return None, _shape_problem(text, shown)
    except (YAMLError, ValueError, TypeError, AssertionError) as exc:
        return None, _error(
            shown,
            1,
            1,
            "yaml.syntax",
            f"YAML syntax error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
            "check indentation and quoting; paste the file into a YAML checker to locate it",
        )
    document = YamlDocument(shown, None, text, tree, sha256=digest)
    problem = _check_nodes(tree, shown, document)
    if problem is not None:
        return None, problem
    document.data = _plain(tree)
    return document, None


_DIRECTIVE_LINE = re.compile(r"^%", re.MULTILINE)


def _version_problem(text: str, shown: str) -> Diagnostic | None:
    """``yaml.version`` for a ``%YAML`` directive other than 1.2.

    ruamel would switch to YAML 1.1 rules (``010`` is 8, ``yes`` is true) for such a file, so
    the directive is refused before parsing. Only the directives before the document are
    scanned; a syntax error there is left to the parser, which positions it.
    """
    if _DIRECTIVE_LINE.search(text) is None:
        return None
    try:
        for token in YAML(typ="safe", pure=True).scan(text):
            if isinstance(token, StreamStartToken):
                continue
            if not isinstance(token, DirectiveToken):
                return None
            if token.name == "YAML" and tuple(token.value) != (1, 2):
                version = ".".join(str(part) for part in token.value)
                mark = token.start_mark
                return _error(
                    shown,
                    mark.line + 1,
                    mark.column + 1,
                    "yaml.version",
                    f"this file asks for YAML {version}; content files are read as YAML 1.2 only",
                    f"remove the `%YAML {version}` line (YAML 1.2: only true/false are booleans "
                    "and 010 is ten, not octal)",
                )
    except (YAMLError, ValueError, TypeError, AssertionError):
        return None
    return None


_KEY_LINE = re.compile(r"( *)([A-Za-z0-9_][\w.-]*):(?:\s|$)")
_ITEM_LINE = re.compile(r"( *)- ")


def _list_indent_hint(text: str, line: int) -> str:
    """An indentation hint when ``key:`` on ``line`` sits inside a list it does not belong to.

    ``segments:`` / ``  - vip`` / ``   journeys: [...]``: YAML reads ``journeys`` as more text
    of the item ``vip`` (or as a broken list), so the editor hears about quoting instead of
    the indentation that went wrong. Empty when the line does not look like that.
    """
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return ""
    key = _KEY_LINE.match(lines[line - 1])
    if key is None:
        return ""
    indent = len(key.group(1))
    for number in range(line - 1, 0, -1):
        above = lines[number - 1]
        if not above.strip() or above.lstrip().startswith("#"):
            continue
        item = _ITEM_LINE.match(above)
        if item is None or _KEY_LINE.match(above[item.end() :]):
            return ""  # not a list, or a list of mappings (a key there may belong to the item)
        if len(item.group(1)) > indent + 2:
            return ""
        parent = _list_parent(lines, number, len(item.group(1)))
        if parent is None:
            return ""
        parent_line, parent_key, parent_indent = parent
        if indent == parent_indent:
            return ""
        return (
            f"check the indentation: `{key.group(2)}:` is indented into the `{parent_key}:` "
            f"list (line {parent_line}); to add a field beside `{parent_key}:`, start it at "
            f"column {parent_indent + 1} like `{parent_key}:`"
        )
    return ""


def _list_parent(lines: list[str], item_line: int, dash: int) -> tuple[int, str, int] | None:
    """(line, key, indent) of the ``key:`` that holds the list item on ``item_line``."""
    for number in range(item_line - 1, 0, -1):
        above = lines[number - 1]
        if not above.strip() or above.lstrip().startswith("#"):
            continue
        if _ITEM_LINE.match(above):
            continue
        key = _KEY_LINE.match(above)
        if key is None or len(key.group(1)) > dash or above.split(":", 1)[1].strip():
            return None
        return number, key.group(2), len(key.group(1))
    return None


def _syntax_hint(problem: str) -> str:
    lowered = problem.lower()
    if "mapping values are not allowed" in lowered:
        return "a value that contains ': ' must be quoted, e.g. text: \"Hello: world\""
    if "found character '\\t'" in lowered or "tab" in lowered:
        return "YAML indentation uses spaces, not tabs"
    if "could not find expected ':'" in lowered:
        return "each line of a mapping needs `key: value`; check the line above for a missing colon"
    if "found undefined alias" in lowered:
        return "an alias (*name) must refer to an anchor (&name) defined earlier in the file"
    if "expected <block end>" in lowered or "indentation" in lowered:
        return "check the indentation: items of one mapping or list must line up"
    if "unclosed" in lowered or "end of stream" in lowered or "quoted scalar" in lowered:
        return "a quote or bracket is not closed; check the quotes on this line"
    return "check indentation and quoting around this position"
