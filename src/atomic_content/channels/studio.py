"""How the studio (``atomic serve``) draws and measures a rendered message, through its
channel's renderer (the channel modules say what to draw and measure; nothing here names a
channel):

* :func:`channel_view` — :meth:`~.base.ChannelRenderer.studio_view`: an inbox line with HTML
  and text parts, a phone lock screen and an in-app card, a text bubble with its encoding and
  segment count, or a page;
* :func:`badges` — :meth:`~.base.ChannelRenderer.measures` (Gmail clipping, push payload,
  subject length, text segments), each coloured by the limit problems ``check_limits``
  reported, so a badge agrees with ``validate``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from ..errors import Severity
from ..models import Settings
from . import get_renderer
from .base import ChannelView, LimitProblem, RenderedMessage

State = Literal["ok", "warn", "error"]


def channel_view(rendered: RenderedMessage, settings: Settings | None) -> ChannelView:
    """The studio's drawing of ``rendered``, as its channel draws it."""
    return get_renderer(rendered.key.channel).studio_view(rendered, settings)


@dataclass(frozen=True)
class Badge:
    """One measured size against its limit; ``state`` is the worst limit problem of its codes."""

    label: str
    value: str
    limit: str
    state: State
    note: str = ""


def _state(problems: Iterable[LimitProblem], prefixes: Sequence[str]) -> tuple[State, str]:
    worst: State = "ok"
    note = ""
    for problem in problems:
        if not problem.code.startswith(tuple(prefixes)):
            continue
        if problem.severity is Severity.ERROR:
            return "error", problem.message
        worst, note = "warn", problem.message
    return worst, note


def badges(
    rendered: RenderedMessage, problems: Iterable[LimitProblem], settings: Settings | None
) -> list[Badge]:
    """The sizes the channel limits measure, each with the state its limit problems give."""
    problems = list(problems)
    found: list[Badge] = []
    for measure in get_renderer(rendered.key.channel).measures(rendered, settings):
        state, note = _state(problems, measure.codes)
        found.append(Badge(measure.label, measure.value, measure.limit, state, note))
    return found


__all__ = ["Badge", "ChannelView", "badges", "channel_view"]
