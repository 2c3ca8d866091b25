"""Errors and diagnostics: every problem a user can cause is data with a position.

A :class:`Diagnostic` is one problem found in the content (a file, a 1-based line and column, a
stable code, a message and a hint that tells a content editor how to fix it). Loaders and
validators *collect* diagnostics and never stop at the first one; the CLI decides how to print
them and which exit code to use.

Exceptions all derive from :class:`AtomicError`, so callers can catch one base class. Errors that
concern content carry diagnostics; render-time errors name the customer, atom and attribute at
fault but never the customer's value (it may be personal data).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


class Severity(enum.StrEnum):
    """How bad a diagnostic is. Warnings fail only under ``--strict``."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem in the content, positioned for a human.

    ``path`` is relative to the content root where possible (POSIX separators); ``line`` and
    ``col`` are 1-based, 0 when the problem concerns a whole file or no file. ``code`` is stable
    across releases (``schema.extra_forbidden``, ``ref.unknown_segment`` ...) so that CI rules and
    documentation can rely on it.
    """

    path: str
    line: int
    col: int
    severity: Severity = field(compare=False)
    code: str
    message: str
    hint: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, object]:
        """The documented JSON shape of a diagnostic."""
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }


class Diagnostics:
    """An ordered, de-duplicated collection of diagnostics.

    Adding the same (path, line, col, code, message) twice keeps one, so that one broken atom is
    reported once however many journeys reach it.
    """

    def __init__(self, items: Iterable[Diagnostic] = ()) -> None:
        self._items: dict[tuple[str, int, int, str, str], Diagnostic] = {}
        self.extend(items)

    def add(self, diagnostic: Diagnostic) -> None:
        key = (
            diagnostic.path,
            diagnostic.line,
            diagnostic.col,
            diagnostic.code,
            diagnostic.message,
        )
        self._items.setdefault(key, diagnostic)

    def error(
        self, path: str, line: int, col: int, code: str, message: str, hint: str = ""
    ) -> None:
        self.add(Diagnostic(path, line, col, Severity.ERROR, code, message, hint))

    def warning(
        self, path: str, line: int, col: int, code: str, message: str, hint: str = ""
    ) -> None:
        self.add(Diagnostic(path, line, col, Severity.WARNING, code, message, hint))

    def extend(self, items: Iterable[Diagnostic]) -> None:
        for item in items:
            self.add(item)

    def sorted(self) -> list[Diagnostic]:
        """Diagnostics in a stable order: by path, line, column, code."""
        return sorted(self._items.values())

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.sorted() if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.sorted() if d.severity is Severity.WARNING]

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self._items.values())

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.sorted())

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)


class AtomicError(Exception):
    """Base class of every error this package raises on purpose."""


class ContentError(AtomicError):
    """The content has errors; ``diagnostics`` lists all of them (errors and warnings)."""

    def __init__(self, diagnostics: Diagnostics, message: str = "the content has errors") -> None:
        super().__init__(message)
        self.diagnostics = diagnostics


class UsageError(AtomicError):
    """The caller asked for something that does not exist (unknown journey, customer, ...).

    ``hint`` says what would have worked (for example the known journey ids).
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ResolutionError(AtomicError):
    """A message cannot be assembled: a required slot has no candidate atom.

    ``diagnostics`` names journey, step, channel, locale, slot and audience of every gap.
    """

    def __init__(self, diagnostics: Diagnostics) -> None:
        super().__init__("a required slot has no content")
        self.diagnostics = diagnostics


class RenderError(AtomicError):
    """Rendering a message for one customer failed.

    Names the customer id, the atom and the attribute at fault, never the attribute's value:
    error messages end up in logs and customer data must not.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        customer_id: str | None = None,
        atom_id: str | None = None,
        attribute: str | None = None,
        hint: str = "",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.customer_id = customer_id
        self.atom_id = atom_id
        self.attribute = attribute
        self.hint = hint

    def __str__(self) -> str:
        where = []
        if self.customer_id is not None:
            where.append(f"customer {self.customer_id!r}")
        if self.atom_id is not None:
            where.append(f"atom {self.atom_id!r}")
        if self.attribute is not None:
            where.append(f"attribute {self.attribute!r}")
        prefix = f"[{self.code}] " + (", ".join(where) + ": " if where else "")
        return prefix + self.message


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A ``did you mean 'x'?`` phrase for the closest candidate, or an empty string."""
    import difflib

    matches = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean {matches[0]!r}?" if matches else ""
