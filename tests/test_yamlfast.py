"""The fast subset reader (yamlfast) never disagrees with ruamel, the reference.

Property: for any text, yamlfast either declines it or returns exactly (values *and* types)
what ruamel's safe loader returns; a text ruamel refuses is always declined. Texts come from a
grammar of content-like YAML salted with every awkward scalar we know of, plus raw noise.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atomic_content import yamlfast, yamlio

SCALARS = [
    "hello", "Hello world", "yes", "no", "on", "off", "y", "n", "true", "True", "FALSE", "null",
    "Null", "~", "010", "0o17", "0o9", "0x1F", "0x_", "1_000", "_", "1e3", "1E-2", ".5", "-.inf",
    ".nan", "+1", "-5", "0b101", "12:30", "1:2:3", "2026-12-31", "2026-13-01", "2026-1-1",
    "2026-01-01 10:00:00", "2026-01-01T10:00:00Z", "2026-02-30", "1.2.3", "a:b", "a: b", "a :b",
    "https://x.example/a?b=c#frag", "x #comment", "x#y", "x  # two", "-", "- x", "--", "-x",
    "[a", "a]", "{", "}", "a,b", "a, b", "'q'", '"d"', "'it''s'", "'open", '"a\\"b"', '"a\\nb"',
    '"x" y', "'x' # c", "@x", "`x`", "%x", "!x", "!!str x", "&a x", "*a", "?x", "? x", ": x",
    "#x", "", " ", "é ü ß", "Ünïcødé — “quotes”", "<<", "=", "|", ">", "|-", "a | b", "a > b",
    "100%", "R&D", "C++", "#1", "Fjell 3L #1 shell", "a\tb", "\u00a0x", "x ", "$gte", "de-AT",
    "9" * 4300, "9" * 4301, "0x" + "f" * 3571, "0x" + "f" * 3572, "0o" + "7" * 5000,
]  # fmt: skip
KEYS = [
    "id", "slot", "text", "name", "a", "b", "de-AT", "$in", "consent.personalization", "1", "2026",
    "true", "null", "yes", "y", "x y", "'q'", "a:b", "<<", "-k", "k ", "~", "0x1",
    "k" * 1024, "k" * 1025, "9" * 1025,
]  # fmt: skip

# Mostly ordinary values, so that many texts are in the subset and get compared.
COMMON = ["word", "two words", "12", "a-b", "https://x.example/y", "2026-12-31", "Ünï — x"]
scalar = st.sampled_from(SCALARS + COMMON * 12)
key = st.sampled_from(KEYS + ["id", "slot", "text", "name", "segments", "de-AT"] * 8)


@st.composite
def flow(draw: Any, depth: int = 0) -> str:
    if depth > 2 or draw(st.booleans()):
        return draw(scalar)
    if draw(st.booleans()):
        items = draw(st.lists(flow(depth + 1), max_size=3))
        sep = draw(st.sampled_from([", ", ",", " , "]))
        return "[" + sep.join(items) + "]"
    pairs = draw(st.lists(st.tuples(key, flow(depth + 1)), max_size=3))
    sep = draw(st.sampled_from([": ", ":", " : "]))
    return "{" + ", ".join(f"{k}{sep}{v}" for k, v in pairs) + "}"


@st.composite
def block_text(draw: Any) -> list[str]:
    lines = draw(st.lists(st.sampled_from(["line one", "", "  indented", "#not a comment", " "]),
                          min_size=0, max_size=4))  # fmt: skip
    return [draw(st.sampled_from(["line", "First line"])), *lines]


@st.composite
def node(draw: Any, indent: int = 0, depth: int = 0) -> list[str]:
    """Lines of a block mapping or sequence at ``indent``."""
    pad = " " * indent
    kind = draw(st.sampled_from(["map", "map", "seq"])) if depth else "map"
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        head = f"{pad}{draw(key)}:" if kind == "map" else f"{pad}-"
        choice = draw(st.sampled_from(["scalar", "flow", "nested", "block", "empty", "item-map"]))
        comment = draw(st.sampled_from(["", "", " # note", "  #x", "#y"]))
        if choice == "scalar":
            lines.append(f"{head} {draw(scalar)}{comment}")
        elif choice == "flow":
            lines.append(f"{head} {draw(flow())}{comment}")
        elif choice == "block" and depth < 3:
            indicator = draw(st.sampled_from(["|", "|-", ">", ">-", "|+", "|2", "| # c"]))
            lines.append(f"{head} {indicator}")
            extra = draw(st.sampled_from([2, 2, 1, 4, 0]))
            lines.extend(" " * (indent + extra) + t if t else t for t in draw(block_text()))
        elif choice == "nested" and depth < 3:
            lines.append(head + comment)
            step = draw(st.sampled_from([2, 2, 4, 0, 1]))
            lines.extend(draw(node(indent + step, depth + 1)))
        elif choice == "item-map" and kind == "seq" and depth < 3:
            inner = draw(node(indent + 2, depth + 1))
            first = inner[0].lstrip(" ")
            lines.append(f"{head} {first}")
            lines.extend(inner[1:])
        else:
            lines.append(head + comment)
        if draw(st.integers(0, 5)) == 0:
            lines.append(draw(st.sampled_from(["", "# comment", "  # indented comment", "   "])))
    return lines


documents = st.one_of(
    node().map(lambda lines: "\n".join(lines) + "\n"),
    node().map(lambda lines: "\n".join(lines)),
    st.text(alphabet=st.sampled_from(list("ab: -#'\"[]{},|>\n  1.\t~&*!")), max_size=60),
)


def typed(value: Any) -> Any:
    """A value with its types spelled out (True == 1 and 1 == 1.0 in Python)."""
    if isinstance(value, dict):
        return ("map", [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("seq", [typed(v) for v in value])
    if isinstance(value, float) and value != value:
        return ("float", "nan")
    return (type(value).__name__, value)


def reference(text: str) -> tuple[bool, Any]:
    try:
        return True, yamlio._plain(yamlio._safe_loader().load(text))
    except Exception:
        return False, None


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_fast_reader_agrees_with_ruamel_or_declines(text: str) -> None:
    understood, data = yamlfast.parse(text, yamlio._resolve_plain)
    if not understood:
        return
    loaded, expected = reference(text)
    assert loaded, f"yamlfast read a text ruamel refuses: {text!r}"
    assert typed(data) == typed(expected), text


CONTENT = Path(__file__).resolve().parent.parent / "content"


def test_fast_reader_reads_the_demo_like_ruamel() -> None:
    read = 0
    for path in sorted(CONTENT.rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        understood, data = yamlfast.parse(text, yamlio._resolve_plain)
        if understood:
            read += 1
            assert typed(data) == typed(reference(text)[1]), path
    assert read >= 200  # nearly every file of the demo is in the subset


def test_typed_scalars() -> None:
    text = "a: yes\nb: 010\nc: 2026-12-31\nd: 2026-13-01\ne: ~\nf: 1_000\ng: .5\nh: 'x # y'\n"
    understood, data = yamlfast.parse(text, yamlio._resolve_plain)
    assert understood
    assert data == {
        "a": "yes",
        "b": 10,
        "c": dt.date(2026, 12, 31),
        "d": "2026-13-01",
        "e": None,
        "f": "1_000",  # YAML 1.2 core: no `_` in numbers (it used to be 1000, as in YAML 1.1)
        "g": 0.5,
        "h": "x # y",
    }


@pytest.mark.parametrize(
    ("text", "understood"),
    [
        ("k" * 1024 + ": 1\n", True),  # the longest plain key YAML allows
        ("k" * 1025 + ": 1\n", False),
        ("a:\n  " + "k" * 1025 + ": 1\n", False),
        ("{" + "k" * 1025 + ": 1}\n", False),
        ("- " + "k" * 1025 + ": 1\n", False),
        ("a: " + "9" * 4300 + "\n", True),
        ("a: " + "9" * 4301 + "\n", False),  # too large to read: yamlio positions it
        ("a: [0x" + "f" * 5000 + "]\n", False),
        ("a: {b: 0o" + "7" * 5000 + "}\n", False),
    ],
    ids=[
        "key-1024",
        "key-1025",
        "nested-key-1025",
        "flow-key-1025",
        "item-key-1025",
        "4300-digits",
        "4301-digits",
        "huge-hex",
        "huge-octal",
    ],
)
def test_what_ruamel_refuses_or_positions_is_declined(text: str, understood: bool) -> None:
    """A key longer than YAML's 1 024 characters is ruamel's syntax error and a number too
    large to read is positioned by yamlio: the fast reader leaves both to ruamel."""
    assert yamlfast.parse(text, yamlio._resolve_plain)[0] is understood
    if understood:
        assert reference(text)[0]
