"""Coverage: exact cells of a hand-built content set in which every status and flag occurs,
the gap ranking, the memo against the plain resolver, and each report format.

:func:`write_coverage_tree` is shared with ``test_coverage_cli.py`` and
``test_coverage_chromium.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import pytest

from atomic_content.coverage import (
    REPORT_VERSION,
    Cell,
    CellStatus,
    CoverageReport,
    FailOn,
    Flag,
    classify,
    compute_coverage,
    threshold_failures,
)
from atomic_content.coverage_report import (
    format_html,
    format_json,
    format_markdown,
    format_report,
    format_table,
    heat_colour,
    md,
    percent,
)
from atomic_content.repository import Library
from atomic_content.resolver import Resolver
from atomic_content.segments import Audience
from atomic_content.validate import load_library

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from generate import generate

DATE = dt.date(2026, 11, 20)

SETTINGS = """\
brand:
  name: Acme Outdoor
  sender: {name: Acme, email: hello@acme.example}
  base_url: https://www.acme.example
  deep_link_scheme: acme
  unsubscribe: {url: https://www.acme.example/unsubscribe}
default_locale: en
locales:
  en: {name: English}
  de: {name: Deutsch, fallback: en}
channels:
  email: {}
  app: {}
"""

PROFILE = """\
id_attribute: id
locale_attribute: locale
attributes:
  id: {type: string, example: C-1, sensitivity: personal}
  locale: {type: string, example: en}
  tier: {type: string, example: gold}
  orders: {type: integer, example: 3}
"""

MJML = """\
<mjml>
  <mj-head><mj-title>{{ slots.subject }}</mj-title></mj-head>
  <mj-body><mj-section><mj-column>
    <mj-text><h1>{{ slots.headline }}</h1></mj-text>
    {% if slots.offer %}
    <mj-text>{{ slots.offer.headline }} {{ slots.offer.code }}</mj-text>
    {% endif %}
  </mj-column></mj-section></mj-body>
</mjml>
"""

LAPSED_NAME = 'Lapsed <script>alert(1)</script> | "old" & co'


def _atom(slot: str, body: str, **fields: str) -> str:
    lines = [f"slot: {slot}"] + [f"{key}: {value}" for key, value in fields.items()]
    return "\n".join([*lines, body]) + "\n"


def _text(text: str) -> str:
    return f"text: {text}"


TREE: dict[str, str] = {
    "atomic.yaml": SETTINGS,
    "profile.yaml": PROFILE,
    "segments/vip.yaml": "name: VIP\ncondition: {tier: gold}\npriority: 50\nsize: 1000\n"
    "value: 40\n",
    "segments/new.yaml": "name: New\ncondition: {orders: {$lt: 1}}\npriority: 10\nsize: 5000\n"
    "value: 5\n",
    # No size and no value: both count as 1 in the ranking.
    "segments/lapsed.yaml": f"name: '{LAPSED_NAME}'\ncondition: {{orders: {{$gt: 10}}}}\n",
    "journeys/welcome.yaml": "name: Welcome series\nsegments: [vip, new, lapsed]\n"
    "locales: [en, de]\nsteps:\n  - id: day-0\n    name: Hello\n"
    "    channels: {email: basic, app: push}\n",
    "journeys/vip-nudge.yaml": "name: VIP nudge\nsegments: [vip]\nlocales: [en]\nsteps:\n"
    "  - id: ping\n    channels: {app: push}\n",
    "layouts/email/basic.yaml": "template: basic.mjml\nslots:\n  subject: required\n"
    "  headline: required\n  offer: optional\n",
    "layouts/email/basic.mjml": MJML,
    "layouts/app/push.yaml": "slots:\n  push_title: required\n  push_body: required\n",
    # subject: generic en + de, a VIP atom that expires inside the horizon, a German atom for
    # new customers, and a draft for lapsed customers.
    "atoms/subject-generic.yaml": _atom(
        "subject", _text("Welcome to Acme"), channels="[email]", status="approved"
    ),
    "atoms/subject-generic-de.yaml": _atom(
        "subject", _text("Willkommen"), channels="[email]", locale="de", status="approved"
    ),
    "atoms/subject-vip.yaml": _atom(
        "subject",
        _text("Welcome, VIP"),
        channels="[email]",
        segments="[vip]",
        status="approved",
        valid_until="2026-11-25",
    ),
    "atoms/subject-new-de.yaml": _atom(
        "subject",
        _text("Schön, dass du da bist"),
        channels="[email]",
        segments="[new]",
        locale="de",
        status="approved",
    ),
    "atoms/subject-lapsed.yaml": _atom(
        "subject",
        _text("We missed you"),
        channels="[email]",
        segments="[lapsed]",
        status="draft",
    ),
    # headline: two VIP atoms that tie (ambiguous) and a generic one.
    "atoms/headline-generic.yaml": _atom("headline", _text("Gear up"), status="approved"),
    "atoms/headline-vip-a.yaml": _atom(
        "headline", _text("VIP gear"), segments="[vip]", status="approved"
    ),
    "atoms/headline-vip-b.yaml": _atom(
        "headline", _text("VIP deals"), segments="[vip]", status="approved"
    ),
    # offer (optional): only a German VIP offer.
    "atoms/offer-vip-de.yaml": _atom(
        "offer",
        "offer: {code: VIP20, headline: 20 Prozent}",
        segments="[vip]",
        locale="de",
        status="approved",
    ),
    # push_title: a generic title that expires inside the horizon (then nothing is left), and
    # a VIP title scoped to the welcome journey only.
    "atoms/push-title-generic.yaml": _atom(
        "push_title",
        _text("Hello!"),
        channels="[app]",
        status="approved",
        valid_until="2026-11-30",
    ),
    "atoms/push-title-vip.yaml": _atom(
        "push_title",
        _text("Hello, VIP!"),
        channels="[app]",
        segments="[vip]",
        status="approved",
    ),
    # push_body: VIP only; new customers' body is still in review; a retired generic body
    # never counts.
    "atoms/push-body-vip.yaml": _atom(
        "push_body",
        _text("Your perks are live."),
        channels="[app]",
        segments="[vip]",
        status="approved",
    ),
    "atoms/push-body-new.yaml": _atom(
        "push_body",
        _text("Your first order ships free."),
        channels="[app]",
        segments="[new]",
        status="review",
    ),
    "atoms/push-body-old.yaml": _atom(
        "push_body", _text("Retired copy."), channels="[app]", status="retired"
    ),
}


def write_coverage_tree(root: Path, overrides: dict[str, str | None] | None = None) -> Path:
    """Write :data:`TREE` (with ``overrides``; None deletes a file) under ``root``."""
    files: dict[str, str | None] = {**TREE, **(overrides or {})}
    for rel, text in files.items():
        if text is None:
            continue
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    root = write_coverage_tree(tmp_path_factory.mktemp("coverage") / "content")
    lib, _warnings = load_library(root)
    return lib


@pytest.fixture(scope="module")
def report(library: Library) -> CoverageReport:
    return compute_coverage(library, on=DATE, horizon_days=14)


def show(cell: Cell) -> str:
    """A cell as one line: ``channel slot locale segment: status atom`` and, per flag, its
    details (expiring: day->status:atom; drafts_only->status:atom; ambiguous:tied atoms)."""
    text = (
        f"{cell.channel} {cell.slot} {cell.locale} {cell.segment}: {cell.status.value} "
        f"{cell.atom or '-'}"
    )
    if cell.expiring:
        assert cell.expires_on is not None and cell.status_after is not None
        text += f" expiring {cell.expires_on.isoformat()}->{cell.status_after.value}:"
        text += f"{cell.atom_after or '-'}"
    if cell.drafts_only:
        assert cell.draft_status is not None
        text += f" drafts_only->{cell.draft_status.value}:{cell.draft_atom}"
    if cell.ambiguous:
        text += " ambiguous:" + ",".join(cell.tied_with)
    assert text.count(" expiring ") + text.count(" drafts_only->") + text.count(
        " ambiguous:"
    ) == len(cell.flags)
    return text


EXPECTED_WELCOME = """\
app push_title en lapsed: generic push-title-generic expiring 2026-12-01->missing:-
app push_title en new: generic push-title-generic expiring 2026-12-01->missing:-
app push_title en vip: specific push-title-vip
app push_title de lapsed: missing -
app push_title de new: missing -
app push_title de vip: fallback-locale push-title-vip
app push_body en lapsed: missing -
app push_body en new: missing - drafts_only->specific:push-body-new
app push_body en vip: specific push-body-vip
app push_body de lapsed: missing -
app push_body de new: missing - drafts_only->fallback-locale:push-body-new
app push_body de vip: fallback-locale push-body-vip
email subject en lapsed: generic subject-generic drafts_only->specific:subject-lapsed
email subject en new: generic subject-generic
email subject en vip: specific subject-vip expiring 2026-11-26->generic:subject-generic
email subject de lapsed: fallback-locale subject-generic drafts_only->fallback-locale:subject-lapsed
email subject de new: fallback-locale subject-generic
email subject de vip: fallback-locale subject-vip expiring 2026-11-26->fallback-locale:subject-generic
email headline en lapsed: generic headline-generic
email headline en new: generic headline-generic
email headline en vip: specific headline-vip-a ambiguous:headline-vip-b
email headline de lapsed: fallback-locale headline-generic
email headline de new: fallback-locale headline-generic
email headline de vip: fallback-locale headline-vip-a ambiguous:headline-vip-b
email offer en lapsed: missing -
email offer en new: missing -
email offer en vip: missing -
email offer de lapsed: missing -
email offer de new: missing -
email offer de vip: missing -
"""


def test_every_cell_of_the_welcome_journey(report: CoverageReport) -> None:
    welcome = [c for c in report.cells if c.journey == "welcome"]
    assert "\n".join(show(c) for c in welcome) + "\n" == EXPECTED_WELCOME
    # Layout, requiredness and targeting of a few cells.
    by_key = {(c.channel, c.slot, c.locale, c.segment): c for c in welcome}
    assert by_key[("email", "offer", "en", "vip")].required is False
    assert by_key[("app", "push_body", "en", "lapsed")].required is True
    assert by_key[("app", "push_title", "de", "vip")].targeted is True
    assert by_key[("app", "push_title", "de", "new")].targeted is False
    assert by_key[("email", "subject", "de", "vip")].atom_locale == "en"
    assert {c.layout for c in welcome} == {"basic", "push"}


def test_every_status_and_flag_occurs(report: CoverageReport) -> None:
    assert {c.status for c in report.cells} == set(CellStatus)
    assert {f for c in report.cells for f in c.flags} == set(Flag)


def test_rows_columns_and_the_second_journey(report: CoverageReport) -> None:
    assert [s.id for s in report.segments] == ["lapsed", "new", "vip"]
    assert report.columns == (
        ("vip-nudge", "ping", "app"),
        ("welcome", "day-0", "app"),
        ("welcome", "day-0", "email"),
    )
    nudge = [show(c) for c in report.cells if c.journey == "vip-nudge"]
    assert nudge == [
        "app push_title en vip: specific push-title-vip",
        "app push_body en vip: specific push-body-vip",
    ]
    assert report.locales == ("en", "de")
    assert report.journey_names == {"vip-nudge": "VIP nudge", "welcome": "Welcome series"}
    assert report.step_names[("welcome", "day-0")] == "Hello"
    assert report.step_names[("vip-nudge", "ping")] == "ping"


def test_summary(report: CoverageReport) -> None:
    overall = report.overall
    # One message, one language: no German email or push for any segment is complete in
    # German (no German headline / push title), so every German cell reads the English message.
    assert (overall.cells, overall.specific, overall.generic) == (32, 6, 6)
    assert (overall.fallback_locale, overall.missing, overall.missing_required) == (8, 12, 6)
    assert (overall.expiring, overall.drafts_only, overall.ambiguous) == (4, 4, 2)
    assert overall.specific_share == pytest.approx(6 / 32)
    assert {k: v.specific for k, v in report.by_segment.items()} == {
        "lapsed": 0,
        "new": 0,
        "vip": 6,
    }
    assert {k: v.cells for k, v in report.by_segment.items()} == {
        "lapsed": 10,
        "new": 10,
        "vip": 12,
    }
    assert list(report.by_journey) == ["vip-nudge", "welcome"]
    assert report.by_journey["vip-nudge"].specific_share == 1.0
    assert {k: (v.cells, v.specific) for k, v in report.by_channel.items()} == {
        "app": (14, 4),
        "email": (18, 2),
    }
    assert {k: (v.cells, v.specific) for k, v in report.by_locale.items()} == {
        "en": (17, 6),
        "de": (15, 0),
    }
    assert report.assumed_segments == ("lapsed",)
    lapsed = report.segments[0]
    assert (lapsed.size, lapsed.value, lapsed.size_assumed, lapsed.value_assumed) == (
        1,
        1.0,
        True,
        True,
    )
    assert report.overall.worst is CellStatus.MISSING
    heat = report.grid_by_step
    assert ("vip", ("vip-nudge", "ping")) in heat
    assert ("new", ("vip-nudge", "ping")) not in heat


def test_gap_ranking(report: CoverageReport) -> None:
    top = [
        (g.rank, g.impact, g.cell.segment, g.cell.slot, g.cell.locale, g.cell.status.value)
        for g in report.gaps[:14]
    ]
    assert top == [
        (1, 25000.0, "new", "push_title", "de", "missing"),
        (2, 25000.0, "new", "push_body", "en", "missing"),
        (3, 25000.0, "new", "push_body", "de", "missing"),
        (4, 18750.0, "new", "subject", "de", "fallback-locale"),
        (5, 18750.0, "new", "headline", "de", "fallback-locale"),
        (6, 12500.0, "new", "push_title", "en", "generic"),
        (7, 12500.0, "new", "subject", "en", "generic"),
        (8, 12500.0, "new", "headline", "en", "generic"),
        (9, 12000.0, "vip", "offer", "en", "missing"),
        (10, 12000.0, "vip", "offer", "de", "missing"),
        (11, 10000.0, "vip", "push_title", "de", "fallback-locale"),
        (12, 10000.0, "vip", "push_body", "de", "fallback-locale"),
        (13, 10000.0, "vip", "subject", "de", "fallback-locale"),
        (14, 10000.0, "vip", "headline", "de", "fallback-locale"),
    ]
    assert len(report.gaps) == 32 - 6
    assert [g.rank for g in report.gaps] == list(range(1, 27))
    impacts = [g.impact for g in report.gaps]
    assert impacts == sorted(impacts, reverse=True)
    # The lapsed segment has no size or value: its gaps count 1 x 1 and say so.
    lapsed = [g for g in report.gaps if g.cell.segment == "lapsed"]
    assert all(g.size_assumed and g.value_assumed for g in lapsed)
    assert max(g.impact for g in lapsed) == 1.0
    first = report.gaps[0]
    assert (first.slot_weight, first.severity, first.size, first.value) == (1.0, 1.0, 5000, 5.0)
    optional = next(g for g in report.gaps if not g.cell.required)
    assert optional.slot_weight == 0.3


def test_suggestions(report: CoverageReport) -> None:
    by_cell = {(g.cell.segment, g.cell.slot, g.cell.locale): g.suggestion for g in report.gaps}
    assert by_cell[("vip", "offer", "en")] == (
        "add an approved atom with slot: offer, segments: [vip], channels: [email], "
        "locale: en, journeys: [welcome] (or a generic one without segments, which fills it "
        "for every segment)"
    )
    assert by_cell[("new", "headline", "de")] == (
        "add an approved atom with slot: headline, segments: [new], channels: [email], "
        "locale: de, journeys: [welcome]"
    )
    assert by_cell[("new", "push_body", "en")].startswith(
        "approve atom 'push-body-new' (status review), which makes it specific; or add an "
        "approved atom with slot: push_body, segments: [new]"
    )


def test_horizon_and_date(library: Library) -> None:
    short = compute_coverage(library, on=DATE, horizon_days=3)
    assert short.overall.expiring == 0
    assert short.horizon_days == 3
    # Without --horizon the governance default of atomic.yaml (14 days) applies.
    assert compute_coverage(library, on=DATE).horizon_days == 14
    # After the VIP subject expired, the VIP subject cells are generic, and on the last day
    # of the generic push title its cells are about to go missing.
    later = compute_coverage(library, on=dt.date(2026, 11, 30), horizon_days=1)
    cells = {(c.channel, c.slot, c.locale, c.segment): c for c in later.cells}
    assert cells[("email", "subject", "en", "vip")].status is CellStatus.GENERIC
    assert cells[("app", "push_title", "en", "new")].expires_on == dt.date(2026, 12, 1)


def test_journey_filter(library: Library) -> None:
    only = compute_coverage(library, on=DATE, journey="vip-nudge")
    assert only.journey == "vip-nudge"
    assert len(only.cells) == 2
    assert [s.id for s in only.segments] == ["vip"]
    assert only.gaps == ()
    from atomic_content.errors import UsageError

    with pytest.raises(UsageError, match="unknown journey 'welcom'"):
        compute_coverage(library, on=DATE, journey="welcom")


def test_thresholds(report: CoverageReport, library: Library) -> None:
    assert threshold_failures(report, FailOn.MISSING) == [
        "6 required cells missing (--fail-on missing)"
    ]
    assert threshold_failures(report, FailOn.GENERIC) == [
        "16 required cells generic or missing (--fail-on generic)"
    ]
    assert threshold_failures(report, FailOn.NEVER) == []
    assert threshold_failures(report, FailOn.NEVER, 18.75) == []
    assert threshold_failures(report, FailOn.NEVER, 18.8) == [
        "specific share 18.8% is below --min-specific 18.8%"
    ]
    nudge = compute_coverage(library, on=DATE, journey="vip-nudge")
    assert threshold_failures(nudge, FailOn.GENERIC, 100) == []


def test_a_journey_without_segments_has_no_cells(tmp_path: Path) -> None:
    root = write_coverage_tree(
        tmp_path,
        {
            "journeys/vip-nudge.yaml": None,
            "journeys/welcome.yaml": TREE["journeys/welcome.yaml"].replace(
                "[vip, new, lapsed]", "[]"
            ),
        },
    )
    empty = compute_coverage(load_library(root)[0], on=DATE)
    assert empty.cells == () and empty.gaps == ()
    assert empty.overall.specific_share is None
    assert threshold_failures(empty, FailOn.GENERIC, 100) == []
    for fmt in ("table", "json", "markdown", "html"):
        assert format_report(empty, fmt)


def test_deterministic(library: Library, report: CoverageReport) -> None:
    again = compute_coverage(library, on=DATE, horizon_days=14)
    assert again == report
    for fmt in ("table", "json", "markdown", "html"):
        assert format_report(again, fmt) == format_report(report, fmt)


# --------------------------------------------------------------------------- memo vs resolver


def _reference(resolver: Resolver, cell: Cell, on: dt.date, drafts: bool) -> Any:
    resolution = resolver.resolve(
        cell.journey,
        cell.step,
        cell.channel,
        Audience.for_segment(cell.segment),
        locale=cell.locale,
        on=on,
        include_drafts=drafts,
    )
    return resolution.slots[cell.slot]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_memo_equals_the_plain_resolver(tmp_path: Path, seed: int) -> None:
    """Every cell of a generated library, resolved one by one with the plain resolver."""
    root = generate(tmp_path / "content", atoms=400, segments=12, journeys=3, seed=seed)
    library, _warnings = load_library(root)
    result = compute_coverage(library, on=DATE, horizon_days=30)
    resolver = Resolver(library)
    assert result.cells
    for cell in result.cells:
        choice = _reference(resolver, cell, DATE, False)
        assert cell.atom == (choice.winner.id if choice.winner else None), cell
        assert (cell.status, cell.targeted) == classify(choice, cell.locale), cell
        assert cell.tied_with == tuple(sorted(choice.tied_with)), cell
        if cell.drafts_only:
            draft = _reference(resolver, cell, DATE, True)
            assert draft.winner is not None and draft.winner.id == cell.draft_atom
            assert classify(draft, cell.locale)[0] is cell.draft_status
        if cell.expiring:
            assert cell.expires_on is not None
            later = _reference(resolver, cell, cell.expires_on, False)
            assert classify(later, cell.locale)[0] is cell.status_after
            assert cell.atom_after == (later.winner.id if later.winner else None)
    statuses = {c.status for c in result.cells}
    assert {CellStatus.SPECIFIC, CellStatus.GENERIC, CellStatus.FALLBACK_LOCALE} <= statuses


# --------------------------------------------------------------------------- formats


def test_json_report(report: CoverageReport) -> None:
    data = json.loads(format_json(report))
    assert list(data) == [
        "version",
        "date",
        "horizon_days",
        "journey",
        "formula",
        "segments",
        "summary",
        "cells",
        "gaps",
    ]
    assert data["version"] == REPORT_VERSION == 1
    assert (data["date"], data["horizon_days"], data["journey"]) == ("2026-11-20", 14, None)
    assert data["formula"]["slot_weight"] == {"required": 1.0, "optional": 0.3}
    assert data["formula"]["severity"] == {
        "specific": 0.0,
        "fallback-locale": 0.25,
        "generic": 0.5,
        "missing": 1.0,
        "fallback-locale-generic": 0.75,
    }
    assert len(data["cells"]) == 32
    cell_keys = {
        "journey",
        "step",
        "channel",
        "layout",
        "slot",
        "required",
        "locale",
        "segment",
        "status",
        "atom",
        "atom_locale",
        "targeted",
        "flags",
        "expires_on",
        "status_after",
        "atom_after",
        "draft_atom",
        "draft_status",
        "tied_with",
    }
    assert all(set(c) == cell_keys for c in data["cells"])
    expiring = next(c for c in data["cells"] if c["atom"] == "subject-vip" and c["locale"] == "en")
    assert expiring["flags"] == ["expiring"]
    assert (expiring["expires_on"], expiring["status_after"]) == ("2026-11-26", "generic")
    overall = data["summary"]["overall"]
    assert overall["cells"] == 32 and overall["specific_share"] == 0.1875
    assert set(data["summary"]) == {
        "overall",
        "by_segment",
        "by_journey",
        "by_channel",
        "by_locale",
        "assumed_segments",
    }
    assert data["summary"]["by_journey"]["vip-nudge"]["specific_share"] == 1.0
    assert data["summary"]["assumed_segments"] == ["lapsed"]
    gap = data["gaps"][0]
    assert gap["rank"] == 1 and gap["impact"] == 25000.0 and gap["suggestion"]
    assert [g["rank"] for g in data["gaps"]] == list(range(1, 27))
    lapsed = next(s for s in data["segments"] if s["id"] == "lapsed")
    assert lapsed["name"] == LAPSED_NAME and lapsed["size_assumed"] is True


def test_markdown_report(report: CoverageReport) -> None:
    text = format_markdown(report)
    lines = text.splitlines()
    assert lines[0] == "## Content coverage on 2026-11-20"
    assert lines[2] == (
        "**18% specific** (6 of 32 cells) · 6 generic · 8 fallback-locale · 12 missing "
        "(**6 required**)"
    )
    # Summary first, details folded.
    assert text.index("| journey / channel / locale |") < text.index("<details>")
    assert text.count("<details>") == text.count("</details>") >= 5
    assert "<details><summary>Top 20 of 26 gaps by impact</summary>" in text
    assert "| 1 | 25,000 | `new` | `welcome/day-0/app push_title [de]` | missing |" in text
    assert "`lapsed`" in text and "1 \\*" in text  # assumed size/value is marked
    # The segment name is escaped: no raw HTML, no table-breaking pipe.
    assert "<script>" not in text
    assert md(LAPSED_NAME) in text
    assert 'Lapsed \\<script\\>alert(1)\\</script\\> \\| "old" & co' in text
    assert "Matrix: journey `welcome`" in text
    assert "| `vip` | 50% L | 33% ? |" in text
    # Every table row has as many cells as its header.
    for block in re.findall(r"(?:^\|.*\|$\n?)+", text, flags=re.M):
        rows = [r for r in block.splitlines() if r]
        widths = {len(re.split(r"(?<!\\)\|", r)) for r in rows}
        assert len(widths) == 1, rows


def test_markdown_drops_matrices_past_the_comment_limit(
    report: CoverageReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    import atomic_content.coverage_report as module

    monkeypatch.setattr(module, "MARKDOWN_LIMIT", 3000)
    text = format_markdown(report)
    assert "Matrix: journey" not in text
    assert "Matrices left out" in text


class _Balance(HTMLParser):
    VOID: ClassVar[set[str]] = {"meta", "br", "img", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()


def test_html_report(report: CoverageReport) -> None:
    page = format_html(report)
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    # Well-formed: parses as XML (after the doctype) and the tags balance.
    root = ET.fromstring(page.removeprefix("<!DOCTYPE html>\n"))
    balance = _Balance()
    balance.feed(page)
    assert balance.stack == []
    # Self-contained: inline CSS, no script, no external asset.
    assert "script" not in balance.tags and "link" not in balance.tags
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<style>" in page
    # Escaped: the segment name shows as text.
    assert "<script>" not in page
    assert "Lapsed &lt;script&gt;alert(1)&lt;/script&gt; | &quot;old&quot; &amp; co" in page
    # The heat map: one row per segment, one column per journey step.
    table = root.find(".//table[@id='heatmap-table']")
    assert table is not None
    body_rows = table.findall("./tbody/tr")
    assert [r.find("th").text for r in body_rows] == ["lapsed", "new", "vip"]  # type: ignore[union-attr]
    vip = body_rows[2].findall("td")
    assert [td.text for td in vip] == ["100%", "40%"]
    lapsed = body_rows[0].findall("td")
    assert lapsed[0].get("class") == "na"  # vip-nudge does not target lapsed
    assert lapsed[1].get("class") == "broken" and lapsed[1].text == "0% !"
    assert f"background:{heat_colour(0.0)}" in (lapsed[1].get("style") or "")
    assert root.find(".//section[@id='gaps']") is not None
    assert "Top 26 of 26 gaps by impact" in page
    assert "expiring" in page and "drafts_only" in page and "ambiguous" in page


def test_table_report_plain_and_coloured(report: CoverageReport) -> None:
    plain = format_table(report, view="messages")
    assert "\x1b[" not in plain
    assert plain.splitlines()[0] == "Content coverage on 2026-11-20"
    assert re.search(r"\| lapsed\s+\|\s+\.\s+\|\s+0% !\s+\|\s+0% \?\s+\|", plain), plain
    assert re.search(r"\| vip\s+\|\s+100%\s+\|\s+50% L\s+\|\s+33% \?\s+\|", plain), plain
    assert "specific: 18% of 32 cells" in plain
    assert "size or value missing (counted as 1): lapsed" in plain
    assert "Top 10 of 26 gaps by impact" in plain
    assert "segments: [new]" in plain  # brackets are text, not rich markup
    assert all(line == line.rstrip() for line in plain.splitlines())
    coloured = format_table(report, color=True, width=200, view="messages")
    assert "\x1b[" in coloured
    assert "lapsed" in coloured


def test_helpers() -> None:
    assert percent(None) == "n/a"
    assert percent(0.999) == "99%"
    assert percent(1.0) == "100%"
    assert percent(7 / 12) == "58%"
    assert heat_colour(None) == "#eeeeee"
    assert heat_colour(1.0) == "hsl(120, 70%, 72%)"
    with pytest.raises(ValueError, match="unknown coverage format"):
        format_report(None, "pdf")  # type: ignore[arg-type]


# -- a terminal of 80 columns ------------------------------------------------------------------
DEMO = Path(__file__).resolve().parent.parent / "content"


@pytest.fixture(scope="module")
def demo_report() -> CoverageReport:
    lib, _warnings = load_library(DEMO)
    return compute_coverage(lib, on=dt.date(2026, 11, 22))


def _fits(text: str, width: int = 80) -> None:
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width, "\n".join(lines)
    assert "…" not in text  # rich cut something short


@pytest.mark.parametrize("width", [80, 100])
def test_default_summary_fits_the_terminal(demo_report: CoverageReport, width: int) -> None:
    text = format_table(demo_report, width=width)
    _fits(text, width)
    header = next(line for line in text.splitlines() if line.startswith("| segment"))
    # segment x journey, as the HTML heat map: every journey id whole, in the header
    assert [cell.strip() for cell in header.split("|")[2:-1]] == [
        "cart-recovery",
        "welcome",
        "winback",
    ]
    for segment in demo_report.segments:
        assert re.search(rf"^\| {re.escape(segment.id)}\s+\|", text, re.M), segment.id
    assert f"Top 10 of {len(demo_report.gaps)} gaps by impact" in text
    assert len(demo_report.gaps) > 900  # the demo's fallback locales leave many gaps
    assert "welcome/day-0/app push_body [de-AT]" in text  # gap ids never break


def test_drill_down_by_journey_fits() -> None:
    lib, _warnings = load_library(DEMO)
    for journey in lib.journeys:
        report = compute_coverage(lib, on=dt.date(2026, 11, 22), journey=journey)
        text = format_table(report, width=80, view="messages")
        _fits(text)
        assert journey in text


def test_drill_down_by_segment_fits(demo_report: CoverageReport) -> None:
    for segment in demo_report.segments:
        text = format_table(demo_report, width=80, view="segment", segment=segment.id)
        _fits(text)
        assert f"(segment {segment.id})" in text.splitlines()[0]
        for journey, step, channel in demo_report.columns:
            assert re.search(
                rf"\| {re.escape(journey)}\s+\| {re.escape(step)}\s+\| {channel}\s+\|", text
            ), (journey, step, channel)


def test_wide_matrix_is_as_wide_as_it_needs(demo_report: CoverageReport) -> None:
    text = format_table(demo_report, view="messages")
    assert "…" not in text
    assert "last-call-72h" in text and "comeback-offer" in text
