"""The runtime's shortcuts answer what the general path answers.

``Bundle.render`` takes three shortcuts on the hot path, each held equal here to the general
path it replaces:

* parts without a customer token are rendered once per variant (``render._constant_parts``);
  every part of every demo variant, for generated customers, must be what rendering the part's
  template with the customer's context gives, and the message fields what the dataclass's own
  constructor makes;
* a variant whose parts are all constant has its send-time limit errors measured once
  (``Bundle._warm``); with limits tight enough that many messages fail, ``Bundle.render``
  must refuse exactly the messages ``send_limits`` refuses, on the first render and on later
  ones;
* the audience rule remembers its answers by the values the conditions read
  (``segments._AudienceMemo``); on conditions that tell apart values Python finds equal
  (``True`` and ``1``, ``0`` and ``False``), the remembered answer must be the evaluated one.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from pathlib import Path
from typing import Any

import pytest

from atomic_content.bundle import Bundle
from atomic_content.channels import get_renderer
from atomic_content.channels.base import RenderedMessage
from atomic_content.errors import AtomicError, RenderError, Severity
from atomic_content.models import Journey, Segment
from atomic_content.plan import Route
from atomic_content.privacy import only
from atomic_content.records import check_record
from atomic_content.render import declared_attributes, render_message
from atomic_content.segments import SegmentIndex
from atomic_content.tokens import TokenEnvironment, build_customer_context
from test_runtime_guarantee import generated_customers, messages
from test_send_limits import DAY, demo_build, tight

__all__ = ["demo_build"]  # the fixture, imported for its use here


def general_parts(bundle: Bundle, variant_id: str, record: dict[str, Any]) -> dict[str, str]:
    """Every part rendered by its template with the customer's context: no shortcut."""
    assembled = bundle.message(variant_id)
    customer = build_customer_context(record, declared_attributes(bundle.profile))
    context: dict[str, Any] = {
        "customer": customer,
        "brand": assembled.brand,
        "slots": assembled.slot_data,
    }
    done: dict[str, str] = {}
    for part in assembled.parts:
        slots = dict(assembled.slot_data)
        for path, name in part.embeds:
            head, _, tail = path.partition(".")
            slots[head] = {**slots.get(head, {}), tail: done[name]} if tail else done[name]
        env = TokenEnvironment(locale=assembled.key.locale, mode=part.mode, max_output_chars=10**6)
        done[part.name] = env.compile(part.source).render({**context, "slots": slots})
    return done


def test_constant_parts_render_as_their_templates_do(demo_build: tuple[Path, Bundle]) -> None:
    _content, bundle = demo_build
    records = [check_record(r, bundle.profile) for r in generated_customers(40, seed=5)]
    with_tokens = without_tokens = 0
    for variant_id in sorted(bundle.variants):
        assembled = bundle.message(variant_id)
        tokens = any("customer" in part.source for part in assembled.parts)
        with_tokens += tokens
        without_tokens += not tokens
        for record in records:
            try:
                expected = general_parts(bundle, variant_id, record)
            except RenderError:
                continue
            rendered = render_message(bundle.profile, assembled, record, customer_id="c")
            assert rendered.parts == expected, variant_id
            assert list(rendered.parts) == [p.name for p in assembled.parts]
            assert rendered == RenderedMessage(
                key=assembled.key,
                customer_id="c",
                parts=expected,
                layout=assembled.layout,
                audience_label=assembled.audience_label,
                atoms=assembled.atoms,
                media_types={p.name: p.media_type for p in assembled.parts},
                filenames={p.name: p.filename for p in assembled.parts},
                brand_name=assembled.brand["name"],
                recipient=record["email"],
                sender=rendered.sender,
            )
    assert with_tokens > 10 and without_tokens > 10  # both kinds were compared


def test_the_message_is_what_the_dataclass_makes(demo_build: tuple[Path, Bundle]) -> None:
    content, bundle = demo_build
    seen = 0
    for record in itertools.islice(generated_customers(60, seed=8), 60):
        for journey, step, channel in messages(content):
            try:
                message = bundle.render(record, journey=journey, step=step, channel=channel, on=DAY)
            except AtomicError:
                continue
            if not isinstance(message, RenderedMessage):
                continue
            made = RenderedMessage(
                **{f.name: getattr(message, f.name) for f in dataclasses.fields(RenderedMessage)}
            )
            assert message == made
            assert list(vars(message)) == list(vars(made))
            seen += 1
    assert seen > 100


def test_send_limits_measured_once_refuse_what_they_refused(
    demo_build: tuple[Path, Bundle],
) -> None:
    content, bundle = demo_build
    strict_settings = tight(bundle.settings)
    router = bundle.router
    strict = Bundle(
        bundle.root,
        strict_settings,
        bundle.profile,
        router.index.segments,
        router.journeys,
        router.table,
        bundle.variants,
        router.experiments,
        bundle.attributes,
    )
    refused = rendered = 0
    for record in generated_customers(120, seed=3):
        for journey, step, channel in messages(content):
            where = {"journey": journey, "step": step, "channel": channel, "on": DAY}
            try:
                message = bundle.render(record, **where)
            except AtomicError:
                continue
            if not isinstance(message, RenderedMessage):
                continue
            errors = [
                p
                for p in get_renderer(channel).send_limits(message, strict_settings)
                if p.severity is Severity.ERROR
            ]
            for _ in range(2):  # the first render measures, the next ones may remember
                if errors:
                    with pytest.raises(RenderError) as caught:
                        strict.render(record, **where)
                    assert caught.value.code == errors[0].code
                    refused += 1
                else:
                    assert strict.render(record, **where) == message
                    rendered += 1
    assert refused > 50 and rendered > 50


def test_bundle_render_is_the_route_rendered_without_shortcuts(
    demo_build: tuple[Path, Bundle],
) -> None:
    content, bundle = demo_build
    seen: set[bool] = set()
    for record in generated_customers(40, seed=13):
        checked = check_record(record, bundle.profile)
        for journey, step, channel in messages(content):
            where = {"journey": journey, "step": step, "channel": channel, "on": DAY}
            try:
                message = bundle.render(record, **where)
            except AtomicError:
                continue
            route = bundle.route(checked, **where)
            if not isinstance(message, RenderedMessage) or not isinstance(route, Route):
                continue
            assembled = bundle.message(route.variant_id)
            given = bundle._given(route.message, assembled, route.hidden)
            view = only(checked, given)
            assert message.parts == general_parts(bundle, route.variant_id, view)
            # The whole message, recipient included, is the one rendered from the record
            # restricted to what the variant is given (the record is passed as it is when
            # that gives the same, see Bundle._warm).
            expected = render_message(
                bundle.profile, assembled, view, customer_id=route.audience.customer_id
            )
            assert message == expected
            seen.add(any("customer" in part.source for part in assembled.parts))
    # Variants with and without customer tokens (the record is passed as it is for both).
    assert seen == {True, False}


# --------------------------------------------------------------------------- audience memo

TYPED = [True, False, 1, 0, 1.0, 0.0, -0.0, 2.5, "1", "true", "", None, [1], {"x": 1}]


def test_remembered_audiences_are_the_evaluated_ones() -> None:
    segments = {
        "flag": Segment(
            id="flag", name="a boolean", priority=9, condition={"v": {"$type": "boolean"}}
        ),
        "null": Segment(id="null", name="null v", priority=8, condition={"v": {"$type": "null"}}),
        "zero": Segment(id="zero", name="zero", priority=7, condition={"v": {"$in": [0, "1"]}}),
        "text": Segment(
            id="text", name="a string", priority=6, condition={"v": {"$type": "string"}}
        ),
        "deep": Segment(
            id="deep", name="deep", priority=5, condition={"w.x": {"$gt": 0}, "v": {"$ne": 0}}
        ),
        "list": Segment(id="list", name="a list", priority=4, condition={"v": {"$size": 1}}),
    }
    journey = Journey.model_validate(
        {"id": "j", "name": "J", "steps": [{"id": "s", "channels": {"email": "standard"}}]}
    )
    index = SegmentIndex(segments, None)
    rule = index.rule(journey)
    rng = random.Random(4)
    values: list[Any] = [*TYPED, "absent"]
    records = []
    for _ in range(400):
        record: dict[str, Any] = {}
        v = rng.choice(values)
        if v != "absent":
            record["v"] = v
        w = rng.choice([{"x": 1}, {"x": 0}, {"x": True}, None, "absent", 3, {"y": 1}])
        if w != "absent":
            record["w"] = w
        records.append(record)
    answers = set()
    for record in records * 2:  # the second pass answers from the memo where it can
        expected = index.audience(record, journey).id
        assert rule.audience_id(record, frozenset()) == expected, record
        answers.add(expected)
    assert answers >= {"flag", "null", "zero", "text", "deep", "list", "generic"}
