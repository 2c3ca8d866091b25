"""The runtime bundle: render one customer fast, from what the build rendered, without YAML.

``atomic build`` writes ``bundle/bundle.json`` — the settings, profile, segments and journeys
the router needs, the plan's routing table (message × audience → variants by date) and, per
variant, the content hash of its template form — and ``bundle/messages/<hash>.json``, the
template forms themselves. :meth:`Bundle.render` then does only

1. the one customer-record check (:func:`atomic_content.records.check_record`);
2. routing (:meth:`~atomic_content.plan.Router.select`, the explanation-free form of
   :meth:`~atomic_content.plan.Router.route`): consent hides the attributes whose purpose
   the customer did not give, the audience rule picks one segment (stopping at the first
   match), the locale rule the journey locale, the send date the period; a channel whose
   purpose the customer did not give suppresses the message (:class:`SuppressedError`);
3. token rendering of that variant's template form (loaded and compiled once, then cached),
   given only the attributes the message reads (:meth:`Bundle.required_attributes`, data
   minimisation) minus those the consent hides, and of those only the ones the variant's
   tokens can reach (plus the id and the email address);
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

from .channels import get_renderer, send_hint
from .channels.base import AssembledMessage, LimitProblem, RenderedMessage
from .errors import AtomicError, RenderError, Severity
from .hashing import canonical_json
from .models import Experiment, Journey, Profile, Segment, Settings
from .plan import Holdout, Plan, Route, RouteMemo, Router, RoutingTable
from .privacy import SuppressedError, only, plan_attributes, source_attributes
from .records import check_record
from .render import constant_rendering, context_attributes, render_message
from .repository import Library
from .resolver import MessageKey

BUNDLE_VERSION = 2


def bundle_files(
    library: Library,
    plan: Plan,
    variant_messages: Mapping[str, str],
    messages: Mapping[str, bytes],
    routes: RouteMemo | None = None,
) -> dict[str, bytes]:
    """The bundle's files (path below the build root -> bytes), deterministic.

    ``variant_messages`` maps variant id -> template-form hash, ``messages`` hash -> JSON.
    ``routes``: a build session's memo of the routing table's encoded messages (see
    :meth:`~atomic_content.plan.Plan.encoded_routing`).
    """
    assert library.settings is not None and library.profile is not None
    from . import __version__

    index: dict[str, Any] = {
        "bundle_version": BUNDLE_VERSION,
        "engine": __version__,
        "settings": library.settings.model_dump(mode="json"),
        "profile": library.profile.model_dump(mode="json"),
        "segments": [s.model_dump(mode="json") for _, s in sorted(library.segments.items())],
        "journeys": [j.model_dump(mode="json") for _, j in sorted(library.journeys.items())],
        "variants": dict(sorted(variant_messages.items())),
        "experiments": [e.model_dump(mode="json") for e in plan.experiments],
        "attributes": {k: list(v) for k, v in plan_attributes(library, plan).items()},
    }
    # canonical_json(index) with the routing table in it, which is encoded by message:
    # canonical JSON is each value's canonical JSON under the keys in order.
    encoded = {key: canonical_json(value) for key, value in index.items()}
    encoded["routing"] = plan.encoded_routing(routes)
    body = b",".join(canonical_json(key) + b":" + encoded[key] for key in sorted(encoded))
    files = {"bundle/bundle.json": b"{" + body + b"}"}
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
        attributes: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.root = root
        self.attributes = {k: tuple(v) for k, v in (attributes or {}).items()}
        self.settings = settings
        self.profile = profile
        self.router = Router(settings, profile, segments, journeys, routing, experiments)
        self.variants = dict(variants)
        self._messages: dict[str, AssembledMessage] = {}
        # (variant id, hidden attributes) -> what _warm prepares for rendering it
        self._hot: dict[tuple[str, frozenset[str]], _Hot] = {}
        self._lock = threading.Lock()

    @property
    def start(self) -> dt.date:
        """The first send date the bundle covers."""
        return self.router.table.start

    @property
    def until(self) -> dt.date:
        """The last send date the bundle covers."""
        return self.router.table.until

    def required_attributes(self, journey: str, step: str, channel: str) -> tuple[str, ...]:
        """Exactly the attributes the message reads, sorted (data minimisation): the id and
        locale, the journey's audience condition, the conditions of its segments, the tokens
        of all its variants and the consents those and the channel need. A sending system
        exports these columns and no others. UsageError for unknown ids."""
        self.router.message(journey, step, channel, None)
        return self.attributes.get(f"{journey}/{step}/{channel}", ())

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

    def _given(
        self, message: MessageKey, assembled: AssembledMessage, hidden: frozenset[str]
    ) -> tuple[str, ...]:
        """The attributes rendering one variant is given: the message's (data minimisation)
        without those the consent hides, and of those only what the variant itself can use —
        what its tokens read (a group and its fields alike), the id and the email address
        (the recipient). The others could not change the rendered message, so they are not
        copied for every customer."""
        required = self.required_attributes(message.journey, message.step, message.channel)
        declared = list(self.profile.attributes)
        read: set[str] = {self.profile.id_attribute}
        if self.profile.email_attribute is not None:
            read.add(self.profile.email_attribute)
        for part in assembled.parts:
            read |= source_attributes(part.source, declared)
        return tuple(
            name
            for name in required
            if name not in hidden
            and any(
                name == used or name.startswith(used + ".") or used.startswith(name + ".")
                for used in read
            )
        )

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
        """Which variant ``customer`` gets (see :meth:`render`), without rendering it: the
        record is checked as :meth:`render` checks it (RecordError for one the profile refuses;
        dotted keys are the nested attributes), so the two always agree."""
        record = check_record(customer, self.profile, where="record")
        return self.router.route(
            record,
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
        that is not a boolean ...), UsageError for unknown ids, SuppressedError when the
        customer did not give the consent the channel needs to send, RenderError for customer
        data that cannot be rendered safely or a message over a hard channel limit.
        """
        record = check_record(customer, self.profile, where="record")
        day = on or dt.date.today()
        selected = self.router.select(
            record, journey=journey, step=step, channel=channel, on=day, locale=locale
        )
        if selected is None:  # a holdout arm, or an error only the full route explains
            route = self.router.route(
                record, journey=journey, step=step, channel=channel, on=day, locale=locale
            )
            if isinstance(route, Holdout):
                return route
            return self.render_route(route, record)
        if selected.suppressed:
            raise SuppressedError(channel, selected.suppressed, selected.customer_id)
        return self._render(
            selected.message, selected.variant_id, selected.hidden, record, selected.customer_id
        )

    def render_route(self, route: Route, record: Mapping[str, Any]) -> RenderedMessage:
        """Render the routed variant for an already checked record, and check hard limits.

        Raises SuppressedError when the route is suppressed (no consent for the channel);
        renders with only the message's attributes, without those the consent hides.
        """
        message = route.message
        if route.suppressed:
            raise SuppressedError(message.channel, route.suppressed, route.audience.customer_id)
        return self._render(
            message, route.variant_id, route.hidden, record, route.audience.customer_id
        )

    def _render(
        self,
        message: MessageKey,
        variant_id: str,
        hidden: frozenset[str],
        record: Mapping[str, Any],
        customer_id: str | None,
    ) -> RenderedMessage:
        """Render a variant with the message's attributes minus ``hidden``; check hard limits."""
        hot = self._hot.get((variant_id, hidden))
        if hot is None:
            hot = self._warm(message, variant_id, hidden)
        assembled, visible, limits, recipient = hot
        view = record if visible is None else only(record, visible)
        rendered = render_message(
            self.profile, assembled, view, customer_id=customer_id, recipient=recipient
        )
        problems = limits if limits is not None else self._send_limits(message, rendered)
        for problem in problems:
            raise RenderError(
                problem.code,
                f"{problem.message} for this customer",
                customer_id=rendered.customer_id,
                hint=send_hint(problem.code),
            )
        return rendered

    def _warm(self, message: MessageKey, variant_id: str, hidden: frozenset[str]) -> _Hot:
        """What rendering one variant for one consent state needs, made on its first render:
        its template form, the attributes it is given, whether it has a recipient, and, when
        no part of it reads the customer (:func:`~atomic_content.render.constant_rendering`),
        its send-time limit errors, measured once: the parts are then the same for every
        customer, and :meth:`~atomic_content.channels.base.ChannelRenderer.send_limits` reads
        only the parts and the settings. Otherwise None: they are measured per customer.

        The message is rendered from the record restricted to the attributes it is given
        (:meth:`_given`: the consent's and data minimisation's rule), the id it reads from the
        selection. When every attribute the parts read
        (:func:`~atomic_content.render.context_attributes`) is given whole or inside a given
        group, the record itself gives the same parts, so it is passed as it is (None: not
        copied for every customer); the address then counts only if it is given."""
        assembled = self.message(variant_id)
        given: tuple[str, ...] | None = self._given(message, assembled, hidden)
        assert given is not None
        limits: tuple[LimitProblem, ...] | None = None
        sample = constant_rendering(self.profile, assembled)
        if sample is not None:
            limits = tuple(self._send_limits(message, sample))
        email = self.profile.email_attribute
        recipient = email is not None and _within(email, given)
        if all(_within(path, given) for path in context_attributes(self.profile, assembled)):
            given = None
        hot = (assembled, given, limits, recipient)
        with self._lock:
            self._hot[(variant_id, hidden)] = hot
        return hot

    def _send_limits(self, message: MessageKey, rendered: RenderedMessage) -> list[LimitProblem]:
        """The channel's hard-limit errors of a rendered message (errors only, by the contract
        of ``send_limits``)."""
        problems = get_renderer(message.channel).send_limits(rendered, self.settings)
        return [p for p in problems if p.severity is Severity.ERROR]


_Hot = tuple[AssembledMessage, tuple[str, ...] | None, tuple[LimitProblem, ...] | None, bool]
"""(template form, attributes given or None for the record as it is, send-limit errors when
the same for everyone, whether the recipient's address is given): see :meth:`Bundle._warm`."""


def _within(path: str, given: tuple[str, ...]) -> bool:
    """Whether ``path`` is one of ``given`` or inside one of them (a field of a given group)."""
    return any(path == name or path.startswith(name + ".") for name in given)


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
            {key: tuple(value) for key, value in payload["attributes"].items()},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"bundle {target.as_posix()} is damaged ({exc}); rebuild") from None


__all__ = [
    "Bundle",
    "BundleError",
    "Holdout",
    "SuppressedError",
    "bundle_files",
    "load_bundle",
    "message_path",
]
