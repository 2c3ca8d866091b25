"""`atomic render`: the streaming batch runtime — JSON Lines and CSV in, JSON Lines or folders
out; bad records are reported with their line number and do not stop the batch."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner

from atomic_content.build import build
from atomic_content.bundle import load_bundle
from atomic_content.cli import main
from atomic_content.runtime import RecordProblem, render_batch
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
