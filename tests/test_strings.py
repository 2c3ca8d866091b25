"""The strings catalogue: the words the engine and layouts write, per locale, with fallback
along the locale chain, validated for completeness."""

from __future__ import annotations

import datetime as dt

import pytest

from atomic_content.coverage import CellStatus, compute_coverage
from atomic_content.errors import Diagnostic
from atomic_content.repository import Library
from atomic_content.strings import BUILTIN, KEYS, lookup, strings_for
from atomic_content.validate import check_content
from conftest import RenderTree, render_run_message
from contentkit import SETTINGS

ADA = {"id": "C-1", "first_name": "Ada", "locale": "en", "tier": "gold", "orders": 4}


def fmt(d: Diagnostic) -> str:
    return f"{d.path}:{d.line}:{d.col}: {d.severity.value}[{d.code}]: {d.message}"


def test_builtin_and_demo_catalogues_are_complete(render_demo_library: Library) -> None:
    for language, texts in BUILTIN.items():
        assert set(texts) == set(KEYS), language
    assert sorted(render_demo_library.strings) == ["de", "en", "fr"]
    for locale in ("en", "de", "de-AT", "fr", "fr-FR"):
        assert set(strings_for(render_demo_library, locale)) == set(KEYS)


def test_fallback_along_the_locale_chain(render_tree: RenderTree) -> None:
    settings = SETTINGS.replace(
        "  de-AT: {fallback: de}\n", "  de-AT: {fallback: de}\n  fr-CA: {fallback: en}\n"
    )
    tree = render_tree(
        {
            "atomic.yaml": settings,
            "strings/de-AT.yaml": "your_code: Dein Code\n",
            "strings/fr-CA.yaml": "your_code: Votre code promo\n",
        }
    )
    library, diagnostics = check_content(tree)
    assert [fmt(d) for d in diagnostics if d.code.startswith("strings")] == []
    found = lookup(library.strings, library.settings, "de-AT", "your_code")
    assert found is not None and (found.text, found.locale, found.from_content) == (
        "Dein Code",
        "de-AT",
        True,
    )
    found = lookup(library.strings, library.settings, "de-AT", "valid_until")
    assert found is not None and (found.text, found.locale) == ("Gültig bis", "de")
    # fr-CA -> en: its own key, then English (fr-CA is not fr).
    assert strings_for(library, "fr-CA")["your_code"] == "Votre code promo"
    assert strings_for(library, "fr-CA")["unsubscribe"] == "Unsubscribe"
    assert strings_for(library, "en")["why_email"].endswith("an account with Acme Outdoor.")


def test_missing_string_is_a_positioned_error_naming_the_locale(render_tree: RenderTree) -> None:
    settings = SETTINGS.replace(
        "  de-AT: {fallback: de}\n", "  de-AT: {fallback: de}\n  es: {name: Español}\n"
    )
    tree = render_tree(
        {
            "atomic.yaml": settings,
            "strings/es.yaml": "your_code: Tu código\nunsubscribe: Darse de baja\n",
        }
    )
    _library, diagnostics = check_content(tree)
    assert [fmt(d) for d in diagnostics if d.code == "strings.missing"] == [
        "atomic.yaml:13:7: error[strings.missing]: locale 'es' has no string for valid_until, "
        "why_email, email_preferences, privacy, imprint, opt_out (looked in es)"
    ]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"strings/en.yaml": "why_email: Hello {name}, from {brand}\n"},
            "strings/en.yaml:1:12: error[strings.placeholder]: why_email may not use {name}",
        ),
        (
            {"strings/en.yaml": "your_cod: Code\n"},
            "strings/en.yaml:1:1: error[schema.unknown_field]",
        ),
        (
            {"strings/it.yaml": "your_code: Il tuo codice\n"},
            "strings/it.yaml:1:1: error[ref.unknown_locale]: unknown locale 'it'",
        ),
    ],
    ids=["placeholder", "unknown-key", "unknown-locale"],
)
def test_bad_strings_files(render_tree: RenderTree, files: dict[str, str], expected: str) -> None:
    _library, diagnostics = check_content(render_tree(dict(files)))
    assert any(fmt(d).startswith(expected) for d in diagnostics), [fmt(d) for d in diagnostics]


def test_french_email_uses_french_strings_and_dates(render_demo_library: Library) -> None:
    tom = {**render_demo_library.customers["tom"].attributes, "locale": "fr-FR"}
    run = render_run_message(render_demo_library, tom, "welcome", "day-0", "email")
    text, html = run.rendered.parts["text"], run.rendered.parts["html"]
    assert run.resolution.language == "fr-FR"
    assert (
        "Vous recevez cet e-mail parce que vous avez un compte chez Northwind Outfitters." in text
    )
    assert "Se désabonner: https://www.northwind.example/preferences/unsubscribe" in text
    assert ">Confidentialité</a>" in html and 'lang="fr-FR"' in html
    # A step without French atoms falls back to English as a whole, labels included.
    day7 = render_run_message(render_demo_library, tom, "welcome", "day-7", "email")
    assert day7.resolution.language == "en"
    assert "Your code: " in day7.rendered.parts["text"]
    assert "Valid until December 31, 2027" in day7.rendered.parts["text"]


def test_layout_lint_knows_the_strings(render_tree: RenderTree) -> None:
    from contentkit import MJML

    mjml = MJML.replace(
        "<h1>{{ slots.headline }}</h1>", "<h1>{{ slots.headline }}</h1>{{ strings.unsubscrbe }}"
    )
    _library, diagnostics = check_content(render_tree({"layouts/email/basic.mjml": mjml}))
    found = [fmt(d) for d in diagnostics if d.code == "layout.unknown_string"]
    assert found and "strings has no field 'unsubscrbe'" in found[0]
    assert "did you mean 'unsubscribe'?" in next(
        d.hint for d in diagnostics if d.code == "layout.unknown_string"
    )


def test_demo_fr_fr_fallback_shows_in_coverage(render_demo_library: Library) -> None:
    report = compute_coverage(render_demo_library, on=dt.date(2026, 12, 1), journey="welcome")
    french = [cell for cell in report.cells if cell.locale == "fr-FR"]
    assert french
    # The day-0 email is written in French (atoms of fr, fr-FR's fallback); the other
    # messages fall back to English.
    day0 = {
        c.atom_locale
        for c in french
        if (c.step, c.channel) == ("day-0", "email") and c.slot in ("subject", "headline", "body")
    }
    assert day0 == {"fr"}
    day7 = {
        (c.status, c.atom_locale)
        for c in french
        if (c.step, c.channel) == ("day-7", "email") and c.slot == "subject"
    }
    assert day7 == {(CellStatus.FALLBACK_LOCALE, "en")}
