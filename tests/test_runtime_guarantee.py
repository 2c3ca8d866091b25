"""The runtime guarantee, as a property: every message any entry point returns is a build variant
with the tokens filled in.

For every demo customer and for 1 000 generated customers (seeded, so a failure reproduces), the
variant is computed here *independently* from the documented rules (README, "Who gets which
message": the audience rule and the locale rule), and

* ``Bundle.render`` returns exactly that variant's template form from the build tree, rendered
  with the customer's tokens;
* ``atomic render`` (batch) returns the same parts for every record;
* ``preview`` and ``resolve`` (the library calls behind the CLI) name the same variant and
  produce the same parts, for the demo customers and a sample of the generated ones.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from atomic_content import evaluate
from atomic_content.api import customer_messages
from atomic_content.build import build
from atomic_content.bundle import Bundle, load_bundle
from atomic_content.channels.base import AssembledMessage
from atomic_content.manifest import Manifest
from atomic_content.plan import Holdout
from atomic_content.preview import preview
from atomic_content.privacy import SuppressedError
from atomic_content.records import RecordError
from atomic_content.render import render_message
from atomic_content.runtime import render_batch
from atomic_content.validate import load_library
from conftest import flat_keys

DEMO = Path(__file__).resolve().parent.parent / "content"
DAY = dt.date(2026, 12, 1)
GENERATED = 1_000


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Bundle, Manifest]:
    root = tmp_path_factory.mktemp("guarantee")
    content = root / "content"
    shutil.copytree(DEMO, content)
    out = root / "dist"
    result = build(content, out, on=DAY, until=DAY + dt.timedelta(days=30), jobs=1)
    assert result.manifest is not None
    return content, out, load_bundle(out), result.manifest


def generated_customers(count: int, seed: int = 20261130) -> Iterator[dict[str, Any]]:
    """Customers spread over every segment, locale, consent and journey-audience case."""
    rng = random.Random(seed)
    for number in range(count):
        record: dict[str, Any] = {
            "id": f"GEN-{number:05d}",
            "email": f"gen{number}@example.com",
            "locale": rng.choice(["en", "de", "de-AT", "fr", "de-CH"]),
            "tier": rng.choice(["bronze", "silver", "gold", "platinum"]),
            "orders": {"count": rng.choice([0, 1, 2, 5, 14])},
            "lifetime_value": rng.choice([0.0, 99.5, 612.4, 2380.5]),
            "app_installed": rng.random() < 0.5,
            "sessions_mobile_share": rng.choice([0.1, 0.5, 0.7, 0.95]),
            "discount_affinity": rng.choice([0.0, 0.3, 0.6, 0.9]),
            "last_active_days": rng.choice([1, 30, 59, 60, 145, 400]),
        }
        if rng.random() < 0.8:
            record["first_name"] = rng.choice(["Anna", "Jonas", "Zoë", "   "])
        if rng.random() < 0.7:
            record["address"] = {"country": rng.choice(["DE", "AT", "CH", "US", "FR"])}
        if rng.random() < 0.6:
            record["orders"]["last_date"] = rng.choice(["2026-05-30", "2026-11-01"])
        if rng.random() < 0.5:
            record["cart"] = {"items": rng.choice([0, 1, 3]), "top_item": "Fjell 3L Rain Shell"}
        record["consent"] = {
            "personalization": rng.random() < 0.8,
            "email_marketing": rng.random() < 0.85,
        }
        profiling = rng.random()
        if profiling < 0.6:
            record["consent"]["profiling"] = profiling < 0.4  # else missing: not given
        record["signup_date"] = rng.choice(["2026-11-25", "2021-09-02", "2024-03-15"])
        yield record


def condition_paths(condition: Any) -> set[str]:
    """Attribute paths a condition names (keys that are not operators), written out here so
    the expectation does not lean on the engine's own analysis."""
    found: set[str] = set()
    if isinstance(condition, dict):
        for key, value in condition.items():
            if key in ("$and", "$or", "$nor"):
                for item in value:
                    found |= condition_paths(item)
            elif key == "$not":
                found |= condition_paths(value)
            elif not key.startswith("$"):
                found.add(key)
    return found


def consent_view(
    content: Path, record: dict[str, Any]
) -> tuple[dict[str, Any], set[str], set[str]]:
    """(the record without the attributes its consents hide, withheld purposes, hidden
    attributes), by the documented consent rule: only ``true`` gives a purpose; an attribute
    needing a purpose not given is absent."""
    library, _ = load_library_cached(content)
    profile = library.profile
    consent = record.get("consent", {})
    withheld = {
        purpose
        for purpose, attribute in profile.consent_attributes.items()
        if consent.get(attribute.split(".", 1)[1]) is not True
    }
    hidden = {name for name in profile.attributes if profile.purposes_of(name) & withheld}
    view = json.loads(json.dumps(record))
    for name in hidden:
        *parents, leaf = name.split(".")
        node = view
        for part in parents:
            node = node.get(part, {})
        node.pop(leaf, None)
    return view, withheld, hidden


def expected_variant(
    content: Path, record: dict[str, Any], journey: str, step: str, channel: str
) -> str:
    """The variant id by the documented rules, computed without the engine's router."""
    library, _ = load_library_cached(content)
    assert library.settings is not None
    journey_model = library.journeys[journey]
    supported = journey_model.locales or list(library.settings.locales)
    locale = library.settings.default_locale
    wanted = record.get("locale")
    if isinstance(wanted, str):
        for code in library.locale_chain(wanted):
            if code in supported:
                locale = code
                break
    audience = "generic"
    view, _withheld, hidden = consent_view(content, record)
    if evaluate(journey_model.audience or {}, view):
        listed = (
            journey_model.segments if journey_model.segments is not None else list(library.segments)
        )
        ordered = sorted((library.segments[s] for s in listed), key=lambda s: (-s.priority, s.id))
        for segment in ordered:
            if condition_paths(segment.condition) & hidden:
                continue  # reads an attribute the customer's consent hides: not considered
            if evaluate(segment.condition, view):
                audience = segment.id
                break
    return f"{journey}/{step}/{channel}/{locale}/{audience}"


def expected_suppressed(content: Path, record: dict[str, Any], channel: str) -> bool:
    """Whether the channel's consent purpose is withheld (the message must not be sent)."""
    library, _ = load_library_cached(content)
    block = library.settings.channels.block(channel)
    purpose = getattr(block, "purpose", None)
    return purpose is not None and purpose in consent_view(content, record)[1]


_LIBRARIES: dict[Path, Any] = {}


def load_library_cached(content: Path) -> Any:
    if content not in _LIBRARIES:
        _LIBRARIES[content] = load_library(content)
    return _LIBRARIES[content]


def messages(content: Path) -> list[tuple[str, str, str]]:
    library, _ = load_library_cached(content)
    return [
        (journey.id, step.id, channel)
        for journey in sorted(library.journeys.values(), key=lambda j: j.id)
        for step in journey.steps
        for channel in sorted(step.channels)
    ]


def template_form(out: Path, manifest: Manifest, variant_id: str) -> AssembledMessage:
    """The variant's template form as the build wrote it (read from the output tree)."""
    entry = manifest.by_id[variant_id]
    return AssembledMessage.from_json(
        (out / "bundle" / "messages" / f"{entry.message}.json").read_bytes()
    )


def test_every_customer_gets_exactly_a_build_variant(
    built: tuple[Path, Path, Bundle, Manifest],
) -> None:
    content, out, bundle, manifest = built
    library, _ = load_library_cached(content)
    demo = [library.customers[c].attributes for c in sorted(library.customers)]
    records = [json.loads(json.dumps(r, default=str)) for r in demo] + list(
        generated_customers(GENERATED)
    )
    seen_audiences: set[str] = set()
    checked = suppressed = 0
    for record in records:
        for journey, step, channel in messages(content):
            variant_id = expected_variant(content, record, journey, step, channel)
            route = bundle.route(record, journey=journey, step=step, channel=channel, on=DAY)
            assert route.variant_id == variant_id, (record["id"], journey, step, channel)
            assert variant_id in manifest.by_id, "every routed variant was built"
            if expected_suppressed(content, record, channel):
                with pytest.raises(SuppressedError):
                    bundle.render(record, journey=journey, step=step, channel=channel, on=DAY)
                suppressed += 1
                checked += 1
                continue
            rendered = bundle.render(record, journey=journey, step=step, channel=channel, on=DAY)
            # The build's file of the template form: the bytes the build wrote and listed.
            entry = manifest.by_id[variant_id]
            for name, meta in entry.files.items():
                if name.startswith("template/"):
                    assert (out / meta.path).read_bytes().decode() in {
                        p.source for p in template_form(out, manifest, variant_id).parts
                    }
            # Rendered with the consent view: hidden attributes are absent for tokens too.
            expected = render_message(
                bundle.profile,
                template_form(out, manifest, variant_id),
                consent_view(content, record)[0],
            )
            assert rendered.parts == expected.parts
            seen_audiences.add(variant_id.rsplit("/", 1)[1])
            checked += 1
    assert checked == len(records) * len(messages(content))
    assert suppressed > 0, "the generator reaches customers without marketing-email consent"
    # The generator reaches every audience of the demo, so the property covers them all.
    assert seen_audiences >= {"generic", "vip", "dach", "deal-seeker", "lapsed", "mobile-first"}


def test_route_checks_the_record_as_render_does(
    built: tuple[Path, Path, Bundle, Manifest],
) -> None:
    """``Bundle.route`` says which variant ``Bundle.render`` sends: it reads the record as
    checked (dotted keys are the nested attributes) and refuses what render refuses."""
    content, _out, bundle, _manifest = built
    compared = 0
    for record in generated_customers(200, seed=7):
        flat = flat_keys(record)
        assert flat != record
        for journey, step, channel in messages(content):
            where = {"journey": journey, "step": step, "channel": channel, "on": DAY}
            route = bundle.route(flat, **where)
            assert route.variant_id == bundle.route(record, **where).variant_id
            try:
                rendered = bundle.render(flat, **where)
            except SuppressedError:
                continue
            nested = bundle.render(record, **where)
            assert not isinstance(rendered, Holdout) and not isinstance(nested, Holdout)
            assert rendered.parts == nested.parts
            compared += 1
    assert compared > 100
    where = {"journey": "welcome", "step": "day-0", "channel": "email", "on": DAY}
    for bad in ({"tier": 5}, {"consent": {"personalization": "yes"}}):
        record = {**next(generated_customers(1)), **bad}
        with pytest.raises(RecordError):
            bundle.route(record, **where)
        with pytest.raises(RecordError):
            bundle.render(record, **where)


def test_batch_render_gives_the_same_messages(
    built: tuple[Path, Path, Bundle, Manifest], tmp_path: Path
) -> None:
    content, _out, bundle, _manifest = built
    records = list(generated_customers(GENERATED, seed=7))
    source = tmp_path / "customers.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    for journey, step, channel in messages(content):
        target = tmp_path / f"{journey}-{step}-{channel}.jsonl"
        result = render_batch(
            bundle, source, journey=journey, step=step, channel=channel, out=target, on=DAY
        )
        assert result.total == len(records), "every record is accounted for exactly once"
        assert result.suppressed == sum(
            1
            for record in records
            if expected_suppressed(content, record, channel)
            and evaluate(
                load_library_cached(content)[0].journeys[journey].audience or {},
                consent_view(content, record)[0],
            )
        )
        lines = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
        assert len(lines) == result.rendered
        for line in lines:
            record = records[line["line"] - 1]
            assert line["variant"] == expected_variant(content, record, journey, step, channel)
            direct = bundle.render(record, journey=journey, step=step, channel=channel, on=DAY)
            assert line["parts"] == dict(sorted(direct.parts.items()))


def test_preview_and_resolve_give_the_build_variant(
    built: tuple[Path, Path, Bundle, Manifest], tmp_path: Path
) -> None:
    content, _out, bundle, _manifest = built
    library, _ = load_library_cached(content)
    sample = list(generated_customers(12, seed=99))
    refs: list[tuple[str, dict[str, Any]]] = [
        (cid, json.loads(json.dumps(library.customers[cid].attributes, default=str)))
        for cid in sorted(library.customers)
    ]
    for record in sample:
        path = tmp_path / f"{record['id'].lower()}.json"
        path.write_text(json.dumps({"attributes": record}), encoding="utf-8")
        refs.append((str(path), record))
    journeys = sorted(library.journeys)
    for ref, record in refs:
        for journey in journeys:
            results = preview(content, ref, journey, on=DAY)
            # resolve with --explain: the explanation must name the plan's winners.
            resolved = customer_messages(content, ref, journey, on=DAY, explain=True)
            for result, message in zip(results, resolved.messages, strict=True):
                key = result.resolution.key
                variant_id = expected_variant(content, record, journey, key.step, key.channel)
                assert result.variant_id == variant_id == message.variant.id
                assert message.resolution.atoms == message.variant.resolution.atoms
                if expected_suppressed(content, record, key.channel):
                    # preview shows it with a note; the runtime never renders it
                    assert result.suppressed
                    assert any(n.startswith("suppressed:") for n in result.resolution.notes)
                    with pytest.raises(SuppressedError):
                        bundle.render(
                            record, journey=journey, step=key.step, channel=key.channel, on=DAY
                        )
                    continue
                assert not result.suppressed
                direct = bundle.render(
                    record, journey=journey, step=key.step, channel=key.channel, on=DAY
                )
                assert result.rendered.parts == direct.parts


def expected_arm(record: dict[str, Any], key: str, weights: list[float]) -> str:
    """The experiment arm by GrowthBook's documented bucketing (hash v2 of key + id, bucket
    ranges from the weights; the helpers run GrowthBook's own vectors)."""
    from atomic_content.growthbook import choose_variation, gb_hash, get_bucket_range

    value = gb_hash(key, str(record["id"]), 2)
    assert value is not None
    index = choose_variation(value, get_bucket_range(len(weights), 1.0, weights))
    return ["control", "personalized", "holdout"][index]


def test_a_running_experiment_keeps_the_guarantee(tmp_path: Path) -> None:
    """The demo experiment, running: control gets the generic build variant, personalized the
    audience's, holdout nothing; every message returned is still a build variant."""
    from atomic_content.plan import Holdout

    content = tmp_path / "content"
    shutil.copytree(DEMO, content)
    path = content / "experiments" / "welcome-personalization.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("start: 2026-09-01", "start: 2026-11-01")
        .replace("end: 2026-10-31", "end: 2026-12-31")
        .replace("status: finished", "status: running"),
        encoding="utf-8",
    )
    out = tmp_path / "dist"
    manifest = build(content, out, on=DAY, jobs=1).manifest
    assert manifest is not None and [e.id for e in manifest.experiments] == [
        "welcome-personalization"
    ]
    bundle = load_bundle(out)
    library, _ = load_library(content)
    records = [
        json.loads(json.dumps(library.customers[c].attributes, default=str))
        for c in sorted(library.customers)
    ] + list(generated_customers(300, seed=5))
    arms: set[str] = set()
    for record in records:
        for journey, step, channel in messages(content):
            arm = (
                expected_arm(record, "welcome-personalization-2026", [0.45, 0.45, 0.1])
                if journey == "welcome"
                else None
            )
            if arm != "holdout" and expected_suppressed(content, record, channel):
                # no consent for the channel: never sent, whatever the arm
                with pytest.raises(SuppressedError):
                    bundle.render(record, journey=journey, step=step, channel=channel, on=DAY)
                continue
            routed = bundle.render(record, journey=journey, step=step, channel=channel, on=DAY)
            if arm == "holdout":
                assert isinstance(routed, Holdout)
                arms.add(arm)
                continue
            assert not isinstance(routed, Holdout)
            variant_id = expected_variant(content, record, journey, step, channel)
            if arm == "control":
                variant_id = variant_id.rsplit("/", 1)[0] + "/generic"
            assert variant_id in manifest.by_id, "every routed variant was built"
            expected = render_message(
                bundle.profile,
                template_form(out, manifest, variant_id),
                consent_view(content, record)[0],
            )
            assert routed.parts == expected.parts, (record["id"], journey, step, channel, arm)
            arms.add(arm or "none")
    assert arms == {"control", "personalized", "holdout", "none"}
