"""The two render stages behind one facade: assemble once per variant, render per customer.

* :func:`assemble` — a resolution (chosen atoms, no customer data) and its layout become an
  :class:`~atomic_content.channels.base.AssembledMessage` whose parts are templates with the
  customer tokens still in (the *template form*). Dispatched by channel through
  :mod:`atomic_content.channels`.
* :func:`render_message` — one customer: each part is compiled once (cached per locale and
  mode by :class:`~atomic_content.tokens.TokenEnvironment`) and rendered with the context
  ``{"customer": ..., "brand": ..., "slots": ...}``. Customer values are HTML-escaped in html
  parts, JSON-escaped in json parts and refused in header parts when they could inject a
  header.

Errors are :class:`~atomic_content.errors.RenderError`; they name the customer id, the atom and
the attribute, never a customer value.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pydantic import ValidationError

from .channels import get_renderer
from .channels.base import AssembledMessage, AssemblyContext, LimitProblem, RenderedMessage
from .errors import RenderError
from .models import Profile, Sender, Settings
from .repository import Library
from .resolver import Resolution
from .segments import lookup
from .tokens import (
    CompiledTemplate,
    TokenEnvironment,
    build_customer_context,
    customer_paths,
    prepare_context,
    uses_whole_customer,
)

MAX_PART_CHARS: Final = 500_000
"""Characters one rendered part may have; a longer one is a RenderError (runaway data)."""

_ENVIRONMENTS: dict[tuple[str, str], TokenEnvironment] = {}
_LOCK = threading.Lock()


def _environment(locale: str, mode: Any) -> TokenEnvironment:
    """The shared TokenEnvironment of (locale, mode); it caches compiled templates by source."""
    key = (locale, str(mode))
    with _LOCK:
        env = _ENVIRONMENTS.get(key)
        if env is None:
            env = TokenEnvironment(locale=locale, mode=mode, max_output_chars=MAX_PART_CHARS)
            _ENVIRONMENTS[key] = env
        return env


def assemble(library: Library, resolution: Resolution) -> AssembledMessage:
    """The template form of a resolved message (no customer data involved).

    Raises RenderError for a broken or hostile layout and UsageError for a channel without a
    renderer. Deterministic: the same library and resolution give identical parts.
    """
    ctx = AssemblyContext.from_library(library)
    return get_renderer(resolution.key.channel).assemble(ctx, resolution)


@dataclass(frozen=True)
class _Prepared:
    """What rendering an assembled message for one more customer needs, made once."""

    assembled: AssembledMessage
    static: dict[str, Any]  # plain brand and slots data
    compiled: list[CompiledTemplate]
    visible: frozenset[str]  # declared attributes the parts read (the only ones copied)
    required: tuple[tuple[str, str], ...]  # (atom id, path) used without a default
    sender: str  # the brand sender as ``Name <address>`` (validating it costs per call)


_PREPARED: dict[int, _Prepared] = {}


def _prepared(profile: Profile | None, assembled: AssembledMessage) -> _Prepared:
    """The prepared form of an assembled message, cached by identity (the entry keeps the
    message alive, so the id cannot be reused); the build and the runtime assemble once and
    render many times, so they hit it every time."""
    entry = _PREPARED.get(id(assembled))
    if entry is None or entry.assembled is not assembled:
        locale = assembled.key.locale
        compiled = [
            _environment(locale, part.mode).compile(
                part.source, name=f"{assembled.key}/{part.name}"
            )
            for part in assembled.parts
        ]
        entry = _Prepared(
            assembled,
            prepare_context({"brand": assembled.brand, "slots": assembled.slot_data}),
            compiled,
            _visible_attributes(declared_attributes(profile), assembled),
            tuple(
                (atom_id, path)
                for atom_id, paths in sorted(assembled.required_paths.items())
                for path in sorted(paths)
            ),
            _sender(assembled.brand),
        )
        with _LOCK:
            if len(_PREPARED) >= 4096:
                _PREPARED.clear()
            _PREPARED[id(assembled)] = entry
    return entry


def _visible_attributes(declared: frozenset[str], assembled: AssembledMessage) -> frozenset[str]:
    """The declared attributes the message's tokens can reach.

    Copying the customer record is most of the per-customer cost, and a template can only
    read the paths its tokens name (and their groups and fields), so only those are copied.
    A token naming the whole ``customer`` sees every declared attribute.
    """
    used: set[str] = set()
    for part in assembled.parts:
        if uses_whole_customer(part.source):
            return declared
        used |= customer_paths(part.source)
    return frozenset(
        path
        for path in declared
        if any(path == u or path.startswith(u + ".") or u.startswith(path + ".") for u in used)
    )


_DECLARED: dict[int, tuple[object, frozenset[str]]] = {}


def declared_attributes(profile: Profile | None) -> frozenset[str]:
    """The customer attribute paths of the profile (the only ones a template can see).

    Remembered per profile object: it is asked for on every render.
    """
    if profile is None:
        return frozenset()
    entry = _DECLARED.get(id(profile))
    if entry is None or entry[0] is not profile:
        entry = (profile, frozenset(profile.attributes))
        _DECLARED[id(profile)] = entry
    return entry[1]


def _present(context: Mapping[str, Any], path: str) -> bool:
    current: Any = context
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return False
        current = current[part]
    return current is not None


def _with_embeds(slots: dict[str, Any], embeds: Mapping[str, str]) -> dict[str, Any]:
    """``slots`` with ``slots.<path>`` set to already rendered text (see Part.embeds)."""
    result = dict(slots)
    for path, text in embeds.items():
        head, _, tail = path.partition(".")
        if tail:
            result[head] = {**result.get(head, {}), tail: text}
        else:
            result[head] = text
    return result


def render_message(
    profile: Profile | None,
    assembled: AssembledMessage,
    attributes: Mapping[str, Any],
    *,
    customer_id: str | None = None,
) -> RenderedMessage:
    """Render every part of ``assembled`` for one customer record.

    ``attributes`` may be nested or flat (``{"address.country": "DE"}``); only declared
    attributes reach the templates. ``customer_id`` names the customer in errors (default: the
    profile's id attribute).

    Before anything is rendered, every attribute a chosen atom uses without a default must be
    present, else RenderError ``render.missing_value`` naming customer, atom and attribute.
    Other RenderErrors come from the token renderer (``render.header_injection``,
    ``render.output_too_large``, ...).
    """
    if customer_id is None and profile is not None:
        found, value = lookup(attributes, profile.id_attribute)
        customer_id = str(value) if found and value is not None else None
    prepared = _prepared(profile, assembled)
    static, compiled_parts = prepared.static, prepared.compiled
    customer = build_customer_context(attributes, prepared.visible)
    for atom_id, path in prepared.required:
        if not _present(customer, path):
            raise RenderError(
                "render.missing_value",
                f"the atom uses customer.{path} without a default and the customer has no "
                "value for it",
                customer_id=customer_id,
                atom_id=atom_id,
                attribute=path,
                hint="add a fallback to the token: "
                f'{{{{ customer.{path} | default("...") }}}}, or fix the customer record',
            )
    # The customer is copied once as plain data (only what the tokens read) and brand/slots
    # once per assembled message, so every part renders without copying again.
    context: dict[str, Any] = {**static, "customer": customer}
    rendered: dict[str, str] = {}
    for part, compiled in zip(assembled.parts, compiled_parts, strict=True):
        part_context = context
        if part.embeds:
            embeds = {path: rendered[name] for path, name in part.embeds}
            # static["slots"] is plain already and the embeds are rendered strings.
            part_context = {**context, "slots": _with_embeds(static["slots"], embeds)}
        try:
            rendered[part.name] = compiled.render_prepared(part_context, customer_id=customer_id)
        except RenderError as exc:
            if exc.atom_id is None and len(part.atom_ids) == 1:
                raise RenderError(
                    exc.code,
                    exc.message,
                    customer_id=exc.customer_id,
                    atom_id=part.atom_ids[0],
                    attribute=exc.attribute,
                    hint=exc.hint,
                ) from None
            raise
    brand_name = str(assembled.brand.get("name", ""))
    recipient: str | None = None
    if profile is not None and profile.email_attribute is not None:
        found, value = lookup(attributes, profile.email_attribute)
        recipient = value if found and isinstance(value, str) and value else None
    return RenderedMessage(
        key=assembled.key,
        customer_id=customer_id,
        parts=rendered,
        layout=assembled.layout,
        audience_label=assembled.audience_label,
        atoms=dict(assembled.atoms),
        media_types={p.name: p.media_type for p in assembled.parts},
        filenames={p.name: p.filename for p in assembled.parts},
        brand_name=brand_name,
        recipient=recipient,
        sender=prepared.sender,
    )


def _sender(brand: Mapping[str, Any]) -> str:
    """The brand sender as ``Name <address>`` ("" when the brand has none)."""
    try:
        sender = Sender.model_validate(brand.get("sender"))
    except ValidationError:
        return ""
    return f"{sender.name} <{sender.email}>"


def check_limits(settings: Settings | None, rendered: RenderedMessage) -> list[LimitProblem]:
    """The channel limits a rendered message breaks (errors and warnings), in a stable order."""
    problems = get_renderer(rendered.key.channel).check_limits(rendered, settings)
    return sorted(problems, key=lambda p: (p.severity.value, p.code, p.message))


def example_customer(library: Library) -> dict[str, Any]:
    """A customer record made of the profile's example values, nested by dotted path.

    Used for preview builds and preview forms. Attributes without an example are left out.
    """
    record: dict[str, Any] = {}
    if library.profile is None:
        return record
    for path, spec in sorted(library.profile.attributes.items()):
        if spec.example is None:
            continue
        target = record
        parts = path.split(".")
        for part in parts[:-1]:
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                break
            target = child
        else:
            target[parts[-1]] = spec.example
    return record


__all__ = [
    "MAX_PART_CHARS",
    "assemble",
    "check_limits",
    "declared_attributes",
    "example_customer",
    "render_message",
]
