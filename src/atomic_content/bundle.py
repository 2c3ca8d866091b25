"""The runtime bundle: render one customer fast, from what the build rendered, without YAML.

``atomic build`` writes ``bundle/bundle.json`` — the settings, profile, segments and journeys
the router needs, the plan's routing table (message × audience → variants by date) and, per
variant, the content hash of its template form — and ``bundle/messages/<hash>.json``, the
template forms themselves. :meth:`Bundle.render` then does only

1. the one customer-record check (:func:`atomic_content.records.check_record`);
2. routing (:class:`~atomic_content.plan.Router`): the audience rule picks one segment (stopping
   at the first match), the locale rule the journey locale, the send date the period;
3. token rendering of that variant's template form (loaded and compiled once, then cached);
4. the channel's hard limits measured on the customer's message.

Experiments running during the build's range travel in ``bundle.json`` too: a customer in the
holdout arm gets a :class:`~atomic_content.plan.Holdout` (no message) instead of a message.

Nothing resolves here: every message the runtime returns is a build variant with the tokens
filled in (the README's runtime guarantee).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .channels import get_renderer
from .channels.base import AssembledMessage, RenderedMessage
from .errors import AtomicError, RenderError, Severity
from .experiments import hash_attribute
from .manifest import canonical_json
from .models import Experiment, Journey, Profile, Segment, Settings
from .plan import Holdout, Plan, Route, Router, RoutingTable
from .records import check_record
from .render import message_attributes, render_message
from .repository import Library

BUNDLE_VERSION = 2


def bundle_files(
    library: Library,
    plan: Plan,
    variant_messages: Mapping[str, str],
    messages: Mapping[str, bytes],
) -> dict[str, bytes]:
    """The bundle's files (path below the build root -> bytes), deterministic.

    ``variant_messages`` maps variant id -> template-form hash, ``messages`` hash -> JSON.
    """
    assert library.settings is not None and library.profile is not None
    from . import __version__

    index = {
        "bundle_version": BUNDLE_VERSION,
        "engine": __version__,
        "settings": library.settings.model_dump(mode="json"),
        "profile": library.profile.model_dump(mode="json"),
        "segments": [s.model_dump(mode="json") for _, s in sorted(library.segments.items())],
        "journeys": [j.model_dump(mode="json") for _, j in sorted(library.journeys.items())],
        "routing": plan.routing.to_json(),
        "variants": dict(sorted(variant_messages.items())),
        "experiments": [e.model_dump(mode="json") for e in plan.experiments],
    }
    files = {"bundle/bundle.json": canonical_json(index)}
    for digest, data in sorted(messages.items()):
        files[message_path(digest)] = data
    return files


def message_path(digest: str) -> str:
    """Where a template form lives below the build root: it is named by its content hash."""
    return f"bundle/messages/{digest}.json"


class BundleError(AtomicError):
    """A bundle that cannot be read (missing, damaged, or from another version)."""


class Bundle:
    """A loaded runtime bundle. Thread-safe for rendering; load once per process."""

    def __init__(
        self,
        root: Path,
        settings: Settings,
        profile: Profile,
        segments: Mapping[str, Segment],
        journeys: Mapping[str, Journey],
        routing: RoutingTable,
        variants: Mapping[str, str],
        experiments: tuple[Experiment, ...] = (),
    ) -> None:
        self.root = root
        self.settings = settings
        self.profile = profile
        self.router = Router(settings, profile, segments, journeys, routing, experiments)
        self.variants = dict(variants)
        self._messages: dict[str, AssembledMessage] = {}
        self._lock = threading.Lock()

    @property
    def start(self) -> dt.date:
        """The first send date the bundle covers."""
        return self.router.table.start

    @property
    def until(self) -> dt.date:
        """The last send date the bundle covers."""
        return self.router.table.until

    def message(self, variant_id: str) -> AssembledMessage:
        """The template form of a variant (read from ``messages/`` once, then cached)."""
        found = self._messages.get(variant_id)
        if found is None:
            digest = self.variants.get(variant_id)
            if digest is None:
                raise BundleError(f"the bundle has no variant {variant_id!r}")
            path = self.root / "messages" / f"{digest}.json"
            try:
                found = AssembledMessage.from_json(path.read_bytes())
            except OSError as exc:
                raise BundleError(f"cannot read {path.as_posix()}: {exc.strerror or exc}") from None
            except (ValueError, KeyError, TypeError):
                raise BundleError(f"{path.as_posix()} is damaged; rebuild") from None
            with self._lock:
                self._messages[variant_id] = found
        return found

    def variant_ids(self, journey: str, step: str, channel: str) -> tuple[str, ...]:
        """Every variant of one message (all locales, audiences and periods), sorted.

        UsageError for an unknown journey, step or channel."""
        self.router.message(journey, step, channel, None)
        return tuple(
            sorted(
                {
                    period.variant_id
                    for key, periods in self.router.table.periods.items()
                    if key[:3] == (journey, step, channel)
                    for period in periods
                }
            )
        )

    def required_attributes(self, journey: str, step: str, channel: str) -> frozenset[str]:
        """The declared attributes a customer record needs for this message: the id, locale
        and consent attributes, every attribute the journey's audience condition and segment
        conditions test, the attribute an experiment covering the step hashes into arms, and
        every attribute the tokens of its variants read.

        What a columnar reader (Parquet, Spark) reads of a customer table; nothing else of the
        record can change the message. UsageError for an unknown journey, step or channel.
        """
        declared = frozenset(self.profile.attributes)
        variants = self.variant_ids(journey, step, channel)
        the_journey = self.router.journeys[journey]
        index = self.router.index
        conditions: list[Any] = [the_journey.audience or {}]
        conditions += [index.segments[s].condition for s in index.journey_segments(the_journey)]
        needed = {
            self.profile.id_attribute,
            self.profile.locale_attribute,
            self.profile.consent_attribute,
        }
        for name in _condition_names(conditions):
            needed |= {
                a
                for a in declared
                if a == name or a.startswith(name + ".") or name.startswith(a + ".")
            }
        for experiment in self.router.experiments:
            if experiment.covers(journey, step):
                needed.add(hash_attribute(experiment, self.profile))
        for variant_id in variants:
            needed |= message_attributes(self.profile, self.message(variant_id))
        return frozenset(a for a in needed if a in declared)

    def route(
        self,
        customer: Mapping[str, Any],
        *,
        journey: str,
        step: str,
        channel: str,
        locale: str | None = None,
        on: dt.date | None = None,
    ) -> Route | Holdout:
        """Which variant ``customer`` gets (see :meth:`render`), without rendering it."""
        return self.router.route(
            customer,
            journey=journey,
            step=step,
            channel=channel,
            on=on or dt.date.today(),
            locale=locale,
        )

    def render(
        self,
        customer: Mapping[str, Any],
        *,
        journey: str,
        step: str,
        channel: str,
        locale: str | None = None,
        on: dt.date | None = None,
    ) -> RenderedMessage | Holdout:
        """Render one message for one customer record; a :class:`~atomic_content.plan.Holdout`
        when the customer is in the holdout arm of an experiment (no message is sent).

        ``on`` is the send date (default: today); a date outside the bundle's range is a
        UsageError. Raises RecordError for a record the profile refuses (wrong type, consent
        that is not a boolean ...), UsageError for unknown ids, RenderError for customer data
        that cannot be rendered safely or a message over a hard channel limit.
        """
        record = check_record(customer, self.profile, where="record")
        route = self.route(
            record, journey=journey, step=step, channel=channel, locale=locale, on=on
        )
        if isinstance(route, Holdout):
            return route
        return self.render_route(route, record)

    def render_route(self, route: Route, record: Mapping[str, Any]) -> RenderedMessage:
        """Render the routed variant for an already checked record, and check hard limits."""
        rendered = render_message(self.profile, self.message(route.variant_id), record)
        for problem in get_renderer(route.message.channel).send_limits(rendered, self.settings):
            if problem.severity is Severity.ERROR:  # always, by send_limits' contract
                raise RenderError(
                    problem.code,
                    f"{problem.message} for this customer",
                    customer_id=rendered.customer_id,
                    hint="the customer's values make the message too long; shorten the atoms "
                    "or give the tokens a shorter form",
                )
        return rendered


def _condition_names(node: Any) -> set[str]:
    """Every text key and value in a condition tree: a superset of the attribute paths it
    tests (filtered against the profile by the caller), so no operator is ever missed."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            found.update(k for k in item if isinstance(k, str))
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, str):
            found.add(item)
    return found


def load_bundle(path: Path | str) -> Bundle:
    """Load a bundle from a build folder (``dist``), its ``bundle/`` folder or ``bundle.json``.

    Raises BundleError for a missing, damaged or incompatible bundle.
    """
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
        raise BundleError(
            f"cannot read bundle {target.as_posix()}: {exc.strerror or exc}"
        ) from None
    except ValueError as exc:
        raise BundleError(f"bundle {target.as_posix()} is not valid JSON: {exc}") from None
    if not isinstance(payload, dict) or payload.get("bundle_version") != BUNDLE_VERSION:
        version = payload.get("bundle_version") if isinstance(payload, dict) else None
        raise BundleError(
            f"bundle version {version!r} is not supported (expected {BUNDLE_VERSION}); "
            "rebuild with this version of atomic-content"
        )
    try:
        return Bundle(
            target.parent,
            Settings.model_validate(payload["settings"]),
            Profile.model_validate(payload["profile"]),
            {s["id"]: Segment.model_validate(s) for s in payload["segments"]},
            {j["id"]: Journey.model_validate(j) for j in payload["journeys"]},
            RoutingTable.from_json(payload["routing"]),
            payload["variants"],
            tuple(Experiment.model_validate(e) for e in payload.get("experiments", [])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"bundle {target.as_posix()} is damaged ({exc}); rebuild") from None


__all__ = ["Bundle", "BundleError", "Holdout", "bundle_files", "load_bundle", "message_path"]
