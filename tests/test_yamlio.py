"""yamlio: safe parsing never raises, positions are right, the quick position path agrees with
the round-trip tree."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atomic_content import yamlfast, yamlio
from atomic_content.customers import find_customer
from atomic_content.errors import ContentError
from atomic_content.models import Atom, AttributeSpec, AttributeType, Journey, Profile
from atomic_content.records import read_records
from atomic_content.repository import Library, yaml11_diagnostics
from atomic_content.yamlio import MAX_DEPTH, YamlDocument, first_line_starting, parse_yaml_text

REPO = Path(__file__).resolve().parent.parent


def slow_position(doc: YamlDocument, loc: tuple[str | int, ...], key: bool) -> tuple[int, int]:
    fresh = YamlDocument(doc.path, doc.data, doc.text)
    fresh._top_level_position = lambda loc, key: None  # type: ignore[method-assign]
    return fresh.position(loc, key=key)


def test_quick_positions_agree_with_the_tree_on_the_demo() -> None:
    checked = 0
    for path in sorted((REPO / "content").rglob("*.yaml")):
        doc, problem = parse_yaml_text(path.read_bytes(), path.name)
        assert problem is None and doc is not None
        for name in [*doc.data, "no-such-key"]:
            for key in (True, False):
                quick = doc._top_level_position((name,), key)
                if quick is not None:
                    assert quick == slow_position(doc, (name,), key), (path, name, key)
                    checked += 1
    assert checked > 1000


def _first_line_by_splitting(text: str, prefix: str) -> tuple[int, str] | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(prefix):
            return number, line
    return None


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from([*"ab: #", "\n", "\r", "\r\n", "\x0b", "\x85", "\u2028"])).map(
        "".join
    ),
    st.text(alphabet=st.sampled_from([*"ab:", "\n", "\r"]), min_size=1, max_size=4),
)
def test_first_line_starting_numbers_lines_as_splitlines(text: str, prefix: str) -> None:
    """The quick search finds the line, and numbers it, as splitting the text into lines
    would, whatever line breaks the text holds."""
    assert first_line_starting(text, prefix) == _first_line_by_splitting(text, prefix)


@pytest.mark.parametrize(
    ("text", "prefix", "expected"),
    [
        ("slot: body\npriority: 3\n", "priority:", (2, "priority: 3")),
        ("priority: 1", "priority:", (1, "priority: 1")),
        ("a: 1\n  priority: 2\npriority: 5", "priority:", (3, "priority: 5")),
        ("a: 1\r\npriority: 2\r\n", "priority:", (2, "priority: 2")),
        ("a: 1\u2028priority: 2", "priority:", (2, "priority: 2")),
        ("a: 1\n#priority: 2\n", "priority:", None),
        ("a\n\nb: 1", "\nb:", None),  # no line holds a line break
    ],
)
def test_first_line_starting_examples(
    text: str, prefix: str, expected: tuple[int, str] | None
) -> None:
    assert first_line_starting(text, prefix) == expected


def test_positions_of_nested_keys_and_items() -> None:
    doc, _ = parse_yaml_text(b"a: 1\nb:\n  c: [x, y]\n  d: |\n    text\n", "t.yaml")
    assert doc is not None
    assert doc.position(("a",)) == (1, 4)
    assert doc.position(("a",), key=True) == (1, 1)
    assert doc.position(("b", "c", 1)) == (3, 10)
    assert doc.position(("b", "d")) == (4, 6)
    assert doc.position(("b", "missing")) == (3, 3)  # the deepest existing parent


def test_yaml_12_semantics_and_plain_types() -> None:
    doc, _ = parse_yaml_text(b"a: yes\nb: 2026-01-31\nc: 1.5\nd: ~\n", "t.yaml")
    assert doc is not None
    assert doc.data == {
        "a": "yes",
        "b": __import__("datetime").date(2026, 1, 31),
        "c": 1.5,
        "d": None,
    }


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    doc, problem = parse_yaml_text(raw, "fuzz.yaml")
    assert (doc is None) != (problem is None)
    if problem is not None:
        assert problem.code.startswith(("yaml.", "io."))
        assert problem.line >= 0 and problem.col >= 0


yaml_ish = st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>#'\" \n\t,?%@`0x")), max_size=200)


@settings(max_examples=200, deadline=None)
@given(yaml_ish)
def test_yaml_like_text_never_raises_and_positions_stay_in_the_file(text: str) -> None:
    doc, problem = parse_yaml_text(text, "fuzz.yaml")
    if problem is not None:
        assert problem.code.startswith("yaml.")
        assert problem.line <= text.count("\n") + 2
        return
    assert doc is not None
    if isinstance(doc.data, dict):
        for name in doc.data:
            line, _col = doc.position((name,), key=True)
            assert 1 <= line <= text.count("\n") + 1


def test_load_cache_gives_the_same_data_and_survives_damage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from atomic_content.repository import load_files

    monkeypatch.setenv("ATOMIC_CACHE_DIR", str(tmp_path / "cache"))
    first, _ = load_files(REPO / "content")
    entries = sorted((tmp_path / "cache").rglob("*.cache"))
    assert len(entries) == 1  # one file per content folder, entries keyed by content hash
    second, _ = load_files(REPO / "content")
    assert first.documents.keys() == second.documents.keys()
    for path, doc in first.documents.items():
        again = second.documents[path]
        assert doc.data == again.data and doc.text == again.text  # dates come back as dates
    for entry in entries:
        entry.write_text("{not json")
    third, _ = load_files(REPO / "content")
    assert [d.data for d in third.documents.values()] == [d.data for d in first.documents.values()]


def test_load_cache_can_be_switched_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from atomic_content import yamlio
    from atomic_content.repository import load_files

    monkeypatch.setenv("ATOMIC_CACHE_DIR", "off")
    assert yamlio.cache_dir() is None
    source = tmp_path / "a.yaml"
    source.write_text("a: 2026-01-31\n")
    doc, _ = yamlio.read_yaml_file(source)
    assert doc is not None and doc.data == {"a": __import__("datetime").date(2026, 1, 31)}
    library, _ = load_files(REPO / "content")
    assert library.load_cache is not None and library.load_cache.path is None
    assert not list(tmp_path.rglob("*.cache"))


# -- YAML 1.2 only, recursion and depth -----------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 5), st.integers(0, 9))
def test_only_yaml_12_directives_are_accepted(major: int, minor: int) -> None:
    doc, problem = parse_yaml_text(f"%YAML {major}.{minor}\n---\na: 010\n", "v.yaml")
    if (major, minor) == (1, 2):
        assert problem is None and doc is not None and doc.data == {"a": 10}
        return
    assert doc is None and problem is not None
    assert (problem.line, problem.col, problem.code) == (1, 1, "yaml.version")
    assert problem.message == (
        f"this file asks for YAML {major}.{minor}; content files are read as YAML 1.2 only"
    )


def _first_too_deep(openers: list[str]) -> tuple[int, int] | None:
    """Column of the first node inside more than MAX_DEPTH collections (None if none is)."""
    col = 1
    for index, opener in enumerate(openers):
        if index > MAX_DEPTH:
            return 1, col
        if opener != "[" and index + 1 > MAX_DEPTH:
            return 1, col + 1  # the key of this mapping
        col += len(opener)
    return (1, col) if len(openers) > MAX_DEPTH else None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["[", "{k: "]), max_size=400))
def test_nesting_never_raises_and_deep_nesting_is_positioned(openers: list[str]) -> None:
    closers = "".join("]" if opener == "[" else "}" for opener in reversed(openers))
    text = "".join(openers) + "x" + closers + "\n"
    doc, problem = parse_yaml_text(text, "deep.yaml")
    expected = _first_too_deep(openers)
    if expected is None:
        assert problem is None and doc is not None
        return
    assert doc is None and problem is not None
    assert problem.code == "yaml.too_deep"
    assert (problem.line, problem.col) == expected


@st.composite
def alias_documents(draw: st.DrawFn) -> tuple[str, bool]:
    """A flow document with anchors on lists and aliases to anchors seen before; the flag says
    whether some alias stands inside the list its anchor names (a loop)."""
    anchors: list[str] = []  # every anchor started so far
    open_anchors: list[str] = []  # anchors of the enclosing lists
    recursive = False

    def node(depth: int) -> str:
        nonlocal recursive
        kinds = ["scalar", "alias", "list"] if depth < 6 else ["scalar", "alias"]
        kind = draw(st.sampled_from(kinds))
        if kind == "alias" and anchors:
            target = draw(st.sampled_from(anchors))
            recursive = recursive or target in open_anchors
            return f"*{target}"
        if kind != "list":
            return "x"
        anchor = f"a{len(anchors)}" if draw(st.booleans()) else ""
        if anchor:
            anchors.append(anchor)
            open_anchors.append(anchor)
        items = [node(depth + 1) for _ in range(draw(st.integers(0, 3)))]
        if anchor:
            open_anchors.pop()
        return (f"&{anchor} " if anchor else "") + "[" + ", ".join(items) + "]"

    return f"list: {node(0)}\n", recursive


@settings(max_examples=200, deadline=None)
@given(alias_documents())
def test_aliases_never_raise_and_loops_are_found_at_the_alias(case: tuple[str, bool]) -> None:
    text, recursive = case
    doc, problem = parse_yaml_text(text, "alias.yaml")
    assert (doc is None) != (problem is None)
    if recursive:
        assert problem is not None and problem.code == "yaml.recursive_alias", (text, problem)
        assert text.splitlines()[problem.line - 1][problem.col - 1] == "*"
    elif problem is not None:
        assert problem.code in {"yaml.too_deep", "yaml.too_many_nodes", "yaml.syntax"}, problem


@settings(max_examples=100, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(0, 3),
    st.sampled_from(["", "+", "-"]),
    st.sampled_from(["block", "flow", "quoted"]),
)
def test_plain_source_is_the_number_as_written(
    number: int, zeros: int, sign: str, style: str
) -> None:
    written = f"{sign}{'0' * zeros}{number}"
    text = {
        "block": f"a: x\nb:\n  c: {written}\n",
        "flow": f"a: x\nb: {{d: 1, c: {written}}}\n",
        "quoted": f'a: x\nb: {{c: "{written}"}}\n',
    }[style]
    doc, problem = parse_yaml_text(text, "n.yaml")
    assert problem is None and doc is not None
    assert doc.plain_source(("b", "c")) == (None if style == "quoted" else written)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 5000), st.integers(0, 3))
def test_numbers_with_a_leading_zero_are_refused_where_a_number_is_expected(
    number: int, zeros: int
) -> None:
    written = f"{'0' * zeros}{number}"
    text = f"slot: headline\ntext: Hi\npriority: {written}\nnotes: {written}\n"
    doc, problem = parse_yaml_text(text, "atoms/n.yaml")
    assert problem is None and doc is not None
    found = yaml11_diagnostics(doc, Atom, {"id": "n", **doc.data})
    if written == str(number):  # no leading zero (a lone 0 included)
        assert found == []
        return
    assert [(d.line, d.col, d.code) for d in found] == [(3, 11, "yaml.ambiguous_number")]
    assert f"write {number}" in found[0].hint  # notes is text: not checked


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["yes", "no", "on", "off", "y", "n", "true", "false"]), st.booleans())
def test_yaml_11_booleans_are_refused_where_a_boolean_is_expected(word: str, upper: bool) -> None:
    written = word.upper() if upper else word
    text = f"name: J\nallow_large_change: {written}\nsteps: [{{id: s, channels: {{}}}}]\n"
    doc, problem = parse_yaml_text(text, "journeys/j.yaml")
    assert problem is None and doc is not None
    found = yaml11_diagnostics(doc, Journey, {"id": "j", **doc.data})
    if word in ("true", "false"):  # TRUE and FALSE are YAML 1.2 booleans as well
        assert found == []
        return
    assert [(d.line, d.col, d.code) for d in found] == [(2, 21, "yaml.ambiguous_boolean")]
    meant = "true" if word in ("yes", "on", "y") else "false"
    assert found[0].hint.startswith(f"write {meant} ")


# --------------------------------------------------------------------------- YAML 1.2 numbers
# The core schema's numbers (https://yaml.org/spec/1.2.2/#1032-tag-resolution), written out
# here independently of yamlio: anything else that looks like a number in YAML 1.1 or Python
# (`1_000`, `0b101`, `+0x1F`, sexagesimal `1:30`) is text, in every reader.
CORE_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
CORE_FLOAT = re.compile(
    r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
)


def core_value(text: str) -> Any:
    """What the YAML 1.2 core schema reads a plain scalar of number characters as."""
    if CORE_INT.fullmatch(text):
        if text.startswith(("0o", "0x")):
            return int(text[2:], 8 if text[1] == "o" else 16)
        return int(text)
    if CORE_FLOAT.fullmatch(text):
        if text.lower().endswith(".inf"):
            return float("-inf") if text.startswith("-") else float("inf")
        return float("nan") if text.lower() == ".nan" else float(text)
    return text


def every_reader(text: str) -> list[Any]:
    """The data of ``text`` from each reader: the fast subset reader, the safe loader and the
    round-trip loader (positions), and parse_yaml_text (whichever of them it takes)."""
    found: list[Any] = []
    understood, data = yamlfast.parse(text, yamlio._resolve_plain)
    if understood:
        found.append(data)
    found.append(yamlio._plain(yamlio._safe_loader().load(text)))
    found.append(yamlio._plain(yamlio._round_trip_loader().load(text)))
    doc, problem = parse_yaml_text(text, "n.yaml")
    assert problem is None and doc is not None
    found.append(doc.data)
    return found


def typed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    if isinstance(value, float) and value != value:
        return ("float", "nan")
    return (type(value).__name__, value)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("1_000", "1_000"),
        ("1_000.5", "1_000.5"),
        ("0b101", "0b101"),
        ("-0b1", "-0b1"),
        ("+0x1F", "+0x1F"),
        ("-0o7", "-0o7"),
        ("0x_1", "0x_1"),
        ("0_7", "0_7"),
        ("1__0", "1__0"),
        ("._5", "._5"),
        ("1.5_0", "1.5_0"),
        ("1:30", "1:30"),
        ("190:20:30.15", "190:20:30.15"),
        ("0o17", 15),
        ("0x1F", 31),
        ("010", 10),
        ("-5", -5),
        (".5", 0.5),
        ("1.", 1.0),
        ("1e3", 1000.0),
        (".5e3", 500.0),  # ruamel's own 1.2 patterns read this one as text
        ("-.inf", float("-inf")),
        ("!!int 1_000", "1_000"),  # an explicit tag does not make it a number either
        ("!!float 1_0.5", "1_0.5"),
        ("!!int 12", 12),
        ("!!float 1", 1.0),
    ],
)
def test_numbers_are_yaml_12_core_numbers_in_every_reader(written: str, expected: Any) -> None:
    for text in (f"a: {written}\n", f"a: [{written}]\n", f"a:\n  - {written}\n"):
        for data in every_reader(text):
            value = data["a"] if text.startswith("a: ") and "[" not in text else data["a"][0]
            assert typed(value) == typed(expected), (text, data)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789_.eExXob+-:", min_size=1, max_size=8))
def test_a_number_looking_scalar_is_a_number_only_in_the_core_schema(written: str) -> None:
    text = f"a: {written}\nb: [{written}]\n"
    _doc, problem = parse_yaml_text(text, "n.yaml")
    if problem is not None:  # not a plain scalar in both places (`-`, `a:b` ...)
        assert problem.code == "yaml.syntax"
        return
    expected = core_value(written)
    for data in every_reader(text):
        for value in (data["a"], data["b"][0]):
            if isinstance(expected, str):
                assert not isinstance(value, int | float), (written, value)
            else:
                assert typed(value) == typed(expected), (written, value)


CUSTOMER_PROFILE = Profile(
    attributes={
        "id": AttributeSpec(type=AttributeType.STRING),
        "orders": AttributeSpec(type=AttributeType.INTEGER),
        "score": AttributeSpec(type=AttributeType.NUMBER, optional=True),
    }
)


@pytest.mark.parametrize(
    ("attribute", "written", "expected"),
    [
        ("orders", "1_000", "record.type"),
        ("orders", "0b1", "record.type"),
        ("orders", "1000", 1000),
        ("score", "1_000.5", "record.type"),
        ("score", "1000.5", 1000.5),
    ],
)
def test_a_customer_number_is_read_alike_from_yaml_json_and_csv(
    tmp_path: Path, attribute: str, written: str, expected: Any
) -> None:
    """`orders: 1_000` in a sample customer is the text it is in CSV (and in JSON, where it
    must be quoted): a record.type error at its position, not a thousand."""
    record = {"id": "C-1", "orders": 1, attribute: written}
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("".join(f"{k}: {v}\n" for k, v in record.items()), encoding="utf-8")
    library = Library(root=tmp_path, profile=CUSTOMER_PROFILE)
    try:
        from_yaml: Any = find_customer(library, str(yaml_file)).attributes[attribute]
    except ContentError as exc:
        [diagnostic] = list(exc.diagnostics)
        line = list(record).index(attribute) + 1
        assert (diagnostic.line, diagnostic.col) == (line, len(attribute) + 3)
        assert diagnostic.code == "customer.attribute_type"
        from_yaml = "record.type"
    csv_file = tmp_path / "c.csv"
    csv_file.write_text(
        ",".join(record) + "\n" + ",".join(map(str, record.values())) + "\n", encoding="utf-8"
    )
    jsonl_file = tmp_path / "c.jsonl"
    value = expected if not isinstance(expected, str) else written
    jsonl_file.write_text(json.dumps({**record, attribute: value}) + "\n", encoding="utf-8")
    verdicts = [from_yaml]
    for path, fmt in ((csv_file, "csv"), (jsonl_file, "jsonl")):
        [result] = read_records(path, fmt, CUSTOMER_PROFILE)  # type: ignore[arg-type]
        verdicts.append(
            result.record[attribute] if result.record is not None else result.problems[0].code
        )
    assert verdicts == [expected] * 3


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10**9), st.data())
def test_numbers_with_underscores_are_refused_where_a_number_is_expected(
    number: int, data: st.DataObject
) -> None:
    """`1_000` is text in YAML 1.2 (as in JSON and CSV); pydantic would still read it as a
    thousand, so where a number is expected it is an error at its position, naming the number
    to write. Where text is expected (`notes`) it is just text."""
    digits = str(number)
    cuts = data.draw(st.sets(st.integers(1, max(1, len(digits) - 1)), max_size=3))
    written = "".join(d + ("_" if i + 1 in cuts else "") for i, d in enumerate(digits))
    written = written.rstrip("_")
    quote = data.draw(st.sampled_from(["", '"']))
    text = f"slot: headline\ntext: Hi\npriority: {quote}{written}{quote}\nnotes: {written}\n"
    doc, problem = parse_yaml_text(text, "atoms/n.yaml")
    assert problem is None and doc is not None
    assert doc.data["priority"] == (number if written == digits and not quote else written)
    assert doc.data["notes"] == (number if written == digits else written)
    found = yaml11_diagnostics(doc, Atom, {"id": "n", **doc.data})
    if "_" not in written:
        assert found == []
        return
    assert [(d.line, d.col, d.code) for d in found] == [(3, 11, "yaml.ambiguous_number")]
    assert found[0].hint.startswith(f"write {number} ")


# -- numbers too large to read --------------------------------------------------------------------

HEX = "0x" + "f" * 5000  # 20 000 bits: 6 021 decimal digits
LITERALS = {
    "decimal": "9" * 5000,
    "leading-zero": "0" + "7" * 5000,
    "negative": "-" + "9" * 4301,
    "hex": HEX,
    "octal": "0o" + "7" * 5000,
    # (``1_000`` and ``0b1`` are text in the YAML 1.2 core schema, however long: see above)
}
PLACES = {
    # text with {n} for the number -> (line, column) of the number
    "block-value": ("slot: headline\npriority: {n}\n", (2, 11)),
    "flow-list": ("slot: headline\ntags: [a, {n}]\n", (2, 11)),
    "block-list": ("slot: headline\ntags:\n  - a\n  - {n}\n", (4, 5)),
    "flow-mapping": ("condition: {{orders: {{$gt: {n}}}}}\n", (1, 27)),
    "nested": ("attributes:\n  orders:\n    count: {n}\n", (3, 12)),
    "anchored": ("a: &big {n}\nb: *big\n", (1, 4)),  # at its anchor
    "whole-document": ("{n}\n", (1, 1)),
    "after-a-comment": ("# a comment\nid: x  # note\nvalue: {n}  # note\n", (3, 8)),
}


@pytest.mark.parametrize("place", sorted(PLACES))
@pytest.mark.parametrize("literal", sorted(LITERALS))
def test_a_number_too_large_to_read_is_refused_at_its_position(literal: str, place: str) -> None:
    """Python reads a hexadecimal integer of any length but prints none of more than 4 300
    decimal digits (and reads no decimal one): such a number is one positioned error, in an
    editor's words, never ``yaml.syntax`` at 1:1 in Python's nor a crash later."""
    template, (line, col) = PLACES[place]
    number = LITERALS[literal]
    text = template.format(n=number)
    doc, problem = parse_yaml_text(text, "atoms/n.yaml")
    assert doc is None and problem is not None
    assert (problem.line, problem.col, problem.code) == (line, col, "yaml.number_too_large")
    assert text.splitlines()[line - 1][col - 1 :].lstrip("&big ").startswith(number)
    assert problem.message == (
        "this number is too large: written out, it has more than 4,300 digits"
    )
    assert "quotes" in problem.hint
    assert "set_int_max_str_digits" not in problem.message + problem.hint


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a duplicate key whose value is a huge number: ruamel's message prints the value
        (f"slot: headline\ntags: [a]\ntags: [{HEX}]\n", (3, 1, "yaml.duplicate_key")),
        (f"slot: headline\ntags: [{HEX}]\ntags: [a]\n", (3, 1, "yaml.duplicate_key")),
        # a plain key longer than YAML allows (1 024 characters) is its syntax error
        (f"slot: headline\nx:\n  {HEX}: 1\n", (3, 5005, "yaml.syntax")),
        (f"slot: headline\nx:\n  {'9' * 5000}: 1\n", (3, 5003, "yaml.syntax")),
        (f"slot: headline\n{'k' * 1025}: 1\n", (2, 1026, "yaml.syntax")),
    ],
    ids=["duplicate-after", "duplicate-before", "hex-key", "decimal-key", "long-key"],
)
def test_huge_numbers_do_not_hide_the_real_problem(
    text: str, expected: tuple[int, int, str]
) -> None:
    doc, problem = parse_yaml_text(text, "atoms/n.yaml")
    assert doc is None and problem is not None
    assert (problem.line, problem.col, problem.code) == expected
    assert "digits" not in problem.message


@settings(max_examples=60, deadline=None)
@given(
    st.integers(4_280, 4_320),
    st.sampled_from(["dec", "hex", "oct", "bin", "quoted"]),  # bin: text in YAML 1.2 core
    st.sampled_from(["", "-"]),
)
def test_numbers_load_up_to_pythons_digit_limit_and_are_refused_past_it(
    digits: int, base: str, sign: str
) -> None:
    """At the limit: a number whose decimal form has at most 4 300 digits loads as an int, one
    with more is ``yaml.number_too_large``; quoted, or binary (not a number in the YAML 1.2
    core schema), it is text of any length."""
    value = 10**digits - 1  # "9" * digits, made without reading a decimal string
    written = {
        "dec": "9" * digits,
        "hex": f"0x{value:x}",
        "oct": f"0o{value:o}",
        "bin": f"0b{value:b}",
        "quoted": f'"{"9" * digits}"',
    }[base]
    text = f"slot: headline\npriority: {sign}{written}\n"
    if base in ("bin", "quoted") and sign:
        return  # YAML 1.2 has no signed binary form (ruamel reads it as text); "-" + quote
    doc, problem = parse_yaml_text(text, "atoms/n.yaml")
    if base == "quoted":
        assert problem is None and doc is not None
        assert doc.data["priority"] == "9" * digits
    elif base == "bin" or (sign and base in ("hex", "oct")):
        # The core schema's hexadecimal and octal forms have no sign, and it has no binary one.
        assert problem is None and doc is not None
        assert doc.data["priority"] == sign + written
    elif digits <= 4_300:
        assert problem is None and doc is not None
        assert doc.data["priority"] == (-value if sign else value)
    else:
        assert doc is None and problem is not None
        assert (problem.line, problem.col, problem.code) == (2, 11, "yaml.number_too_large")
