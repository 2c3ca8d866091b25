"""Targeting conditions: a pure, GrowthBook-compatible evaluator, a compiler and a strict checker.

A *condition* is a MongoDB-style JSON object such as
``{"country": {"$in": ["DE", "AT"]}, "age": {"$gte": 18}}``. This module gives it exactly the
meaning GrowthBook gives it (``evalCondition`` in ``packages/sdk-js/src/mongrule.ts``, as published
in ``@growthbook/growthbook`` 1.8.0), so that a segment written for GrowthBook selects the same
customers here.

Contract
--------
* :func:`evaluate` and :class:`CompiledCondition` return what GrowthBook's JS ``evalCondition``
  returns for the same JSON condition, attributes and saved groups, including JavaScript's
  coercions: ``{"n": {"$gt": 5}}`` matches ``{"n": "8"}``, a missing attribute reads as ``null``
  (which compares as ``0`` and stringifies as ``"null"``), booleans never equal numbers under
  ``$eq``/``$in``, ``$type`` uses JS ``typeof`` names, strings compare by UTF-16 code units and
  regular expressions follow JS syntax (they are translated to Python :mod:`re` once and cached).
* They are pure and never raise on JSON-like input (``dict``/``list``/``tuple``/``str``/numbers/
  ``bool``/``None``, nested arbitrarily): an unknown operator or an invalid regex makes its test
  false, and where GrowthBook's JS would throw (``{"$not": null}``) the whole condition is false.
  A top-level condition that is not a mapping is false. Subclasses of the JSON types (``StrEnum``,
  ``IntEnum``) behave like their base type; values of other Python types behave like an opaque
  JS object (``typeof`` "object", never equal to anything).
* :func:`compile_condition` parses a condition once into closures; calling the result does no
  dict walking of the condition. The compiled form is independent of later mutation of the
  condition.
* :func:`check_condition` is the strict load-time validator. It is deliberately stricter than
  :func:`evaluate` (which accepts anything GrowthBook accepts) and reports every problem, in
  document order, with a position inside the condition and a hint written for content editors.

Known limits: Python's ``re`` has no variable-length lookbehind, so a pattern such as
``(?<=a+)b`` counts as invalid (false, and :func:`check_condition` reports it) where JS would run
it; and names inherited from ``Object.prototype`` (``"constructor"``, ``"toString"`` ...) are not
emulated: as attribute paths or saved-group ids they read as missing, not as JS functions.
Regular expressions are bounded where JS's are not: a value longer than :data:`MAX_REGEX_INPUT`
does not match, and a match that takes longer than :data:`REGEX_TIMEOUT` is false.
"""

from __future__ import annotations

import bisect
import difflib
import json
import math
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Final

from .dates import iso_date, iso_datetime

__all__ = [
    "CompiledCondition",
    "ConditionProblem",
    "RegexShape",
    "check_condition",
    "compile_condition",
    "evaluate",
    "first_match",
    "regex_shape",
]

# A compiled node. Conditions take the object they test, matchers take the attribute value; both
# take the saved groups because only a handful of nodes need them and threading one argument is
# cheaper than rebuilding closures per call.
_Node = Callable[[Any, Any], bool]

_EMPTY_GROUPS: Final[Mapping[str, Any]] = {}

# |n| below 2**53: Python ints in this range are exactly JS numbers, so native comparison agrees.
_MAX_SAFE: Final = 2**53

# ---------------------------------------------------------------------------------------------
# JavaScript value semantics for JSON-like Python values
# ---------------------------------------------------------------------------------------------

_NULL, _BOOL, _NUM, _STR, _ARR, _OBJ = range(6)
_TYPEOF: Final = ("null", "boolean", "number", "string", "array", "object")


class _JSThrow(Exception):
    """GrowthBook's JS would throw a TypeError here; the whole evaluation is then false."""


def _kind(v: Any) -> int:
    """The JS type of a Python value (bool is tested before int: ``True`` is not a number)."""
    t = type(v)
    if t is str:
        return _STR
    if t is int or t is float:
        return _NUM
    if v is None:
        return _NULL
    if t is bool:
        return _BOOL
    if t is list or t is tuple:
        return _ARR
    if t is dict:
        return _OBJ
    # Subclasses (StrEnum, IntEnum ...) behave like their base type.
    if isinstance(v, str):
        return _STR
    if isinstance(v, (int, float)):
        return _NUM
    if isinstance(v, (list, tuple)):
        return _ARR
    return _OBJ


def _double(v: Any) -> float:
    """The JS number of a Python int or float; ints beyond the float range become +-Infinity,
    as ``JSON.parse`` would make them."""
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def _num_str(d: float) -> str:
    """``Number.prototype.toString()``: shortest round-trip digits, ECMA-262 layout rules."""
    if d != d:
        return "NaN"
    if d == 0:
        return "0"  # also -0
    if math.isinf(d):
        return "Infinity" if d > 0 else "-Infinity"
    sign = "-" if d < 0 else ""
    mantissa, _, exp = repr(abs(d)).partition("e")
    int_part, _, frac = mantissa.partition(".")
    digits = int_part + frac
    point = len(int_part) + (int(exp) if exp else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k, n = len(digits), point
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * -n + digits
    else:
        e = n - 1
        out = digits[0] + ("." + digits[1:] if k > 1 else "") + ("e+" if e >= 0 else "e-")
        out += str(abs(e))
    return sign + out


def _js_to_string(v: Any) -> str:
    """``String(v)`` / ``v + ""``."""
    k = _kind(v)
    if k == _STR:
        return str(v)
    if k == _NUM:
        if type(v) is int and -_MAX_SAFE <= v <= _MAX_SAFE:
            return str(v)
        return _num_str(_double(v))
    if k == _NULL:
        return "null"
    if k == _BOOL:
        return "true" if v else "false"
    if k == _ARR:
        return ",".join("" if x is None else _js_to_string(x) for x in v)
    return "[object Object]"


_JS_SPACE: Final = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
_JS_SPACE_ALL: Final = _JS_SPACE + "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_DECIMAL: Final = re.compile(r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
_NON_DECIMAL: Final = re.compile(r"0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+")


@lru_cache(maxsize=4096)
def _string_to_number(s: str) -> float:
    """``Number(s)``: JS whitespace is trimmed, "" is 0, hex/octal/binary literals are accepted
    and everything Python's ``float`` accepts but JS does not ("nan", "1_0") is NaN."""
    t = s.strip(_JS_SPACE_ALL)
    if not t:
        return 0.0
    if _DECIMAL.fullmatch(t):
        if t.endswith("Infinity"):
            return -math.inf if t[0] == "-" else math.inf
        return float(t)
    if _NON_DECIMAL.fullmatch(t):
        return _double(int(t, 0))
    return math.nan


def _js_to_number(v: Any) -> float:
    """``Number(v)`` (``v * 1``)."""
    k = _kind(v)
    if k == _NUM:
        return _double(v)
    if k == _STR:
        return _string_to_number(str(v))
    if k == _NULL:
        return 0.0
    if k == _BOOL:
        return 1.0 if v else 0.0
    if k == _ARR:
        return _string_to_number(_js_to_string(v))
    return math.nan


def _js_truthy(v: Any) -> bool:
    """JS truthiness: unlike Python, ``[]`` and ``{}`` are true and NaN is false."""
    k = _kind(v)
    if k == _BOOL:
        return bool(v)
    if k == _NUM:
        d = _double(v)
        return d == d and d != 0
    if k == _STR:
        return len(v) > 0
    return k != _NULL


def _js_type(v: Any) -> str:
    """GrowthBook's ``getType``: ``typeof`` with "null" and "array" split out."""
    return _TYPEOF[_kind(v)]


def _strict_equals(a: Any, b: Any) -> bool:
    """``a === b``. Arrays and objects are compared by reference in JS, and a condition is never
    the same object as an attribute, so they are never equal."""
    ka = _kind(a)
    if ka != _kind(b):
        return False
    if ka == _NUM:
        return _double(a) == _double(b)
    if ka == _STR:
        return str(a) == str(b)
    if ka == _BOOL:
        return bool(a) == bool(b)
    return ka == _NULL


def _same_value_zero(a: Any, b: Any) -> bool:
    """``[b].includes(a)``: like ``===`` except that NaN equals NaN."""
    if _strict_equals(a, b):
        return True
    if _kind(a) == _NUM and _kind(b) == _NUM:
        da, db = _double(a), _double(b)
        return da != da and db != db
    return False


def _str_lt(a: str, b: str) -> bool:
    """``a < b`` for JS strings, which compare UTF-16 code units, not code points."""
    # If either side is ASCII the two orders agree; only astral vs U+E000..U+FFFF differ.
    if a.isascii() or b.isascii():
        return a < b
    return a.encode("utf-16-be", "surrogatepass") < b.encode("utf-16-be", "surrogatepass")


def _to_primitive(v: Any) -> Any:
    k = _kind(v)
    if k == _ARR:
        return _js_to_string(v)
    if k == _OBJ:
        return "[object Object]"
    return v


def _less(a: Any, b: Any) -> bool | None:
    """ECMA-262 IsLessThan(a, b): None means *undefined* (a NaN was involved)."""
    pa, pb = _to_primitive(a), _to_primitive(b)
    if _kind(pa) == _STR and _kind(pb) == _STR:
        return _str_lt(str(pa), str(pb))
    x, y = _js_to_number(pa), _js_to_number(pb)
    if x != x or y != y:
        return None
    return x < y


def _js_lt(a: Any, b: Any) -> bool:
    return _less(a, b) is True


def _js_gt(a: Any, b: Any) -> bool:
    return _less(b, a) is True


def _js_lte(a: Any, b: Any) -> bool:
    return _less(b, a) is False


def _js_gte(a: Any, b: Any) -> bool:
    return _less(a, b) is False


def _utf16_units(s: str) -> list[str]:
    """The elements JS sees when it indexes a string (astral characters are two surrogates)."""
    if all(ord(c) < 0x10000 for c in s):
        return list(s)
    units: list[str] = []
    for c in s:
        o = ord(c)
        if o < 0x10000:
            units.append(c)
        else:
            o -= 0x10000
            units.append(chr(0xD800 + (o >> 10)))
            units.append(chr(0xDC00 + (o & 0x3FF)))
    return units


_ASTRAL: Final = re.compile("[\U00010000-\U0010ffff]")


def _utf16_string(s: str) -> str:
    """``s`` as JS strings are: astral characters become their two surrogate code units."""
    if s.isascii() or _ASTRAL.search(s) is None:
        return s
    return "".join(_utf16_units(s))


_ARRAY_INDEX: Final = re.compile(r"0|[1-9][0-9]*")


def _is_array_index(key: str) -> bool:
    return _ARRAY_INDEX.fullmatch(key) is not None and int(key) < 2**32 - 1


def _js_entries(m: Mapping[Any, Any]) -> list[tuple[str, Any]]:
    """``Object.entries(m)``: keys are strings, integer-like keys first in ascending order."""
    items = [(k if isinstance(k, str) else _js_to_string(k), v) for k, v in m.items()]
    if not any(_is_array_index(k) for k, _ in items):
        return items
    indexed = sorted(((int(k), k, v) for k, v in items if _is_array_index(k)), key=lambda t: t[0])
    return [(k, v) for _, k, v in indexed] + [(k, v) for k, v in items if not _is_array_index(k)]


def _js_json(v: Any) -> str:
    """``JSON.stringify(v)``; GrowthBook compares arrays and plain objects by this string."""
    k = _kind(v)
    if k == _STR:
        return json.dumps(str(v), ensure_ascii=False)
    if k == _NUM:
        d = _double(v)
        return _js_to_string(v) if math.isfinite(d) else "null"
    if k == _NULL:
        return "null"
    if k == _BOOL:
        return "true" if v else "false"
    if k == _ARR:
        return "[" + ",".join(_js_json(x) for x in v) + "]"
    if isinstance(v, Mapping):
        body = ",".join(
            json.dumps(key, ensure_ascii=False) + ":" + _js_json(val) for key, val in _js_entries(v)
        )
        return "{" + body + "}"
    return "{}"


def _get_step(obj: Any, key: str) -> Any:
    """One step of GrowthBook's ``getPath``: ``obj && typeof obj === "object" && key in obj``.

    Arrays answer to canonical indices and to "length"; everything else reads as null.
    """
    t = type(obj)
    if obj is None or t is str or t is int or t is float or t is bool:
        return None  # the common misses, without the (slow) abstract Mapping check
    if isinstance(obj, Mapping):
        return obj.get(key) if key in obj else None
    if isinstance(obj, (list, tuple)):
        if key == "length":
            return len(obj)
        if _is_array_index(key):
            i = int(key)
            return obj[i] if i < len(obj) else None
    return None


def _js_array_like(v: Any) -> list[Any] | None:
    """What a JS ``for (i < v.length) v[i]`` loop visits; None where JS would throw (null)."""
    k = _kind(v)
    if k == _ARR:
        return list(v)
    if k == _STR:
        return _utf16_units(str(v))
    if k == _NULL:
        return None
    return []  # numbers, booleans and objects have no length: the loop body never runs


# ---------------------------------------------------------------------------------------------
# Versions and regular expressions
# ---------------------------------------------------------------------------------------------

_JS_NOT_LINE_END: Final = "[^\\n\\r\\u2028\\u2029]"
_VERSION_STRIP: Final = re.compile(r"^v|\+" + _JS_NOT_LINE_END + r"*\Z")
_VERSION_SPLIT: Final = re.compile(r"[-.]")
_VERSION_NUMBER: Final = re.compile(r"[0-9]+")


@lru_cache(maxsize=4096)
def _padded_version_str(s: str) -> str:
    parts = _VERSION_SPLIT.split(_VERSION_STRIP.sub("", s))
    if len(parts) == 3:
        # A release sorts after its pre-releases: "~" is above every ASCII letter and digit.
        parts.append("~")
    return "-".join(p.rjust(5) if _VERSION_NUMBER.fullmatch(p) else p for p in parts)


def _padded_version(v: Any) -> str:
    """GrowthBook's ``paddedVersionString``: numeric parts are left-padded to width 5 so that
    plain string comparison orders versions ("1.10.0" > "1.9.0")."""
    if type(v) is str and v:
        return _padded_version_str(v)
    k = _kind(v)
    if k == _NUM:
        v = _js_to_string(v)
    elif k != _STR:
        v = "0"
    return _padded_version_str(str(v) or "0")


def _js_canonicalize(ch: str) -> str:
    """ECMA-262 Canonicalize for a non-unicode /i pattern: the upper case of one UTF-16 unit,
    unless that takes more than one unit or turns a non-ASCII character into an ASCII one."""
    upper = ch.upper()
    if len(upper) != 1 or (ord(ch) >= 128 and ord(upper) < 128):
        return ch
    return upper


@lru_cache(maxsize=1)
def _js_canon_table() -> dict[int, str]:
    """``str.translate`` table of every UTF-16 unit whose canonical form is another unit. Built
    once, on the first case-insensitive pattern (some tens of milliseconds)."""
    table: dict[int, str] = {}
    for code in range(0x10000):
        canonical = _js_canonicalize(chr(code))
        if canonical != chr(code):
            table[code] = canonical
    return table


@lru_cache(maxsize=1)
def _js_canon_sources() -> list[str]:
    """The units that canonicalize to another unit, sorted (for ranges)."""
    return sorted(chr(code) for code in _js_canon_table())


def _js_canonical_text(s: str) -> str:
    """The subject as a JS /i pattern compares it: every unit canonicalized."""
    if s.isascii():
        return s.upper()  # ASCII canonicalizes to ASCII upper case
    return s.translate(_js_canon_table())


class _RegexSyntaxError(Exception):
    """The pattern is not a valid JavaScript regular expression (or has no Python equivalent)."""


_W: Final = "A-Za-z0-9_"
_S: Final = (
    "\\t\\n\\x0b\\x0c\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
)
_CLASS_ESCAPES: Final = {
    "d": ("0-9", False),
    "D": ("0-9", True),
    "w": (_W, False),
    "W": (_W, True),
    "s": (_S, False),
    "S": (_S, True),
}
_WORD_BOUNDARY: Final = f"(?:(?<=[{_W}])(?![{_W}])|(?<![{_W}])(?=[{_W}]))"
_NOT_WORD_BOUNDARY: Final = f"(?:(?<=[{_W}])(?=[{_W}])|(?<![{_W}])(?![{_W}]))"
_CONTROL_ESCAPES: Final = {"t": "\t", "n": "\n", "r": "\r", "f": "\f", "v": "\v"}
_BRACED_QUANTIFIER: Final = re.compile(r"\{[0-9]+(?:,[0-9]*)?\}")
_GROUP_NAME: Final = re.compile(r"([A-Za-z_$][A-Za-z0-9_$]*)>")
_HEX: Final = frozenset("0123456789abcdefABCDEF")
_DIGITS: Final = frozenset("0123456789")
_OCTAL: Final = frozenset("01234567")


class _JSRegexTranslator:
    """Translates a JavaScript (non-unicode mode, Annex B) pattern into an equivalent Python one.

    Python's ``re`` differs from JS in ways that matter for targeting: ``\\d``/``\\w``/``\\b``
    are Unicode-aware in Python but ASCII in JS, ``$`` also matches before a final newline,
    ``.`` matches ``\\r``, named groups use ``(?P<..>)``, unknown escapes such as ``\\e`` are
    errors in Python but literals in JS, and Python accepts syntax JS rejects (possessive
    quantifiers, inline flags). Each of those is rewritten or rejected here.
    """

    def __init__(self, src: str, *, insensitive: bool = False) -> None:
        self.src = src
        # JS /i compares canonicalized units (Canonicalize: upper case, with exceptions), which
        # is not what Python's IGNORECASE does ("İ" ~ "i", "ſ" ~ "s", Kelvin sign ~ "k", "µ"
        # and "Μ" in backreferences). So an insensitive pattern is written in canonical units
        # and matched, case-sensitively, against the canonicalized subject.
        self.canon = _js_canon_table() if insensitive else None
        self.i = 0
        self.group_count, names = self._scan_groups(src)
        # JS allows names Python does not ("$x"); every name gets a Python-safe alias.
        self.names = {name: (f"g{number}", number) for name, number in names}
        if len(self.names) != len(names):
            raise _RegexSyntaxError("duplicate capture group name")
        self.opened = 0
        self.closed: set[int] = set()

    @staticmethod
    def _scan_groups(src: str) -> tuple[int, list[tuple[str, int]]]:
        count, i, n = 0, 0, len(src)
        names: list[tuple[str, int]] = []
        while i < n:
            c = src[i]
            if c == "\\":
                i += 2
                continue
            if c == "[":
                i += 1
                if src.startswith("^", i):
                    i += 1
                if src.startswith("]", i):  # JS "[]" / "[^]": the class is already closed
                    i += 1
                    continue
                while i < n and src[i] != "]":
                    i += 2 if src[i] == "\\" else 1
            elif c == "(":
                if not src.startswith("(?", i):
                    count += 1
                elif src.startswith("(?<", i) and not src.startswith(("(?<=", "(?<!"), i):
                    count += 1
                    m = _GROUP_NAME.match(src, i + 3)
                    if m:
                        names.append((m.group(1), count))
            i += 1
        return count, names

    def translate(self) -> str:
        src, n = self.src, len(self.src)
        out: list[str] = []
        # What ends each open group, whether it can be quantified then, its capture number.
        closers: list[tuple[str, bool, int]] = []
        quantifiable = False
        while self.i < n:
            c = src[self.i]
            if c == "\\":
                self.i += 1
                kind, val = self._escape(in_class=False)
                if kind == "char":
                    out.append(self._literal(val))
                elif kind == "set":
                    out.append(f"[{val}]")
                elif kind == "nset":
                    out.append(f"[^{val}]")
                else:
                    out.append(val)
                quantifiable = kind != "assert"
            elif c == "[":
                self.i += 1
                out.append(self._char_class())
                quantifiable = True
            elif c == "(":
                if src.startswith(("(?:",), self.i):
                    out.append("(?:")
                    closers.append((")", True, 0))
                    self.i += 3
                elif src.startswith(("(?=", "(?!"), self.i):
                    # Annex B lets a lookahead be quantified; Python needs a group around it.
                    out.append("(?:" + src[self.i : self.i + 3])
                    closers.append(("))", True, 0))
                    self.i += 3
                elif src.startswith(("(?<=", "(?<!"), self.i):
                    out.append(src[self.i : self.i + 4])
                    closers.append((")", False, 0))
                    self.i += 4
                elif src.startswith("(?<", self.i):
                    m = _GROUP_NAME.match(src, self.i + 3)
                    if m is None:
                        raise _RegexSyntaxError("invalid capture group name")
                    self.opened += 1
                    out.append(f"(?P<{self.names[m.group(1)][0]}>")
                    closers.append((")", True, self.opened))
                    self.i = m.end()
                elif src.startswith("(?", self.i):
                    raise _RegexSyntaxError("invalid group")
                else:
                    self.opened += 1
                    out.append("(")
                    closers.append((")", True, self.opened))
                    self.i += 1
                quantifiable = False
            elif c == ")":
                if not closers:
                    raise _RegexSyntaxError("unmatched ')'")
                closer, quantifiable, number = closers.pop()
                self.closed.add(number)
                out.append(closer)
                self.i += 1
            elif c in "*+?" or (c == "{" and _BRACED_QUANTIFIER.match(src, self.i)):
                if not quantifiable:
                    raise _RegexSyntaxError("nothing to repeat")
                m = _BRACED_QUANTIFIER.match(src, self.i) if c == "{" else None
                token = m.group(0) if m else c
                self.i += len(token)
                if src.startswith("?", self.i):
                    token += "?"
                    self.i += 1
                out.append(token)
                # A second quantifier ("a**", possessive "a*+") is an error in JS.
                quantifiable = False
            elif c == "|":
                out.append("|")
                quantifiable = False
                self.i += 1
            elif c == "^":
                out.append("^")
                quantifiable = False
                self.i += 1
            elif c == "$":
                out.append(r"\Z")  # JS "$" (no m flag) is the very end, never before a "\n"
                quantifiable = False
                self.i += 1
            elif c == ".":
                out.append(_JS_NOT_LINE_END)
                quantifiable = True
                self.i += 1
            else:
                out.append(self._literal(c))
                quantifiable = True
                self.i += 1
        if closers:
            raise _RegexSyntaxError("missing ')'")
        return "".join(out)

    def _escape(self, *, in_class: bool) -> tuple[str, str]:
        """Read an escape (after the backslash): ("char", c) | ("set"/"nset", class body) |
        ("assert", python) | ("ref", python)."""
        src, n = self.src, len(self.src)
        if self.i >= n:
            raise _RegexSyntaxError("\\ at end of pattern")
        c = src[self.i]
        self.i += 1
        if c in _CLASS_ESCAPES:
            body, negated = _CLASS_ESCAPES[c]
            return ("nset" if negated else "set"), body
        if c == "b":
            return ("char", "\b") if in_class else ("assert", _WORD_BOUNDARY)
        if c == "B":
            return ("char", "B") if in_class else ("assert", _NOT_WORD_BOUNDARY)
        if c in _CONTROL_ESCAPES:
            return "char", _CONTROL_ESCAPES[c]
        if c == "c":
            nxt = src[self.i] if self.i < n else ""
            if nxt.isascii() and (nxt.isalpha() or (in_class and (nxt.isdigit() or nxt == "_"))):
                self.i += 1
                return "char", chr(ord(nxt) % 32)
            self.i -= 1  # Annex B: "\c" not followed by a letter is a literal backslash
            return "char", "\\"
        if c == "x" and self.i + 2 <= n and set(src[self.i : self.i + 2]) <= _HEX:
            self.i += 2
            return "char", chr(int(src[self.i - 2 : self.i], 16))
        if c == "u" and self.i + 4 <= n and set(src[self.i : self.i + 4]) <= _HEX:
            self.i += 4
            return "char", chr(int(src[self.i - 4 : self.i], 16))
        if c in _DIGITS:
            if not in_class and c != "0":
                j = self.i
                while j < n and src[j] in _DIGITS:
                    j += 1
                number = int(src[self.i - 1 : j])
                if number <= self.group_count:
                    self.i = j
                    return "ref", self._backreference(number, f"(?:\\{number})")
            if c in "89":
                return "char", c
            # Annex B legacy octal escape: up to three octal digits, at most \377.
            digits = c
            while (
                self.i < n
                and len(digits) < (3 if digits[0] in "0123" else 2)
                and src[self.i] in _OCTAL
            ):
                digits += src[self.i]
                self.i += 1
            return "char", chr(int(digits, 8))
        if c == "k" and self.names and not in_class:
            m = _GROUP_NAME.match(src, self.i + 1) if src.startswith("<", self.i) else None
            if m is None or m.group(1) not in self.names:
                raise _RegexSyntaxError("invalid named reference")
            self.i = m.end()
            alias, number = self.names[m.group(1)]
            return "ref", self._backreference(number, f"(?P={alias})")
        return "char", c  # identity escape: "\e" is "e", "\/" is "/"

    def _backreference(self, number: int, python: str) -> str:
        if number not in self.closed:
            # A group that has not finished yet (a forward reference, or the group the
            # reference sits in) has captured nothing: JS matches the empty string, Python
            # refuses the pattern.
            return "(?:)"
        if number > 99:
            raise _RegexSyntaxError("too many groups")
        return python

    def _literal(self, ch: str) -> str:
        """One literal character. Escaping every punctuation character also keeps "[", "&&",
        "--" ... literal inside a class and avoids Python's FutureWarning about nested sets."""
        if self.canon is not None:
            ch = self.canon.get(ord(ch), ch)
        return re.escape(ch)

    def _range_canon(self, low: str, high: str) -> str:
        """Under /i a range also holds the canonical forms of its characters."""
        if self.canon is None:
            return ""
        sources = _js_canon_sources()
        start, end = bisect.bisect_left(sources, low), bisect.bisect_right(sources, high)
        images = {self.canon[ord(ch)] for ch in sources[start:end]}
        return "".join(re.escape(ch) for ch in sorted(images))

    def _char_class(self) -> str:
        src, n = self.src, len(self.src)
        negated = src.startswith("^", self.i)
        if negated:
            self.i += 1
        if src.startswith("]", self.i):
            self.i += 1
            return r"[\s\S]" if negated else "(?!)"  # JS "[^]" is any character, "[]" none
        atoms: list[tuple[str, str]] = []
        while True:
            if self.i >= n:
                raise _RegexSyntaxError("missing ']'")
            c = src[self.i]
            self.i += 1
            if c == "]":
                break
            if c == "\\":
                atoms.append(self._escape(in_class=True))
            elif c == "-":
                atoms.append(("dash", "-"))
            else:
                atoms.append(("char", c))
        positive: list[str] = []
        alternatives: list[str] = []  # negated escapes (\D, \W, \S) cannot live inside a class

        def add(atom: tuple[str, str]) -> None:
            kind, val = atom
            if kind == "set":
                positive.append(val)
            elif kind == "nset":
                alternatives.append(f"[^{val}]")
            else:
                positive.append(self._literal(val))

        k = 0
        while k < len(atoms):
            a = atoms[k]
            if k + 2 < len(atoms) and atoms[k + 1][0] == "dash":
                b = atoms[k + 2]
                if a[0] in ("char", "dash") and b[0] in ("char", "dash"):
                    if ord(a[1]) > ord(b[1]):
                        raise _RegexSyntaxError("range out of order in character class")
                    positive.append(f"{re.escape(a[1])}-{re.escape(b[1])}")
                    positive.append(self._range_canon(a[1], b[1]))
                else:  # Annex B: "[\d-z]" is \d, "-" and "z"
                    add(a)
                    add(("char", "-"))
                    add(b)
                k += 3
            else:
                add(a)
                k += 1
        body = "".join(positive)
        if not alternatives:
            return f"[{'^' if negated else ''}{body}]"
        union = "(?:" + "|".join(([f"[{body}]"] if body else []) + alternatives) + ")"
        return f"(?:(?!{union})[\\s\\S])" if negated else union


def _translate_js_regex(pattern: str, insensitive: bool) -> re.Pattern[str]:
    """Compile a JS pattern with Python ``re``; raises :class:`_RegexSyntaxError`."""
    try:
        # JS (without the u flag) matches UTF-16 code units: an astral character is two.
        translator = _JSRegexTranslator(_utf16_string(pattern), insensitive=insensitive)
        return re.compile(translator.translate())
    except _RegexSyntaxError:
        raise
    except (re.error, OverflowError, RecursionError, ValueError, Warning) as exc:
        raise _RegexSyntaxError(str(exc)) from None


# ---------------------------------------------------------------------------------------------
# Bounded regex evaluation
# ---------------------------------------------------------------------------------------------

MAX_REGEX_INPUT: Final = 1024
"""Longest value (in UTF-16 units) a ``$regex`` looks at; a longer value does not match. Bounds
the work of every pattern, including the ones that are linear in Python ``re`` (one quantifier,
no backreference: at most quadratic in the value's length)."""

REGEX_TIMEOUT: Final = 0.05
"""Seconds one match of a pattern that is not provably cheap may take; past that it is false."""

# Backtracking steps a pattern may take in Python ``re`` without a timeout. The ``regex``
# module's timeout costs microseconds per call, so values short enough to stay under this
# bound skip it (RegexShape.cheap_length).
_STEP_BUDGET: Final = 1_000_000

_CharSet = frozenset[str] | None  # None: any character
_DIGIT_SET: Final = frozenset("0123456789")
_WORD_SET: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_SPACE_SET: Final = frozenset(
    "\t\n\x0b\x0c\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_MAX_EXPANDED_RANGE: Final = 512


def _overlap(a: _CharSet, b: _CharSet) -> bool:
    if a is None:
        return b is None or bool(b)
    if b is None:
        return bool(a)
    return not a.isdisjoint(b)


def _union(a: _CharSet, b: _CharSet) -> _CharSet:
    return None if a is None or b is None else a | b


@dataclass
class _Item:
    """One element of a sequence: what it can start with, every character it can match, whether
    it matches strings of varying length and whether it must match at least once."""

    first: _CharSet
    chars: _CharSet
    varies: bool
    required: bool


def _first_of(branch: list[_Item]) -> tuple[_CharSet, bool]:
    """What a sequence can start with, and whether it can match the empty string."""
    first: _CharSet = frozenset()
    for item in branch:
        first = _union(first, item.first)
        if item.required:
            return first, False
    return first, True


@dataclass(frozen=True)
class RegexShape:
    """What :func:`regex_shape` learned about a JS pattern.

    ``quantifiers`` counts the quantifiers that let a match vary in length (``*``, ``+``, ``?``,
    ``{n,}``, ``{n,m}``); ``backreferences`` says whether the pattern has one; ``unsafe`` holds
    (offset in the pattern, description) of every quantified group whose body can match the same
    text in more than one way -- nested quantifiers such as ``(a+)+`` or overlapping alternatives
    such as ``(a|a)*`` -- which backtracking engines take exponential time on.
    """

    quantifiers: int
    backreferences: bool
    unsafe: tuple[tuple[int, str], ...]

    @property
    def linear(self) -> bool:
        """Cheap in a backtracking engine on a bounded input: one quantifier at most, no
        backreference (and so no nesting)."""
        return self.quantifiers <= 1 and not self.backreferences and not self.unsafe

    @property
    def cheap_length(self) -> int:
        """Longest value a backtracking engine matches within about :data:`_STEP_BUDGET` steps.

        Without backreferences and ambiguous repetition, backtracking tries at most one way per
        quantifier and start position: about n ** (quantifiers + 1) steps for a value of n
        units. 0 when no length is safe (``unsafe`` or backreferences).
        """
        if self.unsafe or self.backreferences:
            return 0
        return min(MAX_REGEX_INPUT, int(_STEP_BUDGET ** (1 / (self.quantifiers + 1))) + 1)


class _ShapeReader:
    """A lenient reader of JS pattern syntax (the pattern is known to be valid) that records
    :class:`RegexShape`. Character sets are approximated: a class it cannot expand is "any"."""

    def __init__(self, src: str, insensitive: bool) -> None:
        self.src = src
        self.i = 0
        self.insensitive = insensitive
        self.quantifiers = 0
        self.backreferences = False
        self.unsafe: list[tuple[int, str]] = []

    def _fold(self, chars: frozenset[str]) -> frozenset[str]:
        if not self.insensitive:
            return chars
        return frozenset(c for ch in chars for c in (ch, ch.lower(), ch.upper()) if len(c) == 1)

    def alternatives(self) -> list[list[_Item]]:
        branches: list[list[_Item]] = [[]]
        while self.i < len(self.src) and self.src[self.i] != ")":
            if self.src[self.i] == "|":
                self.i += 1
                branches.append([])
                continue
            start = self.i
            item, group = self.atom()
            self.quantify(item, group, start, branches[-1])
        return branches

    def quantify(
        self, item: _Item | None, group: list[list[_Item]] | None, start: int, seq: list[_Item]
    ) -> None:
        src = self.src
        low, high = 1, 1
        if self.i < len(src) and src[self.i] in "*+?":
            low, high = {"*": (0, -1), "+": (1, -1), "?": (0, 1)}[src[self.i]]
            self.i += 1
        elif self.i < len(src) and src[self.i] == "{":
            m = _BRACED_QUANTIFIER.match(src, self.i)
            if m is not None:
                text = m.group(0)[1:-1]
                first, _, rest = text.partition(",")
                low = int(first)
                high = low if not _ else (int(rest) if rest else -1)
                self.i = m.end()
        if self.i < len(src) and src[self.i] == "?" and (low, high) != (1, 1):
            self.i += 1  # lazy: the same backtracking, in another order
        if item is None:
            return
        if low != high:
            self.quantifiers += 1
            item = _Item(item.first, item.chars, True, low > 0)
            if group is not None and high != 1:
                self._check_repeated_group(group, start)
        seq.append(item)

    def _check_repeated_group(self, group: list[list[_Item]], start: int) -> None:
        written = self.src[start : self.i]
        firsts = [_first_of(branch) for branch in group]
        for a_index, (first_a, empty_a) in enumerate(firsts):
            for first_b, empty_b in firsts[a_index + 1 :]:
                if empty_a or empty_b or _overlap(first_a, first_b):
                    self.unsafe.append(
                        (start, f"{written} repeats alternatives that can match the same text")
                    )
                    return
        for branch in group:
            variable = [item for item in branch if item.varies]
            if not variable:
                continue
            varying_chars: _CharSet = frozenset()
            for item in variable:
                varying_chars = _union(varying_chars, item.chars)
            delimited = any(
                item.required and not item.varies and not _overlap(item.chars, varying_chars)
                for item in branch
            )
            if not delimited:
                self.unsafe.append((start, f"{written} repeats a part that is itself repeated"))
                return

    def atom(self) -> tuple[_Item | None, list[list[_Item]] | None]:
        src = self.src
        c = src[self.i]
        if c == "(":
            lookaround = src.startswith(("(?=", "(?!", "(?<=", "(?<!"), self.i)
            if src.startswith("(?<", self.i) and not lookaround:
                self.i = src.index(">", self.i) + 1
            elif src.startswith("(?", self.i):
                self.i += 4 if src.startswith(("(?<=", "(?<!"), self.i) else 3
            else:
                self.i += 1
            branches = self.alternatives()
            self.i += 1  # ")"
            if lookaround:
                return _Item(frozenset(), frozenset(), False, False), None
            first: _CharSet = frozenset()
            chars: _CharSet = frozenset()
            varies = len(branches) > 1
            for branch in branches:
                first = _union(first, _first_of(branch)[0])
                for item in branch:
                    chars = _union(chars, item.chars)
                    varies = varies or item.varies
            return _Item(first, chars, varies, True), branches
        self.i += 1
        if c in "^$|":
            return None, None
        if c == ".":
            return _Item(None, None, False, True), None
        if c == "[":
            chars = self.char_class()
            return _Item(chars, chars, False, True), None
        if c == "\\":
            chars = self.escape()
            if chars is not None and not chars:
                return None, None  # an assertion (\b, \B)
            return _Item(chars, chars, False, True), None
        single = self._fold(frozenset(c))
        return _Item(single, single, False, True), None

    def escape(self) -> _CharSet:
        src = self.src
        if self.i >= len(src):
            return frozenset("\\")
        c = src[self.i]
        self.i += 1
        if c in "bB":
            return frozenset()
        if c in "dws":
            return {"d": _DIGIT_SET, "w": _WORD_SET, "s": _SPACE_SET}[c]
        if c in "DWS":
            return None
        if c.isdigit() and c != "0":
            while self.i < len(src) and src[self.i].isdigit():
                self.i += 1
            self.backreferences = True
            return None
        if c == "k" and src.startswith("<", self.i) and ">" in src[self.i :]:
            self.i = src.index(">", self.i) + 1
            self.backreferences = True
            return None
        if c == "x" and _HEX.issuperset(src[self.i : self.i + 2]) and self.i + 2 <= len(src):
            self.i += 2
            return self._fold(frozenset(chr(int(src[self.i - 2 : self.i], 16))))
        if c == "u" and _HEX.issuperset(src[self.i : self.i + 4]) and self.i + 4 <= len(src):
            self.i += 4
            return self._fold(frozenset(chr(int(src[self.i - 4 : self.i], 16))))
        if c in _CONTROL_ESCAPES:
            return frozenset(_CONTROL_ESCAPES[c])
        return None if c in "c0" else self._fold(frozenset(c))

    def char_class(self) -> _CharSet:
        src = self.src
        negated = src.startswith("^", self.i)
        self.i += 1 if negated else 0
        chars: _CharSet = frozenset()
        previous: str | None = None
        while self.i < len(src) and src[self.i] != "]":
            c = src[self.i]
            self.i += 1
            if c == "\\":
                member = self.escape()
                chars = _union(chars, member)
                previous = next(iter(member)) if member is not None and len(member) == 1 else None
            elif c == "-" and previous is not None and self.i < len(src) and src[self.i] != "]":
                high = src[self.i]
                self.i += 1
                if high == "\\":
                    member = self.escape()
                    high = next(iter(member)) if member is not None and len(member) == 1 else ""
                span = ord(high) - ord(previous) if high else -1
                if 0 <= span <= _MAX_EXPANDED_RANGE:
                    chars = _union(
                        chars, frozenset(chr(o) for o in range(ord(previous), ord(high) + 1))
                    )
                else:
                    chars = None
                previous = None
            else:
                chars = _union(chars, frozenset(c))
                previous = c
        self.i += 1  # "]"
        if negated or chars is None:
            return None
        return self._fold(chars)


@lru_cache(maxsize=2048)
def regex_shape(pattern: str, insensitive: bool = False) -> RegexShape:
    """The :class:`RegexShape` of a JS pattern (which should be valid; an invalid one is read
    leniently). Pure and cached."""
    reader = _ShapeReader(pattern, insensitive)
    try:
        while reader.i < len(pattern):
            reader.alternatives()
            reader.i += 1  # a stray ")" (invalid anyway): skip it
    except (IndexError, ValueError):
        pass
    return RegexShape(reader.quantifiers, reader.backreferences, tuple(reader.unsafe))


_Matcher = Callable[[str], bool]


@lru_cache(maxsize=2048)
def _js_regex(pattern: str, insensitive: bool) -> re.Pattern[str] | None:
    """Cached compiled pattern, None when invalid (GrowthBook then answers false)."""
    try:
        return _translate_js_regex(pattern, insensitive)
    except _RegexSyntaxError:
        return None


@lru_cache(maxsize=256)
def _timed_search(python_pattern: str) -> Callable[..., Any] | None:
    """``search`` of a translated pattern compiled by the ``regex`` module (which can time out)."""
    import regex  # only for $regex conditions: most libraries have none (start-up)

    try:
        search: Callable[..., Any] = regex.compile(python_pattern).search
    except (regex.error, OverflowError, RecursionError, ValueError):
        return None
    return search


def _js_matcher(pattern: str, insensitive: bool) -> _Matcher | None:
    """A bounded matcher for a JS pattern, None when invalid (GrowthBook then answers false).
    It takes the subject as JS sees it (UTF-16 units, canonicalized for /i).

    A value longer than :data:`MAX_REGEX_INPUT` does not match. A value no longer than the
    pattern's :attr:`RegexShape.cheap_length` is matched by Python ``re`` (bounded work); any
    other value by the ``regex`` module with :data:`REGEX_TIMEOUT`, and a match that times out
    is false, as for a pattern GrowthBook cannot run.
    """
    compiled = _js_regex(pattern, insensitive)
    if compiled is None:
        return None
    limit = MAX_REGEX_INPUT
    cheap = regex_shape(pattern, insensitive).cheap_length
    search = compiled.search
    if cheap >= limit:

        def linear(text: str) -> bool:
            return len(text) <= limit and search(text) is not None

        return linear
    timed_search = _timed_search(compiled.pattern)
    if timed_search is None:
        return None
    timeout = REGEX_TIMEOUT

    def timed(text: str) -> bool:
        size = len(text)
        if size <= cheap:
            return search(text) is not None
        if size > limit:
            return False
        try:
            return timed_search(text, timeout=timeout) is not None
        except TimeoutError:
            return False

    return timed


# ---------------------------------------------------------------------------------------------
# Compilation to closures
# ---------------------------------------------------------------------------------------------


def _always_true(_value: Any, _groups: Any) -> bool:
    return True


def _always_false(_value: Any, _groups: Any) -> bool:
    return False


def _throws(_value: Any, _groups: Any) -> bool:
    raise _JSThrow


def _negate(node: _Node) -> _Node:
    def negated(value: Any, groups: Any) -> bool:
        return not node(value, groups)

    return negated


def _all_of(nodes: list[_Node]) -> _Node:
    if not nodes:
        return _always_true
    if len(nodes) == 1:
        return nodes[0]
    if len(nodes) == 2:
        first, second = nodes

        def both(value: Any, groups: Any) -> bool:
            return first(value, groups) and second(value, groups)

        return both
    frozen = tuple(nodes)

    def every(value: Any, groups: Any) -> bool:
        # Plain loops on the hot path: a generator expression costs a frame per call.
        for node in frozen:  # noqa: SIM110
            if not node(value, groups):
                return False
        return True

    return every


def _any_of(nodes: list[_Node]) -> _Node:
    if not nodes:
        return _always_true  # GrowthBook: an empty $or passes
    if len(nodes) == 1:
        return nodes[0]
    frozen = tuple(nodes)

    def some(value: Any, groups: Any) -> bool:
        for node in frozen:  # noqa: SIM110
            if node(value, groups):
                return True
        return False

    return some


def _is_operator_object(m: Mapping[Any, Any]) -> bool:
    """GrowthBook's ``isOperatorObject``: non-empty and every key starts with "$"."""
    return len(m) > 0 and all(isinstance(k, str) and k.startswith("$") for k in m)


class _StrictSet:
    """Membership by ``===`` (or SameValueZero) for the scalar items of an ``$in`` list."""

    __slots__ = ("bools", "fold", "nan", "null", "nums", "strs")

    def __init__(self, items: Iterable[Any], *, fold: bool, nan_matches: bool) -> None:
        self.strs: set[str] = set()
        self.nums: set[float] = set()
        self.bools: set[bool] = set()
        self.null = False
        self.nan = False
        self.fold = fold
        for item in items:
            k = _kind(item)
            if k == _STR:
                self.strs.add(str(item).lower() if fold else str(item))
            elif k == _NUM:
                d = _double(item)
                if d != d:
                    self.nan = nan_matches
                else:
                    self.nums.add(d)
            elif k == _BOOL:
                self.bools.add(bool(item))
            elif k == _NULL:
                self.null = True
            # Arrays and objects are compared by reference in JS: they never match.

    def contains(self, v: Any) -> bool:
        t = type(v)
        if t is str:
            return (v.lower() if self.fold else v) in self.strs
        if t is float or (t is int and -_MAX_SAFE <= v <= _MAX_SAFE):
            return self.nan if v != v else v in self.nums
        k = _kind(v)
        if k == _STR:
            return self.contains(str(v))
        if k == _NUM:
            return self.contains(_double(v))
        if k == _BOOL:
            return bool(v) in self.bools
        if k == _NULL:
            return self.null
        return False

    def contains_any(self, v: Any) -> bool:
        """GrowthBook's ``isIn``: an array attribute passes if any element is in the set."""
        t = type(v)
        if t is str:
            return (v.lower() if self.fold else v) in self.strs
        if t is list or t is tuple or _kind(v) == _ARR:
            for element in v:  # noqa: SIM110
                if self.contains(element):
                    return True
            return False
        return self.contains(v)


def _includes(items: list[Any] | tuple[Any, ...], v: Any) -> bool:
    """``items.includes(v)`` for a list only known at call time (a saved group)."""
    if type(v) is str:
        # Python == between str and anything else is exact; the scan runs in C.
        return v in items
    exact = (type(v) is int and -_MAX_SAFE < v < _MAX_SAFE) or (type(v) is float and v == v)
    # Any JS-equal element is also Python-equal to such a number, so a miss is definitive.
    if exact and v not in items:
        return False
    return any(_same_value_zero(item, v) for item in items)


_TUPLE_INDEX: dict[int, tuple[tuple[Any, ...], _StrictSet]] = {}
_TUPLE_INDEX_LIMIT: Final = 256


def _tuple_index(values: tuple[Any, ...]) -> _StrictSet:
    """A hashed index of a saved group given as a tuple. Tuples cannot change, so the index
    is built once per tuple (the cache holds the tuple, so its id is not reused meanwhile)."""
    hit = _TUPLE_INDEX.get(id(values))
    if hit is not None and hit[0] is values:
        return hit[1]
    if len(_TUPLE_INDEX) >= _TUPLE_INDEX_LIMIT:
        _TUPLE_INDEX.clear()
    index = _StrictSet(values, fold=False, nan_matches=True)
    _TUPLE_INDEX[id(values)] = (values, index)
    return index


def _is_in_values(v: Any, values: list[Any] | tuple[Any, ...]) -> bool:
    """GrowthBook's ``isIn`` against a list only known at call time (a saved group): a linear
    scan like GrowthBook's ``includes``, or a hashed lookup for a tuple."""
    if type(values) is tuple and len(values) > 8:
        return _tuple_index(values).contains_any(v)
    if _kind(v) == _ARR:
        return any(_includes(values, element) for element in v)
    return _includes(values, v)


def _group_values(groups: Any, group_id: str) -> list[Any] | tuple[Any, ...] | None:
    """``getSavedGroupArrayValues(savedGroups[id])``: an unknown id is an empty list, a v1 entry
    is the list itself, a v2 ``{"type": "list", "values": [...]}`` entry gives its values, and
    anything else (a condition group, a malformed entry) is None: it matches nobody."""
    if (type(groups) is not dict and not isinstance(groups, Mapping)) or group_id not in groups:
        return ()
    entry = groups[group_id]
    if _kind(entry) == _ARR:
        return entry  # type: ignore[no-any-return]
    if isinstance(entry, Mapping) and _strict_equals(entry.get("type"), "list"):
        values = entry.get("values")
        return values if _kind(values) == _ARR else None
    return None


class _VisitedGroups(Mapping[str, Any]):
    """The caller's saved groups plus the ids of the condition groups being resolved, so that a
    group referring back to itself (directly or not) matches nobody instead of looping."""

    __slots__ = ("_groups", "visited")

    def __init__(self, groups: Mapping[str, Any], visited: frozenset[str]) -> None:
        self._groups = groups
        self.visited = visited

    def __getitem__(self, key: str) -> Any:
        return self._groups[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._groups)

    def __len__(self) -> int:
        return len(self._groups)


_NO_VISITS: Final[frozenset[str]] = frozenset()


def _read_path(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj.get(part) if type(obj) is dict else _get_step(obj, part)
    return obj


def _is_array(v: Any) -> bool:
    return type(v) is list or _kind(v) == _ARR


_PY_COMPARE: Final = {
    "$lt": operator.lt,
    "$lte": operator.le,
    "$gt": operator.gt,
    "$gte": operator.ge,
}
_JS_COMPARE: Final = {"$lt": _js_lt, "$lte": _js_lte, "$gt": _js_gt, "$gte": _js_gte}
_STR_COMPARE: Final[dict[str, Callable[[str, str], bool]]] = {
    "$lt": lambda a, b: _str_lt(a, b),
    "$lte": lambda a, b: not _str_lt(b, a),
    "$gt": lambda a, b: _str_lt(b, a),
    "$gte": lambda a, b: not _str_lt(a, b),
}
_VERSION_COMPARE: Final[dict[str, Callable[[str, str], bool]]] = {
    "$veq": operator.eq,
    "$vne": operator.ne,
    "$vgt": _STR_COMPARE["$gt"],
    "$vgte": _STR_COMPARE["$gte"],
    "$vlt": _STR_COMPARE["$lt"],
    "$vlte": _STR_COMPARE["$lte"],
}


class _Compiler:
    """Turns a condition into closures, mirroring mongrule.ts function by function."""

    def __init__(self) -> None:
        self.paths: set[str] = set()
        self._element_depth = 0  # inside $elemMatch paths are relative to an array element

    # evalCondition
    def condition(self, cond: Any) -> _Node:
        k = _kind(cond)
        if isinstance(cond, Mapping):
            entries = _js_entries(cond)
        elif k in (_ARR, _STR):
            entries = [(str(i), x) for i, x in enumerate(_js_array_like(cond) or ())]
        elif k == _NULL:
            return _throws  # Object.entries(null) throws
        else:
            entries = []  # numbers and booleans have no own keys: vacuously true
        nodes: list[_Node] = []
        for key, value in entries:
            if key == "$or":
                nodes.append(self._or(value))
            elif key == "$nor":
                nodes.append(_negate(self._or(value)))
            elif key == "$and":
                items = _js_array_like(value)
                nodes.append(_throws if items is None else _all_of(self._conditions(items)))
            elif key == "$not":
                nodes.append(_negate(self.condition(value)))
            elif key == "$savedGroup":
                nodes.append(self._saved_group(value))
            else:
                nodes.append(self._path(key, self.value(value)))
        return _all_of(nodes)

    def _saved_group(self, reference: Any) -> _Node:
        """``{"$savedGroup": {"id": ..., "attributeKey"?: ...}}`` (GrowthBook's evalSavedGroup).

        The entry is only known at call time: a list entry tests its attribute (the reference's
        ``attributeKey`` wins over the entry's), a condition entry is evaluated in place (and
        compiled on each call, since it comes with the call).
        """
        if not isinstance(reference, Mapping):
            return _always_false
        group_id = reference.get("id")
        override = reference.get("attributeKey")
        has_override = "attributeKey" in reference
        if _kind(group_id) != _STR or (has_override and _kind(override) != _STR):
            return _always_false
        group_id = str(group_id)
        if has_override and self._element_depth == 0:
            self.paths.add(str(override))

        def in_saved_group(obj: Any, groups: Any) -> bool:
            visited = groups.visited if type(groups) is _VisitedGroups else _NO_VISITS
            if group_id in visited or not isinstance(groups, Mapping) or group_id not in groups:
                return False
            entry = groups[group_id]
            if not isinstance(entry, Mapping):
                return False
            kind = entry.get("type")
            if _strict_equals(kind, "list"):
                key = override if has_override else entry.get("attributeKey")
                values = entry.get("values")
                if _kind(key) != _STR or not isinstance(values, (list, tuple)):
                    return False
                return _is_in_values(_read_path(obj, str(key)), values)
            if _strict_equals(kind, "condition"):
                condition = entry.get("condition")
                if _kind(condition) not in (_OBJ, _ARR):
                    return False
                node = _Compiler().condition(condition)
                return node(obj, _VisitedGroups(groups, visited | {group_id}))
            return False

        return in_saved_group

    def _conditions(self, items: list[Any]) -> list[_Node]:
        return [self.condition(item) for item in items]

    def _or(self, value: Any) -> _Node:
        items = _js_array_like(value)
        return _throws if items is None else _any_of(self._conditions(items))

    def _path(self, path: str, match: _Node) -> _Node:
        if self._element_depth == 0:
            self.paths.add(path)
        parts = tuple(path.split("."))
        if len(parts) == 1:

            def read(obj: Any, groups: Any) -> bool:
                return match(obj.get(path) if type(obj) is dict else _get_step(obj, path), groups)

            return read

        def read_deep(obj: Any, groups: Any) -> bool:
            for part in parts:
                obj = obj.get(part) if type(obj) is dict else _get_step(obj, part)
            return match(obj, groups)

        return read_deep

    # evalConditionValue
    def value(self, cond: Any, insensitive: bool = False) -> _Node:
        k = _kind(cond)
        if k == _STR:
            text = str(cond)
            if insensitive:
                lowered = text.lower()

                def equals_folded(v: Any, groups: Any) -> bool:
                    return _js_to_string(v).lower() == lowered

                return equals_folded

            def equals_text(v: Any, groups: Any) -> bool:
                return v == text if type(v) is str else _js_to_string(v) == text

            return equals_text
        if k == _NUM:
            number = _double(cond)

            def equals_number(v: Any, groups: Any) -> bool:
                t = type(v)
                if t is float or (t is int and -_MAX_SAFE <= v <= _MAX_SAFE):
                    return bool(v == number)
                return _js_to_number(v) == number

            return equals_number
        if k == _BOOL:
            flag = bool(cond)

            def equals_flag(v: Any, groups: Any) -> bool:
                if v is True or v is False:
                    return v is flag
                return v is not None and _js_truthy(v) == flag

            return equals_flag
        if k == _NULL:
            return lambda v, groups: v is None
        if isinstance(cond, Mapping) and _is_operator_object(cond):
            return _all_of([self.operator(op, expected) for op, expected in cond.items()])
        serialized = _js_json(cond)
        return lambda v, groups: _js_json(v) == serialized

    # evalOperatorCondition
    def operator(self, op: str, expected: Any) -> _Node:
        if op in ("$eq", "$ne"):
            eq = self._strict_equal(expected)
            return eq if op == "$eq" else _negate(eq)
        if op in _PY_COMPARE:
            return self._compare(op, expected)
        if op in _VERSION_COMPARE:
            compare = _VERSION_COMPARE[op]
            want = _padded_version(expected)
            return lambda v, groups: compare(_padded_version(v), want)
        if op == "$exists":
            if _js_truthy(expected):
                return lambda v, groups: v is not None
            return lambda v, groups: v is None
        if op in ("$in", "$nin", "$ini", "$nini"):
            if not _is_array(expected):
                return _always_false  # also for $nin: GrowthBook requires an array
            folded = op in ("$ini", "$nini")
            members = _StrictSet(expected, fold=folded, nan_matches=not folded)
            found = members.contains_any
            if op in ("$in", "$ini"):
                return lambda v, groups: found(v)
            return lambda v, groups: not found(v)
        if op == "$not":
            return _negate(self.value(expected))
        if op == "$size":
            size = self.value(expected)
            return lambda v, groups: _is_array(v) and size(len(v), groups)
        if op == "$elemMatch":
            return self._elem_match(expected)
        if op in ("$all", "$alli"):
            return self._all(expected, insensitive=op == "$alli")
        if op in ("$regex", "$regexi"):
            if _kind(expected) != _STR:
                return _always_false
            search = _js_matcher(str(expected), op == "$regexi")
            if search is None:
                return _always_false
            if op == "$regexi":

                def matches_folded(v: Any, groups: Any) -> bool:
                    text = v if type(v) is str else _js_to_string(v)
                    return search(_js_canonical_text(_utf16_string(text)))

                return matches_folded

            def matches(v: Any, groups: Any) -> bool:
                text = v if type(v) is str else _js_to_string(v)
                return search(_utf16_string(text))

            return matches
        if op == "$type":
            if _kind(expected) != _STR:
                return _always_false
            type_name = str(expected)
            return lambda v, groups: _js_type(v) == type_name
        if op in ("$inGroup", "$notInGroup"):
            group_id = _js_to_string(expected)
            member = op == "$inGroup"

            def in_group(v: Any, groups: Any) -> bool:
                values = _group_values(groups, group_id)
                # A malformed entry matches nobody, for $notInGroup too (not "everybody").
                return values is not None and _is_in_values(v, values) is member

            return in_group
        return _always_false  # unknown operator

    @staticmethod
    def _strict_equal(expected: Any) -> _Node:
        k = _kind(expected)
        if k == _STR:
            text = str(expected)

            def equals_text(v: Any, groups: Any) -> bool:
                return v == text if type(v) is str else _strict_equals(v, text)

            return equals_text
        if k == _NUM:
            number = _double(expected)

            def equals_number(v: Any, groups: Any) -> bool:
                t = type(v)
                if t is float or (t is int and -_MAX_SAFE <= v <= _MAX_SAFE):
                    return bool(v == number)
                return _strict_equals(v, number)

            return equals_number
        if k == _BOOL:
            flag = bool(expected)
            return lambda v, groups: v is flag
        if k == _NULL:
            return lambda v, groups: v is None
        return _always_false  # arrays and objects: compared by reference in JS

    @staticmethod
    def _compare(op: str, expected: Any) -> _Node:
        slow = _JS_COMPARE[op]
        k = _kind(expected)
        if k == _NUM:
            number = _double(expected)
            native = _PY_COMPARE[op]
            # A missing attribute reads as None, the most common slow case: answered once here
            # (the JS comparison of null with a constant is a constant).
            at_null = slow(None, number)

            def compare_number(v: Any, groups: Any) -> bool:
                t = type(v)
                if t is float or (t is int and -_MAX_SAFE <= v <= _MAX_SAFE):
                    return bool(native(v, number))
                return at_null if v is None else slow(v, number)

            return compare_number
        if k == _STR:
            text = str(expected)
            strings = _STR_COMPARE[op]
            text_at_null = slow(None, text)

            def compare_text(v: Any, groups: Any) -> bool:
                if type(v) is str:
                    return strings(v, text)
                return text_at_null if v is None else slow(v, text)

            return compare_text
        return lambda v, groups: slow(v, expected)

    def _elem_match(self, expected: Any) -> _Node:
        if expected is None:
            # isOperatorObject(null) throws, but only once the attribute is known to be an array.
            def throws_for_arrays(v: Any, groups: Any) -> bool:
                if _is_array(v):
                    raise _JSThrow
                return False

            return throws_for_arrays
        if isinstance(expected, Mapping) and _is_operator_object(expected):
            check = self.value(expected)
        else:
            self._element_depth += 1
            try:
                check = self.condition(expected)
            finally:
                self._element_depth -= 1

        def elem_match(v: Any, groups: Any) -> bool:
            if not _is_array(v):
                return False
            for element in v:  # noqa: SIM110
                # GrowthBook skips null elements; 0, "" and false are tested like any other.
                if element is not None and check(element, groups):
                    return True
            return False

        return elem_match

    def _all(self, expected: Any, *, insensitive: bool) -> _Node:
        if not _is_array(expected):
            return _always_false
        checks = tuple(self.value(item, insensitive) for item in expected)

        def contains_all(v: Any, groups: Any) -> bool:
            if not _is_array(v):
                return False
            for check in checks:
                for element in v:
                    if check(element, groups):
                        break
                else:
                    return False
            return True

        return contains_all


class CompiledCondition:
    """A condition compiled once into closures, to be evaluated many times.

    ``paths`` holds every attribute path the condition reads, dotted as written
    (``"address.country"``); paths inside a condition-form ``$elemMatch`` are relative to the
    array elements and are represented by the array's own path. Attributes read through a
    ``$savedGroup`` entry depend on the saved groups given at call time and are not included
    (the reference's own ``attributeKey`` is).
    """

    __slots__ = ("_node", "paths")

    paths: frozenset[str]

    def __init__(self, condition: Mapping[str, Any]) -> None:
        """Compile ``condition``. Never raises: a non-mapping (or absurdly deeply nested)
        condition compiles to one that is always false."""
        compiler = _Compiler()
        node: _Node = _always_false
        if isinstance(condition, Mapping):
            try:
                node = compiler.condition(condition)
            except RecursionError:
                compiler.paths.clear()
        self._node = node
        self.paths = frozenset(compiler.paths)

    def __call__(
        self, attributes: Mapping[str, Any], saved_groups: Mapping[str, Any] | None = None
    ) -> bool:
        """True when ``attributes`` satisfy the condition, with GrowthBook's semantics.

        ``saved_groups`` maps a saved-group id to its members (a list, GrowthBook's v1 shape) or to
        a v2 entry (``{"type": "list", "attributeKey": ..., "values": [...]}`` or
        ``{"type": "condition", "condition": {...}}``), for ``$inGroup``, ``$notInGroup`` and
        ``$savedGroup``. Member lists are scanned like GrowthBook does; a list given as a tuple
        (which cannot change) is indexed once and then looked up by hash, which is what large
        groups want. Never raises for JSON-like attributes; where GrowthBook's JS would throw,
        the answer is False.
        """
        try:
            return self._node(attributes, _EMPTY_GROUPS if saved_groups is None else saved_groups)
        except (_JSThrow, RecursionError):
            return False

    @property
    def always_true(self) -> bool:
        """Whether the condition holds for every record (``{}``): callers may skip the call."""
        return self._node is _always_true

    def __repr__(self) -> str:
        return f"CompiledCondition(paths={sorted(self.paths)!r})"


def first_match(
    candidates: Sequence[tuple[str, CompiledCondition]], attributes: Mapping[str, Any]
) -> str | None:
    """The key of the first ``(key, condition)`` whose condition ``attributes`` satisfy (no
    saved groups), or None: ``next((k for k, c in candidates if c(attributes)), None)`` without
    a call of the wrapper per condition, for loops over many conditions on the hot path (the
    audience rule). A condition that would throw in GrowthBook is false, as in ``__call__``."""
    groups = _EMPTY_GROUPS
    for key, condition in candidates:
        try:
            if condition._node(attributes, groups):
                return key
        except (_JSThrow, RecursionError):
            continue
    return None


def compile_condition(condition: Mapping[str, Any]) -> CompiledCondition:
    """Compile ``condition`` for repeated evaluation.

    Returns a :class:`CompiledCondition`; calling it is equivalent to :func:`evaluate` with the
    same condition. Never raises; unknown operators and invalid regexes compile to tests that are
    false, and a condition that is not a mapping compiles to one that is always false. Use
    :func:`check_condition` to reject such conditions at load time instead.
    """
    return CompiledCondition(condition)


def evaluate(
    condition: Mapping[str, Any],
    attributes: Mapping[str, Any],
    saved_groups: Mapping[str, Any] | None = None,
) -> bool:
    """Evaluate a GrowthBook targeting condition against one set of attributes.

    Returns exactly what GrowthBook's ``evalCondition(attributes, condition, savedGroups)``
    returns; ``saved_groups`` is GrowthBook's ``savedGroups`` payload (see
    :meth:`CompiledCondition.__call__`). Never raises: malformed conditions, unknown operators
    and invalid regexes yield False rather than an exception. Compiles the condition on every
    call; use :func:`compile_condition` to evaluate one condition against many customers.
    """
    return CompiledCondition(condition)(attributes, saved_groups)


# ---------------------------------------------------------------------------------------------
# Strict load-time checking
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConditionProblem:
    """One problem found by :func:`check_condition`.

    ``loc`` is the path of keys and list indices inside the condition leading to the offending
    key or value, e.g. ``("$and", 1, "age", "$gt")``. ``code`` is stable; ``hint`` tells a
    content editor how to fix the problem.
    """

    loc: tuple[str | int, ...]
    code: str
    message: str
    hint: str


UNKNOWN_OPERATOR: Final = "condition.unknown_operator"
INVALID_REGEX: Final = "condition.invalid_regex"
REGEX_UNSAFE: Final = "condition.regex_unsafe"
UNKNOWN_ATTRIBUTE: Final = "condition.unknown_attribute"
TYPE_MISMATCH: Final = "condition.type_mismatch"
BAD_SHAPE: Final = "condition.bad_shape"

_LOGICAL_OPERATORS: Final = ("$and", "$or", "$nor", "$not", "$savedGroup")
_REFERENCE_KEYS: Final = ("id", "attributeKey")
_VALUE_OPERATORS: Final = (
    "$eq", "$ne", "$lt", "$lte", "$gt", "$gte", "$in", "$nin", "$ini", "$nini", "$all", "$alli",
    "$elemMatch", "$size", "$exists", "$type", "$regex", "$regexi", "$not", "$veq", "$vne",
    "$vgt", "$vgte", "$vlt", "$vlte", "$inGroup", "$notInGroup",
)  # fmt: skip
_ATTRIBUTE_TYPES: Final = ("string", "integer", "number", "boolean", "date", "datetime", "list")
# "undefined" is a valid $type but never matches (a missing attribute reads as null).
_USEFUL_TYPE_NAMES: Final = ("string", "number", "boolean", "array", "object", "null")
_TYPE_NAMES: Final = (*_USEFUL_TYPE_NAMES, "undefined")
_TYPEOF_OF_DECLARED: Final = {
    "string": "string",
    "date": "string",
    "datetime": "string",
    "integer": "number",
    "number": "number",
    "boolean": "boolean",
    "list": "array",
}
_DECLARED_AS: Final = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true/false",
    "date": "a date",
    "datetime": "a date and time",
    "list": "a list",
}
_HOW_TO_WRITE: Final = {
    "string": 'put the value in double quotes, e.g. "gold"',
    "integer": "write a whole number without quotes, e.g. 18",
    "number": "write a number without quotes, e.g. 9.99",
    "boolean": "write true or false, without quotes",
    "date": 'write the date in quotes as year-month-day, e.g. "2024-12-31"',
    "datetime": 'write the date and time in quotes, e.g. "2024-12-31T23:59:00"',
    "list": 'to test whether the list contains a value use {"$in": ["vip"]} '
    'or {"$elemMatch": {"$eq": "vip"}}',
}
_SUGGESTION_LIMIT: Final = 12


def _describe(v: Any) -> str:
    k = _kind(v)
    if k == _STR:
        return f"the text {json.dumps(str(v), ensure_ascii=False)}"
    if k == _BOOL:
        return "true" if v else "false"
    if k == _NUM:
        return f"the number {_js_to_string(v)}"
    if k == _NULL:
        return "null"
    if k == _ARR:
        return "a list"
    return "an object"


def _is_iso(text: str, attribute_type: str) -> bool:
    """Whether ``text`` is written exactly as customer records hold such values, so that
    comparing the two as text (as GrowthBook does) compares the dates: the ISO text
    :func:`~atomic_content.dates.iso_date` / :func:`~atomic_content.dates.iso_datetime` give. A
    datetime attribute may also be compared with a date alone (in text order, the start of
    that day)."""
    if attribute_type == "date":
        return iso_date(text) == text
    return iso_datetime(text) == text or iso_date(text) == text


def _how_to_write(attribute_type: str, value: Any) -> str:
    """The hint for a value that does not fit ``attribute_type``: for a date written in another
    ISO 8601 form (``"20260901"``, ``"2026-09-01 10:00"``), the spelling that compares right."""
    if attribute_type in ("date", "datetime") and _kind(value) == _STR and len(str(value)) <= 64:
        text = str(value)
        try:
            if attribute_type == "date":
                meant = date.fromisoformat(text).isoformat()
            else:
                meant = iso_datetime(text) or datetime.fromisoformat(text).isoformat()
        except ValueError:
            pass
        else:
            if _is_iso(meant, attribute_type):
                return f'write "{meant}": customer dates are compared as text, in this one form'
    return _HOW_TO_WRITE[attribute_type]


def _fits(v: Any, attribute_type: str) -> bool:
    """Whether the single value ``v`` can sensibly be compared with such an attribute."""
    k = _kind(v)
    if attribute_type == "string":
        return k == _STR
    if attribute_type == "integer":
        return k == _NUM and math.isfinite(_double(v)) and float(_double(v)).is_integer()
    if attribute_type == "number":
        return k == _NUM and math.isfinite(_double(v))
    if attribute_type == "boolean":
        return k == _BOOL
    if attribute_type in ("date", "datetime"):
        return k == _STR and _is_iso(str(v), attribute_type)
    return True  # "list": any single value may be an element


def _did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _example_list(names: Iterable[str]) -> str:
    ordered = sorted(names)
    shown = ", ".join(ordered[:_SUGGESTION_LIMIT])
    hidden = len(ordered) - _SUGGESTION_LIMIT
    return shown + (f" and {hidden} more" if hidden > 0 else "")


class _Checker:
    def __init__(self, attribute_types: Mapping[str, str]) -> None:
        self.types = attribute_types
        self.problems: list[ConditionProblem] = []

    def report(self, loc: tuple[str | int, ...], code: str, message: str, hint: str) -> None:
        self.problems.append(ConditionProblem(loc, code, message, hint))

    def condition(self, cond: Any, loc: tuple[str | int, ...], *, named: bool = True) -> None:
        """Check a condition object. ``named`` is False inside ``$elemMatch``, where keys are
        fields of the list's elements and cannot be checked against the declared attributes."""
        if not isinstance(cond, Mapping):
            self.report(
                loc,
                BAD_SHAPE,
                f"expected a condition, got {_describe(cond)}",
                'a condition is a set of attribute rules in curly braces, e.g. {"age": {"$gte": '
                "18}}",
            )
            return
        for key, value in cond.items():
            if not isinstance(key, str):
                self.report(
                    loc,
                    BAD_SHAPE,
                    f"condition key {key!r} is not text",
                    "attribute names and operators must be written in double quotes",
                )
                continue
            here = (*loc, key)
            if key in ("$and", "$or", "$nor"):
                if not isinstance(value, (list, tuple)):
                    self.report(
                        here,
                        BAD_SHAPE,
                        f"'{key}' needs a list of conditions, got {_describe(value)}",
                        f'write the conditions in square brackets, e.g. {{"{key}": '
                        '[{"country": "DE"}, {"age": {"$gte": 18}}]}',
                    )
                    continue
                for index, item in enumerate(value):
                    self.condition(item, (*here, index), named=named)
            elif key == "$not":
                self.condition(value, here, named=named)
            elif key == "$savedGroup":
                self.saved_group(value, here, named=named)
            elif named and key in self.types:
                self.attribute(key, value, here, self.types[key])
            elif key.startswith("$"):
                self.misplaced_operator(key, here, named=named)
            else:
                if named:
                    self.unknown_attribute(key, here)
                self.attribute(key, value, here, None)

    def unknown_attribute(self, name: str, loc: tuple[str | int, ...]) -> None:
        suggestion = _did_you_mean(name, self.types)
        self.report(
            loc,
            UNKNOWN_ATTRIBUTE,
            f"unknown attribute '{name}'",
            f"did you mean '{suggestion}'? attribute names must be spelled exactly as declared, "
            "including upper and lower case"
            if suggestion
            else f"use one of the declared attributes: {_example_list(self.types)}",
        )

    def misplaced_operator(self, key: str, loc: tuple[str | int, ...], *, named: bool) -> None:
        if key in _VALUE_OPERATORS:
            self.report(
                loc,
                BAD_SHAPE,
                f"'{key}' is used without an attribute",
                f'put it under the attribute it tests, e.g. {{"age": {{"{key}": ...}}}}',
            )
            return
        candidates = list(_LOGICAL_OPERATORS)
        if named:
            candidates += [name for name in self.types if name.startswith("$")]
        suggestion = _did_you_mean(key, candidates)
        self.report(
            loc,
            UNKNOWN_OPERATOR,
            f"unknown operator '{key}'",
            f"did you mean '{suggestion}'? operators must be spelled exactly"
            if suggestion
            else "at this level use $and, $or, $nor, $not or $savedGroup, or the name of an "
            "attribute",
        )

    def saved_group(self, reference: Any, loc: tuple[str | int, ...], *, named: bool) -> None:
        example = 'e.g. {"$savedGroup": {"id": "beta_testers"}}'
        if not isinstance(reference, Mapping):
            self.report(
                loc,
                BAD_SHAPE,
                f"'$savedGroup' needs a reference to a saved group, got {_describe(reference)}",
                f"name the group by its id, {example}",
            )
            return
        if "id" not in reference:
            self.report(
                loc,
                BAD_SHAPE,
                "'$savedGroup' does not say which group (no \"id\")",
                f"name the group by its id, {example}",
            )
        for key, value in reference.items():
            here = (*loc, key)
            if key not in _REFERENCE_KEYS:
                suggestion = _did_you_mean(str(key), _REFERENCE_KEYS)
                self.report(
                    here,
                    BAD_SHAPE,
                    f"'$savedGroup' does not know {str(key)!r} (it would be ignored)",
                    (f"did you mean '{suggestion}'? " if suggestion else "")
                    + 'a saved-group reference only has "id" and, optionally, "attributeKey"',
                )
            elif _kind(value) != _STR:
                self.report(
                    here,
                    BAD_SHAPE,
                    f"the {key} of a saved group must be text, got {_describe(value)}",
                    f'write it in double quotes, e.g. {{"{key}": '
                    + ('"beta_testers"}' if key == "id" else '"user_id"}'),
                )
            elif key == "attributeKey" and named and value not in self.types:
                self.unknown_attribute(str(value), here)

    def attribute(
        self, name: str, value: Any, loc: tuple[str | int, ...], declared: str | None
    ) -> None:
        """Check the value given for attribute ``name`` (a literal or an operator object)."""
        attribute_type = declared if declared in _ATTRIBUTE_TYPES else None
        if isinstance(value, Mapping) and value:
            keys = list(value)
            operators = [k for k in keys if isinstance(k, str) and k.startswith("$")]
            if len(operators) == len(keys):
                for op, argument in value.items():
                    self.operator(name, op, argument, (*loc, op), attribute_type)
                return
            if operators:
                self.report(
                    loc,
                    BAD_SHAPE,
                    f"the rule for '{name}' mixes operators ({', '.join(operators)}) with "
                    "plain names",
                    "use either operators (names starting with $) or an exact value, not both; "
                    "to combine rules use $and",
                )
                return
        self.literal(name, value, loc, attribute_type)

    def literal(
        self, name: str, value: Any, loc: tuple[str | int, ...], attribute_type: str | None
    ) -> None:
        """An exact-match value (implicit equality)."""
        if attribute_type is None or value is None:
            return  # null matches a missing attribute, whatever its type
        k = _kind(value)
        if attribute_type == "list":
            if k == _ARR:
                return
            message = f"'{name}' is a list but is compared with {_describe(value)}"
        elif k in (_ARR, _OBJ) or not _fits(value, attribute_type):
            message = (
                f"'{name}' is {_DECLARED_AS[attribute_type]} but is compared with "
                f"{_describe(value)}"
            )
        else:
            return
        self.report(loc, TYPE_MISMATCH, message, _how_to_write(attribute_type, value))

    def mismatch(
        self, name: str, value: Any, loc: tuple[str | int, ...], attribute_type: str, op: str
    ) -> None:
        self.report(
            loc,
            TYPE_MISMATCH,
            f"'{name}' is {_DECLARED_AS[attribute_type]} but '{op}' compares it with "
            f"{_describe(value)}",
            _how_to_write(attribute_type, value),
        )

    def wrong_operator(
        self, name: str, loc: tuple[str | int, ...], attribute_type: str, op: str, hint: str
    ) -> None:
        self.report(
            loc,
            TYPE_MISMATCH,
            f"'{op}' cannot be used on '{name}', which is {_DECLARED_AS[attribute_type]}",
            hint,
        )

    def operator(
        self,
        name: str,
        op: str,
        arg: Any,
        loc: tuple[str | int, ...],
        attribute_type: str | None,
    ) -> None:
        k = _kind(arg)
        if op in ("$eq", "$ne"):
            if k in (_ARR, _OBJ):
                self.report(
                    loc,
                    BAD_SHAPE,
                    f"'{op}' compares with a single value, got {_describe(arg)}",
                    'to match one of several values use "$in" with a list, e.g. '
                    '{"$in": ["DE", "AT"]}',
                )
            elif attribute_type == "list":
                self.wrong_operator(name, loc, "list", op, _HOW_TO_WRITE["list"])
            elif attribute_type and arg is not None and not _fits(arg, attribute_type):
                self.mismatch(name, arg, loc, attribute_type, op)
        elif op in ("$lt", "$lte", "$gt", "$gte"):
            if attribute_type == "boolean":
                self.wrong_operator(
                    name, loc, "boolean", op, "compare true/false values with an exact value, "
                    'e.g. {"newsletter": true}'
                )  # fmt: skip
            elif attribute_type == "list":
                self.wrong_operator(
                    name, loc, "list", op,
                    'to compare the number of items use "$size", e.g. {"$size": {"$gt": 2}}',
                )  # fmt: skip
            elif attribute_type is not None:
                if not _fits(arg, attribute_type):
                    self.mismatch(name, arg, loc, attribute_type, op)
            elif k not in (_NUM, _STR):
                self.report(
                    loc,
                    BAD_SHAPE,
                    f"'{op}' needs a number or a text, got {_describe(arg)}",
                    'write a number such as 18 or a text in quotes such as "2024-01-01"',
                )
        elif op in ("$in", "$nin", "$ini", "$nini"):
            self.membership(name, op, arg, loc, attribute_type)
        elif op in ("$all", "$alli"):
            if attribute_type not in (None, "list"):
                self.wrong_operator(
                    name, loc, attribute_type, op,
                    f'"{op}" tests the items of a list; use "$in" to match one of several values',
                )  # fmt: skip
            if k != _ARR:
                self.report(
                    loc,
                    BAD_SHAPE,
                    f"'{op}' needs a list of values, got {_describe(arg)}",
                    f'write the values in square brackets, e.g. {{"{op}": ["vip", "newsletter"]}}',
                )
                return
            for index, item in enumerate(arg):
                self.attribute(f"{name} item", item, (*loc, index), None)
        elif op == "$elemMatch":
            if attribute_type not in (None, "list"):
                self.wrong_operator(
                    name, loc, attribute_type, op, '"$elemMatch" only works on lists'
                )
            if not isinstance(arg, Mapping):
                self.report(
                    loc,
                    BAD_SHAPE,
                    f"'$elemMatch' needs a condition, got {_describe(arg)}",
                    'describe the item to look for in curly braces, e.g. {"$elemMatch": '
                    '{"$eq": "vip"}}',
                )
            elif _is_operator_object(arg):
                self.attribute(f"{name} item", arg, loc, None)
            else:
                self.condition(arg, loc, named=False)
        elif op == "$size":
            if attribute_type not in (None, "list"):
                self.wrong_operator(
                    name, loc, attribute_type, op, '"$size" counts the items of a list'
                )
            if isinstance(arg, Mapping) and _is_operator_object(arg):
                self.attribute(f"number of items in {name}", arg, loc, "integer")
            elif not (k == _NUM and _fits(arg, "integer") and _double(arg) >= 0):
                self.report(
                    loc,
                    BAD_SHAPE,
                    f"'$size' needs a whole number or a comparison, got {_describe(arg)}",
                    'write the number of items, e.g. {"$size": 3}, or a comparison, e.g. '
                    '{"$size": {"$gte": 1}}',
                )
        elif op == "$exists":
            if k != _BOOL:
                self.report(
                    loc,
                    BAD_SHAPE,
                    f"'$exists' needs true or false, got {_describe(arg)}",
                    "write true (the attribute must be set) or false (it must be missing), "
                    "without quotes",
                )
        elif op == "$type":
            self.type_operator(name, arg, loc, attribute_type)
        elif op in ("$regex", "$regexi"):
            if attribute_type in ("integer", "number", "boolean", "list"):
                self.wrong_operator(
                    name, loc, attribute_type, op, "patterns only work on text attributes"
                )
            if k != _STR:
                self.report(
                    loc,
                    BAD_SHAPE,
                    f"'{op}' needs a pattern written as text, got {_describe(arg)}",
                    f'write the pattern in double quotes, e.g. {{"{op}": "^DE"}}',
                )
                return
            try:
                _translate_js_regex(str(arg), op == "$regexi")
            except _RegexSyntaxError as exc:
                self.report(
                    loc,
                    INVALID_REGEX,
                    f"invalid pattern {json.dumps(str(arg), ensure_ascii=False)}: {exc}",
                    "check that every ( has a ) and every [ has a ], and put a backslash before "
                    "characters meant literally, e.g. \\. for a dot or \\? for a question mark",
                )
                return
            for _offset, problem in regex_shape(str(arg), op == "$regexi").unsafe:
                self.report(
                    loc,
                    REGEX_UNSAFE,
                    f"pattern {json.dumps(str(arg), ensure_ascii=False)} can take forever on "
                    f"some values: {problem}",
                    "repeat a single part only, e.g. ^a+$ instead of ^(a+)+$, and write "
                    "alternatives of single characters as a class, e.g. [ab]* instead of "
                    "(a|b)*; such a pattern is cut off after "
                    f"{int(REGEX_TIMEOUT * 1000)} ms and then never matches",
                )
        elif op == "$not":
            if not isinstance(arg, Mapping):
                self.report(
                    loc,
                    BAD_SHAPE,
                    f"'$not' needs a rule in curly braces, got {_describe(arg)}",
                    'write the rule to negate, e.g. {"$not": {"$in": ["DE", "AT"]}}, or use '
                    '"$ne" to exclude a single value',
                )
            else:
                self.attribute(name, arg, loc, attribute_type)
        elif op in ("$veq", "$vne", "$vgt", "$vgte", "$vlt", "$vlte"):
            if attribute_type not in (None, "string"):
                self.wrong_operator(
                    name, loc, attribute_type, op,
                    "version comparisons work on text attributes holding versions like 2.10.1",
                )  # fmt: skip
            if k != _STR:
                self.report(
                    loc,
                    BAD_SHAPE,
                    f"'{op}' needs a version written as text, got {_describe(arg)}",
                    f'write the version in double quotes, e.g. {{"{op}": "2.10.1"}}',
                )
        elif op in ("$inGroup", "$notInGroup"):
            if k != _STR:
                self.report(
                    loc,
                    BAD_SHAPE,
                    f"'{op}' needs the id of a saved group, got {_describe(arg)}",
                    f'write the group id in double quotes, e.g. {{"{op}": "beta_testers"}}',
                )
        elif op in _LOGICAL_OPERATORS:
            self.report(
                loc,
                UNKNOWN_OPERATOR,
                f"'{op}' cannot be used inside the rule for '{name}'",
                f'put "{op}" around whole conditions instead, e.g. {{"{op}": '
                f'[{{"{name}": ...}}, ...]}}',
            )
        else:
            suggestion = _did_you_mean(op, _VALUE_OPERATORS)
            self.report(
                loc,
                UNKNOWN_OPERATOR,
                f"unknown operator '{op}'",
                f"did you mean '{suggestion}'? operators must be spelled exactly"
                if suggestion
                else f"use one of: {', '.join(_VALUE_OPERATORS)}",
            )

    def membership(
        self, name: str, op: str, arg: Any, loc: tuple[str | int, ...], attribute_type: str | None
    ) -> None:
        if op in ("$ini", "$nini") and attribute_type not in (None, "string", "list"):
            self.wrong_operator(
                name, loc, attribute_type, op,
                f'"{op}" ignores upper and lower case, which only matters for text; '
                f'use "{op[:-1]}" instead',
            )  # fmt: skip
            attribute_type = None
        if _kind(arg) != _ARR:
            self.report(
                loc,
                BAD_SHAPE,
                f"'{op}' needs a list of values, got {_describe(arg)}",
                f'write the values in square brackets, even a single one, e.g. {{"{op}": ["DE"]}}',
            )
            return
        for index, item in enumerate(arg):
            here = (*loc, index)
            if _kind(item) in (_ARR, _OBJ):
                self.report(
                    here,
                    BAD_SHAPE,
                    f"the items of '{op}' must be single values, got {_describe(item)}",
                    "write plain values only, e.g. text in quotes or numbers",
                )
            elif (
                attribute_type not in (None, "list")
                and item is not None
                and not _fits(item, attribute_type)
            ):
                self.mismatch(name, item, here, attribute_type, op)

    def type_operator(
        self, name: str, arg: Any, loc: tuple[str | int, ...], attribute_type: str | None
    ) -> None:
        if arg not in _TYPE_NAMES or _kind(arg) != _STR:
            suggestion = _did_you_mean(str(arg), _USEFUL_TYPE_NAMES) if _kind(arg) == _STR else None
            self.report(
                loc,
                BAD_SHAPE,
                f"'$type' needs a type name, got {_describe(arg)}",
                (f"did you mean '{suggestion}'? " if suggestion else "")
                + f"use one of: {', '.join(_USEFUL_TYPE_NAMES)}",
            )
        elif arg == "undefined":
            self.report(
                loc,
                BAD_SHAPE,
                "'$type': \"undefined\" never matches",
                'a missing attribute has the type "null"; or use {"$exists": false}',
            )
        elif attribute_type is not None and arg not in (
            "null",
            _TYPEOF_OF_DECLARED.get(attribute_type),
        ):
            self.report(
                loc,
                TYPE_MISMATCH,
                f"'{name}' is {_DECLARED_AS[attribute_type]}, so its type is never '{arg}'",
                f'its type is "{_TYPEOF_OF_DECLARED[attribute_type]}" (or "null" when missing)',
            )


def check_condition(condition: Any, attribute_types: Mapping[str, str]) -> list[ConditionProblem]:
    """Strictly validate a condition before it is used.

    ``attribute_types`` maps every attribute path the content may use (dotted, e.g.
    ``"address.country"``) to one of "string", "integer", "number", "boolean", "date",
    "datetime" or "list"; dates are compared as ISO-8601 text.

    Returns the problems found, in document order (an empty list means the condition is fine).
    Never raises. Codes: ``condition.unknown_operator``, ``condition.invalid_regex``,
    ``condition.regex_unsafe`` (nested quantifiers, :attr:`RegexShape.unsafe`),
    ``condition.unknown_attribute``, ``condition.type_mismatch`` and ``condition.bad_shape``.
    """
    checker = _Checker(attribute_types)
    try:
        checker.condition(condition, ())
    except RecursionError:
        checker.report(
            (),
            BAD_SHAPE,
            "the condition is nested too deeply",
            "simplify the condition: combine rules in one $and or $or instead of nesting them",
        )
    return checker.problems
