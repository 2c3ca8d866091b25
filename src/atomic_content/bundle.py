"""The runtime bundle: render one customer fast, without reading any YAML.

``atomic build`` writes ``bundle/bundle.json``: the validated content as plain JSON (settings,
profile, segments, atoms, journeys, layouts with their template sources) and the build date.
:func:`load_bundle` turns it back into models once; :meth:`Bundle.render` then does only

1. segment evaluation (compiled conditions),
2. resolution by index lookup,
3. token rendering of the assembled variant (assembled once per distinct set of atoms and
   cached; compiled templates are cached by the token environment).

The same call on a loaded content folder (:meth:`Bundle.from_library`) gives identical output.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import AtomicError
from .models import Atom, Journey, Layout, Profile, Segment, Settings
from .render import assemble, render_message
from .repository import LayoutEntry, Library
from .resolver import Resolver
from .segments import lookup

BUNDLE_VERSION = 1


def bundle_payload(
    library: Library,
    *,
    variant_ids: Iterable[str] = (),
    on: dt.date | None = None,
) -> dict[str, Any]:
    """The JSON document of a bundle (deterministic: callers serialize it with sorted keys)."""
    assert library.settings is not None and library.profile is not None
    from . import __version__

    return {
        "bundle_version": BUNDLE_VERSION,
        "engine": __version__,
        "date": on.isoformat() if on else None,
        "settings": library.settings.model_dump(mode="json"),
        "profile": library.profile.model_dump(mode="json"),
        "segments": [s.model_dump(mode="json") for _, s in sorted(library.segments.items())],
        "atoms": [
            a.model_dump(mode="json", exclude_none=True) for _, a in sorted(library.atoms.items())
        ],
        "journeys": [j.model_dump(mode="json") for _, j in sorted(library.journeys.items())],
        "layouts": [
            {
                "channel": entry.channel,
                "layout": entry.layout.model_dump(mode="json"),
                "template_path": entry.template_path,
                "template_source": entry.template_source,
            }
            for _key, entry in sorted(library.layouts.items())
        ],
        "variants": sorted(variant_ids),
    }


def library_from_payload(payload: dict[str, Any], root: Path) -> Library:
    """Rebuild a Library from a bundle document (no YAML, no cross-file validation)."""
    if payload.get("bundle_version") != BUNDLE_VERSION:
        raise AtomicError(
            f"bundle version {payload.get('bundle_version')!r} is not supported "
            f"(expected {BUNDLE_VERSION}); rebuild with this version of atomic-content"
        )
    library = Library(root=root)
    library.settings = Settings.model_validate(payload["settings"])
    library.profile = Profile.model_validate(payload["profile"])
    library.segments = {s["id"]: Segment.model_validate(s) for s in payload["segments"]}
    library.atoms = {a["id"]: Atom.model_validate(a) for a in payload["atoms"]}
    library.journeys = {j["id"]: Journey.model_validate(j) for j in payload["journeys"]}
    for item in payload["layouts"]:
        layout = Layout.model_validate(item["layout"])
        library.layouts[(item["channel"], layout.id)] = LayoutEntry(
            item["channel"], layout, item["template_path"], item["template_source"]
        )
    return library


@dataclass(frozen=True)
class _AssemblyKey:
    journey: str
    step: str
    channel: str
    locale: str
    atoms: tuple[tuple[str, str], ...]


class Bundle:
    """A loaded runtime bundle. Thread-compatible for reads; build one per process."""

    def __init__(self, library: Library, date: dt.date | None = None) -> None:
        self.library = library
        self.date = date
        self.resolver = Resolver(library)
        self._assembled: dict[_AssemblyKey, Any] = {}
        self._variants: dict[Any, Any] = {}
        self._relevant: dict[tuple[str, str, str, str | None], frozenset[str]] = {}
        profile = library.profile
        self._locale_attribute = profile.locale_attribute if profile else None

    @classmethod
    def from_library(cls, library: Library) -> Bundle:
        """A bundle over an already loaded content folder (for tests and previews)."""
        return cls(library)

    def render(
        self,
        customer: dict[str, Any],
        *,
        journey: str,
        step: str,
        channel: str,
        locale: str | None = None,
        on: dt.date | None = None,
    ) -> Any:
        """Render one message for one customer record; returns a RenderedMessage.

        ``on`` is the resolution date (default: today). Raises UsageError for unknown ids,
        ResolutionError when a required slot has no content for this customer, RenderError for
        customer data that cannot be rendered safely.
        """
        on = on or dt.date.today()
        resolver = self.resolver
        index = resolver.segment_index
        if locale is None and self._locale_attribute:
            found, value = lookup(customer, self._locale_attribute)
            locale = value if found and isinstance(value, str) else None
        # Hot path: the message's relevant segments are known once per (message, locale); the
        # assembled variant once per set of matching segments. Only a new combination goes
        # through the resolver (and then the same code as everywhere else).
        message = (journey, step, channel, locale)
        relevant = self._relevant.get(message)
        if relevant is None:
            resolver.select_messages(journey, step, channel)  # UsageError for unknown ids
            relevant = resolver.message_segments(journey, step, channel, locale) or frozenset()
            self._relevant[message] = relevant
        refused = index.consent_refused(customer)
        segments = frozenset() if refused else index.matching(customer, relevant)
        variant_key = (message, segments, on)
        assembled = self._variants.get(variant_key)
        if assembled is None:
            resolution = resolver.resolve_customer(
                customer, journey, step, channel, locale=locale, on=on, all_segments=False
            )
            resolver.require_complete(resolution)
            key = _AssemblyKey(
                journey,
                step,
                channel,
                resolution.key.locale,
                tuple(sorted((slot, atom.id) for slot, atom in resolution.atoms.items())),
            )
            assembled = self._assembled.get(key)
            if assembled is None:
                assembled = assemble(self.library, resolution)
                self._assembled[key] = assembled
            if len(self._variants) >= 65_536:
                self._variants.clear()
            self._variants[variant_key] = assembled
        customer_id = self.resolver.segment_index.customer_id(customer)
        return render_message(self.library, assembled, customer, customer_id=customer_id)


def load_bundle(path: Path | str) -> Bundle:
    """Load ``bundle.json`` from a build folder (``dist``), its ``bundle/`` folder or the file."""
    target = Path(path)
    if target.is_dir():
        target = (
            target / "bundle.json"
            if (target / "bundle.json").is_file()
            else target / "bundle" / "bundle.json"
        )
    try:
        payload = json.loads(target.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AtomicError(
            f"cannot read bundle {target.as_posix()}: {exc.strerror or exc}"
        ) from None
    except ValueError as exc:
        raise AtomicError(f"bundle {target.as_posix()} is not valid JSON: {exc}") from None
    library = library_from_payload(payload, target.parent)
    date = dt.date.fromisoformat(payload["date"]) if payload.get("date") else None
    return Bundle(library, date)


__all__ = ["Bundle", "bundle_payload", "load_bundle"]
