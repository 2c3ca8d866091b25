"""The hot path of routing agrees with the explained one.

``Bundle.render`` routes with :meth:`Router.select` (a compiled audience rule, the consent state
per consent combination, no explanation objects); preview, resolve and batch rendering use
:meth:`Router.route`. For the demo content, changed so that every branch of the fast path is
taken (an experiment that starts inside the build's range, a journey condition that reads an
attribute a missing consent hides), and 1 200 seeded generated customers, on days before and
while the experiment runs, with and without a locale override, the two must give the same
variant, message, hidden attributes, suppression and customer id, and ``select`` must give up
(None) exactly where ``route`` answers with a holdout or raises. ``Bundle.render`` must return
what rendering the explained route returns.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atomic_content.bundle import Bundle, load_bundle
from atomic_content.errors import UsageError
from atomic_content.models import Profile
from atomic_content.plan import Holdout, Route, Router
from atomic_content.privacy import SuppressedError
from atomic_content.records import check_record
from atomic_content.segments import SegmentIndex

DEMO = Path(__file__).resolve().parent.parent / "content"
START = dt.date(2026, 11, 22)
DAYS = (START, dt.date(2026, 11, 24), dt.date(2026, 12, 1), dt.date(2026, 12, 21))
COUNT = 1_200


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    from atomic_content.build import build

    root = tmp_path_factory.mktemp("select")
    content = root / "content"
    shutil.copytree(DEMO, content)
    experiment = content / "experiments" / "welcome-personalization.yaml"
    experiment.write_text(
        experiment.read_text(encoding="utf-8")
        .replace("start: 2026-09-01", "start: 2026-11-25")
        .replace("end: 2026-10-31", "end: 2026-12-20")
        .replace("status: finished", "status: running"),
        encoding="utf-8",
    )
    # discount_affinity needs the profiling consent too: without it the journey condition is
    # read on the record without that attribute (and fails), while its segments still count.
    winback = content / "journeys" / "winback.yaml"
    text = winback.read_text(encoding="utf-8")
    assert "    - orders.count: {$gte: 1}\n" in text
    winback.write_text(
        text.replace(
            "    - orders.count: {$gte: 1}\n",
            "    - orders.count: {$gte: 1}\n    - discount_affinity: {$lt: 0.95}\n",
        ),
        encoding="utf-8",
    )
    result = build(content, root / "dist", on=START, until=START + dt.timedelta(days=29), jobs=1)
    assert result.manifest is not None
    return load_bundle(root / "dist")


def customers(count: int, seed: int = 20261122) -> Iterator[dict[str, Any]]:
    """Records over every segment, journey condition, locale and consent combination; optional
    attributes present, missing or null."""
    rng = random.Random(seed)
    for number in range(count):
        record: dict[str, Any] = {
            "id": rng.choice([f"C-{number}", str(number), f"NW-{number:06d}"]),
            "email": f"c{number}@example.com",
            "locale": rng.choice(["en", "de", "de-AT", "fr", "fr-FR", "de-CH", "it", ""]),
            "tier": rng.choice(["none", "silver", "gold", "platinum"]),
            "orders": {"count": rng.choice([0, 1, 2, 14])},
            "lifetime_value": rng.choice([0.0, 99.5, 2380.5]),
            "app_installed": rng.random() < 0.5,
            "sessions_mobile_share": rng.choice([0.1, 0.7, 0.95]),
            "discount_affinity": rng.choice([0.0, 0.6, 0.9, 0.97]),
            "last_active_days": rng.choice([1, 59, 60, 90, 400]),
            "signup_date": rng.choice(["2026-11-25", "2026-09-01", "2021-09-02"]),
        }
        if rng.random() < 0.7:
            record["first_name"] = rng.choice(["Anna", "Zoë", None])
        if rng.random() < 0.6:
            record["address"] = {"country": rng.choice(["DE", "AT", "CH", "US"])}
            if rng.random() < 0.5:
                record["address"]["city"] = "Wien"
        if rng.random() < 0.5:
            record["orders"]["last_date"] = rng.choice(["2026-05-30", "2026-11-01", None])
        if rng.random() < 0.6:
            record["cart"] = {"items": rng.choice([0, 1, 3])}
            if rng.random() < 0.5:
                record["cart"]["top_item"] = "Fjell 3L Rain Shell"
        consent: dict[str, Any] = {}
        for purpose in ("personalization", "email_marketing", "profiling"):
            draw = rng.random()
            if draw < 0.7:
                consent[purpose] = True
            elif draw < 0.85:
                consent[purpose] = False
            elif purpose == "profiling":  # optional: missing means not given
                continue
            else:
                consent[purpose] = False
        record["consent"] = consent
        yield record


def _messages(router: Router) -> list[tuple[str, str, str]]:
    return [
        (journey.id, step.id, channel)
        for _, journey in sorted(router.journeys.items())
        for step in journey.steps
        for channel in sorted(step.channels)
    ]


def test_select_agrees_with_route(bundle: Bundle) -> None:
    router = bundle.router
    records = [check_record(r, bundle.profile) for r in customers(COUNT)]
    messages = _messages(router)
    rng = random.Random(7)
    seen = {"route": 0, "holdout": 0, "suppressed": 0, "control": 0, "hidden": 0, "segment": 0}
    for number, record in enumerate(records):
        journey, step, channel = messages[number % len(messages)]
        for day in DAYS:
            locale = rng.choice([None, None, "de", "fr-FR"])
            where = {"journey": journey, "step": step, "channel": channel, "on": day}
            route = router.route(record, **where, locale=locale)
            selected = router.select(record, **where, locale=locale)
            if isinstance(route, Holdout):
                assert selected is None
                seen["holdout"] += 1
                continue
            assert selected is not None, (record, where)
            assert (
                selected.variant_id,
                selected.message,
                selected.hidden,
                selected.suppressed,
                selected.customer_id,
            ) == (
                route.variant_id,
                route.message,
                route.hidden,
                route.suppressed,
                route.audience.customer_id,
            ), (record, where, locale)
            seen["route"] += 1
            seen["suppressed"] += bool(route.suppressed)
            seen["control"] += route.arm == "control"
            seen["hidden"] += bool(route.hidden)
            seen["segment"] += route.audience.segment is not None
    assert seen["route"] >= 1000
    # every branch was taken, so the agreement above means something
    assert all(count >= 20 for count in seen.values()), seen


def test_the_audience_rule_agrees_with_the_explained_audience(bundle: Bundle) -> None:
    """AudienceRule.audience_id (no copies, consent as blocked segments) against
    SegmentIndex.audience (a copy without the hidden attributes, every explanation)."""
    index = bundle.router.index
    audiences: set[str] = set()
    for raw in customers(COUNT, seed=3):
        record = check_record(raw, bundle.profile)
        state = index.consent_state(record)
        assert state == index.hidden(record)
        for journey in bundle.router.journeys.values():
            expected = index.audience(record, journey).id
            assert index.rule(journey).audience_id(record, state[1]) == expected, (record, journey)
            audiences.add(expected)
    assert audiences == {"generic", *index.segments}


def test_select_gives_up_where_route_raises(bundle: Bundle) -> None:
    router = bundle.router
    record = check_record(next(customers(1)), bundle.profile)
    where = {"journey": "welcome", "step": "day-0", "channel": "email"}
    outside = bundle.until + dt.timedelta(days=1)
    with pytest.raises(UsageError):
        router.route(record, **where, on=outside)
    assert router.select(record, **where, on=outside) is None
    for wrong in ({"journey": "nope"}, {"step": "nope"}, {"channel": "sms"}):
        with pytest.raises(UsageError):
            router.select(record, **{**where, **wrong}, on=START)


def test_bundle_render_is_the_explained_route_rendered(bundle: Bundle) -> None:
    """The whole call: the fast path's message equals rendering the explained route's."""
    router = bundle.router
    messages = _messages(router)
    compared = suppressed = 0
    for number, raw in enumerate(customers(400, seed=11)):
        journey, step, channel = messages[number % len(messages)]
        day = DAYS[number % len(DAYS)]
        where = {"journey": journey, "step": step, "channel": channel, "on": day}
        record = check_record(raw, bundle.profile)
        route = router.route(record, **where)
        try:
            fast = bundle.render(raw, **where)
        except SuppressedError as exc:
            assert isinstance(route, Route) and route.suppressed
            with pytest.raises(SuppressedError) as slow:
                bundle.render_route(route, record)
            assert str(exc) == str(slow.value)
            suppressed += 1
            continue
        if isinstance(route, Holdout):
            assert fast == route
            continue
        assert fast == bundle.render_route(route, record), (raw, where)
        compared += 1
    assert compared >= 200 and suppressed >= 10


_CONSENT_VALUES = st.sampled_from([True, False, None, "true", "false", 1, 0, [], {}])


def _consent_records(names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Records whose consent attributes (dotted ``names``) hold any kind of value, sit in
    dicts, in other mappings or in something else, or are missing."""
    leaf = st.dictionaries(st.sampled_from([n.split(".")[-1] for n in names]), _CONSENT_VALUES)
    holder = st.one_of(
        leaf,
        leaf.map(types.MappingProxyType),  # a mapping that is not a dict
        st.sampled_from([None, "yes", 1, ["consent"]]),
    )
    tops = sorted({n.split(".")[0] for n in names})
    return st.dictionaries(st.sampled_from([*tops, "other"]), st.one_of(holder, _CONSENT_VALUES))


@pytest.mark.parametrize(
    "consents",
    [
        {"consents": {"personalization": "consent.personalization", "email": "mail.ok"}},
        {"consent_attribute": "marketing_consent", "consents": {"profiling": "consent.prof"}},
        {"consent_attribute": "consent.legacy"},  # opt-out: only `false` withholds it
    ],
)
def test_the_generated_consent_mask_is_the_general_one(consents: dict[str, Any]) -> None:
    """The consent mask of the hot path is generated code for plain dicts; the general method
    answers every mapping. Both give the same mask for any record the generated code answers,
    and consent_state the same sets as hidden()."""
    paths = [*consents.get("consents", {}).values()]
    if "consent_attribute" in consents:
        paths.append(consents["consent_attribute"])
    profile = Profile.model_validate(
        {**consents, "attributes": {path: {"type": "boolean"} for path in paths}}
    )
    index = SegmentIndex({}, profile)
    answered = 0

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_consent_records(paths))
    def check(record: dict[str, Any]) -> None:
        nonlocal answered
        fast = index._consent_mask(record)
        if fast is not None:
            answered += 1
            assert fast == index.consent_mask(record), record
        assert index.consent_state(record) == index.hidden(record), record

    check()
    assert answered >= 100  # the generated code answered most of them
