"""The send dates a build covers: the default first day and the default range. Standard
library only, so the build's no-op check stays light (see :mod:`atomic_content.inputs`).
"""

from __future__ import annotations

import datetime as dt
import os
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
