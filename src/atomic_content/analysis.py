"""Static ranking checks over every message and audience: ambiguous and shadowed atoms.

A message is (journey, step, channel, locale); its audiences are each segment the journey
personalizes for, plus ``generic`` — the same variants the build renders. Validity windows are
ignored here (``on=None``) and only approved atoms count, so the warnings describe the content,
not a particular day.

* ``rank.ambiguous`` — two atoms tie on the ranking rules 1–3 for some slot, segment and locale,
  so only their ids decide; editors should set a priority on purpose.
* ``rank.shadowed`` — an approved atom that some message could use never wins for any audience.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .errors import Diagnostic, Severity
from .models import Journey, Status
from .repository import Library
from .resolver import Resolution, Resolver
from .segments import Audience


@dataclass(frozen=True)
class Variant:
    """One message for one audience, as built: the unit of build, coverage and diff."""

    journey: str
    step: str
    channel: str
    locale: str
    audience: str  # a segment id or "generic"

    def audience_object(self) -> Audience:
        return (
            Audience.generic()
            if self.audience == "generic"
            else Audience.for_segment(self.audience)
        )


def journey_segments(library: Library, journey: Journey) -> list[str]:
    """Segments a journey personalizes for (all segments when it does not say), sorted."""
    if journey.segments is not None:
        return sorted(set(journey.segments))
    return sorted(library.segments)


def journey_locales(library: Library, journey: Journey) -> list[str]:
    """Locales a journey is written in (all locales when it does not say), in settings order."""
    assert library.settings is not None
    if journey.locales is not None:
        return list(dict.fromkeys(journey.locales))
    return list(library.settings.locales)


def variants(library: Library, journey_id: str | None = None) -> Iterator[Variant]:
    """Every (journey, step, channel, locale, audience) the build renders, in a stable order."""
    for journey in sorted(library.journeys.values(), key=lambda j: j.id):
        if journey_id is not None and journey.id != journey_id:
            continue
        audiences = [*journey_segments(library, journey), "generic"]
        for step in journey.steps:
            for channel in sorted(step.channels):
                for locale in journey_locales(library, journey):
                    for audience in audiences:
                        yield Variant(journey.id, step.id, channel, locale, audience)


def resolve_variant(resolver: Resolver, variant: Variant, **kwargs: object) -> Resolution:
    """Resolve one build variant (the locale is exact: it is one of the journey's locales)."""
    return resolver.resolve(
        variant.journey,
        variant.step,
        variant.channel,
        variant.audience_object(),
        locale=variant.locale,
        **kwargs,  # type: ignore[arg-type]
    )


def ranking_diagnostics(
    library: Library, resolver: Resolver | None = None, usable: set[str] | None = None
) -> list[Diagnostic]:
    """Warnings for ambiguous ties and shadowed atoms across every build variant.

    ``usable`` is :func:`atomic_content.validate.usable_atoms` when the caller has it already.
    """
    resolver = resolver or Resolver(library)
    winners: set[str] = set()
    if usable is None:
        from .validate import usable_atoms

        usable = usable_atoms(library)
    eligible = {a for a in usable if library.atoms[a].status is Status.APPROVED}
    ties: dict[tuple[str, str, str, frozenset[str]], Variant] = {}
    for variant in variants(library):
        resolution = resolve_variant(resolver, variant, on=None)
        for slot, choice in resolution.slots.items():
            if choice.winner is None:
                continue
            winners.add(choice.winner.id)
            if choice.tied_with:
                atoms = frozenset((choice.winner.id, *choice.tied_with))
                segment = choice.matched_segment or "generic"
                ties.setdefault((slot, segment, choice.locale or variant.locale, atoms), variant)
    diagnostics: list[Diagnostic] = []
    for (slot, segment, locale, atoms), variant in sorted(
        ties.items(), key=lambda kv: sorted(kv[0][3])
    ):
        ordered = sorted(atoms)
        path, line, col = library.position("atom", ordered[0], ("priority",))
        diagnostics.append(
            Diagnostic(
                path,
                line,
                col,
                Severity.WARNING,
                "rank.ambiguous",
                f"atoms {', '.join(ordered)} tie for slot {slot!r}, segment {segment!r}, "
                f"locale {locale} (e.g. in {variant.journey}/{variant.step} on {variant.channel}); "
                f"{ordered[0]} wins only because of its id",
                "set a different `priority:` on one of them so the choice is on purpose",
            )
        )
    for atom_id in sorted(eligible - winners):
        atom = library.atoms[atom_id]
        if atom.status is not Status.APPROVED:
            continue
        path, line, col = library.position("atom", atom_id, ("slot",))
        diagnostics.append(
            Diagnostic(
                path,
                line,
                col,
                Severity.WARNING,
                "rank.shadowed",
                f"atom {atom_id!r} can be used but never wins for any audience: "
                "other atoms always rank higher",
                "raise its priority, narrow the competing atoms, or retire it",
            )
        )
    return diagnostics
