"""The canary: customer data appears in the rendered message and nowhere else.

A random ``CANARY-<hex>`` goes into every attribute of customer records (valid ones: every text
attribute; invalid ones: every attribute, so most are type errors) fed through every command
and entry point that takes customer data — sample customer files and ``--customer`` files
(validate, segments, resolve, preview), build, batch render (JSON Lines and CSV, JSON Lines and
folder output), ``Bundle.render`` (valid, invalid, suppressed, over a hard limit). The canary
may appear only inside a rendered message; every other byte of output (stdout, stderr, error
messages, diagnostics, build trees, batch summaries and problem rows) must be free of it.

The id attribute is the one exception: it is the join key a sending system needs to match
results to records (a pseudonymous customer number), and problem rows name it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import secrets
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from atomic_content.build import build
from atomic_content.bundle import Bundle, load_bundle
from atomic_content.channels import get_renderer
from atomic_content.cli import main
from atomic_content.errors import AtomicError
from atomic_content.models import AttributeType
from atomic_content.preview import preview
from atomic_content.validate import load_library

DEMO = Path(__file__).resolve().parent.parent / "content"
DAY = dt.date(2026, 12, 1)
CANARY = f"CANARY-{secrets.token_hex(8)}"
JOURNEYS = ("cart-recovery", "welcome", "winback")

TYPED: dict[AttributeType, Any] = {
    AttributeType.INTEGER: 3,
    AttributeType.NUMBER: 0.75,
    AttributeType.BOOLEAN: True,
    AttributeType.DATE: "2026-11-01",
    AttributeType.DATETIME: "2026-11-01T09:30:00",
    AttributeType.LIST: [CANARY],
}


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for path, value in flat.items():
        *parents, leaf = path.split(".")
        node = record
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return record


def valid_record(*, locale: str = CANARY, **overrides: Any) -> dict[str, Any]:
    """The canary in every text attribute (the locale too unless given), the others typed;
    every consent given, so that every message renders."""
    profile = load_library(DEMO)[0].profile
    assert profile is not None
    flat: dict[str, Any] = {}
    for name, spec in profile.attributes.items():
        if name == profile.id_attribute:
            flat[name] = "NW-CANARY-1"
        elif spec.type is AttributeType.STRING:
            flat[name] = f"{CANARY} {name}"
        else:
            flat[name] = TYPED[spec.type]
    flat[profile.locale_attribute or "locale"] = locale
    flat.update(overrides)
    return nest(flat)


def invalid_record() -> dict[str, Any]:
    """The canary in every attribute: a type error for all but the text ones."""
    profile = load_library(DEMO)[0].profile
    assert profile is not None
    flat = {name: f"{CANARY} {name}" for name in profile.attributes}
    flat[profile.id_attribute] = "NW-CANARY-2"
    return nest(flat)


def clean(text: str | bytes, where: str) -> None:
    data = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    assert CANARY not in data, f"customer data leaked into {where}"


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("canary")
    good = root / "good"
    shutil.copytree(DEMO, good)
    # A sample customer's locale is checked against the settings, so it is a real locale here.
    (good / "customers" / "canary.yaml").write_text(
        yaml.safe_dump({"attributes": valid_record(locale="de")}, allow_unicode=True),
        encoding="utf-8",
    )
    bad = root / "bad"
    shutil.copytree(DEMO, bad)
    (bad / "customers" / "canary.yaml").write_text(
        yaml.safe_dump({"attributes": invalid_record()}, allow_unicode=True), encoding="utf-8"
    )
    valid_file = root / "valid.json"
    valid_file.write_text(json.dumps({"attributes": valid_record()}), encoding="utf-8")
    invalid_file = root / "invalid.json"
    invalid_file.write_text(json.dumps({"attributes": invalid_record()}), encoding="utf-8")
    out = root / "dist"
    build(good, out, on=DAY, jobs=1)
    return {
        "root": root,
        "good": good,
        "bad": bad,
        "valid": valid_file,
        "invalid": invalid_file,
        "dist": out,
    }


def run(*args: str) -> Any:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_validate_and_build_never_show_customer_values(trees: dict[str, Path]) -> None:
    for tree, ok in (("good", True), ("bad", False)):
        for fmt in ("text", "json", "github"):
            result = run("validate", "--content", str(trees[tree]), "--format", fmt,
                         "--date", DAY.isoformat())  # fmt: skip
            assert (result.exit_code == 0) is ok, result.output
            clean(result.stdout + result.stderr, f"validate --format {fmt} ({tree})")
        out = trees["root"] / f"cli-dist-{tree}"
        result = run("build", "--content", str(trees[tree]), "--out", str(out),
                     "--date", DAY.isoformat())  # fmt: skip
        assert (result.exit_code == 0) is ok, result.output
        clean(result.stdout + result.stderr, f"build ({tree})")
    # The build's preview forms use the profile's example values, never a customer's.
    for path in trees["dist"].rglob("*"):
        if path.is_file():
            clean(path.read_bytes(), path.as_posix())


@pytest.mark.parametrize("ref", ["canary", "valid", "invalid"])
def test_segments_and_resolve_never_show_customer_values(trees: dict[str, Path], ref: str) -> None:
    customer = ref if ref == "canary" else str(trees[ref])
    content = str(trees["good"])
    for fmt in ("text", "json"):
        result = run("segments", "--content", content, "--customer", customer, "--format", fmt)
        assert (result.exit_code == 0) is (ref != "invalid"), result.output
        clean(result.stdout + result.stderr, f"segments {ref} {fmt}")
        for journey in JOURNEYS:
            result = run("resolve", "--content", content, "--customer", customer, "--journey",
                         journey, "--date", DAY.isoformat(), "--explain", "--format", fmt)  # fmt: skip
            assert (result.exit_code == 0) is (ref != "invalid"), result.output
            clean(result.stdout + result.stderr, f"resolve {ref} {journey} {fmt}")


@pytest.mark.parametrize("ref", ["canary", "valid", "invalid"])
def test_preview_shows_customer_values_only_in_the_message(
    trees: dict[str, Path], ref: str
) -> None:
    customer = ref if ref == "canary" else str(trees[ref])
    content = trees["good"]
    for journey in JOURNEYS:
        args = ["preview", "--content", str(content), "--customer", customer, "--journey",
                journey, "--date", DAY.isoformat()]  # fmt: skip
        text = run(*args, "--explain")
        json_out = run(*args, "--format", "json")
        if ref == "invalid":
            for result in (text, json_out):
                assert result.exit_code == 1
                clean(result.stdout + result.stderr, f"preview {ref} {journey}")
            continue
        assert text.exit_code in (0, 1), text.output  # 1: a hard limit, never a leak
        rest = text.stdout
        for result in preview(content, customer, journey, on=DAY, explain=True):
            message = get_renderer(result.rendered.key.channel).preview_text(result.rendered)
            rest = rest.replace(message, "")
        clean(rest + text.stderr, f"preview text {ref} {journey}")
        items = json.loads(json_out.stdout)
        for item in items:
            item.pop("parts")  # the rendered message itself
        clean(json.dumps(items, ensure_ascii=False) + json_out.stderr, f"preview json {journey}")


def csv_text(records: list[dict[str, Any]]) -> str:
    def flat(record: dict[str, Any], base: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in record.items():
            if isinstance(value, dict):
                out.update(flat(value, f"{base}{key}."))
            else:
                out[f"{base}{key}"] = "|".join(value) if isinstance(value, list) else value
        return out

    rows = [flat(r) for r in records]
    columns = sorted({c for row in rows for c in row})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: str(v).lower() if isinstance(v, bool) else v for k, v in row.items()})
    return buffer.getvalue()


def test_batch_render_keeps_values_inside_the_messages(trees: dict[str, Path]) -> None:
    root = trees["root"]
    records = [
        valid_record(),
        invalid_record(),
        {**valid_record(), "id": "NW-CANARY-3", "consent": {"personalization": True,
                                                          "email_marketing": False}},
        # over the hard subject limit through the customer's value: an error row
        {**valid_record(), "id": "NW-CANARY-4", "cart": {"items": 2, "top_item": CANARY * 20}},
    ]  # fmt: skip
    jsonl = root / "customers.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    table = root / "customers.csv"
    table.write_text(csv_text(records), encoding="utf-8")
    bundle_root = str(trees["dist"])
    for source in (jsonl, table):
        for journey, step, channel in (
            ("cart-recovery", "reminder-24h", "email"),
            ("welcome", "day-0", "app"),
        ):
            for target in (root / f"out-{source.suffix[1:]}-{channel}.jsonl",
                           root / f"out-{source.suffix[1:]}-{channel}"):  # fmt: skip
                result = run("render", "--bundle", bundle_root, "--customers", str(source),
                             "--journey", journey, "--step", step, "--channel", channel,
                             "--out", str(target), "--date", DAY.isoformat(),
                             "--format", "json")  # fmt: skip
                clean(result.stdout + result.stderr, f"render {source.name} {channel}")
                summary = json.loads(result.stdout)
                assert summary["failed"] >= 1
                if target.suffix == ".jsonl":
                    for line in target.read_text(encoding="utf-8").splitlines():
                        entry = json.loads(line)
                        entry.pop("parts")  # the rendered message itself
                        clean(json.dumps(entry), f"{target.name} (outside parts)")
                else:
                    for path in target.rglob("*"):
                        clean(path.name, f"file name {path}")
        text = run("render", "--bundle", bundle_root, "--customers", str(source), "--journey",
                   "cart-recovery", "--step", "reminder-24h", "--channel", "email", "--out",
                   str(root / f"text-{source.suffix[1:]}.jsonl"), "--date", DAY.isoformat())  # fmt: skip
        clean(text.stdout + text.stderr, f"render text {source.name}")


def test_bundle_render_errors_never_hold_values(trees: dict[str, Path]) -> None:
    bundle: Bundle = load_bundle(trees["dist"])
    message = {"journey": "cart-recovery", "step": "reminder-24h", "channel": "email", "on": DAY}
    rendered = bundle.render(valid_record(), **message)
    assert any(CANARY in text for text in rendered.parts.values()), "the message shows it"
    cases = [
        invalid_record(),
        {**valid_record(), "consent": {"personalization": True, "email_marketing": False}},
        {**valid_record(), "cart": {"items": 2, "top_item": CANARY * 20}},
        {**valid_record(), "unknown": CANARY, "tier": [CANARY]},
    ]
    for record in cases:
        with pytest.raises(AtomicError) as caught:
            bundle.render(record, **message)
        error = caught.value
        clean(str(error) + repr(error) + repr(vars(error)), type(error).__name__)
        clean("\n".join(error.format_lines()), f"{type(error).__name__} lines")
