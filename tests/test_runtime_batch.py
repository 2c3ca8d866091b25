"""`atomic render`: the streaming batch runtime — JSON Lines and CSV in, JSON Lines or folders
out; bad records are reported with their line number and do not stop the batch."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner

from atomic_content.build import build
from atomic_content.bundle import load_bundle
from atomic_content.cli import main
from atomic_content.records import RecordError
from atomic_content.runtime import RecordProblem, folder_name, render_batch
from contentkit import write_tree

DAY = dt.date(2026, 11, 22)


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    build(content, out, on=DAY)
    return out


RECORDS = [
    {"id": "C-1", "first_name": "Ada", "locale": "en", "tier": "gold", "orders": 2},
    "not json at all",
    {"id": "C-2", "locale": "de", "tier": "silver", "orders": 0},
    ["a list"],
    {
        "id": "C-3",
        "first_name": "Eve\r\nBcc: x@evil.example",
        "locale": "en",
        "tier": "gold",
        "orders": 1,
    },
    {"id": "../../etc", "first_name": "<b>Bo</b>", "locale": "en", "tier": "gold", "orders": 1},
]


def write_jsonl(path: Path) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in RECORDS]
    path.write_text("\n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:]) + "\n")
    return path


def test_jsonl_in_jsonl_out(tmp_path: Path, dist: Path) -> None:
    customers = write_jsonl(tmp_path / "customers.jsonl")
    out = tmp_path / "out.jsonl"
    result = render_batch(
        load_bundle(dist),
        customers,
        journey="welcome",
        step="day-0",
        channel="email",
        out=out,
        on=DAY,
    )
    assert (result.rendered, result.failed, result.skipped) == (3, 3, 0)
    problems = [(p.line, p.customer_id, p.code) for p in result.problems]
    assert problems == [
        (2, None, "record.invalid"),
        (5, None, "record.invalid"),
        (6, "C-3", "render.header_injection"),  # CR/LF in a name never reaches a subject
    ]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["line"], r["customer"]) for r in rows] == [(1, "C-1"), (4, "C-2"), (7, "../../etc")]
    assert rows[0]["parts"]["subject"] == "Welcome to Acme, Ada"
    # One message, one language: the base tree has no German headline or body, so the de
    # customer's message is English throughout (not a German subject over English text).
    assert rows[1]["parts"]["subject"] == "Welcome to Acme, friend"
    assert (rows[1]["locale"], rows[1]["variant"]) == ("de", "welcome/day-0/email/de/new")
    assert "&lt;b&gt;Bo&lt;/b&gt;" in rows[2]["parts"]["html"]


def test_folder_output_stays_inside(tmp_path: Path, dist: Path) -> None:
    customers = write_jsonl(tmp_path / "customers.jsonl")
    out = tmp_path / "out"
    render_batch(
        load_bundle(dist),
        customers,
        journey="welcome",
        step="day-0",
        channel="email",
        out=out,
        on=DAY,
    )
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    # The id is encoded, not cleaned: no separator and no leading dot survive.
    assert folders == ["%2E.%2F..%2Fetc", "C-1", "C-2"]
    assert (out / "C-1" / "subject.txt").read_text() == "Welcome to Acme, Ada"
    assert not (tmp_path / "etc").exists()


def test_csv_input_typed_by_profile(tmp_path: Path, dist: Path) -> None:
    customers = tmp_path / "customers.csv"
    customers.write_text(
        "id,first_name,locale,tier,orders,consent.personalization\n"
        "C-1,Ada,en,gold,3,true\n"
        "C-2,Bo,en,gold,three,true\n"
        "C-3,Cy,en,gold,3,false\n"
    )
    out = tmp_path / "out.jsonl"
    result = render_batch(
        load_bundle(dist),
        customers,
        journey="welcome",
        step="day-0",
        channel="email",
        out=out,
        on=DAY,
    )
    assert (result.rendered, result.failed) == (2, 1)
    # The reason names the attribute, never the cell ("three" is customer data).
    assert result.problems[0] == RecordProblem(
        3, "C-2", "record.type", "orders should be an integer, not text", "orders"
    )
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["customer"] for r in rows] == ["C-1", "C-3"]


def test_audience_skips_are_counted(tmp_path: Path) -> None:
    journey = "name: Welcome\naudience: {orders: {$lt: 1}}\nsegments: [vip, new]\nlocales: [en]\nsteps:\n  - id: day-0\n    channels: {email: basic}\n"
    content = write_tree(tmp_path / "content", {"journeys/welcome.yaml": journey})
    build(content, tmp_path / "dist", on=DAY)
    customers = tmp_path / "c.jsonl"
    customers.write_text(
        json.dumps({"id": "A", "locale": "en", "tier": "x", "orders": 0})
        + "\n"
        + json.dumps({"id": "B", "locale": "en", "tier": "x", "orders": 5})
        + "\n"
    )
    result = render_batch(
        load_bundle(tmp_path / "dist"),
        customers,
        journey="welcome",
        step="day-0",
        channel="email",
        out=tmp_path / "o.jsonl",
        on=DAY,
    )
    assert (result.rendered, result.failed, result.skipped) == (1, 0, 1)


def test_cli_render_summary_and_exit_code(tmp_path: Path, dist: Path) -> None:
    customers = write_jsonl(tmp_path / "customers.jsonl")
    result = CliRunner().invoke(
        main,
        [
            "render",
            "--bundle",
            str(dist),
            "--customers",
            str(customers),
            "--journey",
            "welcome",
            "--step",
            "day-0",
            "--channel",
            "email",
            "--out",
            str(tmp_path / "o.jsonl"),
            "--date",
            "2026-11-22",
        ],
    )
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "rendered 3, failed 3, skipped 0"
    assert f"{customers}:2: record.invalid: not valid JSON" in result.stderr


def test_cli_build_summary(tmp_path: Path) -> None:
    content = write_tree(tmp_path / "content")
    runner = CliRunner()
    args = [
        "build",
        "--content",
        str(content),
        "--out",
        str(tmp_path / "dist"),
        "--date",
        "2026-11-22",
    ]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "built 12 variants" in first.stdout and "12 rendered, 0 from cache" in first.stdout
    second = runner.invoke(main, args)
    assert second.stdout.startswith("up to date: 12 variants")
    data = json.loads(runner.invoke(main, [*args, "--format", "json", "--no-cache"]).stdout)
    assert data["variants"] == 12 and data["rendered"] == 12


def _render_args(dist: Path, customers: Path, out: Path) -> list[str]:
    return [
        "render",
        "--bundle",
        str(dist),
        "--customers",
        str(customers),
        "--journey",
        "welcome",
        "--step",
        "day-0",
        "--channel",
        "email",
        "--out",
        str(out),
        "--date",
        DAY.isoformat(),
    ]


@pytest.mark.parametrize("name", ["x.jsonl", "x.csv"])
def test_cli_render_refuses_to_overwrite_its_input(tmp_path: Path, dist: Path, name: str) -> None:
    customers = tmp_path / name
    if name.endswith(".csv"):
        customers.write_text("id,locale,tier,orders\nC-1,en,gold,3\n")
    else:
        write_jsonl(customers)
    before = customers.read_bytes()
    result = CliRunner().invoke(main, _render_args(dist, customers, customers))
    assert result.exit_code == 2, result.output
    assert "it overlaps the customer file" in result.stderr
    assert customers.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if name in p.name and p != customers]


def test_folder_output_keeps_similar_ids_apart(tmp_path: Path, dist: Path) -> None:
    customers = tmp_path / "customers.jsonl"
    record = {"locale": "en", "tier": "gold", "orders": 1}
    ids = ["a/b", "a_b", "a%2Fb", "a_b", ".hidden"]
    customers.write_text("".join(json.dumps({"id": i, **record}) + "\n" for i in ids))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [*_render_args(dist, customers, out), "--format", "json"])
    assert result.exit_code == 1, result.output  # the duplicate fails its record
    data = json.loads(result.stdout)
    assert (data["rendered"], data["failed"], data["skipped"]) == (4, 1, 0)
    assert data["problems"] == [
        {
            "line": 4,
            "customer": "a_b",
            "code": "record.duplicate_id",
            "reason": "another record of this batch has the same id",
        }
    ]
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders == ["%2Ehidden", "a%252Fb", "a%2Fb", "a_b"]
    assert [unquote(name) for name in folders] == [".hidden", "a%2Fb", "a/b", "a_b"]
    for folder in folders:
        assert (out / folder / "subject.txt").read_text() == "Welcome to Acme, friend"
    assert not (out / "a").exists()


# --------------------------------------------------------------------------- ids and paths

RECORD = {"locale": "en", "tier": "gold", "orders": 1}


def _write_ids(path: Path, ids: list[str], **changes: object) -> Path:
    path.write_text("".join(json.dumps({**RECORD, "id": i, **changes}) + "\n" for i in ids))
    return path


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` (folders as None), for comparing before and after."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize(
    "ids",
    [
        ["", "email.html"],
        ["email.html", ""],
        ["   ", "subject.txt", "C-1"],
        [".", "..", "../up", "a/../../b", "/abs"],
        [".atomic-render", "%line-1", "line-1", "%2E"],
        ["x)\n::error file=a::pwned", "\u2028", "C-1", "c-1"],
    ],
    ids=["empty-then-file", "file-then-empty", "blank", "dots", "lookalikes", "controls"],
)
def test_folder_output_no_id_writes_outside_its_folder(
    tmp_path: Path, dist: Path, ids: list[str]
) -> None:
    """Every record is counted once, a blank id fails its record (record.blank_id), and every
    message lands in its own folder, directly inside --out: the root holds only the marker and
    the customers' folders."""
    customers = _write_ids(tmp_path / "customers.jsonl", ids)
    out = tmp_path / "out"
    outside = _tree(tmp_path)
    result = CliRunner().invoke(main, [*_render_args(dist, customers, out), "--format", "json"])
    data = json.loads(result.stdout)
    blank = [i for i in ids if not i.strip()]
    assert (data["rendered"], data["failed"], data["skipped"]) == (
        len(ids) - len(blank),
        len(blank),
        0,
    )
    assert [p["code"] for p in data["problems"]] == ["record.blank_id"] * len(blank)
    assert result.exit_code == (1 if blank else 0), result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [".atomic-render", *(folder_name(i) for i in ids if i.strip())]
    )
    for i in ids:
        if i.strip():
            assert unquote(folder_name(i)) == i
            assert (out / folder_name(i) / "subject.txt").read_text() == "Welcome to Acme, friend"
    after = _tree(tmp_path)
    assert {k: v for k, v in after.items() if not k.startswith("out")} == {
        k: v for k, v in outside.items() if not k.startswith("out")
    }


def test_folder_output_ids_that_differ_in_case_on_a_case_blind_file_system(
    tmp_path: Path, dist: Path
) -> None:
    """Where the file system does not tell upper from lower case (found by the marker's
    name in upper case), two such ids would share a folder: the second fails its record."""
    out = tmp_path / "out"
    out.mkdir()
    (out / ".atomic-render").write_text("written by atomic render\n")
    (out / ".ATOMIC-RENDER").write_text("as a case-blind file system shows it\n")
    customers = _write_ids(tmp_path / "c.jsonl", ["Ab", "aB", "ab-2"])
    result = render_batch(
        load_bundle(dist), customers, journey="welcome", step="day-0", channel="email",
        out=out, on=DAY,
    )  # fmt: skip
    assert (result.rendered, result.failed) == (2, 1)
    assert [(p.line, p.customer_id, p.code) for p in result.problems] == [
        (2, "aB", "record.id_collision")
    ]


@pytest.mark.parametrize(
    "forged",
    [
        "x)\n::error file=a::pwned",
        "y\r\nr/c.jsonl:99: record.type: fake",
        "z\u2028::warning::w",
        "w\x1b[2K\rc.jsonl:1: fake",
        "##[error]legacy",
    ],
    ids=["lf-workflow-command", "crlf-fake-line", "line-separator", "escape-codes", "legacy"],
)
def test_render_problem_lines_show_ids_on_one_line(tmp_path: Path, dist: Path, forged: str) -> None:
    customers = _write_ids(tmp_path / "c.jsonl", [forged], tier=5)
    result = CliRunner().invoke(main, _render_args(dist, customers, tmp_path / "o.jsonl"))
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"{customers}:1: record.type (customer ")
    assert line.endswith("): tier should be text, not a number")
    assert "::" not in line.split("(customer ", 1)[1][:2]
    assert "##[" not in line and "\x1b" not in line and "\r" not in line


def _build_tree_paths(dist: Path) -> dict[str, Path]:
    real = dist.resolve()
    return {
        "inside-the-build": dist / "messages.jsonl",
        "inside-its-real-tree": real / "messages.jsonl",
        "a-folder-inside-the-build": dist / "out",
        "the-build-itself": dist,
        "around-the-build": dist.parent,
        "its-trees": dist.parent / f".{dist.name}.builds" / "m.jsonl",
        "its-spare-tree": dist.parent / f".{dist.name}.spare" / "m.jsonl",
        "its-trash": dist.parent / f".{dist.name}.trash" / "m.parquet",
        "its-cache": dist.parent / f".{dist.name}.cache" / "m",
    }


@pytest.mark.parametrize(
    ("where", "bundle"),
    [
        *((where, "dist") for where in _build_tree_paths(Path("dist"))),
        ("inside-the-build", "real-tree"),
        ("inside-the-build", "bundle-folder"),
        ("its-trees", "real-tree"),
    ],
)
def test_render_refuses_an_out_in_the_build(
    tmp_path: Path, dist: Path, where: str, bundle: str
) -> None:
    """The build output folder the bundle belongs to (however the bundle is named) and the
    folders builds manage beside it are no place for messages: the next build moves or
    deletes what is there."""
    customers = _write_ids(tmp_path / "c.jsonl", ["C-1"])
    out = _build_tree_paths(dist)[where]
    named = {"dist": dist, "real-tree": dist.resolve(), "bundle-folder": dist / "bundle"}[bundle]
    before = _tree(tmp_path)
    args = _render_args(named, customers, out)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "refusing to write" in result.stderr and "overlaps the" in result.stderr
    assert "Traceback" not in result.output
    assert _tree(tmp_path) == before


def _user_file(path: Path, dist: Path) -> None:
    path.write_text("my notes\n")


def _other_json_lines(path: Path, dist: Path) -> None:
    path.write_text('{"id": "C-1"}\n')


def _other_parquet(path: Path, dist: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table({"id": ["C-1"]}), path)


def _folder(path: Path, dist: Path) -> None:
    path.mkdir()


def _empty_file(path: Path, dist: Path) -> None:
    path.write_bytes(b"")


def _earlier_render(path: Path, dist: Path) -> None:
    if path.suffix == ".parquet":
        pytest.importorskip("pyarrow")
    customers = _write_ids(path.parent / "earlier-customers.jsonl", ["C-0"])
    render_batch(
        load_bundle(dist), customers, journey="welcome", step="day-0", channel="email",
        out=path, on=DAY,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "make", "replaced"),
    [
        ("user.jsonl", _user_file, False),
        ("user.jsonl", _other_json_lines, False),
        ("data.parquet", _other_parquet, False),
        ("folder.jsonl", _folder, False),
        ("empty.jsonl", _empty_file, True),
        ("earlier.jsonl", _earlier_render, True),
        ("earlier.parquet", _earlier_render, True),
    ],
    ids=[
        "unrelated-file",
        "json-lines-of-another-shape",
        "unrelated-parquet",
        "a-folder",
        "an-empty-file",
        "an-earlier-render",
        "an-earlier-parquet-render",
    ],
)
def test_render_replaces_only_its_own_earlier_output_file(
    tmp_path: Path,
    dist: Path,
    name: str,
    make: Callable[[Path, Path], None],
    replaced: bool,
) -> None:
    """An existing --out file is replaced only when it is empty or an earlier render's output
    (JSON Lines whose first line has render's keys; Parquet with render's columns)."""
    out = tmp_path / name
    make(out, dist)
    before = _tree(tmp_path)
    customers = _write_ids(tmp_path / "c.jsonl", ["C-1"])
    result = CliRunner().invoke(main, _render_args(dist, customers, out))
    if replaced:
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines()[-1] == "rendered 1, failed 0, skipped 0"
    else:
        assert result.exit_code == 2, result.output
        assert "refusing to" in result.stderr and name in result.stderr
        assert _tree(tmp_path) == {**before, "c.jsonl": customers.read_bytes()}


def test_render_refuses_to_replace_a_link(tmp_path: Path, dist: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("my notes\n")
    link = tmp_path / "out.jsonl"
    link.symlink_to(target)
    customers = _write_ids(tmp_path / "c.jsonl", ["C-1"])
    result = CliRunner().invoke(main, _render_args(dist, customers, link))
    assert result.exit_code == 2
    assert "it is a link" in result.stderr
    assert link.is_symlink() and target.read_text() == "my notes\n"


def test_bundle_render_refuses_a_blank_id(dist: Path) -> None:
    """The one record check: Bundle.render refuses a blank id as the batch does."""
    bundle = load_bundle(dist)
    for blank in ("", "  "):
        with pytest.raises(RecordError) as caught:
            bundle.render(
                {**RECORD, "id": blank}, journey="welcome", step="day-0", channel="email", on=DAY
            )
        assert [p.code for p in caught.value.problems] == ["record.blank_id"]
