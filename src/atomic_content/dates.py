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
        :data:`DEFAULT_HORIZON_DAYS`)."""
        first = start or default_date()
        return cls(first, until or first + dt.timedelta(days=DEFAULT_HORIZON_DAYS))
