"""Governance rules: the static ones ``atomic validate`` applies (owner, expired, expiring) with
their positions and levels, and the change rules ``atomic diff`` applies (change budget,
retired atoms coming back)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from atomic_content.cli import main
from atomic_content.errors import Diagnostic, Diagnostics, Severity
from atomic_content.governance import (
    JourneyChange,
    change_budget_findings,
    default_date,
    governance_diagnostics,
    retired_revival_findings,
    rules_of,
)
from atomic_content.models import Governance, RuleLevel
from atomic_content.repository import Library, load_files
from atomic_content.validate import check_content
from contentkit import BASE, SETTINGS, write_tree

ON = dt.date(2026, 11, 22)


def fmt(d: Diagnostic) -> str:
    return f"{d.path}:{d.line}:{d.col}: {d.severity.value}[{d.code}]: {d.message}"


def settings(governance: str) -> str:
    """The contentkit settings with ``governance: <governance>`` instead of its own line."""
    head, _, _ = SETTINGS.rpartition("governance:")
    return f"{head}governance: {governance}\n"


def owned(**extra: str | None) -> dict[str, str | bytes | None]:
    """Overrides giving every base atom an owner, plus ``extra`` (path -> text)."""
    files: dict[str, str | bytes | None] = {
        rel: str(text) + "owner: ada@acme.example\n"
        for rel, text in BASE.items()
        if rel.startswith("atoms/")
    }
    files.update(extra)
    return files


def library(root: Path, overrides: dict[str, str | bytes | None]) -> Library:
    lib, _diagnostics = load_files(write_tree(root, overrides))
    return lib


# ------------------------------------------------------------------------- static rules


def test_owner_required_default_is_a_warning_at_the_status(tmp_path: Path) -> None:
    files = owned()
    files["atomic.yaml"] = SETTINGS.rpartition("governance:")[0]  # the defaults
    files["atoms/headline.yaml"] = BASE["atoms/headline.yaml"]  # no owner
    files["atoms/blank.yaml"] = "slot: body\nstatus: approved\nowner: '  '\ntext: Hi\n"
    files["atoms/draft.yaml"] = "slot: body\nstatus: draft\ntext: Hi\n"  # drafts need none
    assert [fmt(d) for d in governance_diagnostics(library(tmp_path, files), ON)] == [
        "atoms/blank.yaml:2:9: warning[governance.owner_required]: approved atom 'blank' names "
        "no owner",
        "atoms/headline.yaml:2:9: warning[governance.owner_required]: approved atom 'headline' "
        "names no owner",
    ]


@pytest.mark.parametrize(
    ("level", "expected"),
    [("error", [Severity.ERROR]), ("warning", [Severity.WARNING]), ("off", [])],
)
def test_owner_required_levels(tmp_path: Path, level: str, expected: list[Severity]) -> None:
    files = owned(**{"atomic.yaml": settings(f'{{owner_required: "{level}"}}')})
    files["atoms/headline.yaml"] = BASE["atoms/headline.yaml"]
    found = governance_diagnostics(library(tmp_path, files), ON)
    assert [d.severity for d in found] == expected


def test_expired_and_expiring(tmp_path: Path) -> None:
    def atom(until: dt.date, status: str = "approved") -> str:
        return (
            f"slot: body\nstatus: {status}\nowner: ada@acme.example\n"
            f"valid_until: {until.isoformat()}\ntext: Hi\n"
        )

    files = owned()
    files.update(
        {
            "atoms/expired.yaml": atom(ON - dt.timedelta(days=1)),
            "atoms/expired-draft.yaml": atom(ON - dt.timedelta(days=1), "draft"),
            "atoms/expired-retired.yaml": atom(ON - dt.timedelta(days=30), "retired"),
            "atoms/last-day.yaml": atom(ON),
            "atoms/soon.yaml": atom(ON + dt.timedelta(days=13)),
            "atoms/later.yaml": atom(ON + dt.timedelta(days=14)),  # outside the 14-day horizon
        }
    )
    found = governance_diagnostics(library(tmp_path, files), ON)
    assert [fmt(d) for d in found] == [
        "atoms/expired.yaml:4:14: warning[governance.expired_approved]: atom 'expired' expired "
        "on 2026-11-21 but is still approved",
        "atoms/last-day.yaml:4:14: warning[governance.expiring]: atom 'last-day' is valid until "
        "2026-11-22 (last day today)",
        "atoms/soon.yaml:4:14: warning[governance.expiring]: atom 'soon' is valid until "
        "2026-12-05 (last day in 13 days)",
    ]
    assert found[0].hint.startswith("set `status: retired`")


def test_expiry_levels_and_horizon(tmp_path: Path) -> None:
    files = owned(
        **{
            "atomic.yaml": settings("{expired_approved: error, expiry_horizon_days: 0}"),
            "atoms/old.yaml": "slot: body\nstatus: approved\nowner: a@b.example\n"
            "valid_until: 2026-01-01\ntext: Hi\n",
            "atoms/today.yaml": "slot: body\nstatus: approved\nowner: a@b.example\n"
            "valid_until: 2026-11-22\ntext: Hi\n",
        }
    )
    found = governance_diagnostics(library(tmp_path, files), ON)
    assert [(d.code, d.severity) for d in found] == [
        ("governance.expired_approved", Severity.ERROR)
    ]


def test_default_date_follows_source_date_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SOURCE_DATE_EPOCH", str(int(dt.datetime(2030, 5, 17, 23, tzinfo=dt.UTC).timestamp()))
    )
    assert default_date() == dt.date(2030, 5, 17)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "not a number")
    assert default_date() == dt.datetime.now(tz=dt.UTC).date()


def test_check_content_reports_governance_as_of_the_date(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        owned(
            **{
                "atoms/promo.yaml": "slot: body\nstatus: approved\nowner: a@b.example\n"
                "valid_until: 2026-12-01\nsegments: [vip]\ntext: Hi\n"
            }
        ),
    )
    _lib, early = check_content(tmp_path, dt.date(2026, 10, 1))
    _lib, close = check_content(tmp_path, ON)
    _lib, late = check_content(tmp_path, dt.date(2026, 12, 2))

    def governance(found: Diagnostics) -> list[str]:
        # validate also plans and renders (rank.* and channel-limit warnings of the base tree)
        assert not found.has_errors
        return [d.code for d in found if d.code.startswith("governance.")]

    assert governance(early) == []
    assert governance(close) == ["governance.expiring"]
    assert governance(late) == ["governance.expired_approved"]


def test_validate_shows_governance_as_github_annotations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "SOURCE_DATE_EPOCH", str(int(dt.datetime(2026, 11, 22, tzinfo=dt.UTC).timestamp()))
    )
    files = owned(**{"atomic.yaml": settings("{owner_required: error}")})
    files["atoms/headline.yaml"] = BASE["atoms/headline.yaml"]
    files["atoms/promo.yaml"] = (
        "slot: body\nstatus: approved\nowner: a@b.example\nvalid_until: 2026-11-30\nsegments: [vip]\ntext: Hi\n"
    )
    write_tree(tmp_path, files)
    result = CliRunner().invoke(
        main, ["validate", "--content", str(tmp_path), "--format", "github"]
    )
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "::error file=atoms/headline.yaml,line=2,col=9,title=governance.owner_required::approved "
        "atom 'headline' names no owner — hint: add `owner: name@example.com`: the person who "
        "answers for this content",
        "::warning file=atoms/promo.yaml,line=4,col=14,title=governance.expiring::atom 'promo' is "
        "valid until 2026-11-30 (last day in 8 days) — hint: write and approve its successor, or "
        "extend `valid_until`",
    ]


def test_no_settings_no_governance(tmp_path: Path) -> None:
    lib = library(tmp_path, {"atomic.yaml": "brand: [broken\n"})
    assert lib.settings is None
    assert governance_diagnostics(lib, ON) == []
    assert rules_of(lib) == Governance()


# ------------------------------------------------------------------------- change rules


def test_change_budget(tmp_path: Path) -> None:
    head = library(tmp_path / "head", {})
    rules = Governance(change_budget=RuleLevel.ERROR, change_budget_percent=30)
    changes = {
        "welcome": JourneyChange("welcome", live=12, altered=4),  # 33% > 30%
        "gone": JourneyChange("gone", live=10, altered=10),  # not in HEAD: deleted on purpose
        "fresh": JourneyChange("fresh", live=0, altered=0),
    }
    found = change_budget_findings(changes, head, rules)
    assert [fmt(d) for d in found] == [
        "journeys/welcome.yaml:1:1: error[governance.change_budget]: this change alters 4 of 12 "
        "live variants of journey 'welcome' (33%, budget 30%)",
    ]
    assert "allow_large_change: true" in found[0].hint
    within = {"welcome": JourneyChange("welcome", live=10, altered=3)}  # exactly 30%: allowed
    assert change_budget_findings(within, head, rules) == []
    assert change_budget_findings(changes, head, Governance(change_budget=RuleLevel.OFF)) == []
    assert [d.severity for d in change_budget_findings(changes, head, Governance())] == [
        Severity.WARNING
    ]


def test_change_budget_allow_large_change(tmp_path: Path) -> None:
    from contentkit import JOURNEY

    head = library(tmp_path, {"journeys/welcome.yaml": "allow_large_change: true\n" + JOURNEY})
    changes = {"welcome": JourneyChange("welcome", live=12, altered=12)}
    assert change_budget_findings(changes, head, Governance()) == []


def test_retired_revival(tmp_path: Path) -> None:
    def atom(status: str, notes: str | None = None) -> str:
        return f"slot: body\nstatus: {status}\nowner: a@b.example\ntext: Hi\n" + (
            f"notes: {notes}\n" if notes else ""
        )

    base = library(
        tmp_path / "base",
        {
            "atoms/silent.yaml": atom("retired"),
            "atoms/same-note.yaml": atom("retired", "Old campaign."),
            "atoms/explained.yaml": atom("retired", "Old campaign."),
            "atoms/to-draft.yaml": atom("retired"),
            "atoms/stays.yaml": atom("retired"),
        },
    )
    head = library(
        tmp_path / "head",
        {
            "atoms/silent.yaml": atom("approved"),
            "atoms/same-note.yaml": atom("approved", "Old campaign."),
            "atoms/explained.yaml": atom(
                "approved", "Back for the 2026 relaunch, legal re-checked."
            ),
            "atoms/to-draft.yaml": atom("draft"),
            "atoms/stays.yaml": atom("retired"),
        },
    )
    found = retired_revival_findings(base, head, Governance())
    assert [fmt(d) for d in found] == [
        "atoms/same-note.yaml:2:9: error[governance.retired_revival]: retired atom 'same-note' "
        "is approved again without a note",
        "atoms/silent.yaml:2:9: error[governance.retired_revival]: retired atom 'silent' is "
        "approved again without a note",
    ]
    warning = Governance(retired_revival=RuleLevel.WARNING)
    assert {d.severity for d in retired_revival_findings(base, head, warning)} == {Severity.WARNING}
    assert retired_revival_findings(base, head, Governance(retired_revival=RuleLevel.OFF)) == []
