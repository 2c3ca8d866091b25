"""The plan stage: the audience rule through Router.route, one message in one language, time
periods (splits, merging, routing by date, range checks) and Plan.problems — on small content
trees in tmp_path."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from atomic_content.errors import Diagnostics, Severity, UsageError
from atomic_content.plan import (
    MAX_RANGE_DAYS,
    DuplicateVariantError,
    Plan,
    PlannedVariant,
    Router,
    check_range,
    journey_locales,
    make_plan,
)
from atomic_content.repository import Library
from atomic_content.resolver import message_locale
from atomic_content.segments import GENERIC
from atomic_content.validate import load_library
from contentkit import JOURNEY, SETTINGS, write_tree

START = dt.date(2026, 11, 22)
UNTIL = dt.date(2026, 11, 30)

FRENCH_SETTINGS = SETTINGS.replace(
    "  de-AT: {fallback: de}\n",
    "  de-AT: {fallback: de}\n  fr: {name: Francais, fallback: en}\n  fr-FR: {fallback: fr}\n",
)


def atom(slot: str, text: str, **fields: object) -> str:
    lines = [f"slot: {slot}", "status: " + str(fields.pop("status", "approved")), f"text: {text}"]
    lines += [f"{key}: {value}" for key, value in fields.items()]
    return "\n".join(lines) + "\n"


def journey(**replace: str) -> str:
    text = JOURNEY
    for old, new in replace.items():
        text = text.replace(old, new)
    return text


def library_for(tmp_path: Path, files: Mapping[str, str | bytes | None] | None = None) -> Library:
    write_tree(tmp_path, dict(files or {}))
    library, _warnings = load_library(tmp_path)
    return library


def planned(
    tmp_path: Path,
    files: Mapping[str, str | bytes | None] | None = None,
    start: dt.date = START,
    until: dt.date | None = None,
) -> tuple[Library, Plan, Router]:
    library = library_for(tmp_path, files)
    plan = make_plan(library, start, until)
    return library, plan, Router.for_plan(library, plan)


def route_variant(
    plan: Plan, router: Router, record: dict[str, Any], on: dt.date = START, **kwargs: Any
) -> PlannedVariant:
    kwargs.setdefault("channel", "email")
    route = router.route(record, journey="welcome", step="day-0", on=on, **kwargs)
    return plan.variant(route.variant_id)


def winners(variant: PlannedVariant) -> dict[str, str]:
    return {slot: atom.id for slot, atom in variant.resolution.atoms.items()}


# -- the audience rule -----------------------------------------------------------------------

VVIP = "name: Top\ncondition: {tier: platinum}\npriority: 100\n"


@pytest.mark.parametrize(
    ("record", "audience", "reason"),
    [
        (
            {"tier": "gold", "orders": 0},
            "vip",
            "segment 'vip' (priority 50), the highest of the journey's segments the customer "
            "is in; also in: new",
        ),
        ({"tier": "silver", "orders": 0}, "new", "segment 'new' (priority 10)"),
        (
            {"tier": "silver", "orders": 2},
            "generic",
            "in none of the segments journey 'welcome' personalizes for: generic content",
        ),
        # vvip (priority 100) matches but the journey does not list it: ignored
        (
            {"tier": "platinum", "orders": 0},
            "vip",
            "segment 'vip' (priority 50), the highest of the journey's segments the customer "
            "is in; also in: new, vvip",
        ),
        (
            {"tier": "platinum", "orders": 5},
            "vip",
            "segment 'vip' (priority 50), the highest of the journey's segments the customer "
            "is in; also in: vvip",
        ),
        # the journey's audience condition fails: generic, although the customer is in new
        (
            {"tier": "bronze", "orders": 0},
            "generic",
            "not in the audience of journey 'welcome': generic content",
        ),
        (
            {"tier": "gold", "orders": 0, "consent": {"personalization": False}},
            "generic",
            "the customer refused personalization: generic content only",
        ),
        # a missing consent value is not a refusal
        ({"tier": "gold", "orders": 3, "consent": {}}, "vip", "segment 'vip' (priority 50)"),
        (
            {"tier": "gold", "orders": 3, "consent": {"personalization": True}},
            "vip",
            "segment 'vip' (priority 50)",
        ),
    ],
    ids=[
        "highest-priority-wins",
        "only-segment",
        "no-segment",
        "unlisted-segment-ignored",
        "unlisted-segment-ignored-alone",
        "journey-audience-fails",
        "consent-false",
        "consent-missing",
        "consent-true",
    ],
)
def test_audience_rule(tmp_path: Path, record: dict[str, Any], audience: str, reason: str) -> None:
    _lib, plan, router = planned(
        tmp_path,
        {
            "segments/vvip.yaml": VVIP,
            "journeys/welcome.yaml": journey(
                **{
                    "segments: [vip, new]\n": "segments: [vip, new]\naudience: {tier: {$ne: bronze}}\n"
                }
            ),
        },
    )
    # Only the journey's segments (and generic) get variants: never vvip.
    assert {v.audience for v in plan.variants} == {"vip", "new", "generic"}
    route = router.route(
        {"id": "C-7", "locale": "en", **record},
        journey="welcome",
        step="day-0",
        channel="email",
        on=START,
        explain=True,
    )
    assert route.audience.id == audience
    assert route.audience.reason == reason
    assert route.audience.label == "customer 'C-7'"
    assert route.variant_id == f"welcome/day-0/email/en/{audience}"
    expected_headline = "headline-vip" if audience == "vip" else "headline"
    assert winners(plan.variant(route.variant_id))["headline"] == expected_headline


# -- one message, one language ---------------------------------------------------------------

FRENCH: dict[str, str | bytes | None] = {
    "atomic.yaml": FRENCH_SETTINGS,
    "journeys/welcome.yaml": journey(**{"locales: [en, de]": "locales: [en, de, fr-FR]"}),
    "atoms/subject-fr.yaml": atom("subject", "Bienvenue", locale="fr-FR", channels="[email]"),
    "atoms/headline-fr.yaml": atom("headline", "Equipement", locale="fr"),
    "atoms/body-fr.yaml": atom("body", "Merci", locale="fr"),
    # An English generic headline with a far higher priority than the French one: it must not
    # leak into the French message.
    "atoms/headline.yaml": atom("headline", "Gear for every trail", priority=90),
}
FRENCH_CUSTOMER = {"id": "C-F", "locale": "fr-FR", "tier": "silver", "orders": 3}


def test_french_customer_gets_an_all_french_message(tmp_path: Path) -> None:
    _lib, plan, router = planned(tmp_path, FRENCH)
    variant = route_variant(plan, router, FRENCH_CUSTOMER)
    assert variant.id == "welcome/day-0/email/fr-FR/generic"
    assert variant.resolution.lang == "fr-FR"
    # cta is optional and English-only: left out rather than mixed in
    assert winners(variant) == {
        "subject": "subject-fr",
        "headline": "headline-fr",
        "body": "body-fr",
    }
    assert not any("whole message" in note for note in variant.resolution.notes)
    assert variant.resolution.slots["headline"].reason == "generic fallback, locale fr (fallback)"


@pytest.mark.parametrize(
    ("missing", "complete"),
    [("atoms/body-fr.yaml", False), ("atoms/subject-fr.yaml", False), (None, True)],
    ids=["no-french-body", "no-french-subject", "french-complete"],
)
def test_french_without_a_required_slot_is_all_english(
    tmp_path: Path, missing: str | None, complete: bool
) -> None:
    files = dict(FRENCH)
    if missing is not None:
        files[missing] = None
    _lib, plan, router = planned(tmp_path, files)
    variant = route_variant(plan, router, FRENCH_CUSTOMER)
    assert variant.message.locale == "fr-FR"  # the message is still the journey's fr-FR one
    note = "no complete message in 'fr' for this audience; the whole message is in 'en'"
    if complete:
        assert variant.resolution.lang == "fr-FR"
        assert note not in variant.resolution.notes
        assert {a.locale for a in variant.resolution.atoms.values()} == {"fr", "fr-FR"}
    else:
        assert variant.resolution.lang == "en"
        assert note in variant.resolution.notes
        assert winners(variant) == {
            "subject": "subject",
            "headline": "headline",
            "body": "body",
            "cta": "cta",
        }
    assert not plan.problems.has_errors


DE_AT: dict[str, str | bytes | None] = {
    "journeys/welcome.yaml": journey(**{"locales: [en, de]": "locales: [en, de, de-AT]"}),
    "atoms/subject-de-at.yaml": atom("subject", "Servus", locale="de-AT", channels="[email]"),
    "atoms/headline-de.yaml": atom("headline", "Ausruestung", locale="de"),
    "atoms/body-de.yaml": atom("body", "Danke", locale="de"),
}


@pytest.mark.parametrize(
    ("locale", "variant_id", "lang", "subject"),
    [
        ("de-AT", "welcome/day-0/email/de-AT/generic", "de-AT", "subject-de-at"),
        ("de", "welcome/day-0/email/de/generic", "de", "subject-de"),
        # de-CH is not a locale of the settings: the default locale's message
        ("de-CH", "welcome/day-0/email/en/generic", "en", "subject"),
    ],
    ids=["de-AT-exact-beats-de", "de", "unknown-locale"],
)
def test_de_at_and_de_are_one_language(
    tmp_path: Path, locale: str, variant_id: str, lang: str, subject: str
) -> None:
    _lib, plan, router = planned(tmp_path, DE_AT)
    record = {"id": "C-A", "locale": locale, "tier": "silver", "orders": 3}
    variant = route_variant(plan, router, record)
    assert variant.id == variant_id
    assert variant.resolution.lang == lang
    assert winners(variant)["subject"] == subject
    if lang != "en":
        # headline and body come from de (same language), never from English
        assert winners(variant)["headline"] == "headline-de"
        assert winners(variant)["body"] == "body-de"
        assert not any("whole message" in n for n in variant.resolution.notes)


# -- time -------------------------------------------------------------------------------------

SALE = {"atoms/headline-sale.yaml": atom("headline", "Sale", priority=5, valid_until="2026-11-25")}
EMAIL_EN = "welcome/day-0/email/en"


def variants_of(plan: Plan, prefix: str) -> list[tuple[str, dt.date, dt.date, str]]:
    """(id, start, until, headline winner) of the variants whose id starts with ``prefix``."""
    return [
        (v.id, v.start, v.until, winners(v)["headline"])
        for v in plan.variants
        if v.id == prefix or v.id.startswith(prefix + "@")
    ]


def test_valid_until_inside_the_range_splits_the_plan(tmp_path: Path) -> None:
    _lib, plan, _router = planned(tmp_path, SALE, until=UNTIL)
    assert variants_of(plan, f"{EMAIL_EN}/generic") == [
        (f"{EMAIL_EN}/generic", START, dt.date(2026, 11, 25), "headline-sale"),
        (
            f"{EMAIL_EN}/generic@2026-11-26",
            dt.date(2026, 11, 26),
            UNTIL,
            "headline",
        ),
    ]
    # The VIP variant's winners do not change at the boundary: one period, merged.
    assert variants_of(plan, f"{EMAIL_EN}/vip") == [
        (f"{EMAIL_EN}/vip", START, UNTIL, "headline-vip"),
    ]
    assert plan.routing.periods[("welcome", "day-0", "email", "en", "generic")][1].start == (
        dt.date(2026, 11, 26)
    )


@pytest.mark.parametrize(
    ("on", "variant_id"),
    [
        (START, f"{EMAIL_EN}/generic"),
        (dt.date(2026, 11, 25), f"{EMAIL_EN}/generic"),
        (dt.date(2026, 11, 26), f"{EMAIL_EN}/generic@2026-11-26"),
        (UNTIL, f"{EMAIL_EN}/generic@2026-11-26"),
    ],
    ids=["first-day", "last-day-of-offer", "first-day-after", "last-day"],
)
def test_router_picks_the_period_by_date(tmp_path: Path, on: dt.date, variant_id: str) -> None:
    _lib, plan, router = planned(tmp_path, SALE, until=UNTIL)
    record = {"id": "C-1", "locale": "en", "tier": "silver", "orders": 3}
    variant = route_variant(plan, router, record, on=on)
    assert variant.id == variant_id
    assert variant.start <= on <= variant.until


@pytest.mark.parametrize(
    "on", [dt.date(2026, 11, 21), dt.date(2026, 12, 1)], ids=["day-before", "day-after"]
)
def test_router_refuses_a_date_outside_the_range(tmp_path: Path, on: dt.date) -> None:
    _lib, _plan, router = planned(tmp_path, SALE, until=UNTIL)
    record = {"id": "C-1", "locale": "en", "tier": "silver", "orders": 3}
    with pytest.raises(UsageError) as info:
        router.route(record, journey="welcome", step="day-0", channel="email", on=on)
    assert str(info.value).startswith(
        f"no message is planned for {on.isoformat()}: this build covers 2026-11-22 to 2026-11-30"
    )


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # a window that opens and closes while a higher-priority atom wins: no split at all
        (
            {
                "atoms/headline.yaml": atom("headline", "Base", priority=9),
                "atoms/headline-low.yaml": atom(
                    "headline",
                    "Low",
                    priority=1,
                    valid_from="2026-11-24",
                    valid_until="2026-11-26",
                ),
            },
            [(f"{EMAIL_EN}/generic", START, UNTIL, "headline")],
        ),
        # two offers back to back with the base headline in between: three periods
        (
            {
                **SALE,
                "atoms/headline-xmas.yaml": atom(
                    "headline", "Xmas", priority=5, valid_from="2026-11-28"
                ),
            },
            [
                (f"{EMAIL_EN}/generic", START, dt.date(2026, 11, 25), "headline-sale"),
                (
                    f"{EMAIL_EN}/generic@2026-11-26",
                    dt.date(2026, 11, 26),
                    dt.date(2026, 11, 27),
                    "headline",
                ),
                (
                    f"{EMAIL_EN}/generic@2026-11-28",
                    dt.date(2026, 11, 28),
                    UNTIL,
                    "headline-xmas",
                ),
            ],
        ),
        # windows outside the range: no boundary
        (
            {
                "atoms/headline-old.yaml": atom(
                    "headline", "Old", priority=5, valid_until="2026-11-21"
                ),
                "atoms/headline-later.yaml": atom(
                    "headline", "Later", priority=5, valid_from="2026-12-01"
                ),
            },
            [(f"{EMAIL_EN}/generic", START, UNTIL, "headline")],
        ),
        # valid_until on the last day of the range: no later period
        (
            {"atoms/headline-sale.yaml": atom("headline", "Sale", priority=5, valid_until=UNTIL)},
            [(f"{EMAIL_EN}/generic", START, UNTIL, "headline-sale")],
        ),
        # valid_from on the first day: no earlier period
        (
            {"atoms/headline-sale.yaml": atom("headline", "Sale", priority=5, valid_from=START)},
            [(f"{EMAIL_EN}/generic", START, UNTIL, "headline-sale")],
        ),
    ],
    ids=[
        "shadowed-window-merged",
        "three-periods",
        "outside-range",
        "until-last-day",
        "from-first-day",
    ],
)
def test_periods(
    tmp_path: Path,
    files: dict[str, str | bytes | None],
    expected: list[tuple[str, dt.date, dt.date, str]],
) -> None:
    _lib, plan, _router = planned(tmp_path, files, until=UNTIL)
    assert variants_of(plan, f"{EMAIL_EN}/generic") == expected


def test_a_segment_window_splits_only_that_audience(tmp_path: Path) -> None:
    """A window of a segment's own atom is a boundary for that audience only: the generic
    and the other segments' messages keep one period."""
    vip_sale = atom("headline", "VIP sale", priority=50, segments="[vip]", valid_until="2026-11-25")
    _lib, plan, _router = planned(tmp_path, {"atoms/headline-vip-sale.yaml": vip_sale}, until=UNTIL)
    for audience in ("generic", "new"):
        periods = variants_of(plan, f"{EMAIL_EN}/{audience}")
        assert [(start, until) for _id, start, until, _winner in periods] == [(START, UNTIL)]
    assert variants_of(plan, f"{EMAIL_EN}/vip") == [
        (f"{EMAIL_EN}/vip", START, dt.date(2026, 11, 25), "headline-vip-sale"),
        (f"{EMAIL_EN}/vip@2026-11-26", dt.date(2026, 11, 26), UNTIL, "headline-vip"),
    ]


@pytest.mark.parametrize(
    ("start", "until", "error"),
    [
        (START, START, None),
        (
            START,
            START - dt.timedelta(days=1),
            r"ends \(2026-11-21\) before it starts \(2026-11-22\)",
        ),
        (START, START + dt.timedelta(days=MAX_RANGE_DAYS), None),
        (START, START + dt.timedelta(days=MAX_RANGE_DAYS + 1), "is longer than 366 days"),
    ],
    ids=["one-day", "until-before-start", "366-days", "367-days"],
)
def test_check_range(start: dt.date, until: dt.date, error: str | None) -> None:
    if error is None:
        check_range(start, until)
        return
    with pytest.raises(UsageError, match=error):
        check_range(start, until)


def test_make_plan_checks_the_range(tmp_path: Path) -> None:
    library = library_for(tmp_path)
    with pytest.raises(UsageError, match="before it starts"):
        make_plan(library, START, START - dt.timedelta(days=1))
    plan = make_plan(library, START)  # until defaults to the start day
    assert (plan.start, plan.until) == (START, START)


# -- problems ---------------------------------------------------------------------------------


def test_missing_required_slot_is_an_error_at_the_step_channel(tmp_path: Path) -> None:
    _lib, plan, _router = planned(
        tmp_path,
        {
            "atoms/body.yaml": None,
            "journeys/welcome.yaml": journey(**{"locales: [en, de]": "locales: [en]"}),
        },
    )
    errors = plan.problems.errors
    assert [(d.path, d.line, d.col, d.code) for d in errors] == [
        ("journeys/welcome.yaml", 7, 23, "resolve.missing_required_slot")
    ] * 3
    assert sorted(d.message for d in errors) == [
        f"no atom fills required slot 'body' of welcome/day-0 on email in en for {who}"
        for who in ("generic", "segment 'new'", "segment 'vip'")
    ]
    hints = {d.hint for d in errors}
    assert (
        "add an approved atom with slot: body, channels: [email], locale: en, segments: [vip]"
        in hints
    )
    assert (
        "add an approved atom with slot: body, channels: [email], locale: en, "
        "no segments (generic)" in hints
    )
    # The app message is complete: no error for it.
    assert all(" on email " in d.message for d in errors)


def test_ranking_warnings(tmp_path: Path) -> None:
    _lib, plan, _router = planned(
        tmp_path,
        {
            "journeys/welcome.yaml": journey(**{"locales: [en, de]": "locales: [en]"}),
            "atoms/a-headline-vip.yaml": atom("headline", "Tie", segments="[vip]"),
            "atoms/headline-low.yaml": atom("headline", "Never", priority=-1),
        },
    )
    assert not plan.problems.has_errors
    warnings = [(d.path, d.code, d.severity) for d in plan.problems.warnings]
    assert warnings == [
        ("atoms/a-headline-vip.yaml", "rank.ambiguous", Severity.WARNING),
        ("atoms/headline-low.yaml", "rank.shadowed", Severity.WARNING),
        # the loser of the tie never wins either (as before the plan stage)
        ("atoms/headline-vip.yaml", "rank.shadowed", Severity.WARNING),
        # not subject-de: the journey is no longer written in German, so it is unusable
    ]
    ambiguous, shadowed, _tie_loser = plan.problems.warnings
    assert ambiguous.message == (
        "atoms a-headline-vip, headline-vip tie for slot 'headline', segment 'vip', locale en "
        "(e.g. in welcome/day-0 on email); a-headline-vip wins only because of its id"
    )
    assert shadowed.message == (
        "atom 'headline-low' can be used but never wins for any audience: "
        "other atoms always rank higher"
    )


def test_a_tie_names_the_first_variant_of_the_plan_that_shows_it(tmp_path: Path) -> None:
    """Each message keeps its own share of the ranking warnings (a memo keeps them); merged,
    the warning names the plan's first variant by id, whatever order the journey lists its
    steps in, and a plan from the memo says the same."""
    two_steps = JOURNEY.replace("locales: [en, de]", "locales: [en]").replace(
        "  - id: day-0\n",
        "  - id: day-7\n    trigger: A week later\n    channels: {email: basic}\n  - id: day-0\n",
    )
    _library, plan, _router = planned(
        tmp_path,
        {
            "journeys/welcome.yaml": two_steps,
            "atoms/a-headline-vip.yaml": atom("headline", "Tie", segments="[vip]"),
        },
    )
    ambiguous = [d.message for d in plan.problems.warnings if d.code == "rank.ambiguous"]
    assert ambiguous == [
        "atoms a-headline-vip, headline-vip tie for slot 'headline', segment 'vip', locale en "
        "(e.g. in welcome/day-0 on email); a-headline-vip wins only because of its id"
    ]
    (tmp_path / "atoms/headline-low.yaml").write_text(atom("headline", "Low", priority=-1))
    edited, _ = load_library(tmp_path)
    again = make_plan(edited, START, previous=plan.memo)
    assert plan.memo is not None and again.replanned < len(plan.memo.messages)
    assert [d for d in again.problems.warnings if d.code == "rank.ambiguous"] == [
        d for d in plan.problems.warnings if d.code == "rank.ambiguous"
    ]


DEMO = Path(__file__).resolve().parents[1] / "content"


def test_competitors_are_exactly_the_atoms_every_filter_admits() -> None:
    """Planning asks the resolver's competitor index (by slot, channel, locale and journey)
    instead of scanning every atom of a slot: the atoms it admits must be exactly those the
    full scan admits, for every message, whatever atoms name (no channel, an empty list, a
    step of a journey, another journey, a locale of the chain or none, a retired status)."""
    import random

    from atomic_content.models import Atom, Status
    from atomic_content.plan import _can_compete, _competing
    from atomic_content.resolver import MessageKey, Resolver

    library, _ = load_library(DEMO)
    assert library.settings is not None
    rng = random.Random(7)
    journeys = sorted(library.journeys)
    steps = [f"{j.id}/{s.id}" for j in library.journeys.values() for s in j.steps]
    channels = sorted(library.settings.channels.enabled())
    locales = list(library.settings.locales)
    slots = sorted({atom.slot for atom in library.atoms.values()})
    for number in range(600):
        slot = rng.choice(slots)
        library.atoms[f"gen-{number:04d}"] = Atom.model_validate(
            {
                "id": f"gen-{number:04d}",
                "slot": slot,
                "text": "x",
                "channels": rng.choice([None, [], rng.sample(channels, rng.randint(1, 2))]),
                "locale": rng.choice([None, *locales, "xx"]),
                "journeys": rng.choice(
                    [None, [], rng.sample(journeys, 1), rng.sample(steps, rng.randint(1, 2))]
                ),
                "status": rng.choice(list(Status)),
                "priority": rng.randint(0, 3),
            }
        )
    resolver = Resolver(library)
    default = library.settings.default_locale
    compared = 0
    for journey in library.journeys.values():
        for step in journey.steps:
            for channel, layout in step.channels.items():
                layout_slots = tuple(library.layouts[(channel, layout)].layout.slots)
                for locale in journey_locales(library, journey):
                    message = MessageKey(journey.id, step.id, channel, locale)
                    chain = resolver.chains.get(locale, [locale])
                    expected = {
                        atom.id
                        for slot in layout_slots
                        for atom in resolver.atoms_for_slot(slot)
                        if _can_compete(atom, message, (slot,), chain, default)
                    }
                    found = [atom.id for atom in _competing(resolver, message, layout_slots)]
                    assert len(found) == len(set(found)), message
                    assert set(found) == expected, message
                    compared += len(expected)
    assert compared > 1000


# -- the journey's locales: one reading -------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("", ["en", "de", "de-AT"]),  # no key: every locale, in the settings' order
        ("locales: [de, en]\n", ["de", "en"]),
        ("locales: [de, en, de]\n", ["de", "en"]),  # a repeat counts once
        ("locales: [de-AT]\n", ["de-AT"]),
    ],
    ids=["absent", "listed", "repeated", "one"],
)
def test_the_plan_and_the_locale_rule_read_a_journeys_locales_alike(
    tmp_path: Path, written: str, expected: list[str]
) -> None:
    """The plan builds exactly the locales the locale rule routes to (an empty list, which
    the two once read differently, does not load: tests/test_bad_inputs.py)."""
    files = {"journeys/welcome.yaml": journey(**{"locales: [en, de]\n": written})}
    library, plan, _router = planned(tmp_path, files)
    assert library.settings is not None
    welcome = library.journeys["welcome"]
    assert journey_locales(library, welcome) == welcome.locales_in(library.settings) == expected
    assert sorted({variant.locale for variant in plan.variants}) == sorted(expected)
    for wanted in (None, "en", "de", "de-AT", "fr"):
        assert message_locale(welcome, wanted, library.settings) in expected, wanted


# -- variant ids are unique -------------------------------------------------------------------


def test_a_plan_refuses_two_variants_of_one_id(tmp_path: Path) -> None:
    _lib, plan, _router = planned(tmp_path)
    first = plan.variants[0]
    message = f"the plan holds 1 variant id twice: {first.id}; no manifest or bundle is made"
    with pytest.raises(DuplicateVariantError, match=re.escape(message)):
        Plan(plan.start, plan.until, False, (*plan.variants, first), Diagnostics())
    with pytest.raises(DuplicateVariantError, match=re.escape(message)):
        dataclasses.replace(plan, variants=(*plan.variants, first))


def test_a_build_that_would_list_a_variant_twice_stops_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should the plan ever make two variants of one id (a segment named like the generic
    audience once did), the build stops with an internal error (exit 70) and writes nothing,
    rather than a manifest that lists the id twice."""
    from click.testing import CliRunner

    from atomic_content import plan as plan_module
    from atomic_content.cli import main

    monkeypatch.setenv("ATOMIC_CACHE_DIR", "off")
    content = write_tree(tmp_path / "content")
    monkeypatch.setattr(plan_module, "journey_audiences", lambda index, j: [GENERIC, GENERIC])
    out = tmp_path / "dist"
    result = CliRunner().invoke(
        main,
        ["build", "--content", str(content), "--out", str(out), "--date", "2026-11-22",
         "--jobs", "1", "--no-cache"],
    )  # fmt: skip
    assert result.exit_code == 70, result.output
    assert "internal error: DuplicateVariantError: the plan holds 4 variant ids twice" in (
        result.stderr
    )
    assert not (out / "manifest.json").exists()
