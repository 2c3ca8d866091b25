"""Dates at the ends of the calendar: a validity that runs to 9999-12-31 (the usual way to
write "never expires"), one that starts on 0001-01-01, and ``--date`` in the calendar's last
month. Every command must treat them as dates, never crash on ``date + 1 day``: the default
range is held at 9999-12-31 and a window that ends on it never closes (docs/build.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from atomic_content import load_bundle
from atomic_content.cli import main
from atomic_content.coverage import compute_coverage
from atomic_content.dates import DEFAULT_HORIZON_DAYS, DateRange, day_after, shift
from atomic_content.errors import UsageError
from atomic_content.plan import make_plan
from atomic_content.validate import load_library
from contentkit import write_tree

MAX = dt.date.max
MIN = dt.date.min
LAST_MONTH = dt.date(9999, 12, 10)

# -- the helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "days", "expected"),
    [
        (dt.date(2026, 11, 22), 30, dt.date(2026, 12, 22)),
        (dt.date(2026, 11, 22), 0, dt.date(2026, 11, 22)),
        (dt.date(2026, 11, 22), -22, dt.date(2026, 10, 31)),
        (dt.date(9999, 12, 1), 30, MAX),  # exactly the last day
        (dt.date(9999, 12, 2), 30, MAX),  # one past it: held
        (LAST_MONTH, 30, MAX),
        (MAX, 1, MAX),
        (MAX, 10**12, MAX),  # more days than timedelta holds
        (dt.date(2026, 11, 22), 10**12, MAX),
        (dt.date(1, 1, 31), -30, MIN),  # exactly the first day
        (dt.date(1, 1, 30), -30, MIN),  # one before it: held
        (MIN, -1, MIN),
        (MIN, -(10**12), MIN),
        (MIN, 10, dt.date(1, 1, 11)),
        (MAX, -10, dt.date(9999, 12, 21)),
    ],
)
def test_shift_is_held_at_the_ends_of_the_calendar(
    day: dt.date, days: int, expected: dt.date
) -> None:
    assert shift(day, days) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2026, 12, 31), dt.date(2027, 1, 1)),
        (MIN, dt.date(1, 1, 2)),
        (dt.date(9999, 12, 30), MAX),
        (MAX, None),
    ],
)
def test_day_after(day: dt.date, expected: dt.date | None) -> None:
    assert day_after(day) == expected


@pytest.mark.parametrize(
    ("start", "until", "expected"),
    [
        (dt.date(2026, 11, 22), None, dt.date(2026, 12, 22)),
        (LAST_MONTH, None, MAX),
        (MAX, None, MAX),
        (dt.date(9999, 12, 1), None, MAX),
        (LAST_MONTH, dt.date(9999, 12, 20), dt.date(9999, 12, 20)),
        (MIN, None, dt.date(1, 1, 1 + DEFAULT_HORIZON_DAYS)),
    ],
)
def test_the_default_range_is_held_at_the_last_day(
    start: dt.date, until: dt.date | None, expected: dt.date
) -> None:
    dates = DateRange.of(start, until)
    assert (dates.start, dates.until) == (start, expected)


# -- the plan, coverage and the bundle ---------------------------------------------------------


def atom(slot: str, text: str, **fields: object) -> str:
    lines = [f"slot: {slot}", "status: approved", f"text: {text}"]
    lines += [f"{key}: {value}" for key, value in fields.items()]
    return "\n".join(lines) + "\n"


FOREVER = {"atoms/headline-forever.yaml": atom("headline", "Always", priority=5, valid_until=MAX)}


@pytest.mark.parametrize(
    ("files", "start", "expected"),
    [
        # never expires: one period, the atom wins to the end of the range
        (FOREVER, dt.date(2026, 11, 22), [(dt.date(2026, 11, 22), "headline-forever")]),
        (FOREVER, LAST_MONTH, [(LAST_MONTH, "headline-forever")]),
        (FOREVER, MAX, [(MAX, "headline-forever")]),
        # valid from the first day of the calendar: no boundary either
        (
            {"atoms/headline-old.yaml": atom("headline", "Old", priority=5, valid_from=MIN)},
            LAST_MONTH,
            [(LAST_MONTH, "headline-old")],
        ),
        # starts on the last day: a period of one day at the end of the range
        (
            {
                "atoms/headline-last.yaml": atom(
                    "headline", "Last", priority=5, valid_from=MAX, valid_until=MAX
                )
            },
            LAST_MONTH,
            [(LAST_MONTH, "headline"), (MAX, "headline-last")],
        ),
        # valid on the calendar's first day only: it wins that day, the base headline after
        (
            {
                "atoms/headline-gone.yaml": atom(
                    "headline", "Gone", priority=5, valid_from=MIN, valid_until=MIN
                )
            },
            MIN,
            [(MIN, "headline-gone"), (dt.date(1, 1, 2), "headline")],
        ),
        # expires inside the calendar's last month: a boundary on the day after
        (
            {
                "atoms/headline-sale.yaml": atom(
                    "headline", "Sale", priority=5, valid_until="9999-12-20"
                )
            },
            LAST_MONTH,
            [(LAST_MONTH, "headline-sale"), (dt.date(9999, 12, 21), "headline")],
        ),
    ],
    ids=[
        "forever",
        "forever-last-month",
        "forever-last-day",
        "from-first-day",
        "from-last-day",
        "until-first-day",
        "until-in-last-month",
    ],
)
def test_plan_periods_at_the_ends_of_the_calendar(
    tmp_path: Path,
    files: dict[str, str | bytes | None],
    start: dt.date,
    expected: list[tuple[dt.date, str]],
) -> None:
    write_tree(tmp_path, dict(files))
    library, _warnings = load_library(tmp_path, on=start)
    dates = DateRange.of(start)
    plan = make_plan(library, dates.start, dates.until)
    generic = sorted(
        (v.start, v.resolution.atoms["headline"].id, v.until)
        for v in plan.variants
        if (v.journey, v.channel, v.locale, v.audience) == ("welcome", "email", "en", "generic")
    )
    assert [(first, winner) for first, winner, _last in generic] == expected
    assert generic[-1][2] == dates.until


@pytest.mark.parametrize("on", [dt.date(2026, 11, 22), LAST_MONTH, MAX])
def test_coverage_of_an_atom_that_never_expires(tmp_path: Path, on: dt.date) -> None:
    write_tree(tmp_path, dict(FOREVER))
    library, _warnings = load_library(tmp_path, on=on)
    report = compute_coverage(library, on=on, horizon_days=14)
    headlines = [
        c
        for c in report.cells
        if (c.slot, c.channel, c.segment) == ("headline", "email", "new")  # vip has its own
    ]
    assert headlines and all(c.atom == "headline-forever" for c in headlines)
    assert all(c.expires_on is None for c in headlines)


def test_coverage_horizon_past_the_last_day_is_held(tmp_path: Path) -> None:
    write_tree(tmp_path, dict(FOREVER))
    library, _warnings = load_library(tmp_path, on=LAST_MONTH)
    report = compute_coverage(library, on=LAST_MONTH, horizon_days=10**12)
    assert report.cells
    with pytest.raises(UsageError, match="longer than 366 days"):
        compute_coverage(library, on=dt.date(2026, 11, 22), horizon_days=10**12)


def test_the_bundle_routes_by_date_in_the_calendars_last_month(tmp_path: Path) -> None:
    """A build as of 9999-12-10 covers to 9999-12-31; its bundle sends the sale up to its last
    day, the base headline after it and the never-ending atom from its first day on."""
    content = write_tree(
        tmp_path / "content",
        {
            "atoms/headline-sale.yaml": atom(
                "headline", "Sale", priority=5, valid_until="9999-12-20"
            ),
            "atoms/headline-finale.yaml": atom(
                "headline", "Finale", priority=9, valid_from="9999-12-25", valid_until=MAX
            ),
        },
    )
    out = tmp_path / "dist"
    result = CliRunner().invoke(
        main,
        ["build", "--content", str(content), "--out", str(out), "--date", LAST_MONTH.isoformat()],
    )
    assert result.exit_code == 0, result.output
    bundle = load_bundle(out)
    assert (bundle.start, bundle.until) == (LAST_MONTH, MAX)
    record = {"id": "C-1", "locale": "en", "tier": "silver", "orders": 3}
    for on, headline in [
        (LAST_MONTH, "Sale"),
        (dt.date(9999, 12, 20), "Sale"),
        (dt.date(9999, 12, 21), "Gear for every trail"),
        (dt.date(9999, 12, 24), "Gear for every trail"),
        (dt.date(9999, 12, 25), "Finale"),
        (MAX, "Finale"),
    ]:
        message = bundle.render(record, journey="welcome", step="day-0", channel="email", on=on)
        assert f"<h1>{headline}</h1>" in message.parts["html"].replace("\n", ""), on
    with pytest.raises(UsageError, match="this build covers 9999-12-10 to 9999-12-31"):
        bundle.route(
            record, journey="welcome", step="day-0", channel="email", on=dt.date(9999, 12, 9)
        )


# -- every command ----------------------------------------------------------------------------

EXPERIMENT = """\
key: welcome-forever
journey: welcome
hypothesis: The VIP welcome wins more first orders than the generic one.
null_hypothesis: Personalization does not change first orders.
metric: conversion
alpha: 0.05
power: 0.8
mde: 0.02
arms:
  - {id: control, weight: 0.5}
  - {id: personalized, weight: 0.5}
start: 0001-01-01
end: 9999-12-31
status: running
"""

OFFER = """\
slot: offer
status: approved
offer: {code: FOREVER, headline: 10% off, expires: 9999-12-31}
valid_until: 9999-12-31
"""

CONTENT_CASES: dict[str, dict[str, str | bytes | None]] = {
    "valid-until-last-day": FOREVER,
    "valid-from-first-day": {
        "atoms/headline-old.yaml": atom("headline", "Old", priority=5, valid_from=MIN)
    },
    "valid-from-last-day": {
        "atoms/headline-last.yaml": atom(
            "headline", "Last", priority=5, valid_from=MAX, valid_until=MAX
        )
    },
    "valid-until-first-day": {
        "atoms/headline-gone.yaml": atom(
            "headline", "Gone", priority=5, valid_from=MIN, valid_until=MIN
        )
    },
    "offer-and-experiment-forever": {
        "atoms/offer.yaml": OFFER,
        "layouts/email/basic.yaml": "template: basic.mjml\nslots:\n  subject: required\n"
        "  preheader: optional\n  headline: required\n  body: required\n  cta: optional\n"
        "  offer: optional\n",
        "experiments/welcome-forever.yaml": EXPERIMENT,
    },
}

DATES = ["2026-11-22", "9999-12-10", "9999-12-31", "0001-01-01"]

COMMANDS: dict[str, list[str]] = {
    "validate": ["validate"],
    "build": ["build", "--out", "{out}"],
    "preview": [
        "preview", "--customer", "ada", "--journey", "welcome", "--step", "day-0",
        "--channel", "email", "--format", "text",
    ],
    "resolve": ["resolve", "--customer", "ada", "--journey", "welcome", "--format", "json"],
    "coverage": ["coverage", "--format", "json"],
    "privacy": ["privacy", "--format", "json"],
}  # fmt: skip


@pytest.mark.parametrize("date", DATES)
@pytest.mark.parametrize("case", sorted(CONTENT_CASES))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_commands_take_the_ends_of_the_calendar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, case: str, date: str
) -> None:
    monkeypatch.setenv("ATOMIC_CACHE_DIR", str(tmp_path / "cache"))
    content = write_tree(tmp_path / "content", CONTENT_CASES[case])
    args = [a.replace("{out}", str(tmp_path / "dist")) for a in COMMANDS[command]]
    result = CliRunner().invoke(main, [*args, "--content", str(content), "--date", date])
    assert "internal error" not in result.output
    assert result.exit_code == 0, result.output
