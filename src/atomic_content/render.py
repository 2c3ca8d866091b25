"""The two render stages behind one facade: assemble once per variant, render per customer.

* :func:`assemble` — a resolution (chosen atoms, no customer data) and its layout become an
  :class:`~atomic_content.channels.base.AssembledMessage` whose parts are templates with the
  customer tokens still in (the *template form*). Dispatched by channel through
  :mod:`atomic_content.channels`.
* :func:`render_message` — one customer: each part is compiled once (cached per locale and
  mode by :class:`~atomic_content.tokens.TokenEnvironment`) and rendered with the context
  ``{"customer": ..., "brand": ..., "slots": ...}``; a part without a customer token is the
  same for everyone, so it is rendered once per assembled message and reused. Customer values
  are HTML-escaped in html parts, JSON-escaped in json parts and refused in header parts when
  they could inject a header.

Errors are :class:`~atomic_content.errors.RenderError`; they name the customer id, the atom and
the attribute, never a customer value.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pydantic import ValidationError

from .channels import get_renderer
from .channels.base import AssembledMessage, AssemblyContext, LimitProblem, RenderedMessage
from .errors import RenderError
from .hashing import canonical_json
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
    constant: dict[str, str]  # part name -> its output, for parts no customer can change
    fields: dict[str, Any]  # the RenderedMessage fields every customer shares (see _message)
    all_constant: bool  # every part is the same for every customer (see _constant_parts)


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
        static = prepare_context({"brand": assembled.brand, "slots": assembled.slot_data})
        constant = _constant_parts(assembled, compiled, static)
        entry = _Prepared(
            assembled,
            static,
            compiled,
            _visible_attributes(declared_attributes(profile), assembled),
            tuple(
                (atom_id, path)
                for atom_id, paths in sorted(assembled.required_paths.items())
                for path in sorted(paths)
            ),
            constant,
            {  # in field order: the instance dict then lists them as __init__ would
                "key": assembled.key,
                "customer_id": None,
                "parts": {},
                "layout": assembled.layout,
                "audience_label": assembled.audience_label,
                "atoms": dict(assembled.atoms),
                "media_types": {p.name: p.media_type for p in assembled.parts},
                "filenames": {p.name: p.filename for p in assembled.parts},
                "brand_name": str(assembled.brand.get("name", "")),
                "recipient": None,
                "sender": _sender(assembled.brand),
            },
            len(constant) == len(assembled.parts),
        )
        with _LOCK:
            if len(_PREPARED) >= 4096:
                _PREPARED.clear()
            _PREPARED[id(assembled)] = entry
    return entry


def _atom_at_fault(
    assembled: AssembledMessage, atom_ids: tuple[str, ...], attribute: str | None
) -> str | None:
    """The atom of a part that an error is about: the part's only atom, else the only one of
    its atoms that reads ``attribute`` without a default; None when that does not decide."""
    if len(atom_ids) == 1:
        return atom_ids[0]
    if attribute is None:
        return None
    readers = [a for a in atom_ids if attribute in assembled.required_paths.get(a, ())]
    return readers[0] if len(readers) == 1 else None


def _constant_parts(
    assembled: AssembledMessage, compiled: list[CompiledTemplate], static: dict[str, Any]
) -> dict[str, str]:
    """The output of every part that is the same for every customer, rendered once.

    A part is constant when its source does not contain the word ``customer`` (the only root
    that varies: templates have no globals, and ``brand`` and ``slots`` are the variant's) and
    every part it embeds is constant; most parts of most variants have no customer token. Such
    a part renders to the same text for every customer, so rendering it once here gives what
    rendering it per customer would. One that fails here (too long, a filter refusing brand
    data ...) is left out, so that it fails per customer as before.
    """
    constant: dict[str, str] = {}
    for part, template in zip(assembled.parts, compiled, strict=True):
        if "customer" in part.source or any(name not in constant for _, name in part.embeds):
            continue
        context: dict[str, Any] = {**static, "customer": {}}
        if part.embeds:
            embeds = {path: constant[name] for path, name in part.embeds}
            context = {**context, "slots": _with_embeds(static["slots"], embeds)}
        try:
            constant[part.name] = template.render_prepared(context)
        except RenderError:
            continue
    return constant


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
    recipient: bool = True,
) -> RenderedMessage:
    """Render every part of ``assembled`` for one customer record.

    ``attributes`` may be nested or flat (``{"address.country": "DE"}``); only declared
    attributes reach the templates. ``customer_id`` names the customer in errors (default: the
    profile's id attribute). ``recipient=False``: no recipient address, whatever
    ``attributes`` hold (a caller passing a record whose address the message may not read).

    Before anything is rendered, every attribute a chosen atom uses without a default must be
    present, else RenderError ``render.missing_value`` naming customer, atom and attribute.
    Other RenderErrors come from the token renderer (``render.header_injection``,
    ``render.output_too_large``, ...).
    """
    if customer_id is None and profile is not None:
        found, value = lookup(attributes, profile.id_attribute)
        customer_id = str(value) if found and value is not None else None
    prepared = _prepared(profile, assembled)
    static, compiled_parts, constant = prepared.static, prepared.compiled, prepared.constant
    all_constant = prepared.all_constant
    required = prepared.required
    if required or not all_constant:
        customer = build_customer_context(attributes, prepared.visible)
        for atom_id, path in required:
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
    if all_constant:
        rendered = dict(constant)
    else:
        # The customer is copied once as plain data (only what the tokens read) and
        # brand/slots once per assembled message, so every part renders without copying again.
        context: dict[str, Any] = {**static, "customer": customer}
        rendered = {}
        for part, compiled in zip(assembled.parts, compiled_parts, strict=True):
            text = constant.get(part.name)
            if text is not None:
                rendered[part.name] = text
                continue
            part_context = context
            if part.embeds:
                embeds = {path: rendered[name] for path, name in part.embeds}
                # static["slots"] is plain already and the embeds are rendered strings.
                part_context = {**context, "slots": _with_embeds(static["slots"], embeds)}
            try:
                rendered[part.name] = compiled.render_prepared(
                    part_context, customer_id=customer_id
                )
            except RenderError as exc:
                at_fault = exc.atom_id or _atom_at_fault(assembled, part.atom_ids, exc.attribute)
                if at_fault != exc.atom_id:
                    raise RenderError(
                        exc.code,
                        exc.message,
                        customer_id=exc.customer_id,
                        atom_id=at_fault,
                        attribute=exc.attribute,
                        hint=exc.hint,
                    ) from None
                raise
    address: str | None = None
    if recipient and profile is not None and profile.email_attribute is not None:
        found, value = lookup(attributes, profile.email_attribute)
        address = value if found and isinstance(value, str) and value else None
    return _message(prepared.fields, customer_id, rendered, address)


_new = object.__new__


def _message(
    fields: dict[str, Any], customer_id: str | None, parts: dict[str, str], recipient: str | None
) -> RenderedMessage:
    """``RenderedMessage(**fields, customer_id=..., parts=..., recipient=...)``, with its own
    copies of the shared dicts, made for every customer: the frozen dataclass's ``__init__``
    sets its eleven fields one ``object.__setattr__`` at a time, a third of a warm render of a
    message without customer tokens; filling the instance dict at once makes the same object
    (tests/test_runtime_fast_paths.py holds the two equal, field for field)."""
    message = _new(RenderedMessage)
    state = message.__dict__
    state.update(fields)
    state["customer_id"] = customer_id
    state["parts"] = parts
    state["recipient"] = recipient
    state["atoms"] = dict(fields["atoms"])
    state["media_types"] = dict(fields["media_types"])
    state["filenames"] = dict(fields["filenames"])
    return message


def context_attributes(profile: Profile | None, assembled: AssembledMessage) -> frozenset[str]:
    """The declared attributes :func:`render_message` reads from a record for ``assembled``
    (what its tokens can reach), besides the id and the email address: a record that holds
    the same values at these paths renders the same parts."""
    return _prepared(profile, assembled).visible


def constant_rendering(
    profile: Profile | None, assembled: AssembledMessage
) -> RenderedMessage | None:
    """``assembled`` rendered for nobody (no customer id, no recipient) when no part of it reads
    the customer, else None. Such a message renders to the same parts for every customer, so
    whatever is measured on its parts alone (the channel's send-time limits) is the same for
    every customer too, and may be measured once on this rendering."""
    prepared = _prepared(profile, assembled)
    if not prepared.all_constant:
        return None
    return _message(prepared.fields, None, dict(prepared.constant), None)


def _sender(brand: Mapping[str, Any]) -> str:
    """The brand sender as ``Name <address>`` ("" when the brand has none). Remembered by
    the sender's JSON: every variant of a build has the same, and checking the address once
    per variant was a tenth of preparing it."""
    value = brand.get("sender")
    try:
        written = canonical_json(value).decode()
    except (TypeError, ValueError):  # not plain JSON data: checked as it is
        return _sender_of(value)
    return _sender_of_json(written)


@functools.lru_cache(maxsize=64)
def _sender_of_json(written: str) -> str:
    return _sender_of(json.loads(written))


def _sender_of(value: Any) -> str:
    try:
        sender = Sender.model_validate(value)
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
    "constant_rendering",
    "declared_attributes",
    "example_customer",
    "render_message",
]
