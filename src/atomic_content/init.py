"""``atomic init``: start a brand with a small project that validates, builds and previews.

The starter lives in ``atomic_content/starter/`` (package data): settings, a profile, two
segments, one journey over email, app and microsite, its layouts, a dozen atoms, two sample
customers, a pre-commit hook and a CI workflow. :func:`init_project` copies it into a folder,
filling in the brand name and locales, and writes the project's editor schemas.

It never overwrites silently: a folder that is not empty is refused unless ``force`` is given,
and then the result lists every file that was replaced.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from .errors import UsageError
from .models import deep_link_scheme_problem

_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
# Starter files whose names cannot be package data as they are (dot files, dot folders).
_RENAMED = {
    "pre-commit-config.yaml": ".pre-commit-config.yaml",
    "github_workflows/content.yml": ".github/workflows/content.yml",
}
_LANGUAGE_NAMES = {
    "en": "English",
    "de": "Deutsch",
    "fr": "Français",
    "es": "Español",
    "it": "Italiano",
    "nl": "Nederlands",
    "pt": "Português",
    "pl": "Polski",
    "sv": "Svenska",
    "da": "Dansk",
}


@dataclass(frozen=True)
class InitResult:
    """What :func:`init_project` wrote: every file (sorted), and which of them it replaced."""

    root: Path
    written: list[Path] = field(default_factory=list)
    replaced: list[Path] = field(default_factory=list)

    @property
    def content(self) -> Path:
        """The new project's content folder."""
        return self.root / "content"


def slug(text: str) -> str:
    """``Acme Outdoor!`` -> ``acme-outdoor`` (lower-case letters, digits and ``-``)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def init_project(
    target: Path,
    *,
    brand: str = "My Brand",
    locales: Sequence[str] = ("en",),
    force: bool = False,
) -> InitResult:
    """Write the starter project into ``target`` (created if needed).

    ``locales``: the first is the default locale, the others fall back to it. Raises
    :class:`UsageError` for a bad brand name or locale, and for a ``target`` that is a file or
    a folder that is not empty (unless ``force``: then files of the starter replace files of
    the same name, listed in :attr:`InitResult.replaced`; other files are left alone).
    """
    brand = brand.strip()
    if not brand or not slug(brand) or any(ch in brand for ch in "\n\r\"'{}#:@"):
        raise UsageError(
            f"{brand!r} cannot be a brand name here",
            "use letters, digits and spaces, e.g. --brand 'Acme Outdoor'; edit "
            "content/atomic.yaml afterwards for anything fancier",
        )
    locales = list(dict.fromkeys(code.strip() for code in locales if code.strip()))
    bad = [code for code in locales if not _LOCALE.fullmatch(code)]
    if bad or not locales:
        raise UsageError(
            f"{', '.join(map(repr, bad)) or 'no locale'} is not a locale",
            "write language tags separated by commas, e.g. --locales en,de,de-AT",
        )
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target.as_posix()} is a file, not a folder", "pick a new folder name")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise UsageError(
            f"{target.as_posix()} is not empty",
            "pick a new or empty folder, or pass --force to write the starter files into it "
            "(files with the same names are replaced)",
        )
    values = _values(brand, locales)
    written: list[Path] = []
    replaced: list[Path] = []
    for name, source in _starter_files():
        text = _fill(source.read_text(encoding="utf-8"), values)
        path = target / _RENAMED.get(name, name)
        if path.exists():
            if path.is_dir():
                raise UsageError(
                    f"{path.as_posix()} is a folder where the starter has a file",
                    "move it away and run again",
                )
            replaced.append(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    from .schema import project_library, schema_folder, write_schemas

    content = target / "content"
    folder = schema_folder(content)
    existing = set(folder.glob("*.schema.json")) if folder.is_dir() else set()
    for path in write_schemas(folder, project_library(content)):
        written.append(path)
        if path in existing:
            replaced.append(path)
    return InitResult(target, sorted(written), sorted(replaced))


def _values(brand: str, locales: list[str]) -> dict[str, str]:
    default = locales[0]
    lines = []
    for code in locales:
        options = []
        name = _LANGUAGE_NAMES.get(code)
        if name:
            options.append(f"name: {name}")
        if code != default:
            options.append(f"fallback: {default}")
        lines.append(f"  {code}: {{{', '.join(options)}}}")
    brand_slug = slug(brand)
    return {
        "BRAND": brand,
        "SLUG": brand_slug,
        "SCHEME": _deep_link_scheme(brand_slug),
        "DEFAULT_LOCALE": default,
        "LAST_LOCALE": locales[-1],
        "LOCALES": "\n".join(lines),
    }


def _deep_link_scheme(brand_slug: str) -> str:
    """The app deep-link scheme the starter names for a brand: its slug without hyphens,
    made a valid one that browsers do not handle themselves (``1st`` -> ``brand1st``,
    ``data`` -> ``datalink``; see :func:`~atomic_content.models.deep_link_scheme_problem`)."""
    scheme = brand_slug.replace("-", "")  # never empty: slug() has a letter or digit
    if not scheme[0].isalpha():
        scheme = "brand" + scheme
    if deep_link_scheme_problem(scheme) is not None:
        scheme += "link"
    return scheme


def _fill(text: str, values: dict[str, str]) -> str:
    """Replace ``@@NAME@@`` placeholders (the files hold Jinja, so ``{{ }}`` cannot be used)."""
    return re.sub(r"@@([A-Z_]+)@@", lambda m: values[m.group(1)], text)


def _starter_files() -> Iterator[tuple[str, Traversable]]:
    """(relative POSIX name, file) of every starter file, sorted by name."""
    found: list[tuple[str, Traversable]] = []
    stack: list[tuple[str, Traversable]] = [("", resources.files("atomic_content") / "starter")]
    while stack:
        prefix, folder = stack.pop()
        for entry in folder.iterdir():
            name = f"{prefix}{entry.name}"
            if entry.is_dir():
                if entry.name != "__pycache__":
                    stack.append((f"{name}/", entry))
            else:
                found.append((name, entry))
    yield from sorted(found, key=lambda item: item[0])
