"""Privacy by design (docs/privacy.md), each rule through the library and the CLI.

* consent purposes: a customer without a purpose is, for targeting and tokens, a customer
  without the attributes that need it (generic audience, token default); a channel whose
  purpose is missing suppresses the message (``Bundle.render`` raises SuppressedError, batch
  render counts ``suppressed``); explanations say which consent changed what; consent values
  that are not booleans are record errors;
* sensitive data is opt-in (``allowed_use``), special categories never in tokens;
* the creepiness budget per channel (warning or error, positioned);
* data minimisation (``Bundle.required_attributes``, the manifest, ``--project-attributes``);
* the ``atomic privacy`` report in every format.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from atomic_content.build import build
from atomic_content.bundle import Bundle, load_bundle
from atomic_content.cli import main
from atomic_content.manifest import Manifest
from atomic_content.privacy import SuppressedError, compute_privacy
from atomic_content.privacy_report import format_privacy
from atomic_content.records import RecordError
from atomic_content.runtime import render_batch
from atomic_content.validate import check_content
from contentkit import SETTINGS, write_tree

DAY = dt.date(2026, 12, 1)

PROFILE = """\
id_attribute: id
locale_attribute: locale
consents:
  personalization: consent.personalization
  email_marketing: consent.email
attributes:
  id: {type: string, example: C-1, sensitivity: personal, purposes: []}
  first_name: {type: string, optional: true, example: Ada, sensitivity: personal,
               purposes: [personalization]}
  locale: {type: string, example: en, purposes: []}
  tier: {type: string, example: gold, sensitivity: personal, purposes: [personalization]}
  orders: {type: integer, example: 3, purposes: []}
  health: {type: string, optional: true, example: asthma, sensitivity: special,
           purposes: [personalization]}
  income: {type: number, optional: true, example: 50000, sensitivity: sensitive,
           purposes: [personalization]}
  consent.personalization: {type: boolean, optional: true, example: true}
  consent.email: {type: boolean, optional: true, example: true}
"""

EMAIL = "  email: {}\n"
PRIVATE_EMAIL = (
    "  email: {purpose: email_marketing, budget: {max_personal_dimensions: 2, level: warning}}\n"
)


def settings(email: str = PRIVATE_EMAIL) -> str:
    assert EMAIL in SETTINGS
    return SETTINGS.replace(EMAIL, email)


def tree(root: Path, overrides: dict[str, str | None] | None = None) -> Path:
    files: dict[str, str | bytes | None] = {
        "atomic.yaml": settings(),
        "profile.yaml": PROFILE,
        "customers/ada.yaml": "attributes:\n  id: C-1\n  first_name: Ada\n  locale: en\n"
        "  tier: gold\n  orders: 4\n  consent: {personalization: true, email: true}\n",
        "customers/bob.yaml": "attributes:\n  id: C-2\n  first_name: Bob\n  locale: en\n"
        "  tier: gold\n  orders: 4\n  consent: {personalization: false, email: true}\n",
    }
    files.update(overrides or {})
    return write_tree(root, files)


ADA: dict[str, Any] = {
    "id": "C-1",
    "first_name": "Ada",
    "locale": "en",
    "tier": "gold",
    "orders": 4,
    "consent": {"personalization": True, "email": True},
}


def with_consent(**consent: Any) -> dict[str, Any]:
    return {**ADA, "consent": {**ADA["consent"], **consent}}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Bundle]:
    root = tmp_path_factory.mktemp("privacy")
    content = tree(root / "content")
    out = root / "dist"
    build(content, out, on=DAY, jobs=1)
    return content, out, load_bundle(out)


def render(bundle: Bundle, record: dict[str, Any], channel: str = "email") -> Any:
    return bundle.render(record, journey="welcome", step="day-0", channel=channel, on=DAY)


# -- consent: one rule ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("consent", "audience", "subject"),
    [
        ({}, "vip", "Welcome to Acme, Ada"),
        ({"personalization": False}, "generic", "Welcome to Acme, friend"),
        # only true gives a purpose: a missing consent is no consent
        ({"personalization": None}, "generic", "Welcome to Acme, friend"),
    ],
    ids=["given", "refused", "missing"],
)
def test_without_a_purpose_targeting_and_tokens_behave_as_if_the_attribute_were_absent(
    built: tuple[Path, Path, Bundle], consent: dict[str, Any], audience: str, subject: str
) -> None:
    _content, _out, bundle = built
    record = with_consent(**consent)
    if consent.get("personalization", True) is None:
        del record["consent"]["personalization"]
    route = bundle.route(record, journey="welcome", step="day-0", channel="email", on=DAY)
    assert route.audience.id == audience
    assert render(bundle, record).parts["subject"] == subject
    if audience == "generic":
        assert route.hidden == {"first_name", "tier", "health", "income"}
        assert any("segment 'vip' not considered" in note for note in route.notes)


def test_a_channel_without_its_purpose_is_suppressed_not_rendered(
    built: tuple[Path, Path, Bundle],
) -> None:
    _content, _out, bundle = built
    for refused in ({"email": False}, {"email": None}):
        record = with_consent(**refused)
        with pytest.raises(SuppressedError) as caught:
            render(bundle, record)
        assert caught.value.purposes == ("email_marketing",)
        assert caught.value.code == "consent.suppressed"
        assert str(caught.value) == "suppressed (no consent for email_marketing)"
        # the app channel needs no purpose: the customer still gets the push
        assert render(bundle, record, "app").parts


@pytest.mark.parametrize("value", ["false", "yes", 0, 1.0, [True]])
def test_consent_values_that_are_not_booleans_are_record_errors(
    built: tuple[Path, Path, Bundle], value: Any
) -> None:
    _content, _out, bundle = built
    record = with_consent(email=value)
    with pytest.raises(RecordError) as caught:
        render(bundle, record)
    codes = {(p.code, p.attribute) for p in caught.value.problems}
    assert codes == {("record.consent_not_boolean", "consent.email")}


def test_batch_counts_suppressed_rows_never_silently(
    built: tuple[Path, Path, Bundle], tmp_path: Path
) -> None:
    _content, _out, bundle = built
    records = [
        ADA,
        {**with_consent(email=False), "id": "C-2"},
        {**with_consent(personalization=False), "id": "C-3"},
    ]
    source = tmp_path / "customers.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    result = render_batch(
        bundle,
        source,
        journey="welcome",
        step="day-0",
        channel="email",
        out=tmp_path / "out.jsonl",
        on=DAY,
    )
    assert (result.rendered, result.failed, result.skipped, result.suppressed) == (2, 0, 0, 1)
    assert result.total == 3
    [row] = result.problems
    assert (row.line, row.customer_id, row.code, row.reason) == (
        2,
        "C-2",
        "consent.suppressed",
        "suppressed (no consent for email_marketing)",
    )
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(line["customer"], line["audience"]) for line in lines] == [
        ("C-1", "vip"),
        ("C-3", "generic"),
    ]
    assert lines[1]["parts"]["subject"] == "Welcome to Acme, friend"


def test_cli_render_prints_suppressed_rows(
    built: tuple[Path, Path, Bundle], tmp_path: Path
) -> None:
    _content, out, _bundle = built
    source = tmp_path / "customers.jsonl"
    source.write_text(json.dumps(with_consent(email=False)) + "\n", encoding="utf-8")
    result = CliRunner().invoke(
        main,
        [
            "render",
            "--bundle",
            str(out),
            "--customers",
            str(source),
            "--journey",
            "welcome",
            "--step",
            "day-0",
            "--channel",
            "email",
            "--out",
            str(tmp_path / "messages.jsonl"),
            "--date",
            DAY.isoformat(),
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "rendered 0, failed 0, skipped 0, suppressed 1"
    assert (
        "customers.jsonl:1: consent.suppressed (customer C-1): suppressed (no consent for "
        "email_marketing)" in result.stderr
    )


def test_preview_and_resolve_explain_say_which_consent_changed_what(
    built: tuple[Path, Path, Bundle],
) -> None:
    content, _out, _bundle = built
    runner = CliRunner()
    args = ["--content", str(content), "--customer", "bob", "--journey", "welcome"]
    args += ["--date", DAY.isoformat(), "--step", "day-0", "--channel", "email"]
    preview = runner.invoke(main, ["preview", *args, "--explain"])
    assert preview.exit_code == 0, preview.output
    assert (
        "no consent for personalization: first_name, health, income, tier treated as absent "
        "(tokens use their defaults)" in preview.stdout
    )
    assert (
        "segment 'vip' not considered: its condition reads tier (needs consent for "
        "personalization)" in preview.stdout
    )
    assert "Welcome to Acme, friend" in preview.stdout
    resolved = runner.invoke(main, ["resolve", *args, "--explain", "--format", "json"])
    assert resolved.exit_code == 0, resolved.output
    [message] = json.loads(resolved.stdout)
    assert message["audience"]["id"] == "generic"
    assert message["audience"]["consent_refused"] is True
    assert any("not considered" in note for note in message["notes"])


def test_segments_command_never_shows_values_and_names_the_consent(
    built: tuple[Path, Path, Bundle],
) -> None:
    content, _out, _bundle = built
    result = CliRunner().invoke(main, ["segments", "--content", str(content), "--customer", "bob"])
    assert result.exit_code == 0, result.output
    assert "customer value" not in result.stdout  # the canary test checks values never show
    assert "attribute: withheld" in result.stdout
    assert "not considered: the condition reads tier, which needs consent for personalization" in (
        result.stdout
    )


# -- sensitive data is opt-in ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {
                "atoms/body.yaml": "slot: body\nstatus: approved\n"
                "text: 'Your {{ customer.health | default(\"health\") }} plan'\n"
            },
            [("atoms/body.yaml", 3, "privacy.special_in_token")],
        ),
        (
            {"segments/rich.yaml": "condition: {income: {$gte: 100000}}\n"},
            [("segments/rich.yaml", 1, "privacy.sensitive_use")],
        ),
        (
            {
                "atoms/body.yaml": "slot: body\nstatus: approved\n"
                "text: 'You earn {{ customer.income | default(0) }}'\n"
            },
            [("atoms/body.yaml", 3, "privacy.sensitive_use")],
        ),
        # with a written allowed use, the sensitive attribute may be used
        (
            {
                "segments/rich.yaml": "condition: {income: {$gte: 100000}}\n",
                "profile.yaml": PROFILE.replace(
                    "sensitivity: sensitive,",
                    "sensitivity: sensitive, allowed_use: Premium catalogue for high earners who "
                    "asked for it,",
                ),
            },
            [],
        ),
        # a special attribute never in a token, whatever the allowed use says
        (
            {
                "atoms/body.yaml": "slot: body\nstatus: approved\n"
                "text: 'Your {{ customer.health | default(\"health\") }} plan'\n",
                "profile.yaml": PROFILE.replace(
                    "sensitivity: special,", "sensitivity: special, allowed_use: Because,"
                ),
            },
            [("atoms/body.yaml", 3, "privacy.special_in_token")],
        ),
    ],
    ids=[
        "special-in-token",
        "sensitive-targeting",
        "sensitive-token",
        "allowed-use",
        "special-token-despite-allowed-use",
    ],
)
def test_sensitive_data_is_opt_in(
    tmp_path: Path, overrides: dict[str, str | None], expected: list[tuple[str, int, str]]
) -> None:
    content = tree(tmp_path / "content", overrides)
    _library, diagnostics = check_content(content, DAY, DAY)
    found = [(d.path, d.line, d.code) for d in diagnostics.errors if d.code.startswith("privacy.")]
    assert found == expected
    assert all("asthma" not in d.message and "50000" not in d.message for d in diagnostics)


def test_privacy_findings_from_the_load_cache_equal_a_cold_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # sensitive_diagnostics reuses the findings of unchanged atoms (LoadCache, section
    # "privacy"): after every kind of edit a warm check must report exactly what a check
    # without any cache reports.
    from atomic_content.validate import static_check

    content = tree(
        tmp_path / "content",
        {
            "atoms/body.yaml": "slot: body\nstatus: approved\n"
            "text: 'Your {{ customer.health | default(\"health\") }} plan'\n",
            "atoms/income.yaml": "slot: headline\nstatus: approved\nsegments: [rich]\n"
            "text: 'You earn {{ customer.income | default(0) }}'\n",
            "atoms/whole.yaml": "slot: headline\nstatus: approved\nsegments: [rich]\n"
            "text: '{{ customer }}'\n",
            "segments/rich.yaml": "condition: {income: {$gte: 100000}}\n",
        },
    )
    cache = tmp_path / "cache"

    def run(folder: Path | None) -> list[tuple[object, ...]]:
        monkeypatch.setenv("ATOMIC_CACHE_DIR", str(folder) if folder is not None else "off")
        _library, diagnostics = static_check(content, DAY)
        return [
            (d.path, d.line, d.col, d.severity.value, d.code, d.message, d.hint)
            for d in diagnostics
        ]

    def privacy(found: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
        return [d for d in found if str(d[4]).startswith("privacy.")]

    edits: list[tuple[str, str]] = [
        ("atoms/cta-income.yaml", "slot: cta\nstatus: approved\nsegments: [rich]\n"
         "cta: {label: 'For {{ customer.income | default(1) }}', url: https://a.example/x}\n"),
        ("atoms/body.yaml", "slot: body\nstatus: approved\ntext: Plain again\n"),
        ("profile.yaml", PROFILE.replace(
            "sensitivity: sensitive,", "sensitivity: sensitive, allowed_use: Asked for it,")),
        ("profile.yaml", PROFILE.replace("sensitivity: special,", "sensitivity: sensitive,")),
    ]  # fmt: skip
    cold = run(None)
    assert {d[4] for d in privacy(cold)} == {"privacy.special_in_token", "privacy.sensitive_use"}
    assert run(cache) == cold  # fills the cache
    assert run(cache) == cold  # every atom's findings from the cache
    for name, text in edits:
        before = privacy(cold)
        (content / name).write_text(text, encoding="utf-8")
        cold = run(None)
        assert privacy(cold) != before, name  # each edit changes the findings
        assert run(cache) == cold, name


def test_unknown_purposes_and_tokens_needing_consent_without_default(tmp_path: Path) -> None:
    content = tree(
        tmp_path / "content",
        {
            "atomic.yaml": settings("  email: {purpose: newsletter}\n"),
            "profile.yaml": PROFILE.replace("purposes: [], example: en", "").replace(
                "locale: {type: string, example: en, purposes: []}",
                "locale: {type: string, example: en, purposes: [ads]}",
            ),
            "atoms/body.yaml": "slot: body\nstatus: approved\ntext: 'Hi {{ customer.tier }}'\n",
        },
    )
    _library, diagnostics = check_content(content, DAY, DAY)
    codes = sorted((d.path, d.code) for d in diagnostics.errors)
    assert ("atomic.yaml", "privacy.unknown_purpose") in codes
    assert ("profile.yaml", "privacy.unknown_purpose") in codes
    # tier needs personalization: absent for customers without it, so it needs a default
    assert ("atoms/body.yaml", "token.missing_default") in codes


# -- the creepiness budget ------------------------------------------------------------------------

OVER = {
    "atoms/headline-vip.yaml": "slot: headline\nstatus: approved\nsegments: [vip]\n"
    "text: 'Your {{ customer.income | default(0) }} VIP gear'\n",
    "profile.yaml": PROFILE.replace(
        "sensitivity: sensitive,", "sensitivity: sensitive, allowed_use: Agreed in the VIP terms,"
    ),
}


@pytest.mark.parametrize("level", ["warning", "error"])
def test_a_message_over_the_budget_is_a_positioned_diagnostic(tmp_path: Path, level: str) -> None:
    # vip email: tier (targeting), first_name (subject) and income (headline): 3 > 2
    email = PRIVATE_EMAIL.replace("level: warning", f"level: {level}")
    content = tree(tmp_path / "content", {**OVER, "atomic.yaml": settings(email)})
    _library, diagnostics = check_content(content, DAY, DAY)
    [budget] = [d for d in diagnostics if d.code == "privacy.budget"]
    assert (budget.path, budget.line, budget.col, budget.severity.value) == (
        "atoms/headline-vip.yaml",
        4,
        7,
        level,
    )
    assert budget.message == (
        "the message uses 3 personal attributes (first_name, income, tier); the email budget "
        "is 2 (in 2 variants, e.g. welcome/day-0/email/de/vip)"
    )
    runner = CliRunner()
    result = runner.invoke(main, ["validate", "--content", str(content), "--date", "2026-12-01"])
    assert ("privacy.budget" in result.stderr) and (
        result.exit_code == (1 if level == "error" else 0)
    )


def test_manifest_coverage_of_attribute_uses_and_required_attributes(
    built: tuple[Path, Path, Bundle],
) -> None:
    _content, out, bundle = built
    manifest = Manifest.from_json((out / "manifest.json").read_bytes())
    vip = manifest.by_id["welcome/day-0/email/en/vip"]
    assert (vip.tokens, vip.targeting, vip.personal) == (
        ("first_name",),
        ("tier",),
        ("first_name", "tier"),
    )
    generic = manifest.by_id["welcome/day-0/email/en/generic"]
    assert (generic.targeting, generic.personal) == ((), ("first_name",))
    # Routing (id, locale, the segments' conditions), tokens, and the consents they need.
    assert bundle.required_attributes("welcome", "day-0", "email") == (
        "consent.email",
        "consent.personalization",
        "first_name",
        "id",
        "locale",
        "orders",
        "tier",
    )
    assert bundle.required_attributes("welcome", "day-0", "app") == (
        "consent.personalization",
        "id",
        "locale",
        "orders",
        "tier",
    )
    result = CliRunner().invoke(
        main,
        [
            "render",
            "--bundle",
            str(out),
            "--journey",
            "welcome",
            "--step",
            "day-0",
            "--channel",
            "app",
            "--project-attributes",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "consent.personalization",
        "id",
        "locale",
        "orders",
        "tier",
    ]


def test_rendering_gets_only_the_required_attributes(built: tuple[Path, Path, Bundle]) -> None:
    """An attribute the message does not read never reaches rendering: a whole-customer token
    could not show it (the projection happens before the template sees the record)."""
    _content, _out, bundle = built
    from atomic_content.privacy import only

    record = {**ADA, "health": "asthma", "income": 1.0}
    required = bundle.required_attributes("welcome", "day-0", "email")
    projected = only(record, required)
    assert "health" not in projected and "income" not in projected
    assert render(bundle, record).parts == render(bundle, projected).parts


# -- the report -----------------------------------------------------------------------------------


def test_privacy_report_library_and_formats(tmp_path: Path) -> None:
    content = tree(tmp_path / "content", OVER)
    report = compute_privacy(content, DAY, DAY)
    email = next(r for r in report.messages if r.channel == "email")
    assert (email.journey, email.step, email.channel_purpose) == (
        "welcome",
        "day-0",
        "email_marketing",
    )
    assert (email.max_personal, email.budget, email.budget_level) == (3, 2, "warning")
    assert email.over_budget == ("welcome/day-0/email/de/vip", "welcome/day-0/email/en/vip")
    rows = {a.attribute: a for a in email.attributes}
    assert rows["tier"].uses == ("targeting",)
    assert rows["income"].uses == ("token",)
    assert rows["income"].sensitivity == "sensitive"
    assert rows["income"].allowed_use == "Agreed in the VIP terms"
    assert rows["first_name"].purposes == ("personalization",)
    assert report.unused == ("health", "id")  # personal data no message uses
    text = format_privacy(report, "text")
    assert "welcome / day-0 / email — needs email_marketing to send — 3 of 2 personal OVER" in text
    markdown = format_privacy(report, "markdown")
    assert (
        "| `income` | token | sensitive | personalization | Agreed in the VIP terms |" in markdown
    )
    page = format_privacy(report, "html")
    assert page.startswith("<!doctype html>") and "<code>income</code>" in page
    data = json.loads(format_privacy(report, "json"))
    assert data["messages"][1]["over_budget"] == list(email.over_budget)
    runner = CliRunner()
    for fmt in ("text", "markdown", "html", "json"):
        result = runner.invoke(
            main,
            [
                "privacy",
                "--content",
                str(content),
                "--date",
                "2026-12-01",
                "--until",
                "2026-12-01",
                "--format",
                fmt,
            ],
        )
        assert result.exit_code == 0, result.output
        assert result.stdout == format_privacy(report, fmt)
    failing = runner.invoke(
        main,
        ["privacy", "--content", str(content), "--date", "2026-12-01", "--fail-over-budget"],
    )
    assert failing.exit_code == 1


def test_docs_show_the_demos_current_report() -> None:
    """docs/privacy.md holds the demo's report (headings moved down two levels); regenerate it
    with the command the page names when the demo changes."""
    repo = Path(__file__).resolve().parent.parent
    doc = (repo / "docs" / "privacy.md").read_text(encoding="utf-8")
    shown = doc.split("<!-- privacy-report:start -->\n", 1)[1].split("<!-- privacy-report:end -->")[
        0
    ]
    report = format_privacy(compute_privacy(repo / "content", DAY, DAY), "markdown")
    expected = "\n".join(
        "##" + line if line.startswith("#") else line for line in report.split("\n")
    )
    assert shown == expected


def test_the_cli_formats_are_the_reports() -> None:
    """The command lists its formats without importing the report module (startup time)."""
    from atomic_content.cli.privacy_cmd import privacy
    from atomic_content.privacy_report import FORMATS

    fmt = next(p for p in privacy.params if p.name == "fmt")
    assert tuple(fmt.type.choices) == FORMATS  # type: ignore[attr-defined]
