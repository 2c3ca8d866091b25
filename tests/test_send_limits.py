"""The runtime's per-customer limit check (``send_limits``) says exactly what the build's
``check_limits`` says in errors, on every demo message, for generous and for tight limits.

The runtime trusts ``send_limits`` to stop a message that a customer's values push over a hard
limit; the build measured the rest. If a channel's fast check missed an error, a message over
a hard limit would be sent, so the two are compared on real rendered messages, with limits
tight enough that many of them fail.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from atomic_content.build import build
from atomic_content.bundle import Bundle, load_bundle
from atomic_content.channels import get_renderer
from atomic_content.channels.base import LimitProblem, RenderedMessage
from atomic_content.errors import AtomicError, Severity
from atomic_content.models import Settings
from test_runtime_guarantee import generated_customers, messages

DEMO = Path(__file__).resolve().parent.parent / "content"
DAY = dt.date(2026, 12, 1)

TIGHT = {
    "email": {"subject_recommended": 20, "subject_hard": 40, "html_bytes_hard": 13_000},
    "app": {
        "push_title_recommended": 10,
        "push_body_recommended": 20,
        "push_body_hard": 45,
        "push_payload_bytes_hard": 160,
    },
    "microsite": {"title_recommended": 10, "description_recommended": 20},
    "sms": {"max_segments_recommended": 1, "max_segments_hard": 1},
}


@pytest.fixture(scope="module")
def demo_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Bundle]:
    root = tmp_path_factory.mktemp("send-limits")
    content = root / "content"
    shutil.copytree(DEMO, content)
    out = root / "dist"
    build(content, out, on=DAY, until=DAY, jobs=1)
    return content, load_bundle(out)


def tight(settings: Settings) -> Settings:
    data: dict[str, Any] = settings.model_dump(mode="json")
    for channel, limits in TIGHT.items():
        if channel in data["channels"] and data["channels"][channel] is not None:
            data["channels"][channel].setdefault("limits", {}).update(limits)
    return Settings.model_validate(data)


def errors(problems: list[LimitProblem]) -> list[LimitProblem]:
    return sorted(
        (p for p in problems if p.severity is Severity.ERROR), key=lambda p: (p.code, p.message)
    )


def rendered_messages(content: Path, bundle: Bundle) -> list[RenderedMessage]:
    records = list(generated_customers(150, seed=11))
    found = []
    for record in records:
        for journey, step, channel in messages(content):
            try:
                found.append(
                    bundle.render(record, journey=journey, step=step, channel=channel, on=DAY)
                )
            except AtomicError:
                continue
    return found


def oracle(message: RenderedMessage, limits: dict[str, int]) -> set[str]:
    """The hard-limit error codes of a rendered message, worked out here from the parts."""
    parts, codes = message.parts, set()
    if message.key.channel == "email":
        if not parts["subject"].strip():
            codes.add("email.subject_empty")
        if len(parts["subject"]) > limits.get("subject_hard", 150):
            codes.add("email.subject_too_long")
        if len(parts["html"].encode()) > limits.get("html_bytes_hard", 102_400):
            codes.add("email.html_too_large")
    elif message.key.channel == "app" and "push.json" in parts:
        push = json.loads(parts["push.json"])
        if not push["title"].strip():
            codes.add("app.push_title_empty")
        if len(push["body"]) > limits.get("push_body_hard", 178):
            codes.add("app.push_body_too_long")
        if len(parts["push.json"].encode()) > limits.get("push_payload_bytes_hard", 4096):
            codes.add("app.push_payload_too_large")
    return codes


def test_send_limits_find_every_hard_limit_error(demo_build: tuple[Path, Bundle]) -> None:
    content, bundle = demo_build
    strict = tight(bundle.settings)
    seen: set[str] = set()
    for message in rendered_messages(content, bundle):
        renderer = get_renderer(message.key.channel)
        for settings, limits in ((bundle.settings, {}), (strict, TIGHT[message.key.channel])):
            codes = {p.code for p in renderer.send_limits(message, settings)}
            if message.key.channel in ("email", "app"):
                assert codes == oracle(message, limits), message.key
            seen |= codes
    assert seen >= {
        "email.subject_too_long",
        "email.html_too_large",
        "app.push_body_too_long",
        "app.push_payload_too_large",
    }


def test_send_limits_are_the_errors_of_check_limits(demo_build: tuple[Path, Bundle]) -> None:
    content, bundle = demo_build
    rendered = rendered_messages(content, bundle)
    strict = tight(bundle.settings)
    failing = 0
    channels = set()
    for message in rendered:
        renderer = get_renderer(message.key.channel)
        channels.add(message.key.channel)
        for settings in (bundle.settings, strict):
            full = errors(renderer.check_limits(message, settings))
            fast = renderer.send_limits(message, settings)
            assert all(p.severity is Severity.ERROR for p in fast)
            assert sorted(fast, key=lambda p: (p.code, p.message)) == full, message.key
            failing += bool(full)
    assert channels >= {"email", "app", "microsite"}
    # The tight limits make a good share of the messages fail, so equality means something.
    assert failing > len(rendered) // 4


@pytest.mark.parametrize(
    "script",
    [
        '<script src="https://cdn.example.com/x.js"></script>',
        '<SCRIPT SRC="https://cdn.example.com/x.js"></SCRIPT>',
        "<script>var inline = 1;</script>",
    ],
)
def test_a_script_on_a_page_is_caught_at_send_time(
    demo_build: tuple[Path, Bundle], script: str
) -> None:
    content, bundle = demo_build
    page = next(m for m in rendered_messages(content, bundle) if m.key.channel == "microsite")
    document = page.parts["index.html"].replace("</body>", script + "</body>")
    changed = dataclasses.replace(page, parts={**page.parts, "index.html": document})
    renderer = get_renderer("microsite")
    full = errors(renderer.check_limits(changed, bundle.settings))
    assert renderer.send_limits(changed, bundle.settings) == full
    assert bool(full) == ("src" in script.lower())
