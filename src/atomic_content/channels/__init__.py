"""Channel renderers, by channel name: the channel registry.

:data:`RENDERERS` maps a channel name (``email``, ``app``, ``microsite``, ``sms``) to the object
that knows everything about the channel (the :class:`~.base.ChannelRenderer` protocol): its
settings block in atomic.yaml, its layout contract, how it assembles, checks, previews, exports
and shows its messages for review. A new channel is one new module with a renderer and one
:func:`register` call below; settings, JSON Schemas, loading, validation, build, preview and
diff follow the registry. No module outside this package names a channel.
"""

from __future__ import annotations

from ..errors import UsageError, did_you_mean
from ..models import Settings
from ..resolver import Resolution
from .app import AppRenderer
from .base import (
    AssembledMessage,
    AssemblyContext,
    ChannelRenderer,
    Export,
    LayoutProblem,
    LimitAdvice,
    LimitProblem,
    Part,
    RenderedMessage,
)
from .email import EmailRenderer
from .microsite import MicrositeRenderer
from .sms import SmsRenderer

RENDERERS: dict[str, ChannelRenderer] = {}
"""Channel name -> renderer, in registration order (the order of ``channels.enabled()``)."""


def register(renderer: ChannelRenderer) -> ChannelRenderer:
    """Add (or replace) the renderer of ``renderer.name``; returns it.

    Raises ValueError when one of its export formats belongs to another channel. Settings
    validated from now on know the channel's ``channels.<name>`` block.
    """
    for fmt in renderer.exports:
        owner = next(
            (r.name for r in RENDERERS.values() if fmt in r.exports and r.name != renderer.name),
            None,
        )
        if owner is not None:
            raise ValueError(f"export format {fmt!r} already belongs to channel {owner!r}")
    RENDERERS[renderer.name] = renderer
    if Settings.__pydantic_complete__:
        # Settings were already built from the registry as it was: rebuild from the new one.
        Settings.model_rebuild(force=True)
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


def limit_advice(code: str) -> LimitAdvice | None:
    """The channel's advice for the limit problem ``code`` (``<channel>.<what>``); None for the
    lengths :func:`~.base.length_problems` measures, whose fix is to shorten."""
    renderer = RENDERERS.get(code.partition(".")[0])
    return renderer.limit_advice.get(code) if renderer is not None else None


def limit_hint(code: str, slot: str | None) -> str:
    """How to fix the limit problem ``code``: its channel's advice, else (a length over a
    limit) shorten the atom that fills ``slot``, or the message's atoms when the length is
    the whole message's (``slot`` None)."""
    advice = limit_advice(code)
    if advice is not None:
        return advice.hint
    if slot is not None:
        return f"shorten the text of the `{slot}` atom"
    return "shorten the atoms of this message"


def problem_hint(code: str, slot: str | None, resolution: Resolution) -> str:
    """:func:`limit_hint` of a problem of ``resolution``'s message: ``slot``'s atom when an
    atom fills it, else the message's (the one rule for the build's diagnostics and the
    previews)."""
    choice = resolution.slots.get(slot) if slot else None
    filled = choice is not None and choice.winner is not None
    return limit_hint(code, slot if filled else None)


def send_hint(code: str) -> str:
    """How to fix the hard-limit problem ``code`` when one customer's values cause it (the
    runtime's error): its channel's :attr:`~.base.LimitAdvice.at_send`, else too long."""
    advice = limit_advice(code)
    if advice is not None and advice.at_send:
        return advice.at_send
    return (
        "the customer's values make the message too long; shorten the atoms or give the "
        "tokens a shorter form"
    )


def export_formats() -> dict[str, tuple[str, Export]]:
    """Every channel's extra preview format: format name -> (channel name, export)."""
    return {fmt: (r.name, export) for r in RENDERERS.values() for fmt, export in r.exports.items()}


for _renderer in (EmailRenderer(), AppRenderer(), MicrositeRenderer(), SmsRenderer()):
    register(_renderer)

__all__ = [
    "RENDERERS",
    "AssembledMessage",
    "AssemblyContext",
    "ChannelRenderer",
    "Export",
    "LayoutProblem",
    "LimitAdvice",
    "LimitProblem",
    "Part",
    "RenderedMessage",
    "export_formats",
    "get_renderer",
    "limit_advice",
    "limit_hint",
    "problem_hint",
    "register",
    "send_hint",
]
