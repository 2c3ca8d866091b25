"""The send dates a build covers (the default first day and the default range), and the one
rule for the dates and times customer records and conditions hold (:func:`iso_date`,
:func:`iso_datetime`). Standard library only, so the build's no-op check stays light (see
:mod:`atomic_content.inputs`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass

DEFAULT_HORIZON_DAYS = 30
"""Days a build covers after ``--date`` when ``--until`` is not given: a month of sends, long
enough for a campaign's offers to start and expire inside one build."""


def shift(day: dt.date, days: int) -> dt.date:
    """``day`` moved by ``days`` (either sign), held at :attr:`datetime.date.min` or
    :attr:`datetime.date.max` where the calendar ends. Never raises, whatever the size of
    ``days``: a horizon that would run past 9999-12-31 runs to it (``date + timedelta`` would
    raise OverflowError, which no editor or caller can act on)."""
    if days >= 0:
        room = (dt.date.max - day).days
        return dt.date.max if days >= room else day + dt.timedelta(days=days)
    room = (day - dt.date.min).days
    return dt.date.min if -days >= room else day - dt.timedelta(days=-days)


def day_after(day: dt.date) -> dt.date | None:
    """The day after ``day``, or None when ``day`` is the last day of the calendar
    (9999-12-31): a validity that runs to it never ends, so it has no day after."""
    return None if day == dt.date.max else day + dt.timedelta(days=1)


def default_date() -> dt.date:
    """SOURCE_DATE_EPOCH (reproducible runs) as a UTC date, else today in UTC — the same default
    ``atomic build`` uses, so validate and build agree on what has expired."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date()
        except (ValueError, OverflowError, OSError):
            pass
    return dt.datetime.now(tz=dt.UTC).date()


@dataclass(frozen=True)
class DateRange:
    """The send dates a build covers (inclusive)."""

    start: dt.date
    until: dt.date

    @classmethod
    def of(cls, start: dt.date | None = None, until: dt.date | None = None) -> DateRange:
        """``start`` (default: SOURCE_DATE_EPOCH or today, UTC) to ``until`` (default: start +
        :data:`DEFAULT_HORIZON_DAYS`, held at 9999-12-31 for a start in the calendar's last
        month: the range is shorter, never an error). Does not check the range
        (:func:`atomic_content.plan.check_range` does)."""
        first = start or default_date()
        return cls(first, until or shift(first, DEFAULT_HORIZON_DAYS))


# --------------------------------------------------------------------------- customer dates

DATE_FORM = "YYYY-MM-DD"
"""The one way a customer date is written as text (ISO 8601 extended calendar date)."""

DATETIME_FORM = "YYYY-MM-DDTHH:MM[:SS[.ffffff]][Z|±HH:MM]"
"""The ways a customer date and time may be written as text (ISO 8601 extended form, as RFC
3339 writes it); :func:`iso_datetime` writes each as ``YYYY-MM-DDTHH:MM:SS[.ffffff][±HH:MM]``."""

_DATETIME_TEXT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?"
)
_MAX_DATETIME_CHARS = 32  # 2026-11-01T09:30:00.123456+01:00


def iso_date(value: object) -> str | None:
    """The ISO text of a date value, or None when ``value`` is not a date.

    Text is a date only in the form ``YYYY-MM-DD`` (ASCII digits) naming a real day, and is
    returned unchanged; a :class:`datetime.date` that is not a datetime (a YAML or Arrow date)
    gives its ``isoformat()``. Everything else is None: other ISO 8601 spellings that Python's
    ``date.fromisoformat`` also reads (``20260101``, ``2026-W01-4``, ``2026-001``) would
    compare differently as text, so they are refused rather than rewritten.
    """
    if isinstance(value, str):
        # The hyphens at 4 and 7 of ten ASCII characters leave only YYYY-MM-DD to the parser
        # (which reads ASCII digits only); the week form 2026-W01-4 has none at 7. Cheaper than
        # a pattern: the record check runs this for every date of every record it sends.
        if len(value) != 10 or value[4] != "-" or value[7] != "-" or not value.isascii():
            return None
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return None
        return str(value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    return None


def iso_datetime(value: object) -> str | None:
    """The normalized ISO text of a date and time, or None when ``value`` is not one.

    Text is accepted in :data:`DATETIME_FORM` only (a ``T`` between date and time, ASCII
    digits, a real day and time); a :class:`datetime.datetime` (YAML, Arrow) as it writes
    itself, when that is such text. The result is always ``YYYY-MM-DDTHH:MM:SS``, then
    ``.ffffff`` when there are microseconds, then ``±HH:MM`` when an offset is given (``Z``
    becomes ``+00:00``): the same instant written with the same offset gives the same text, so
    text comparison orders such values like the times they name. A date alone, a space for the
    ``T``, basic (``20260101T1000``) and week forms are None.
    """
    if isinstance(value, str):
        if len(value) > _MAX_DATETIME_CHARS or _DATETIME_TEXT.fullmatch(value) is None:
            return None
        try:
            return dt.datetime.fromisoformat(value).isoformat()
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        text = value.isoformat()
        return text if _DATETIME_TEXT.fullmatch(text) is not None else None
    return None
