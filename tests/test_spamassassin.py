"""Every demo email, judged by SpamAssassin's local tests (``spamassassin -L -t``).

8 demo customers x every email step of every journey, each written as the ``.eml`` that
``atomic preview --format eml --date 2026-12-01`` writes (To from the profile's
``email_attribute``, Date, Message-ID, Reply-To, List-Unsubscribe + one-click). The messages go
through one SpamAssassin process as an mbox; the test prints the worst score with its rules and
fails above 1.0 (5.0 is SpamAssassin's spam threshold; a marketing email should score near 0).

Skipped when SpamAssassin is missing, unless ``ATOMIC_REQUIRE_SPAMASSASSIN=1`` (CI installs the
Debian package), where that fails.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from atomic_content.channels.base import ExportOptions
from atomic_content.channels.email import build_eml, eml_bytes
from atomic_content.repository import Library
from conftest import render_run_message

pytestmark = pytest.mark.spamassassin

DAY = dt.date(2026, 12, 1)
WORST_ALLOWED = 1.0
_STATUS = re.compile(
    rb"^X-Spam-Status: \w+, score=(-?[0-9.]+) required=[0-9.]+ tests=(.*?)\s+autolearn=",
    re.M | re.S,
)


def spamassassin() -> str:
    found = shutil.which("spamassassin")
    if found is None:
        if os.environ.get("ATOMIC_REQUIRE_SPAMASSASSIN") == "1":
            pytest.fail("SpamAssassin is required (ATOMIC_REQUIRE_SPAMASSASSIN=1) but missing")
        pytest.skip("SpamAssassin is not installed (apt-get install spamassassin)")
    return found


def demo_emails(library: Library) -> dict[str, bytes]:
    """Every demo customer's every email step as .eml bytes, by "customer journey/step"."""
    assert library.settings is not None
    settings = library.settings
    emails: dict[str, bytes] = {}
    options = ExportOptions(sent=dt.datetime.combine(DAY, dt.time(), tzinfo=dt.UTC))
    for customer_id, customer in sorted(library.customers.items()):
        for journey in library.journeys.values():
            for step in journey.steps:
                if "email" not in step.channels:
                    continue
                run = render_run_message(
                    library, customer.attributes, journey.id, step.id, "email",
                    customer_id=customer_id,
                )  # fmt: skip
                assert run.rendered.recipient == customer.attributes["email"]
                message = build_eml(run.rendered, settings.brand, date=options.sent)
                emails[f"{customer_id} {journey.id}/{step.id}"] = eml_bytes(message)
    return emails


def as_mbox(messages: list[bytes]) -> bytes:
    """An mboxo file of ``messages`` (LF line ends, "From " lines quoted)."""
    chunks = []
    for data in messages:
        body = data.replace(b"\r\n", b"\n")
        body = re.sub(rb"^(>*From )", rb">\1", body, flags=re.M)
        chunks.append(b"From atomic@localhost Tue Dec  1 00:00:00 2026\n" + body + b"\n")
    return b"".join(chunks)


def test_every_demo_email_scores_at_most_1(render_demo_library: Library, tmp_path: Path) -> None:
    binary = spamassassin()
    emails = demo_emails(render_demo_library)
    assert len(emails) == 8 * 8  # 8 customers x 8 email steps
    prefs = tmp_path / "user_prefs"
    prefs.write_text("")
    result = subprocess.run(
        [binary, "-L", "-t", "--mbox", "-p", str(prefs)],
        input=as_mbox(list(emails.values())),
        capture_output=True,
        timeout=600,
        check=True,
    )
    found = _STATUS.findall(result.stdout)
    assert len(found) == len(emails), result.stderr.decode(errors="replace")[-2000:]
    scores = []
    for name, (score, tests) in zip(emails, found, strict=True):
        rules = "".join(tests.decode().split()) or "none"
        scores.append((float(score) + 0.0, name, rules))
    worst, name, rules = max(scores)
    print(f"SpamAssassin worst score {worst} ({name}): {rules}")
    over = [(score, n, r) for score, n, r in scores if score > WORST_ALLOWED]
    assert over == [], over
