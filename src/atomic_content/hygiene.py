"""Text hygiene: characters that must not reach a message, found where an editor can fix them.

:func:`check_text_hygiene` scans every string of every parsed content file (values *and* keys,
after YAML has decoded its escapes, so ``"\\u202e"`` is found as well as a pasted character) and
the source of every layout template, and reports each offending character as an error:

* ``text.bidi_control``: U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C. They make text
  display in another order than it is stored ("Trojan Source"): a subject can read differently
  in the inbox than in review.
* ``text.invisible_character``: U+200B–U+200D, U+2060 and U+FEFF (a byte-order mark at the very
  start of a file is not part of its text and is allowed). A zero-width joiner *between two
  emoji* (👩‍💻) is how those emoji are written and is allowed.
* ``text.control_character``: C0 controls except TAB and LF, DEL and the C1 controls (U+0080 to
  U+009F). CR is refused in YAML values (YAML turns every line break into LF, so a CR there came
  from a ``\\r`` escape and could split an e-mail header) and allowed in templates only as part
  of a CRLF line break. Raw NUL *bytes* in a YAML file are refused earlier, by
  :mod:`atomic_content.yamlio` (``yaml.binary``), which never parses such a file; this module
  finds a NUL written as the escape ``"\\0"`` and a NUL byte in a template.
* ``text.lone_surrogate``: U+D800–U+DFFF, which only an escape such as ``"\\ud800"`` can
  produce; no encoder can write it out, so the build would crash on it.

Each diagnostic points at the character itself (1-based line and column in the file; for an
escape, at its backslash) and names it: ``U+202E RIGHT-TO-LEFT OVERRIDE``. Customer records are
scanned too; the message then names the code point and the field, never the value.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterator
from typing import Any, Final

from .errors import Diagnostic, Severity
from .repository import Library
from .yamlio import Loc, YamlDocument

__all__ = ["check_text_hygiene", "code_point_name"]

_BIDI: Final = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_INVISIBLE: Final = "\u200b-\u200d\u2060\ufeff"
_CONTROL: Final = "\x00-\x08\x0b-\x1f\x7f-\x9f"  # everything but TAB and LF; CR decided per use
_SURROGATE: Final = "\ud800-\udfff"
_SUSPECT: Final = re.compile(f"[{_BIDI}{_INVISIBLE}{_CONTROL}{_SURROGATE}]")

# Escapes of a double-quoted YAML scalar that can produce a flagged character. An escaped
# backslash is matched too, so that "\\u202e" (a backslash, then "u202e") is not read as one.
_ESCAPE: Final = re.compile(r"\\(?:x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|[0abefvrN\\])")
_SIMPLE_ESCAPES: Final = {
    "0": "\x00",
    "a": "\x07",
    "b": "\x08",
    "e": "\x1b",
    "f": "\x0c",
    "v": "\x0b",
    "r": "\r",
    "N": "\x85",
    "\\": "\\",
}

# unicodedata has no names for control characters; these are their Unicode name aliases.
_CONTROL_NAMES: Final = {
    0x00: "NULL",
    0x07: "BELL",
    0x08: "BACKSPACE",
    0x0B: "LINE TABULATION",
    0x0C: "FORM FEED",
    0x0D: "CARRIAGE RETURN",
    0x1B: "ESCAPE",
    0x7F: "DELETE",
    0x85: "NEXT LINE",
}

_HINTS: Final = {
    "text.bidi_control": "delete it (most editors show it only with 'show invisibles'): it makes "
    "text display in another order than it is written; the locale sets the text direction",
    "text.invisible_character": "delete it (most editors show it only with 'show invisibles'): "
    "an invisible character breaks words, codes and links that look fine",
    "text.control_character": "delete it: control characters are not text; they break e-mail "
    "headers and show as boxes or question marks",
    "text.lone_surrogate": "a \\ud800-\\udfff escape is half of a character and cannot be "
    "written out; write the character itself, or \\U0001F600 for one beyond \\uFFFF",
}

_KIND_WORDS: Final = {
    "text.bidi_control": "a bidirectional control character",
    "text.invisible_character": "an invisible character",
    "text.control_character": "a control character",
    "text.lone_surrogate": "a lone surrogate",
}


def code_point_name(ch: str) -> str:
    """``U+202E RIGHT-TO-LEFT OVERRIDE``: the code point and its Unicode name (or alias)."""
    code = ord(ch)
    name = _CONTROL_NAMES.get(code) or unicodedata.name(ch, "")
    if not name:
        name = "<surrogate>" if 0xD800 <= code <= 0xDFFF else "<control>"
    return f"U+{code:04X} {name}"


def _classify(text: str, index: int, *, template: bool) -> str | None:
    """The diagnostic code for ``text[index]``, or None when it is fine where it stands."""
    ch = text[index]
    code = ord(ch)
    if 0xD800 <= code <= 0xDFFF:
        return "text.lone_surrogate"
    if ch == "\u200d" and _joins_emoji(text, index):
        return None
    if re.match(f"[{_BIDI}]", ch):
        return "text.bidi_control"
    if re.match(f"[{_INVISIBLE}]", ch):
        return "text.invisible_character"
    if ch == "\r" and template and text.startswith("\n", index + 1):
        return None
    return "text.control_character"


def _joins_emoji(text: str, index: int) -> bool:
    """Whether the ZWJ at ``index`` sits inside an emoji sequence (👩‍💻, 🏳️‍🌈, 👩🏽‍💻)."""
    before = text[index - 1] if index > 0 else ""
    after = text[index + 1] if index + 1 < len(text) else ""
    if not before or not after or after.isascii():
        return False
    before_ok = before == "\ufe0f" or unicodedata.category(before) in ("So", "Sk")
    return before_ok and unicodedata.category(after) == "So"


def _offset(starts: list[int], line: int, col: int) -> int:
    if line < 1 or line > len(starts):
        return 0
    return starts[line - 1] + max(col - 1, 0)


def _line_col(starts: list[int], offset: int) -> tuple[int, int]:
    line = bisect.bisect_right(starts, offset)
    return line, offset - starts[line - 1] + 1


def _line_starts(text: str) -> list[int]:
    starts = [0]
    starts.extend(m.end() for m in re.finditer("\n", text))
    return starts


def _source_offset(source: str, start: int, ch: str, occurrence: int) -> int | None:
    """Offset in ``source``, at or after ``start``, of the ``occurrence``-th (0-based) way of
    writing ``ch``: the character itself or a YAML escape that decodes to it."""
    seen = 0
    i = start
    while i < len(source):
        c = source[i]
        if c == "\\":
            m = _ESCAPE.match(source, i)
            if m is not None:
                body = m.group(0)[1:]
                decoded = (
                    _SIMPLE_ESCAPES[body] if len(body) == 1 else chr(int(body[1:], 16) % 0x110000)
                )
                if body != "\\" and decoded == ch:
                    if seen == occurrence:
                        return i
                    seen += 1
                i = m.end()
                continue
        if c == ch:
            if seen == occurrence:
                return i
            seen += 1
        i += 1
    return None


def _strings(data: Any, loc: Loc = ()) -> Iterator[tuple[Loc, bool, str]]:
    """(loc, is_key, text) of every string in parsed YAML data, keys included."""
    stack: list[tuple[Any, Loc]] = [(data, loc)]
    seen: set[int] = set()
    while stack:
        node, here = stack.pop()
        if isinstance(node, str):
            yield here, False, node
        elif isinstance(node, dict | list):
            if id(node) in seen:  # an alias: its strings were scanned where the anchor is
                continue
            seen.add(id(node))
            if isinstance(node, dict):
                for key, value in reversed(list(node.items())):
                    if isinstance(key, str):
                        yield (*here, key), True, key
                    stack.append((value, (*here, str(key))))
            else:
                for index in reversed(range(len(node))):
                    stack.append((node[index], (*here, index)))


def _describe(loc: Loc, is_key: bool) -> str:
    where = ".".join(str(part) for part in loc)
    if is_key:
        return f"the key {where!r}"
    return f"{where}" if where else "the file"


def _diagnostic(path: str, line: int, col: int, code: str, ch: str, where: str) -> Diagnostic:
    return Diagnostic(
        path,
        line,
        col,
        Severity.ERROR,
        code,
        f"{where} contains {code_point_name(ch)}, {_KIND_WORDS[code]}",
        _HINTS[code],
    )


def _scan_document(doc: YamlDocument) -> Iterator[Diagnostic]:
    if "\\" not in doc.text and _SUSPECT.search(doc.text) is None:
        return  # every value is written out in the text, and the text holds no such character
    starts: list[int] | None = None
    for loc, is_key, text in _strings(doc.data):
        if _SUSPECT.search(text) is None:
            continue
        if starts is None:
            starts = _line_starts(doc.text)
        line, col = doc.position(loc, key=is_key)
        start = _offset(starts, line, col)
        counts: dict[str, int] = {}
        for m in _SUSPECT.finditer(text):
            ch = m.group(0)
            occurrence = counts.get(ch, 0)
            counts[ch] = occurrence + 1
            code = _classify(text, m.start(), template=False)
            if code is None:
                continue
            found = _source_offset(doc.text, start, ch, occurrence)
            where_line, where_col = (line, col) if found is None else _line_col(starts, found)
            yield _diagnostic(doc.path, where_line, where_col, code, ch, _describe(loc, is_key))


def _scan_template(path: str, source: str) -> Iterator[Diagnostic]:
    body = source.removeprefix("\ufeff")
    skipped = len(source) - len(body)
    starts = _line_starts(source)
    for m in _SUSPECT.finditer(body):
        code = _classify(body, m.start(), template=True)
        if code is None:
            continue
        line, col = _line_col(starts, m.start() + skipped)
        yield _diagnostic(path, line, col, code, m.group(0), "this template")


def document_hygiene(doc: YamlDocument) -> list[Diagnostic]:
    """:func:`check_text_hygiene` of one parsed file (it depends on that file alone)."""
    return list(_scan_document(doc))


def template_hygiene(path: str, source: str) -> list[Diagnostic]:
    """:func:`check_text_hygiene` of one layout template."""
    return list(_scan_template(path, source))


def check_text_hygiene(library: Library) -> list[Diagnostic]:
    """Every bidi control, invisible character, control character and lone surrogate in the
    content: in every parsed YAML file of ``library.documents`` (settings, profile, segments,
    atoms, journeys, layouts, customers -- also files that failed their schema check) and in
    every layout template that was read.

    Returns errors (codes ``text.bidi_control``, ``text.invisible_character``,
    ``text.control_character``, ``text.lone_surrogate``) in file order, each positioned at the
    character (or at the backslash of the escape that wrote it). Never raises.
    """
    found: list[Diagnostic] = []
    for doc in library.documents.values():
        found.extend(_scan_document(doc))
    for entry in library.layouts.values():
        if entry.template_path is not None and entry.template_source is not None:
            found.extend(_scan_template(entry.template_path, entry.template_source))
    return sorted(found)
