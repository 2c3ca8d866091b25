"""``atomic preview`` through click's runner: formats, files, browser, exit codes."""

from __future__ import annotations

import email
import json
import re
import shutil
from email import policy
from pathlib import Path

import pytest
from click.testing import CliRunner

import atomic_content.cli.preview_cmd  # noqa: F401  (registers `atomic preview` on main)
from atomic_content.cli import main
from conftest import DEMO_CONTENT, RenderTree

DATE = ["--date", "2026-12-01"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str, content: Path = DEMO_CONTENT) -> tuple[int, str, str]:
    result = runner.invoke(main, ["preview", "--content", str(content), *args])
    return result.exit_code, result.stdout, result.stderr


def test_text_preview_of_a_whole_journey(runner: CliRunner) -> None:
    code, out, err = invoke(runner, "--customer", "jonas", "--journey", "welcome", *DATE)
    assert code == 0, err
    headings = [line for line in out.splitlines() if line.startswith("═══")]
    assert [h.split(" — ")[0] for h in headings] == [
        "═══ welcome / day-0 / email / de",
        "═══ welcome / day-0 / app / de",
        "═══ welcome / day-3 / email / de",
        "═══ welcome / day-3 / microsite / de",
        "═══ welcome / day-7 / email / de",
        "═══ welcome / day-7 / app / de",
    ]
    assert "Subject:   " in out and "Push notification" in out and "Title:       " in out


def test_step_channel_and_explain(runner: CliRunner) -> None:
    code, out, _ = invoke(
        runner, "--customer", "tom", "--journey", "cart-recovery", "--step", "reminder-24h",
        "--channel", "email", "--explain", *DATE,
    )  # fmt: skip
    assert code == 0
    assert out.count("═══") == 2
    assert "the customer refused personalization" in out
    assert "rejected: cart-reminder-subject-cart-abandoner" in out


def test_json_format(runner: CliRunner) -> None:
    code, out, _ = invoke(
        runner, "--customer", "maria", "--journey", "cart-recovery", "--step", "nudge-1h",
        "--format", "json", *DATE,
    )  # fmt: skip
    assert code == 0
    (item,) = json.loads(out)
    assert item["customer"] == "maria"
    assert item["resolution"]["channel"] == "app"
    push = json.loads(item["parts"]["push.json"]["content"])
    assert "Fjell 3L Rain Shell" in push["body"]
    assert item["parts"]["push.json"]["media_type"] == "application/json"
    assert item["problems"] == []


def test_html_format_single_and_several(runner: CliRunner) -> None:
    code, out, _ = invoke(
        runner, "--customer", "anna", "--journey", "welcome", "--step", "day-3",
        "--channel", "microsite", "--format", "html", *DATE,
    )  # fmt: skip
    assert code == 0
    assert out.lstrip().lower().startswith("<!doctype html>") and 'lang="de-AT"' in out
    code, out, _ = invoke(
        runner,
        "--customer",
        "anna",
        "--journey",
        "welcome",
        "--step",
        "day-0",
        "--format",
        "html",
        *DATE,
    )
    assert code == 0
    assert out.count("<iframe") == 2 and "Preview for anna" in out


def test_eml_format(runner: CliRunner) -> None:
    args = ["--customer", "maria", "--journey", "welcome", "--step", "day-7", "--format", "eml"]
    code, out, _ = invoke(runner, *args, "--channel", "email", *DATE)
    assert code == 0
    message = email.message_from_string(out, policy=policy.default)
    assert message.get_content_type() == "multipart/alternative"
    assert message["Date"] == "Tue, 01 Dec 2026 00:00:00 +0000"  # --date given: dated
    assert message["To"] == "maria.devries@example.com"  # the profile's email_attribute
    assert re.fullmatch(r"<[0-9a-f]{32}@mail\.northwind\.example>", message["Message-ID"])
    # --to replaces the customer's address (a test send to a seed inbox).
    code, seeded, _ = invoke(runner, *args, "--channel", "email", *DATE, "--to", "qa@example.com")
    assert code == 0
    seeded_message = email.message_from_string(seeded, policy=policy.default)
    assert seeded_message["To"] == "qa@example.com"
    assert seeded_message["Message-ID"] != message["Message-ID"]
    # Without --date the send time is SOURCE_DATE_EPOCH (reproducible) ...
    epoch = {"SOURCE_DATE_EPOCH": "1796083200"}  # 2026-12-01T00:00:00Z
    command = ["preview", "--content", str(DEMO_CONTENT), *args, "--channel", "email"]
    first = runner.invoke(main, command, env=epoch)
    second = runner.invoke(main, command, env=epoch)
    assert first.exit_code == 0 and first.stdout == second.stdout
    assert "Date: Tue, 01 Dec 2026 00:00:00 +0000" in first.stdout
    # ... else now: every message carries a Date.
    code, undated, _ = invoke(runner, *args, "--channel", "email")
    assert code == 0 and email.message_from_string(undated, policy=policy.default)["Date"]
    # Two emails (or none) cannot go into one .eml.
    code, _out, err = invoke(
        runner, "--customer", "maria", "--journey", "welcome", "--format", "eml"
    )
    assert code == 2 and "exactly one email" in err


def test_out_writes_a_file(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "mail.html"
    code, out, err = invoke(
        runner, "--customer", "jonas", "--journey", "winback", "--step", "miss-you",
        "--format", "html", "--out", str(target), *DATE,
    )  # fmt: skip
    assert code == 0 and out == ""
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert f"wrote {target.as_posix()}" in err


def test_open_writes_a_temp_file_and_opens_it(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url, *a, **k: opened.append(url) or True)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    code, _out, _err = invoke(
        runner, "--customer", "jonas", "--journey", "welcome", "--step", "day-3",
        "--channel", "microsite", "--format", "html", "--open", *DATE,
    )  # fmt: skip
    assert code == 0
    (url,) = opened
    assert url.startswith("file://") and url.endswith(".html")
    written = list(tmp_path.glob("atomic-preview-*.html"))
    assert len(written) == 1 and "<html" in written[0].read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--journey", "welcom"], "did you mean 'welcome'"),
        (["--journey", "welcome", "--step", "day-9"], "has no step 'day-9'"),
        (["--journey", "welcome", "--step", "day-3", "--channel", "app"], "has no 'app' message"),
        (["--journey", "welcome", "--channel", "sms"], "has no 'sms' message"),
    ],
)
def test_usage_errors_exit_2(runner: CliRunner, args: list[str], message: str) -> None:
    code, _out, err = invoke(runner, "--customer", "jonas", *args)
    assert code == 2
    assert message in err


def test_unknown_customer_exits_2(runner: CliRunner) -> None:
    code, _out, err = invoke(runner, "--customer", "jonass", "--journey", "welcome")
    assert code == 2 and "did you mean 'jonas'" in err


def test_missing_required_slot_exits_1(runner: CliRunner, render_tree: RenderTree) -> None:
    content = render_tree({"atoms/body.yaml": None})
    code, _out, err = invoke(runner, "--customer", "ada", "--journey", "welcome", content=content)
    assert code == 1
    assert "resolve.missing_required_slot" in err


def test_hard_limit_exits_1_after_showing_the_message(
    runner: CliRunner, render_tree: RenderTree
) -> None:
    long_subject = "S" * 160
    content = render_tree(
        {
            "atoms/subject.yaml": f"slot: subject\n"
            f"channels: [email]\nstatus: approved\ntext: {long_subject}\n"
        }
    )
    code, out, _ = invoke(
        runner, "--customer", "ada", "--journey", "welcome", "--channel", "email", content=content
    )
    assert code == 1
    assert f"Subject:   {long_subject}" in out
    assert "error[email.subject_too_long]" in out


def test_unsafe_customer_data_exits_1_without_echoing_it(
    runner: CliRunner, render_tree: RenderTree, tmp_path: Path
) -> None:
    content = render_tree()
    customer = tmp_path / "mallory.yaml"
    customer.write_text(
        'attributes:\n  id: C-66\n  first_name: "Mal\\r\\nBcc: all@example.com"\n'
        "  locale: en\n  tier: none\n  orders: 2\n",
        encoding="utf-8",
    )
    code, out, err = invoke(
        runner, "--customer", str(customer), "--journey", "welcome", "--channel", "email",
        content=content,
    )  # fmt: skip
    assert code == 1
    assert "render.header_injection" in err and "customer 'mallory'" in err
    assert "Bcc" not in err + out


def test_invalid_content_exits_1(runner: CliRunner, render_tree: RenderTree) -> None:
    content = render_tree({"atoms/headline.yaml": "slot: headline\ntext: '{{ customer.nope }}'\n"})
    code, _out, err = invoke(runner, "--customer", "ada", "--journey", "welcome", content=content)
    assert code == 1
    assert "customer.nope" in err or "'nope'" in err


# A draft offer (welcome-day7-offer-january-sale) wins day-7 with --include-drafts in January;
# the build's variant of the same id has the approved offer. Tom refused personalization.
DRAFT_DAY = ["--customer", "tom", "--journey", "welcome", "--channel", "email"]
DRAFT_NOTE = (
    "with drafts: not built: offer=welcome-day7-offer-january-sale (draft) wins here, and "
    "builds use approved atoms only: no build contains this message"
)


@pytest.mark.parametrize(
    ("step", "drafts", "variant_line", "offer", "with_drafts"),
    [
        ("day-7", True, "welcome/day-7/email/en/generic (with drafts: not built)",
         "welcome-day7-offer-january-sale", True),
        ("day-7", False, "welcome/day-7/email/en/generic", "welcome-day7-offer", False),
        # Drafts may compete, but only approved atoms win: the built message, unmarked.
        ("day-0", True, "welcome/day-0/email/en/generic", None, False),
    ],
    ids=["a-draft-wins", "without-drafts", "drafts-that-lose"],
)  # fmt: skip
def test_a_message_with_drafts_is_marked_as_not_built(
    runner: CliRunner,
    step: str,
    drafts: bool,
    variant_line: str,
    offer: str | None,
    with_drafts: bool,
) -> None:
    """preview and resolve name the built variant a customer is routed to; when a draft wins
    they say that no build contains the message (text: the variant line and a note; json:
    ``with_drafts``), so its id is never taken for the built variant's."""
    args = [*DRAFT_DAY, "--step", step, "--date", "2027-01-10"]
    args += ["--include-drafts"] if drafts else []
    code, out, err = invoke(runner, *args)
    assert code == 0, err
    assert f"variant: {variant_line}\n" in out
    assert (f"note: {DRAFT_NOTE}\n" in out) is with_drafts
    code, out, err = invoke(runner, *args, "--format", "json")
    assert code == 0, err
    (item,) = json.loads(out)
    assert (item["variant"], item["with_drafts"]) == (variant_line.split(" ")[0], with_drafts)
    assert item["resolution"]["with_drafts"] is with_drafts
    if offer is not None:
        assert item["resolution"]["slots"]["offer"]["atom"] == offer
    result = runner.invoke(main, ["resolve", "--content", str(DEMO_CONTENT), *args])
    assert result.exit_code == 0, result.stderr
    assert (f"note: {DRAFT_NOTE}\n" in result.stdout) is with_drafts
    result = runner.invoke(
        main, ["resolve", "--content", str(DEMO_CONTENT), *args, "--format", "json"]
    )
    (resolution,) = json.loads(result.stdout)
    assert resolution["with_drafts"] is with_drafts
    assert (DRAFT_NOTE in resolution["notes"]) is with_drafts


def test_a_message_with_drafts_says_so_beside_an_html_document(runner: CliRunner) -> None:
    code, out, err = invoke(
        runner, *DRAFT_DAY, "--step", "day-7", "--date", "2027-01-10", "--include-drafts",
        "--format", "html",
    )  # fmt: skip
    assert code == 0, err
    assert out.lstrip().lower().startswith("<!doctype html>")
    assert f"welcome/day-7/email/en: note: {DRAFT_NOTE}\n" in err


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("8420.0", "€8,420.00"),
        ("1e22", "€10,000,000,000,000,000,000,000.00"),
        ("1e30", "€1,000,000,000,000,000,000,000,000,000,000.00"),
        ("1.7976931348623157e308", "€179,769,313,486,231,570" + ",000" * 97 + ".00"),
    ],
    ids=["demo", "1e22", "1e30", "largest-float"],
)
def test_a_vips_huge_lifetime_value_is_formatted(
    runner: CliRunner, tmp_path: Path, value: str, shown: str
) -> None:
    """The win-back email thanks a VIP for their lifetime value with `currency("EUR")`:
    every finite number is formatted, never `render.failed (InvalidOperation)`."""
    oliver = (DEMO_CONTENT / "customers" / "oliver.yaml").read_text(encoding="utf-8")
    customer = tmp_path / "oliver.yaml"
    customer.write_text(
        re.sub(r"lifetime_value: .*", f"lifetime_value: {value}", oliver), encoding="utf-8"
    )
    code, out, err = invoke(
        runner, "--customer", str(customer), "--journey", "winback", "--step", "miss-you",
        "--channel", "email", "--format", "text", *DATE,
    )  # fmt: skip
    assert code == 0, err
    assert f"trusted us with {shown} worth of gear" in out


@pytest.mark.parametrize(
    ("token", "attribute", "fragment"),
    [
        ('{{ customer.tier | currency("EUR") }}', "tier", "the currency filter needs a number"),
        (
            '{{ customer.orders.last_date | default("2026-01-01") | percent }}',
            "orders.last_date",
            "the percent filter needs a number",
        ),
        ("{{ customer.first_name | default('x') | date }}", "first_name", "the date filter"),
    ],
    ids=["currency-of-text", "percent-of-a-date", "date-of-a-name"],
)
def test_a_filter_refusing_a_value_names_the_attribute_and_the_atom(
    runner: CliRunner, tmp_path: Path, token: str, attribute: str, fragment: str
) -> None:
    """The demo's VIP win-back body formats another attribute: validate places the error at
    that atom and names the attribute; preview names the attribute and the customer."""
    content = tmp_path / "content"
    shutil.copytree(DEMO_CONTENT, content)
    body = content / "atoms" / "winback" / "winback-miss-you-body-vip.yaml"
    body.write_text(
        body.read_text(encoding="utf-8").replace(
            '{{ customer.lifetime_value | currency("EUR") }}', token
        ),
        encoding="utf-8",
    )
    result = runner.invoke(main, ["validate", "--content", str(content), "--format", "json", *DATE])
    assert result.exit_code == 1, result.output
    errors = [d for d in json.loads(result.stdout) if d["severity"] == "error"]
    assert [(d["path"], d["line"], d["code"]) for d in errors] == [
        ("atoms/winback/winback-miss-you-body-vip.yaml", 4, "render.bad_value")
    ]
    assert errors[0]["message"].startswith(f"attribute {attribute!r}: {fragment}")
    code, _out, err = invoke(
        runner, "--customer", "oliver", "--journey", "winback", "--step", "miss-you",
        "--channel", "email", "--format", "text", *DATE, content=content,
    )  # fmt: skip
    assert code == 1
    assert f"attribute {attribute!r}: {fragment}" in err
    assert "render.failed" not in err and "internal error" not in err
