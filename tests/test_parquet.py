"""Parquet in and out of the local engine (`atomic render --customers x.parquet --out
y.parquet`): the columns the Spark engine writes, one row per record with its status; only the
columns the message needs are read; nested structs, flat dotted columns, nulls and unreadable
values; the bundle shipped to Spark workers is loaded once per process."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from atomic_content.build import build
from atomic_content.bundle import load_bundle
from atomic_content.cli import main
from atomic_content.columnar import output_columns
from atomic_content.runtime import render_batch
from atomic_content.spark import cached_bundle, pack_bundle
from contentkit import write_tree

DAY = dt.date(2026, 11, 22)
WELCOME = {"journey": "welcome", "step": "day-0", "channel": "email"}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("parquet")
    out = root / "dist"
    build(write_tree(root / "content"), out, on=DAY)
    return out


def rows(path: Path) -> dict[str, dict[str, object]]:
    return {row["customer_id"] or "?": row for row in pq.read_table(path).to_pylist()}


def test_parquet_in_parquet_out_one_row_per_record(dist: Path, tmp_path: Path) -> None:
    table = pa.Table.from_pylist(
        [
            {"id": "C-1", "first_name": "Ada", "locale": "en", "tier": "gold", "orders": 2},
            {"id": "C-2", "first_name": None, "locale": "de", "tier": "silver", "orders": 0},
            {"id": "C-3", "first_name": "Bo", "locale": "en", "tier": None, "orders": 1},
            {"id": "C-4", "first_name": "Eve\r\nBcc: x", "locale": "en", "tier": "a", "orders": 1},
        ]
    ).append_column("warehouse_only", pa.array([1, 2, 3, 4]))
    customers = tmp_path / "customers.parquet"
    pq.write_table(table, customers)
    out = tmp_path / "out.parquet"
    result = render_batch(load_bundle(dist), customers, out=out, on=DAY, **WELCOME)
    assert (result.rendered, result.failed, result.skipped) == (2, 2, 0)
    assert [(p.line, p.customer_id, p.code, p.attribute) for p in result.problems] == [
        (3, "C-3", "record.missing_attribute", "tier"),  # null is a missing attribute
        (4, "C-4", "render.header_injection", None),
    ]
    written = pq.read_table(out)
    assert written.schema.names == list(output_columns(["html", "preheader", "subject", "text"]))
    got = rows(out)
    assert got["C-1"]["subject"] == "Welcome to Acme, Ada"
    assert got["C-2"]["subject"] == "Welcome to Acme, friend"
    assert (got["C-2"]["locale"], got["C-2"]["variant"]) == ("de", "welcome/day-0/email/de/new")
    assert (got["C-3"]["status"], got["C-3"]["error_code"]) == (
        "failed",
        "record.missing_attribute",
    )
    assert got["C-3"]["subject"] is None
    assert got["C-4"]["error_message"] and "Bcc" not in str(got["C-4"]["error_message"])
    assert not out.with_name(".out.parquet.partial").exists()


def test_structs_and_flat_dotted_columns_are_the_same_attributes(
    dist: Path, tmp_path: Path
) -> None:
    nested = pa.Table.from_pylist(
        [
            {
                "id": "C-1",
                "locale": "en",
                "tier": "gold",
                "orders": 1,
                "consent": {"personalization": False},
            }
        ]
    )
    flat = pa.Table.from_pylist(
        [
            {
                "id": "C-1",
                "locale": "en",
                "tier": "gold",
                "orders": 1,
                "consent.personalization": False,
            }
        ]
    )
    outputs = []
    for name, table in (("nested", nested), ("flat", flat)):
        pq.write_table(table, tmp_path / f"{name}.parquet")
        out = tmp_path / f"{name}-out.parquet"
        render_batch(load_bundle(dist), tmp_path / f"{name}.parquet", out=out, on=DAY, **WELCOME)
        outputs.append(pq.read_table(out))
    assert outputs[0].equals(outputs[1])
    assert outputs[0].column("audience").to_pylist() == ["generic"]  # consent refused


def test_a_value_arrow_cannot_read_fails_its_row_only(dist: Path, tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": ["C-1", "C-2"],
            "locale": ["en", "en"],
            "tier": ["gold", "gold"],
            "orders": [1, 2],
            "born": pa.array([1, 3_000_000], pa.date32()),  # year 10183: no Python date
        }
    )
    customers = tmp_path / "c.parquet"
    pq.write_table(table, customers)
    bundle = load_bundle(dist)
    # The message does not read "born": the column is never read, both rows render.
    result = render_batch(bundle, customers, out=tmp_path / "a.parquet", on=DAY, **WELCOME)
    assert (result.rendered, result.failed) == (2, 0)
    pq.write_table(
        table.rename_columns(["id", "locale", "tier", "orders", "first_name"]), customers
    )
    result = render_batch(bundle, customers, out=tmp_path / "b.parquet", on=DAY, **WELCOME)
    assert (result.rendered, result.failed) == (0, 2)
    assert [(p.line, p.code, p.attribute, p.reason) for p in result.problems] == [
        (1, "record.type", "first_name", "first_name should be text, not a date"),
        (
            2,
            "record.type",
            "first_name",
            "first_name holds a value that cannot be read (out of range for its type)",
        ),
    ]


def test_jsonl_in_parquet_out_and_the_command_line(dist: Path, tmp_path: Path) -> None:
    customers = tmp_path / "c.jsonl"
    customers.write_text(
        json.dumps({"id": "C-1", "first_name": "Ada", "locale": "en", "tier": "gold", "orders": 2})
        + "\nnot json\n"
    )
    out = tmp_path / "out.parquet"
    args = ["render", "--bundle", str(dist), "--customers", str(customers), "--out", str(out)]
    args += [
        "--journey",
        "welcome",
        "--step",
        "day-0",
        "--channel",
        "email",
        "--date",
        "2026-11-22",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "rendered 1, failed 1, skipped 0" in result.output
    got = pq.read_table(out).to_pylist()
    assert [(r["customer_id"], r["status"], r["error_code"]) for r in got] == [
        ("C-1", "rendered", None),
        (None, "failed", "record.invalid"),
    ]


def test_unreadable_parquet_is_a_usage_error(dist: Path, tmp_path: Path) -> None:
    customers = tmp_path / "c.parquet"
    customers.write_text("not parquet")
    args = ["render", "--bundle", str(dist), "--customers", str(customers)]
    args += ["--out", str(tmp_path / "o.parquet"), "--journey", "welcome", "--step", "day-0"]
    result = CliRunner().invoke(main, [*args, "--channel", "email", "--date", "2026-11-22"])
    assert result.exit_code == 2
    assert "as Parquet" in result.output


def test_bundle_zip_is_deterministic_and_loaded_once_per_process(dist: Path) -> None:
    root = load_bundle(dist).root
    payload = pack_bundle(root)
    assert payload == pack_bundle(root)
    calls = []

    def fetch() -> bytes:
        calls.append(1)
        return payload

    first = cached_bundle("test-digest", fetch)
    assert cached_bundle("test-digest", fetch) is first
    assert calls == [1]
    assert first.variants == load_bundle(dist).variants
