"""The words the engine and the layouts write themselves, per locale.

Labels such as "Your code" and "Valid until", the email footer lines and the opt-out line of
text messages come from a strings catalogue: ``strings/<locale>.yaml`` in the content tree (model
:class:`~atomic_content.models.Strings`), then the engine's built-in English, German and
French. A key is looked up along the locale's fallback chain (fr-FR -> fr -> en): at each
locale the content's file first, then the built-in strings of exactly that locale. ``atomic
validate`` reports a locale for which a key resolves nowhere (``strings.missing``, at the
locale in atomic.yaml) and a placeholder a string may not use (``strings.placeholder``).

Layouts read them as ``{{ strings.<key> }}`` (``{brand}`` already replaced by the brand name);
the email plain text and the opt-out line of text messages use the same catalogue.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from .models import Settings, Strings
from .repository import Library, locale_chain

KEYS: Final = tuple(name for name in Strings.model_fields if name != "id")
"""Every key of the catalogue."""

PLACEHOLDERS: Final[dict[str, frozenset[str]]] = {"why_email": frozenset({"brand"})}
"""The ``{name}`` placeholders a key may use (none for the others)."""

BUILTIN: Final[dict[str, dict[str, str]]] = {
    "en": {
        "your_code": "Your code",
        "valid_until": "Valid until",
        "why_email": "You are receiving this email because you have an account with {brand}.",
        "unsubscribe": "Unsubscribe",
        "email_preferences": "Email preferences",
        "privacy": "Privacy",
        "imprint": "Imprint",
        "opt_out": "Reply STOP to opt out",
    },
    "de": {
        "your_code": "Ihr Code",
        "valid_until": "Gültig bis",
        "why_email": "Sie erhalten diese E-Mail, weil Sie ein Kundenkonto bei {brand} haben.",
        "unsubscribe": "Abmelden",
        "email_preferences": "E-Mail-Einstellungen",
        "privacy": "Datenschutz",
        "imprint": "Impressum",
        "opt_out": "Antworte STOP zum Abbestellen",
    },
    "fr": {
        "your_code": "Votre code",
        "valid_until": "Valable jusqu’au",
        "why_email": "Vous recevez cet e-mail parce que vous avez un compte chez {brand}.",
        "unsubscribe": "Se désabonner",
        "email_preferences": "Préférences e-mail",
        "privacy": "Confidentialité",
        "imprint": "Mentions légales",
        "opt_out": "Répondez STOP pour vous désabonner",
    },
}
"""The engine's own strings, used where the content has none."""

_PLACEHOLDER: Final = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Found:
    """A string and where it came from: the locale and whether the content file gave it."""

    text: str
    locale: str
    from_content: bool


def lookup(
    catalogue: Mapping[str, Strings], settings: Settings | None, locale: str, key: str
) -> Found | None:
    """``key`` for ``locale`` along its fallback chain, or None when no locale has it."""
    for candidate in locale_chain(settings, locale):
        item = catalogue.get(candidate)
        value = getattr(item, key) if item is not None else None
        if value is not None:
            return Found(value, candidate, True)
        builtin = BUILTIN.get(candidate, {}).get(key)
        if builtin is not None:
            return Found(builtin, candidate, False)
    return None


def strings_for(library: Library, locale: str) -> dict[str, str]:
    """Every key that resolves for ``locale``, with ``{brand}`` replaced by the brand name."""
    brand = library.settings.brand.name if library.settings else ""
    result: dict[str, str] = {}
    for key in KEYS:
        found = lookup(library.strings, library.settings, locale, key)
        if found is not None:
            result[key] = found.text.replace("{brand}", brand)
    return result


def missing_keys(library: Library, locale: str) -> list[str]:
    """The keys no locale on ``locale``'s chain has."""
    return [key for key in KEYS if lookup(library.strings, library.settings, locale, key) is None]


def placeholder_problems(item: Strings) -> list[tuple[str, str]]:
    """(key, placeholder) for every ``{name}`` a string may not use."""
    problems = []
    for key in KEYS:
        value = getattr(item, key)
        if value is None:
            continue
        allowed = PLACEHOLDERS.get(key, frozenset())
        problems += [(key, name) for name in _PLACEHOLDER.findall(value) if name not in allowed]
    return problems
