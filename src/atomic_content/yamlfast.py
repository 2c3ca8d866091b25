"""A fast reader for the plain subset of YAML that content files are written in.

ruamel.yaml's pure-Python parser costs milliseconds per file; most content files are a dozen
``key: value`` lines. :func:`parse` reads exactly such files in a single pass over their lines
and returns ``None`` for anything it does not fully understand, so the caller
(:func:`atomic_content.yamlio.parse_yaml_text`) hands that file to ruamel, which stays the
reference: whatever this module returns is, by construction and by property test
(tests/test_yamlfast.py), what ruamel's safe loader returns for the same text.

Understood: block mappings with plain keys; block sequences (``- item``, ``- key: value``,
a sequence right under its key); single-line flow collections (``[a, b]``, ``{k: v}``,
nested); plain scalars on one line, single-quoted and escape-free double-quoted scalars on one
line; literal and folded blocks ``|``, ``|-``, ``>``, ``>-``; full-line and trailing comments.
Everything else (anchors, aliases, tags, directives, document markers, ``|+`` blocks,
multi-line plain or quoted scalars, tabs, duplicate keys, odd indentation, unusual characters
...) is declined.

Plain scalars are typed by the caller's ``resolve`` (YAML 1.2: ``yes`` is text, ``010`` is ten),
so this module has no opinion on what ``true`` or ``2026-12-31`` mean.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Resolve = Callable[[str], Any]
"""Types a plain scalar (``"12"`` -> 12); raises to decline the file."""

MAX_VALUES = 20_000
MAX_DEPTH = 24
MAX_KEY_CHARS = 1024
"""Longest plain key ruamel reads (a longer one is its syntax error, which it positions)."""

# Characters outside what ruamel accepts unquoted everywhere (control characters, NEL, the
# Unicode line and paragraph separators, a BOM inside the text, non-characters) or that need
# care (tab, carriage return): such files go to ruamel.
_UNUSUAL = re.compile(
    "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
_KEY = re.compile(r"([A-Za-z0-9_$][A-Za-z0-9_$.\-/]*):(?= |$)")
_FLOW_KEY = re.compile(r"([A-Za-z0-9_$][A-Za-z0-9_$.\-/]*):(?=[ ])")
_COMMENT = re.compile(r" +#")
# A plain scalar may not start with an indicator; '-' '?' ':' may when a non-space follows,
# but those are left to ruamel except '-' (negative numbers, '-x').
_PLAIN_START_BAD = frozenset("[]{},#&*!|>'\"%@`?:")
_FLOW_STOP = re.compile(r"[,\[\]{}]|: |:(?=[,\[\]{}])|:$| #")


class _Decline(Exception):
    """The file is outside the subset: let ruamel read it."""


def parse(
    text: str, resolve: Resolve, *, max_values: int = MAX_VALUES, max_depth: int = MAX_DEPTH
) -> tuple[bool, Any]:
    """``(True, data)`` when ``text`` is in the subset, else ``(False, None)``.

    Also declined: more than ``max_values`` values (keys, scalars and collections counted) or
    more than ``max_depth`` levels of nesting, so what is returned needs no further limit check.
    """
    if _UNUSUAL.search(text) is not None:
        return False, None
    try:
        reader = _Reader(text, resolve)
        reader.max_values = min(max_values, MAX_VALUES)
        reader.max_depth = min(max_depth, MAX_DEPTH)
        return True, reader.document()
    except (_Decline, RecursionError, ValueError, TypeError, IndexError, KeyError, AttributeError):
        return False, None
    except Exception:  # a resolver error of any kind: ruamel decides
        return False, None


class _Reader:
    def __init__(self, text: str, resolve: Resolve) -> None:
        self.lines = text.split("\n")
        self.resolve = resolve
        self.count = 0
        self.max_values = MAX_VALUES
        self.max_depth = MAX_DEPTH

    # -- helpers ----------------------------------------------------------------------------
    def skip(self, i: int) -> int:
        """The next line at or after ``i`` that is neither blank nor a comment."""
        lines = self.lines
        while i < len(lines):
            stripped = lines[i].lstrip(" ")
            if stripped and not stripped.startswith("#"):
                return i
            i += 1
        return i

    def value_done(self) -> None:
        self.count += 1
        if self.count > self.max_values:
            raise _Decline

    @staticmethod
    def indent(line: str) -> int:
        return len(line) - len(line.lstrip(" "))

    # -- document ---------------------------------------------------------------------------
    def document(self) -> Any:
        for line in self.lines:
            if line.startswith(("---", "...", "%")):
                raise _Decline
        i = self.skip(0)
        if i >= len(self.lines):
            return None
        if self.indent(self.lines[i]) != 0:
            raise _Decline
        value, i = self.block(i, 0, 0)
        if self.skip(i) < len(self.lines):
            raise _Decline
        return value

    def block(self, i: int, indent: int, depth: int) -> tuple[Any, int]:
        """The block node whose first line is ``i``, at column ``indent``."""
        if depth > self.max_depth:
            raise _Decline
        content = self.lines[i][indent:]
        if content == "-" or content.startswith("- "):
            return self.sequence(i, indent, depth)
        if _KEY.match(content):
            return self.mapping(i, indent, depth)
        raise _Decline

    def mapping(self, i: int, indent: int, depth: int) -> tuple[dict[str, Any], int]:
        result: dict[str, Any] = {}
        lines = self.lines
        while True:
            i = self.skip(i)
            if i >= len(lines):
                break
            line = lines[i]
            current = self.indent(line)
            if current < indent:
                break
            if current > indent:
                raise _Decline
            content = line[indent:]
            match = _KEY.match(content)
            if match is None:
                if content == "-" or content.startswith("- "):
                    break  # the caller decides (a sequence item of an enclosing list)
                raise _Decline
            key = match.group(1)
            if len(key) > MAX_KEY_CHARS or key in result or not isinstance(self.resolve(key), str):
                raise _Decline
            rest = content[match.end() :].lstrip(" ")
            if not rest or rest.startswith("#"):
                value, i = self.nested(i + 1, indent, depth, same_indent_list=True)
            else:
                value, i = self.inline(rest, i, indent, depth)
            result[key] = value
            self.value_done()
        return result, i

    def nested(self, i: int, indent: int, depth: int, *, same_indent_list: bool) -> tuple[Any, int]:
        """The value of ``key:`` / ``-`` with nothing after it: a block below it, or null."""
        j = self.skip(i)
        if j < len(self.lines):
            below = self.lines[j]
            deeper = self.indent(below)
            if deeper > indent:
                return self.block(j, deeper, depth + 1)
            content = below[indent:]
            if (
                same_indent_list
                and deeper == indent
                and (content == "-" or content.startswith("- "))
            ):
                return self.sequence(j, indent, depth + 1)
        self.value_done()
        return None, i

    def sequence(self, i: int, indent: int, depth: int) -> tuple[list[Any], int]:
        result: list[Any] = []
        lines = self.lines
        while True:
            i = self.skip(i)
            if i >= len(lines):
                break
            line = lines[i]
            current = self.indent(line)
            if current < indent:
                break
            if current > indent:
                raise _Decline
            content = line[indent:]
            if not (content == "-" or content.startswith("- ")):
                break  # back to the enclosing mapping (a list right under its key)
            after = content[1:]
            stripped = after.lstrip(" ")
            if not stripped or stripped.startswith("#"):
                value, i = self.nested(i + 1, indent, depth, same_indent_list=False)
            elif stripped == "-" or stripped.startswith("- "):
                raise _Decline
            elif _KEY.match(stripped):
                # `- key: value`: a mapping whose keys line up with `key`.
                inner = indent + 1 + len(after) - len(stripped)
                lines[i] = " " * inner + stripped  # (a private copy of the text's lines)
                value, i = self.mapping(i, inner, depth + 1)
            else:
                value, i = self.inline(stripped, i, indent, depth)
            result.append(value)
            self.value_done()
        return result, i

    # -- values on the key's line ------------------------------------------------------------
    def inline(self, rest: str, i: int, indent: int, depth: int) -> tuple[Any, int]:
        """The value that starts with ``rest`` on line ``i`` (its key at ``indent``)."""
        first = rest[0]
        if first in "[{":
            value, end = self.flow(rest, 0, depth + 1)
            self.tail(rest, end)
            return value, i + 1
        if first in "'\"":
            value, end = self.quoted(rest, 0)
            self.tail(rest, end)
            self.value_done()
            return value, i + 1
        if first in "|>":
            return self.literal(rest, i, indent)
        if first in _PLAIN_START_BAD or (first == "-" and (len(rest) == 1 or rest[1] == " ")):
            raise _Decline
        comment = _COMMENT.search(rest)
        text = (rest[: comment.start()] if comment else rest).rstrip(" ")
        if ": " in text or text.endswith(":"):
            raise _Decline
        self.value_done()
        return self.resolve(text), i + 1

    @staticmethod
    def tail(text: str, end: int) -> None:
        """After a flow collection or quoted scalar only spaces and a comment may follow."""
        rest = text[end:]
        if rest.strip(" ") and not _COMMENT.match(rest):
            raise _Decline

    def quoted(self, text: str, start: int) -> tuple[str, int]:
        quote = text[start]
        if quote == "'":
            pos = start + 1
            parts = []
            while True:
                close = text.find("'", pos)
                if close < 0:
                    raise _Decline  # multi-line or unclosed: ruamel reads or reports it
                parts.append(text[pos:close])
                if text.startswith("''", close):
                    parts.append("'")
                    pos = close + 2
                    continue
                return "".join(parts), close + 1
        close = text.find('"', start + 1)
        if close < 0:
            raise _Decline
        value = text[start + 1 : close]
        if "\\" in value:
            raise _Decline
        return value, close + 1

    def literal(self, header: str, i: int, indent: int) -> tuple[str, int]:
        """A ``|``, ``|-``, ``>`` or ``>-`` block below line ``i`` (its key at ``indent``)."""
        chomp = header.rstrip(" ")
        if chomp not in ("|", "|-", ">", ">-"):
            raise _Decline
        lines = self.lines
        j = i + 1
        if j >= len(lines) or not lines[j].strip(" "):
            raise _Decline  # empty block or leading blank lines: ruamel decides
        block = self.indent(lines[j])
        if block <= indent:
            raise _Decline
        body: list[str] = []
        last = j  # the last line with text
        while j < len(lines):
            line = lines[j]
            if line.strip(" "):
                if self.indent(line) < block:
                    break
                last = j
            elif len(line) > block:
                raise _Decline  # a blank line with spaces past the indentation
            body.append(line[block:])
            j += 1
        while body and not body[-1]:
            body.pop()  # trailing blank lines: dropped by both | (clip) and |- (strip)
        text = "\n".join(body) if chomp[0] == "|" else self.fold(body)
        self.value_done()
        # Clipping keeps the last line break, which the last line lacks at the end of the text.
        ends = last < len(lines) - 1
        return (text if chomp.endswith("-") or not ends else text + "\n"), j

    @staticmethod
    def fold(body: list[str]) -> str:
        """Folded block text: lines joined by a space, each blank line a line break."""
        parts: list[str] = []
        blanks = 0
        for line in body:
            if not line:
                blanks += 1
                continue
            if line[0] == " ":
                raise _Decline  # a more-indented line keeps its breaks: ruamel decides
            if parts:
                parts.append("\n" * blanks if blanks else " ")
            blanks = 0
            parts.append(line)
        return "".join(parts)

    # -- flow collections ----------------------------------------------------------------------
    def flow(self, text: str, pos: int, depth: int) -> tuple[Any, int]:
        if depth > self.max_depth:
            raise _Decline
        opener = text[pos]
        closer = "]" if opener == "[" else "}"
        pos = self.spaces(text, pos + 1)
        items: list[Any] = []
        mapping: dict[str, Any] = {}
        if text.startswith(closer, pos):
            self.value_done()
            return ([] if opener == "[" else {}), pos + 1
        while True:
            if opener == "{":
                match = _FLOW_KEY.match(text, pos)
                if match is None:
                    raise _Decline
                key = match.group(1)
                if (
                    len(key) > MAX_KEY_CHARS
                    or key in mapping
                    or not isinstance(self.resolve(key), str)
                ):
                    raise _Decline
                pos = self.spaces(text, match.end())
                value, pos = self.flow_value(text, pos, depth)
                mapping[key] = value
            else:
                value, pos = self.flow_value(text, pos, depth)
                items.append(value)
            pos = self.spaces(text, pos)
            if pos >= len(text):
                raise _Decline  # continues on the next line: ruamel reads it
            if text[pos] == closer:
                self.value_done()
                return (items if opener == "[" else mapping), pos + 1
            if text[pos] != ",":
                raise _Decline
            pos = self.spaces(text, pos + 1)
            if pos >= len(text) or text[pos] in ",]}":
                raise _Decline

    @staticmethod
    def spaces(text: str, pos: int) -> int:
        while pos < len(text) and text[pos] == " ":
            pos += 1
        return pos

    def flow_value(self, text: str, pos: int, depth: int) -> tuple[Any, int]:
        if pos >= len(text):
            raise _Decline
        first = text[pos]
        if first in "[{":
            return self.flow(text, pos, depth + 1)
        if first in "'\"":
            value, end = self.quoted(text, pos)
            self.value_done()
            return value, end
        if first in _PLAIN_START_BAD or (first == "-" and text[pos + 1 : pos + 2] in ("", " ")):
            raise _Decline
        stop = _FLOW_STOP.search(text, pos)
        end = stop.start() if stop else len(text)
        if stop is not None and text[stop.start()] in ":#[{":
            raise _Decline  # a pair inside a list, a comment, or a bracket inside a scalar
        scalar = text[pos:end].rstrip(" ")
        if not scalar:
            raise _Decline
        self.value_done()
        return self.resolve(scalar), end
