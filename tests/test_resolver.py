"""Resolver: every ranking rule (with rows exactly at each boundary), the audience rule, one
language per message, consent, validity windows, required and optional slots, explanations,
ambiguity and shadowing — on real content trees in tmp_path."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from atomic_content.errors import ResolutionError, UsageError
from atomic_content.resolver import Resolution, Resolver, Verdict, require_complete
from atomic_content.segments import Audience, SegmentIndex
from atomic_content.validate import check_content, load_library
from contentkit import JOURNEY, SEGMENT_NEW, SEGMENT_VIP, write_tree

VIP = Audience.for_segment("vip")
NEW = Audience.for_segment("new")
GENERIC = Audience.generic()
DAY = dt.date(2026, 11, 22)


def atom(slot: str, text: str, **fields: object) -> str:
    lines = [f"slot: {slot}", "status: " + str(fields.pop("status", "approved")), f"text: {text}"]
    lines += [f"{key}: {value}" for key, value in fields.items()]
    return "\n".join(lines) + "\n"


GERMAN: dict[str, str | bytes | None] = {
    # With these, a German message has every required slot (subject-de is in the base tree).
    "atoms/headline-de.yaml": atom("headline", "Ausruestung", locale="de"),
    "atoms/body-de.yaml": atom("body", "Danke", locale="de"),
}
WITH_DE_AT: dict[str, str | bytes | None] = {
    # The journey is also written in de-AT, so a de-AT message exists (chain de-AT -> de -> en).
    "journeys/welcome.yaml": JOURNEY.replace("locales: [en, de]", "locales: [en, de, de-AT]"),
}


def resolver_for(tmp_path: Path, files: Mapping[str, str | bytes | None] | None = None) -> Resolver:
    write_tree(tmp_path, dict(files or {}))
    library, _warnings = load_library(tmp_path)
    return Resolver(library)


def resolve(resolver: Resolver, audience: Audience, **kwargs: Any) -> Resolution:
    kwargs.setdefault("on", DAY)
    return resolver.resolve("welcome", "day-0", "email", audience, **kwargs)


def winner(
    resolver: Resolver, audience: Audience, slot: str = "headline", **kwargs: object
) -> str | None:
    choice = resolve(resolver, audience, **kwargs).slots[slot]
    return choice.winner.id if choice.winner else None


def customer_audience(resolver: Resolver, record: dict[str, Any]) -> Audience:
    library = resolver.library
    index = SegmentIndex(library.segments, library.profile)
    return index.audience(record, library.journeys["welcome"], explain=True)


# -- the ranking, one row per boundary --------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "audience", "locale", "expected", "tied"),
    [
        # rule 1: targeted at the audience's segment beats generic, whatever the priorities
        ({}, VIP, "en", "headline-vip", ()),
        ({}, NEW, "en", "headline", ()),
        ({}, GENERIC, "en", "headline", ()),
        (
            {"atoms/headline.yaml": atom("headline", "Generic", priority=100)},
            VIP,
            "en",
            "headline-vip",
            (),
        ),
        # rule 2: atom priority, exactly at the boundary (+1 wins, -1 loses, equal ties)
        (
            {"atoms/headline-vip-2.yaml": atom("headline", "V2", segments="[vip]", priority=1)},
            VIP,
            "en",
            "headline-vip-2",
            (),
        ),
        (
            {"atoms/headline-vip-2.yaml": atom("headline", "V2", segments="[vip]", priority=-1)},
            VIP,
            "en",
            "headline-vip",
            (),
        ),
        (
            {"atoms/headline-vip-2.yaml": atom("headline", "V2", segments="[vip]", priority=0)},
            VIP,
            "en",
            "headline-vip",
            ("headline-vip-2",),
        ),
        # rule 3: exact locale before the same language's fallback at equal priority ...
        (
            {"atoms/headline-de-at.yaml": atom("headline", "Servus", locale="de-AT")},
            GENERIC,
            "de-AT",
            "headline-de-at",
            (),
        ),
        # ... but after atom priority (rule 2 before rule 3)
        (
            {
                "atoms/headline-de-at.yaml": atom("headline", "Servus", locale="de-AT"),
                "atoms/headline-de.yaml": atom("headline", "Hallo", locale="de", priority=1),
            },
            GENERIC,
            "de-AT",
            "headline-de",
            (),
        ),
        # ... and after targeting (rule 1 before rule 3) within one language
        (
            {
                "atoms/headline-de-at.yaml": atom("headline", "Servus", locale="de-AT", priority=5),
                "atoms/headline-vip-de.yaml": atom(
                    "headline", "VIP", locale="de", segments="[vip]"
                ),
            },
            VIP,
            "de-AT",
            "headline-vip-de",
            (),
        ),
        # targeting never crosses languages: an English VIP atom loses to a German generic one
        ({}, VIP, "de", "headline-de", ()),
        # rule 4: a full tie on rules 1-3 is decided by id, and reported as a tie
        (
            {"atoms/a-headline-vip.yaml": atom("headline", "A", segments="[vip]")},
            VIP,
            "en",
            "a-headline-vip",
            ("headline-vip",),
        ),
    ],
    ids=[
        "targeted-beats-generic",
        "other-segment-gets-generic",
        "generic-audience-gets-generic",
        "targeted-beats-generic-priority-100",
        "priority-plus-one-wins",
        "priority-minus-one-loses",
        "priority-equal-ties-on-id",
        "exact-locale-beats-same-language-fallback",
        "priority-beats-exact-locale",
        "targeting-beats-exact-locale-within-language",
        "targeting-never-crosses-languages",
        "id-decides-full-tie",
    ],
)
def test_ranking(
    tmp_path: Path,
    files: dict[str, str | bytes | None],
    audience: Audience,
    locale: str,
    expected: str,
    tied: tuple[str, ...],
) -> None:
    r = resolver_for(tmp_path, {**GERMAN, **WITH_DE_AT, **files})
    res = resolve(r, audience, locale=locale)
    choice = res.slots["headline"]
    assert choice.winner is not None and choice.winner.id == expected
    assert choice.tied_with == tied
    assert res.key.locale == locale
    assert res.missing_required == []


def test_targeting_beats_locale_within_a_language_never_across(tmp_path: Path) -> None:
    # Targeting still outranks locale inside the message's language: a German (de) VIP atom
    # beats a generic de-AT one in a de-AT message. But it never pulls in another language: the
    # English VIP atom is rejected from a German message, with the reason.
    r = resolver_for(
        tmp_path,
        {
            **GERMAN,
            **WITH_DE_AT,
            "atoms/headline-de-at.yaml": atom("headline", "Servus", locale="de-AT"),
        },
    )
    res = resolve(r, VIP, locale="de-AT", explain=True)
    assert res.slots["headline"].winner is not None
    assert res.slots["headline"].winner.id == "headline-de-at"  # no German VIP atom yet
    verdicts = {c.atom_id: (c.verdict, c.reason) for c in res.slots["headline"].candidates}
    assert verdicts["headline-vip"] == (
        Verdict.REJECTED,
        "written in 'en'; one message, one language: this one is in 'de'",
    )
    assert verdicts["headline"] == (
        Verdict.REJECTED,
        "written in 'en'; one message, one language: this one is in 'de'",
    )
    assert verdicts["headline-de"] == (
        Verdict.LOST,
        "outranked by headline-de-at: closer locale",
    )

    r2 = resolver_for(
        tmp_path / "b",
        {
            **GERMAN,
            **WITH_DE_AT,
            "atoms/headline-de-at.yaml": atom("headline", "Servus", locale="de-AT"),
            "atoms/headline-vip-de.yaml": atom("headline", "VIP", locale="de", segments="[vip]"),
        },
    )
    res2 = resolve(r2, VIP, locale="de-AT", explain=True)
    choice = res2.slots["headline"]
    assert choice.winner is not None and choice.winner.id == "headline-vip-de"
    assert choice.matched_segment == "vip"
    assert choice.locale == "de"
    assert choice.reason == "targets the audience's segment 'vip', locale de (fallback)"
    verdicts2 = {c.atom_id: (c.verdict, c.reason) for c in choice.candidates}
    assert verdicts2["headline-de-at"] == (
        Verdict.LOST,
        "outranked by headline-vip-de: generic loses to segment-targeted",
    )


# -- the audience rule: segment priority decides the audience, not the atom ranking ----------


@pytest.mark.parametrize(
    ("vip_priority", "new_priority", "audience", "expected"),
    [
        (50, 10, "vip", "headline-vip"),
        (11, 10, "vip", "headline-vip"),
        (10, 10, "new", "headline-new"),  # equal priority: segment id decides ("new" < "vip")
        (10, 11, "new", "headline-new"),
    ],
    ids=["vip-far-higher", "vip-one-higher", "equal-id-decides", "new-one-higher"],
)
def test_highest_priority_segment_is_the_audience(
    tmp_path: Path, vip_priority: int, new_priority: int, audience: str, expected: str
) -> None:
    # A customer in both segments: the audience is the highest-priority segment, and every slot
    # then resolves for that one segment. The atom for the other segment is not eligible at all,
    # even with a far higher atom priority (segment priority no longer ranks atoms).
    r = resolver_for(
        tmp_path,
        {
            "segments/vip.yaml": SEGMENT_VIP.replace("priority: 50", f"priority: {vip_priority}"),
            "segments/new.yaml": SEGMENT_NEW.replace("priority: 10", f"priority: {new_priority}"),
            "atoms/headline-new.yaml": atom("headline", "New", segments="[new]", priority=99),
        },
    )
    both = customer_audience(r, {"id": "C-9", "locale": "en", "tier": "gold", "orders": 0})
    assert both.segment == audience
    assert both.id == audience
    assert both.matched == frozenset({"vip", "new"})
    assert both.label == "customer 'C-9'"
    res = resolve(r, both, explain=True)
    assert res.audience.segment == audience
    choice = res.slots["headline"]
    assert choice.winner is not None and choice.winner.id == expected
    assert choice.matched_segment == audience
    other = {"vip": "headline-new", "new": "headline-vip"}[audience]
    other_segment = {"vip": "new", "new": "vip"}[audience]
    rejected = {c.atom_id: c.reason for c in choice.candidates if c.verdict is Verdict.REJECTED}
    assert rejected[other] == (
        f"targets {other_segment}; this message speaks to segment {audience!r}"
    )
    assert res.notes[0].startswith(f"segment {audience!r} (priority ")


@pytest.mark.parametrize(
    ("audience", "vip_priority", "expected", "tied"),
    [
        (VIP, 1, "headline-vip", ()),
        (VIP, 0, "headline-any", ("headline-vip",)),
        (NEW, 1, "headline-any", ()),
    ],
    ids=["single-segment-atom-higher-priority", "equal-priority-tie", "other-segment"],
)
def test_multi_segment_atom_targets_each_of_its_segments(
    tmp_path: Path, audience: Audience, vip_priority: int, expected: str, tied: tuple[str, ...]
) -> None:
    # An atom listing [new, vip] targets the vip audience exactly as much as a [vip]-only atom:
    # between the two, the atom priority decides, then the id (reported as a tie).
    r = resolver_for(
        tmp_path,
        {
            "atoms/headline-any.yaml": atom("headline", "Either", segments="[new, vip]"),
            "atoms/headline-vip.yaml": atom(
                "headline", "VIP", segments="[vip]", priority=vip_priority
            ),
        },
    )
    choice = resolve(r, audience).slots["headline"]
    assert choice.winner is not None and choice.winner.id == expected
    assert choice.matched_segment == audience.segment
    assert choice.tied_with == tied


# -- one message, one language ----------------------------------------------------------------


def test_incomplete_language_gives_the_whole_message_in_the_next(tmp_path: Path) -> None:
    # The base tree has a German subject but no German headline or body: the German message
    # cannot be complete in German, so the WHOLE message is English — subject included.
    r = resolver_for(tmp_path)
    res = resolve(r, GENERIC, locale="de", explain=True)
    assert res.key.locale == "de"
    assert res.lang == "en" and res.language == "en"
    assert {s: a.id for s, a in res.atoms.items()} == {
        "subject": "subject",
        "headline": "headline",
        "body": "body",
        "cta": "cta",
    }
    assert "no complete message in 'de' for this audience; the whole message is in 'en'" in (
        res.notes
    )
    subject = {c.atom_id: (c.verdict, c.reason) for c in res.slots["subject"].candidates}
    assert subject["subject-de"] == (
        Verdict.REJECTED,
        "written in 'de'; one message, one language: this one is in 'en'",
    )
    assert res.to_dict()["language"] == "en"


def test_complete_language_takes_only_its_own_atoms(tmp_path: Path) -> None:
    # German complete: every slot German; the English-only optional cta is left out rather than
    # mixed in; no note about the language.
    r = resolver_for(tmp_path, GERMAN)
    res = resolve(r, GENERIC, locale="de", explain=True)
    assert res.lang == "de"
    assert {s: a.id for s, a in res.atoms.items()} == {
        "subject": "subject-de",
        "headline": "headline-de",
        "body": "body-de",
    }
    assert res.slots["cta"].winner is None and not res.slots["cta"].required
    cta = {c.atom_id: (c.verdict, c.reason) for c in res.slots["cta"].candidates}
    assert cta == {
        "cta": (Verdict.REJECTED, "written in 'en'; one message, one language: this one is in 'de'")
    }
    assert not any("whole message" in note for note in res.notes)
    # The English message of the same tree never takes German atoms.
    en = resolve(r, GENERIC, locale="en")
    assert en.lang == "en"
    assert {a.locale or "en" for a in en.atoms.values()} == {"en"}


def test_de_at_and_de_are_one_language(tmp_path: Path) -> None:
    # de-AT message, only de atoms: German (same-language fallback), language tag de-AT (the
    # most specific locale of the language on the chain), reasons say "(fallback)".
    r = resolver_for(tmp_path, {**GERMAN, **WITH_DE_AT})
    res = resolve(r, GENERIC, locale="de-AT")
    assert res.key.locale == "de-AT"
    assert res.lang == "de-AT"
    assert res.atoms["headline"].id == "headline-de"
    assert res.slots["headline"].reason == "generic fallback, locale de (fallback)"
    assert res.notes == ()


def test_locale_not_in_journey_uses_the_chain(tmp_path: Path) -> None:
    # de-AT is not a journey locale: the message is in de (first on the chain the journey has).
    r = resolver_for(tmp_path, GERMAN)
    res = resolve(r, GENERIC, locale="de-AT")
    assert res.key.locale == "de"
    assert res.lang == "de"
    assert res.atoms["subject"].id == "subject-de"
    assert res.slots["subject"].reason == "generic fallback, locale de"
    assert "journey is not written in 'de-AT'; using 'de'" in res.notes


# -- rule 4: the ambiguity warning, and shadowing ----------------------------------------------


def test_id_decides_a_full_tie_and_validate_warns(tmp_path: Path) -> None:
    files = {"atoms/a-headline-vip.yaml": atom("headline", "Also VIP", segments="[vip]")}
    r = resolver_for(tmp_path, files)
    res = resolve(r, VIP)
    choice = res.slots["headline"]
    assert choice.winner is not None and choice.winner.id == "a-headline-vip"
    assert choice.tied_with == ("headline-vip",)
    assert choice.reason.endswith("; tied with headline-vip — won on id")
    _lib, diagnostics = check_content(tmp_path)
    ambiguous = [d for d in diagnostics if d.code == "rank.ambiguous"]
    assert [d.message for d in ambiguous] == [
        "atoms a-headline-vip, headline-vip tie for slot 'headline', segment 'vip', locale en "
        "(e.g. in welcome/day-0 on email); a-headline-vip wins only because of its id"
    ]
    assert ambiguous[0].path == "atoms/a-headline-vip.yaml"


@pytest.mark.parametrize(
    ("files", "shadowed"),
    [
        (
            {
                **GERMAN,
                "atoms/headline-vip-low.yaml": atom(
                    "headline", "Never", segments="[vip]", priority=-1
                ),
            },
            ["atoms/headline-vip-low.yaml"],
        ),
        # One priority point up and the other VIP atom is the one that never wins.
        (
            {
                **GERMAN,
                "atoms/headline-vip-low.yaml": atom(
                    "headline", "Sometimes", segments="[vip]", priority=1
                ),
            },
            ["atoms/headline-vip.yaml"],
        ),
        # A German atom in a tree whose German messages are never complete never wins either:
        # one message, one language.
        ({}, ["atoms/subject-de.yaml"]),
    ],
    ids=["lower-priority", "higher-priority-shadows-the-other", "incomplete-language"],
)
def test_shadowed_atom_warning(
    tmp_path: Path, files: dict[str, str | bytes | None], shadowed: list[str]
) -> None:
    _lib, diagnostics = check_content(write_tree(tmp_path, files))
    found = [d for d in diagnostics if d.code == "rank.shadowed"]
    assert [d.path for d in found] == shadowed
    assert all(
        d.message.endswith("never wins for any audience: other atoms always rank higher")
        for d in found
    )


# -- eligibility: status, windows, channels, journeys ----------------------------------------


@pytest.mark.parametrize(
    ("fields", "include_drafts", "expected"),
    [
        ({"status": "draft"}, False, "headline-vip"),
        ({"status": "draft"}, True, "headline-vip-x"),
        ({"status": "review"}, True, "headline-vip-x"),
        ({"status": "retired"}, True, "headline-vip"),
        ({"valid_from": "2026-11-23"}, False, "headline-vip"),
        ({"valid_from": "2026-11-22"}, False, "headline-vip-x"),
        ({"valid_until": "2026-11-21"}, False, "headline-vip"),
        ({"valid_until": "2026-11-22"}, False, "headline-vip-x"),
        ({"channels": "[app]"}, False, "headline-vip"),
        ({"journeys": "[other]"}, False, "headline-vip"),
        ({"journeys": "[welcome/day-0]"}, False, "headline-vip-x"),
        ({"journeys": "[welcome/day-1]"}, False, "headline-vip"),
    ],
    ids=[
        "draft-hidden",
        "draft-included",
        "review-included",
        "retired-never",
        "not-yet-valid",
        "valid-from-inclusive",
        "expired",
        "valid-until-inclusive",
        "wrong-channel",
        "other-journey",
        "step-scope",
        "other-step",
    ],
)
def test_eligibility(
    tmp_path: Path, fields: dict[str, str], include_drafts: bool, expected: str
) -> None:
    body = atom("headline", "Newer VIP", segments="[vip]", priority=10, **fields)
    overrides: dict[str, str | bytes | None] = {"atoms/headline-vip-x.yaml": body}
    if fields.get("journeys") == "[other]":
        overrides["journeys/other.yaml"] = (
            "name: Other\nsteps:\n  - id: s\n    channels: {email: basic}\n"
        )
    if fields.get("journeys") == "[welcome/day-1]":
        overrides["journeys/welcome.yaml"] = JOURNEY + (
            "  - id: day-1\n    trigger: Next day\n    channels: {email: basic}\n"
        )
    r = resolver_for(tmp_path, overrides)
    assert winner(r, VIP, include_drafts=include_drafts) == expected


def test_date_none_ignores_windows(tmp_path: Path) -> None:
    r = resolver_for(
        tmp_path,
        {
            "atoms/headline-vip.yaml": atom(
                "headline", "Old", segments="[vip]", valid_until="2020-01-01"
            )
        },
    )
    assert winner(r, VIP, on=None) == "headline-vip"
    assert winner(r, VIP) == "headline"


# -- consent -----------------------------------------------------------------------------------

GOLD = {"id": "C-9", "locale": "en", "tier": "gold", "orders": 3}


@pytest.mark.parametrize(
    ("consent", "segment", "refused", "expected"),
    [
        ({"consent": {"personalization": False}}, None, True, "headline"),
        ({"consent": {"personalization": True}}, "vip", False, "headline-vip"),
        ({}, "vip", False, "headline-vip"),  # missing is not a refusal
        ({"consent": {}}, "vip", False, "headline-vip"),
    ],
    ids=["refused", "given", "missing", "missing-inside-object"],
)
def test_consent(
    tmp_path: Path,
    consent: dict[str, Any],
    segment: str | None,
    refused: bool,
    expected: str,
) -> None:
    r = resolver_for(tmp_path)
    audience = customer_audience(r, {**GOLD, **consent})
    assert audience.segment == segment
    assert audience.consent_refused is refused
    # Without consent the segments reading the withheld attributes are not even evaluated
    # (explanations never show a match made with data the customer did not allow).
    assert audience.matched == (frozenset() if refused else frozenset({"vip"}))
    res = resolve(r, audience, explain=True)
    assert res.atoms["headline"].id == expected
    rejected = {
        c.atom_id: c.reason
        for c in res.slots["headline"].candidates
        if c.verdict is Verdict.REJECTED
    }
    if refused:
        assert audience.id == "generic"
        assert res.notes[0] == "the customer refused personalization: generic content only"
        assert rejected["headline-vip"] == (
            "personalized content, but the customer refused personalization"
        )
    else:
        assert audience.id == "vip"
        assert "headline-vip" not in rejected


# -- required and optional slots ---------------------------------------------------------------


def test_optional_slot_left_out_and_required_slot_fails(tmp_path: Path) -> None:
    r = resolver_for(tmp_path, {"atoms/cta.yaml": None})
    res = resolve(r, VIP)
    assert res.slots["cta"].winner is None and not res.slots["cta"].required
    assert res.slots["cta"].reason == "no eligible atom (optional slot left out)"
    assert res.missing_required == []
    require_complete(r.library, res)  # optional gaps are fine

    # No language has a body: the message reports the gaps of the chain's first language (de,
    # which has every other required slot).
    r2 = resolver_for(
        tmp_path / "b", {**GERMAN, "atoms/body.yaml": None, "atoms/body-de.yaml": None}
    )
    res2 = resolve(r2, VIP, locale="de")
    assert res2.lang == "de"
    assert res2.missing_required == ["body"]
    assert res2.slots["body"].reason == "no eligible atom (required)"
    with pytest.raises(ResolutionError) as info:
        require_complete(r2.library, res2)
    (diag,) = list(info.value.diagnostics)
    assert diag.code == "resolve.missing_required_slot"
    assert diag.message == (
        "no atom fills required slot 'body' of welcome/day-0 on email in de for segment 'vip'"
    )
    assert diag.path == "journeys/welcome.yaml"
    assert (diag.line, diag.col) == (7, 23)  # the layout named for the email channel
    assert diag.hint == (
        "add an approved atom with slot: body, channels: [email], locale: de, segments: [vip]"
    )


# -- explanations ---------------------------------------------------------------------------


def test_explanation_lists_every_candidate_with_a_reason(tmp_path: Path) -> None:
    files = {
        "atoms/headline-draft.yaml": atom("headline", "Draft", status="draft"),
        "atoms/headline-app.yaml": atom("headline", "App only", channels="[app]"),
        "atoms/headline-old.yaml": atom("headline", "Old", valid_until="2020-01-01"),
        "atoms/headline-soon.yaml": atom("headline", "Soon", valid_from="2027-01-01"),
        "atoms/headline-new.yaml": atom("headline", "New", segments="[new]"),
        "atoms/headline-gone.yaml": atom("headline", "Gone", status="retired"),
        "atoms/headline-low.yaml": atom("headline", "Low", priority=-1),
        "atoms/headline-de.yaml": atom("headline", "Ausruestung", locale="de"),
    }
    r = resolver_for(tmp_path, files)
    res = resolve(r, VIP, explain=True)
    verdicts = {c.atom_id: (c.verdict.value, c.reason) for c in res.slots["headline"].candidates}
    assert verdicts == {
        "headline-vip": ("won", "targets the audience's segment 'vip', locale en"),
        "headline": ("lost", "outranked by headline-vip: generic loses to segment-targeted"),
        "headline-low": ("lost", "outranked by headline-vip: generic loses to segment-targeted"),
        "headline-app": ("rejected", "wrong channel (only app)"),
        "headline-draft": ("rejected", "status draft (use --include-drafts to preview it)"),
        "headline-old": ("rejected", "expired (until 2020-01-01)"),
        "headline-soon": ("rejected", "not valid yet (from 2027-01-01)"),
        "headline-new": ("rejected", "targets new; this message speaks to segment 'vip'"),
        "headline-gone": ("rejected", "retired"),
        "headline-de": ("rejected", "locale de is not on the chain en"),
    }
    generic = resolve(r, GENERIC, explain=True)
    gverdicts = {
        c.atom_id: (c.verdict.value, c.reason) for c in generic.slots["headline"].candidates
    }
    assert gverdicts["headline"] == ("won", "generic fallback, locale en")
    assert gverdicts["headline-low"] == ("lost", "outranked by headline: higher atom priority")
    assert gverdicts["headline-vip"] == (
        "rejected",
        "targets vip; this message is for the generic audience",
    )


def test_explanation_does_not_change_the_winners(tmp_path: Path) -> None:
    r = resolver_for(
        tmp_path, {**GERMAN, "atoms/a-headline-vip.yaml": atom("headline", "A", segments="[vip]")}
    )
    for audience in (VIP, NEW, GENERIC):
        for locale in ("en", "de"):
            plain = resolve(r, audience, locale=locale)
            explained = resolve(r, audience, locale=locale, explain=True)
            assert plain.atoms == explained.atoms
            assert plain.lang == explained.lang
            assert {s: c.tied_with for s, c in plain.slots.items()} == {
                s: c.tied_with for s, c in explained.slots.items()
            }


def test_unknown_ids_are_usage_errors(tmp_path: Path) -> None:
    r = resolver_for(tmp_path)
    with pytest.raises(UsageError, match="unknown journey 'welcom'") as info:
        r.resolve("welcom", "day-0", "email", VIP)
    assert "did you mean 'welcome'?" in info.value.hint
    with pytest.raises(UsageError, match="has no step"):
        r.resolve("welcome", "day-9", "email", VIP)
    with pytest.raises(UsageError, match="has no 'microsite' message"):
        r.resolve("welcome", "day-0", "microsite", VIP)


def test_index_is_used_not_a_scan(tmp_path: Path) -> None:
    # Candidates come from the (slot, channel, locale, segment) index: an audience without
    # segments never even sees targeted atoms.
    r = resolver_for(tmp_path)
    key = resolve(r, GENERIC).key
    ids = {a.id for a in r.candidates("headline", key, GENERIC, ["en"])}
    assert ids == {"headline"}
    vip_ids = {a.id for a in r.candidates("headline", key, VIP, ["en"])}
    assert vip_ids == {"headline", "headline-vip"}
