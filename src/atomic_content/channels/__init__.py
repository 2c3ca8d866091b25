"""Channel renderers, by channel name.

:data:`RENDERERS` maps a channel name (``email``, ``app``, ``microsite``) to the object that
assembles, checks and previews its messages (the :class:`~.base.ChannelRenderer` protocol).
A new channel (SMS, say) is one new module with a renderer and one :func:`register` call; the
resolver and the other channels stay as they are.
"""

from __future__ import annotations

from ..errors import UsageError, did_you_mean
from .app import AppRenderer
from .base import (
    AssembledMessage,
    AssemblyContext,
    ChannelRenderer,
    LimitProblem,
    Part,
    RenderedMessage,
)
from .email import EmailRenderer
from .microsite import MicrositeRenderer

RENDERERS: dict[str, ChannelRenderer] = {}
"""Channel name -> renderer. Filled by :func:`register`."""


def register(renderer: ChannelRenderer) -> ChannelRenderer:
    """Add (or replace) the renderer of ``renderer.name``; returns it."""
    RENDERERS[renderer.name] = renderer
    return renderer


def get_renderer(name: str) -> ChannelRenderer:
    """The renderer of channel ``name``; UsageError naming the known channels otherwise."""
    renderer = RENDERERS.get(name)
    if renderer is None:
        known = sorted(RENDERERS)
        suggestion = did_you_mean(name, known)
        raise UsageError(
            f"no renderer for channel {name!r}",
            (suggestion + " ").lstrip() + f"channels: {', '.join(known)}",
        )
    return renderer


for _renderer in (EmailRenderer(), AppRenderer(), MicrositeRenderer()):
    register(_renderer)

__all__ = [
    "RENDERERS",
    "AssembledMessage",
    "AssemblyContext",
    "ChannelRenderer",
    "LimitProblem",
    "Part",
    "RenderedMessage",
    "get_renderer",
    "register",
]
