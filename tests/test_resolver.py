"""Resolver: every ranking rule, consent, validity windows, locale fallback, required and
optional slots, explanations, ambiguity and shadowing — on real content trees in tmp_path."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from atomic_content.errors import ResolutionError, UsageError
from atomic_content.resolver import Resolver, Verdict
from atomic_content.segments import Audience
from atomic_content.validate import check_content, load_library
from contentkit import write_tree

VIP = Audience.for_segment("vip")
NEW = Audience.for_segment("new")
BOTH = Audience(frozenset({"vip", "new"}), "vip+new")
GENERIC = Audience.generic()
DAY = dt.date(2026, 11, 22)


def atom(slot: str, text: str, **fields: object) -> str:
    lines = [f"slot: {slot}", "status: " + str(fields.pop("status", "approved")), f"text: {text}"]
    lines += [f"{key}: {value}" for key, value in fields.items()]
    return "\n".join(lines) + "\n"


def resolver_for(tmp_path: Path, files: dict[str, str | bytes | None] | None = None) -> Resolver:
    write_tree(tmp_path, files)
    library, _warnings = load_library(tmp_path)
    return Resolver(library)


def winner(
    resolver: Resolver, audience: Audience, slot: str = "headline", **kwargs: object
) -> str | None:
    kwargs.setdefault("on", DAY)
    resolution = resolver.resolve("welcome", "day-0", "email", audience, **kwargs)  # type: ignore[arg-type]
    choice = resolution.slots[slot]
    return choice.winner.id if choice.winner else None


# -- rule 1: targeted beats generic; highest matched segment priority wins -------------------


def test_targeted_beats_generic(tmp_path: Path) -> None:
    r = resolver_for(tmp_path)
    assert winner(r, VIP) == "headline-vip"
    assert winner(r, GENERIC) == "headline"
    assert winner(r, NEW) == "headline"


def test_targeted_beats_generic_even_with_lower_atom_priority(tmp_path: Path) -> None:
    r = resolver_for(tmp_path, {"atoms/headline.yaml": atom("headline", "Generic", priority=100)})
    assert winner(r, VIP) == "headline-vip"


def test_highest_matched_segment_priority_wins(tmp_path: Path) -> None:
    # vip has priority 50, new 10: for a customer in both, the vip atom wins even though the
    # new-customer atom has a higher atom priority.
    r = resolver_for(
        tmp_path,
        {"atoms/headline-new.yaml": atom("headline", "New here", segments="[new]", priority=99)},
    )
    assert winner(r, BOTH) == "headline-vip"
    assert winner(r, NEW) == "headline-new"


def test_matched_segment_is_the_best_one_of_the_atom(tmp_path: Path) -> None:
    r = resolver_for(
        tmp_path,
        {
            "atoms/headline-any.yaml": atom("headline", "Either", segments="[new, vip]"),
            "atoms/headline-vip.yaml": atom("headline", "VIP", segments="[vip]", priority=1),
        },
    )
    res = r.resolve("welcome", "day-0", "email", BOTH, on=DAY)
    assert res.slots["headline"].winner is not None
    assert res.slots["headline"].winner.id == "headline-vip"
    assert res.slots["headline"].matched_segment == "vip"


# -- rule 2: atom priority ------------------------------------------------------------------


def test_atom_priority_breaks_ties_within_a_segment(tmp_path: Path) -> None:
    r = resolver_for(
        tmp_path,
        {"atoms/headline-vip-2.yaml": atom("headline", "VIP two", segments="[vip]", priority=5)},
    )
    assert winner(r, VIP) == "headline-vip-2"


# -- rule 3: exact locale before fallback ----------------------------------------------------


def test_exact_locale_beats_fallback(tmp_path: Path) -> None:
    r = resolver_for(tmp_path)
    assert winner(r, GENERIC, "subject", locale="de") == "subject-de"
    assert winner(r, GENERIC, "subject", locale="en") == "subject"


def test_locale_fallback_chain(tmp_path: Path) -> None:
    r = resolver_for(tmp_path)
    # de-AT is not a journey locale: the message is in de (first on the chain the journey has).
    res = r.resolve("welcome", "day-0", "email", GENERIC, locale="de-AT", on=DAY)
    assert res.key.locale == "de"
    assert (
        res.slots["subject"].winner is not None and res.slots["subject"].winner.id == "subject-de"
    )
    # No German headline: English through fallback.
    assert (
        res.slots["headline"].winner is not None and res.slots["headline"].winner.id == "headline"
    )
    assert "(fallback)" in res.slots["headline"].reason


def test_targeting_beats_locale(tmp_path: Path) -> None:
    # Rule 1 comes before rule 3: an English VIP headline beats a German generic one.
    r = resolver_for(
        tmp_path, {"atoms/headline-de.yaml": atom("headline", "Ausruestung", locale="de")}
    )
    assert winner(r, VIP, locale="de") == "headline-vip"
    assert winner(r, GENERIC, locale="de") == "headline-de"


# -- rule 4: id, and the ambiguity warning ---------------------------------------------------


def test_id_decides_a_full_tie_and_validate_warns(tmp_path: Path) -> None:
    files = {"atoms/a-headline-vip.yaml": atom("headline", "Also VIP", segments="[vip]")}
    r = resolver_for(tmp_path, files)
    res = r.resolve("welcome", "day-0", "email", VIP, on=DAY)
    choice = res.slots["headline"]
    assert choice.winner is not None and choice.winner.id == "a-headline-vip"
    assert choice.tied_with == ("headline-vip",)
    _lib, diagnostics = check_content(tmp_path)
    ambiguous = [d for d in diagnostics if d.code == "rank.ambiguous"]
    assert [d.message for d in ambiguous] == [
        "atoms a-headline-vip, headline-vip tie for slot 'headline', segment 'vip', locale en "
        "(e.g. in welcome/day-0 on email); a-headline-vip wins only because of its id"
    ]
    assert ambiguous[0].path == "atoms/a-headline-vip.yaml"


def test_shadowed_atom_warning(tmp_path: Path) -> None:
    files = {
        "atoms/headline-vip-low.yaml": atom("headline", "Never", segments="[vip]", priority=-1)
    }
    _lib, diagnostics = check_content(write_tree(tmp_path, files))
    shadowed = [(d.path, d.code) for d in diagnostics if d.code == "rank.shadowed"]
    assert shadowed == [("atoms/headline-vip-low.yaml", "rank.shadowed")]


# -- eligibility: status, windows, channels, journeys ----------------------------------------


@pytest.mark.parametrize(
    ("fields", "include_drafts", "expected"),
    [
        ({"status": "draft"}, False, "headline-vip"),
        ({"status": "draft"}, True, "headline-vip-x"),
        ({"status": "review"}, True, "headline-vip-x"),
        ({"status": "retired"}, True, "headline-vip"),
        ({"valid_from": "2026-12-01"}, False, "headline-vip"),
        ({"valid_from": "2026-11-22"}, False, "headline-vip-x"),
        ({"valid_until": "2026-11-21"}, False, "headline-vip"),
        ({"valid_until": "2026-11-22"}, False, "headline-vip-x"),
        ({"channels": "[app]"}, False, "headline-vip"),
        ({"journeys": "[other]"}, False, "headline-vip"),
        ({"journeys": "[welcome/day-0]"}, False, "headline-vip-x"),
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
    ],
)
def test_eligibility(
    tmp_path: Path, fields: dict[str, str], include_drafts: bool, expected: str
) -> None:
    body = atom("headline", "Newer VIP", segments="[vip]", priority=10, **fields)
    overrides: dict[str, str | bytes | None] = {"atoms/headline-vip-x.yaml": body}
    if "journeys" in fields and fields["journeys"] == "[other]":
        overrides["journeys/other.yaml"] = (
            "name: Other\nsteps:\n  - id: s\n    channels: {email: basic}\n"
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


def test_consent_refused_gets_generic_only(tmp_path: Path) -> None:
    r = resolver_for(tmp_path)
    customer = {
        "id": "C-9",
        "locale": "en",
        "tier": "gold",
        "orders": 3,
        "consent": {"personalization": False},
    }
    res = r.resolve_customer(customer, "welcome", "day-0", "email", on=DAY, explain=True)
    assert res.audience.consent_refused
    assert res.audience.segments == frozenset()
    assert (
        res.slots["headline"].winner is not None and res.slots["headline"].winner.id == "headline"
    )
    assert "the customer refused personalization: generic content only" in res.notes
    rejected = {
        c.atom_id: c.reason
        for c in res.slots["headline"].candidates
        if c.verdict is Verdict.REJECTED
    }
    assert (
        rejected["headline-vip"] == "personalized content, but the customer refused personalization"
    )


def test_consent_missing_is_not_a_refusal(tmp_path: Path) -> None:
    r = resolver_for(tmp_path)
    customer = {"id": "C-9", "locale": "en", "tier": "gold", "orders": 3}
    res = r.resolve_customer(customer, "welcome", "day-0", "email", on=DAY)
    assert res.audience.segments == frozenset({"vip"})


# -- required and optional slots ---------------------------------------------------------------


def test_optional_slot_left_out_and_required_slot_fails(tmp_path: Path) -> None:
    r = resolver_for(tmp_path, {"atoms/cta.yaml": None})
    res = r.resolve("welcome", "day-0", "email", VIP, on=DAY)
    assert res.slots["cta"].winner is None and not res.slots["cta"].required
    assert res.missing_required == []
    r.require_complete(res)  # optional gaps are fine

    r2 = resolver_for(tmp_path / "b", {"atoms/body.yaml": None})
    res2 = r2.resolve("welcome", "day-0", "email", VIP, locale="de", on=DAY)
    with pytest.raises(ResolutionError) as info:
        r2.require_complete(res2)
    (diag,) = list(info.value.diagnostics)
    assert diag.code == "resolve.missing_required_slot"
    assert diag.message == (
        "no atom fills required slot 'body' of welcome/day-0 on email in de for segment 'vip'"
    )
    assert diag.path == "journeys/welcome.yaml"
    assert (diag.line, diag.col) == (7, 23)  # the layout named for the email channel
    assert "slot: body, channels: [email], locale: de" in diag.hint


# -- explanations ---------------------------------------------------------------------------


def test_explanation_lists_every_candidate_with_a_reason(tmp_path: Path) -> None:
    files = {
        "atoms/headline-draft.yaml": atom("headline", "Draft", status="draft"),
        "atoms/headline-app.yaml": atom("headline", "App only", channels="[app]"),
        "atoms/headline-old.yaml": atom("headline", "Old", valid_until="2020-01-01"),
    }
    r = resolver_for(tmp_path, files)
    res = r.resolve("welcome", "day-0", "email", VIP, on=DAY, explain=True)
    verdicts = {c.atom_id: (c.verdict.value, c.reason) for c in res.slots["headline"].candidates}
    assert verdicts == {
        "headline-vip": ("won", "targets segment 'vip' (priority 50), locale en"),
        "headline": ("lost", "outranked by headline-vip: generic loses to segment-targeted"),
        "headline-app": ("rejected", "wrong channel (only app)"),
        "headline-draft": ("rejected", "status draft (use --include-drafts to preview it)"),
        "headline-old": ("rejected", "expired (until 2020-01-01)"),
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
    key = r.resolve("welcome", "day-0", "email", GENERIC, on=DAY).key
    ids = {a.id for a in r.candidates("headline", key, GENERIC, ["en"])}
    assert ids == {"headline"}
