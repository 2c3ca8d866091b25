"""Errors and diagnostics: every problem a user can cause is data with a position.

A :class:`Diagnostic` is one problem found in the content (a file, a 1-based line and column, a
stable code, a message and a hint that tells a content editor how to fix it). Loaders and
validators *collect* diagnostics and never stop at the first one; the CLI decides how to print
them and which exit code to use.

Exceptions all derive from :class:`AtomicError`, so callers can catch one base class. Errors that
concern content carry diagnostics; render-time errors name the customer, atom and attribute at
fault but never the customer's value (it may be personal data).

Every exception owns its presentation and its exit code, so the CLI needs no per-type ladder:
``exc.format_lines(root)`` returns what to print (to stderr) and ``exc.exit_code`` the status.
Positions are fields (``path``, ``line``, ``col``), never part of the message text. Every
exception pickles (``pickle.loads(pickle.dumps(exc))`` has the same type, ``args``, attributes
and ``str``), so errors raised in a worker process reach the parent intact.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

EXIT_OK = 0
"""Success."""
EXIT_CONTENT = 1
"""The content has problems, or a message cannot be resolved or rendered."""
EXIT_USAGE = 2
"""The caller asked for something that does not exist (unknown option, journey, customer ...)."""
EXIT_INTERNAL = 70
"""A bug in atomic-content (``EX_SOFTWARE`` in sysexits.h)."""
EXIT_TEMPFAIL = 75
"""A temporary condition; the same command may succeed later (``EX_TEMPFAIL``)."""

DiagnosticFormat = Literal["text", "json", "github"]
"""How diagnostics are presented: for people, for programs, as GitHub annotations."""

_E = TypeVar("_E", bound="AtomicError")


class Severity(enum.StrEnum):
    """How bad a diagnostic is. Warnings fail only under ``--strict``."""

    ERROR = "error"
    WARNING = "warning"
    HINT = "hint"
    """Advice that never fails a command, not even under ``--strict`` (stale editor schemas)."""


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem in the content, positioned for a human.

    ``path`` is relative to the content root where possible (POSIX separators); ``line`` and
    ``col`` are 1-based, 0 when the problem concerns a whole file or no file. ``code`` is stable
    across releases (``schema.extra_forbidden``, ``ref.unknown_segment`` ...) so that CI rules and
    documentation can rely on it. ``personal`` marks a position inside customer data (a
    sample customer file): formatters never quote that source line, so values stay out of
    logs.
    """

    path: str
    line: int
    col: int
    severity: Severity = field(compare=False)
    code: str
    message: str
    hint: str = field(default="", compare=False)
    personal: bool = field(default=False, compare=False)

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
        # Keyed by the fields a Diagnostic compares by, so sorting the keys is sorting the
        # diagnostics (in C: tens of thousands of dataclass comparisons took a tenth of a
        # rebuild).
        self._items: dict[tuple[str, int, int, str, str], Diagnostic] = {}
        self._sorted: list[Diagnostic] | None = None
        self._split: tuple[list[Diagnostic], list[Diagnostic]] | None = None  # errors, warnings
        self._errors = 0  # kept as items arrive: a build asks has_errors of 10^4 warnings
        self.extend(items)

    def add(self, diagnostic: Diagnostic) -> None:
        self.extend((diagnostic,))

    def error(
        self, path: str, line: int, col: int, code: str, message: str, hint: str = ""
    ) -> None:
        self.add(Diagnostic(path, line, col, Severity.ERROR, code, message, hint))

    def warning(
        self, path: str, line: int, col: int, code: str, message: str, hint: str = ""
    ) -> None:
        self.add(Diagnostic(path, line, col, Severity.WARNING, code, message, hint))

    def extend(self, items: Iterable[Diagnostic]) -> None:
        store = self._items
        for item in items:
            key = (item.path, item.line, item.col, item.code, item.message)
            if key not in store:
                store[key] = item
                self._sorted = self._split = None
                if item.severity is Severity.ERROR:
                    self._errors += 1

    def sorted(self) -> list[Diagnostic]:
        """Diagnostics in a stable order: by path, line, column, code, message."""
        return list(self._in_order())

    def _in_order(self) -> list[Diagnostic]:
        if self._sorted is None:
            items = self._items
            self._sorted = [items[key] for key in sorted(items)]
        return self._sorted

    def _by_severity(self) -> tuple[list[Diagnostic], list[Diagnostic]]:
        if self._split is None:
            ordered = self._in_order()
            self._split = (
                [d for d in ordered if d.severity is Severity.ERROR],
                [d for d in ordered if d.severity is Severity.WARNING],
            )
        return self._split

    @property
    def errors(self) -> list[Diagnostic]:
        return list(self._by_severity()[0])

    @property
    def warnings(self) -> list[Diagnostic]:
        return list(self._by_severity()[1])

    def warnings_only(self) -> Diagnostics:
        """A new collection of this one's warnings (already in order: nothing is sorted)."""
        only = Diagnostics()
        warnings = self._by_severity()[1]
        only._items = {(d.path, d.line, d.col, d.code, d.message): d for d in warnings}
        only._sorted = list(warnings)
        return only

    def without_paths(self, paths: AbstractSet[str]) -> Diagnostics:
        """A new collection of this one's diagnostics but those in the files ``paths`` (an
        empty set: a copy)."""
        kept = Diagnostics()
        kept._items = {key: d for key, d in self._items.items() if key[0] not in paths}
        kept._errors = sum(d.severity is Severity.ERROR for d in kept._items.values())
        return kept

    @property
    def has_errors(self) -> bool:
        return self._errors > 0

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.sorted())

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __eq__(self, other: object) -> bool:
        """Equal when both hold the same diagnostics (every field, severity and hint too)."""
        if not isinstance(other, Diagnostics):
            return NotImplemented
        return [d.to_dict() for d in self.sorted()] == [d.to_dict() for d in other.sorted()]

    def __repr__(self) -> str:
        return f"Diagnostics({self.sorted()!r})"


class AtomicError(Exception):
    """Base class of every error this package raises on purpose.

    ``exit_code`` is the CLI's exit status for this class of error; :meth:`format_lines` is what
    the CLI prints for it. ``hint`` (empty when there is none) tells the user what to do.

    Pickling rebuilds the error from ``args`` and the instance attributes without calling
    ``__init__`` (see :meth:`__reduce__`), so subclasses may have any constructor signature as
    long as all of their state lives in instance attributes. As with every exception,
    ``__cause__``, ``__context__`` and ``__traceback__`` are not pickled.
    """

    exit_code: ClassVar[int] = EXIT_CONTENT
    hint: str = ""

    def format_lines(self, root: Path | None = None, fmt: DiagnosticFormat = "text") -> list[str]:
        """What the CLI prints for this error, one line per item (no line ends).

        ``error: <str(self)>`` then ``  hint: <hint>`` when there is a hint. ``root`` (the
        content folder, for source lines) and ``fmt`` matter only to errors that carry
        diagnostics or a position.
        """
        lines = [f"error: {self}"]
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return lines

    def __reduce__(self) -> tuple[Any, ...]:
        # The default (``type(self)(*self.args)`` plus ``__dict__``) calls ``__init__`` with the
        # message only: a TypeError for keyword-only arguments, or worse, a message silently
        # bound to the wrong parameter. Rebuilding without ``__init__`` works for every subclass.
        return (_restore_error, (type(self), self.args, dict(vars(self))))


def _restore_error(cls: type[_E], args: tuple[Any, ...], state: dict[str, Any]) -> _E:
    """Unpickle an :class:`AtomicError`: ``args`` and attributes as they were, no ``__init__``."""
    error = cls.__new__(cls, *args)
    error.args = args
    vars(error).update(state)
    return error


def _diagnostic_lines(
    diagnostics: Diagnostics, root: Path | None, fmt: DiagnosticFormat
) -> list[str]:
    # Imported here: formatting imports the resolver, which imports this module.
    from .formatting import format_report

    return format_report(diagnostics.sorted(), root, fmt)


class ContentError(AtomicError):
    """The content has errors; ``diagnostics`` lists all of them (errors and warnings)."""

    exit_code: ClassVar[int] = EXIT_CONTENT

    def __init__(self, diagnostics: Diagnostics, message: str = "the content has errors") -> None:
        super().__init__(message)
        self.diagnostics = diagnostics

    def format_lines(self, root: Path | None = None, fmt: DiagnosticFormat = "text") -> list[str]:
        """The diagnostics as ``atomic validate --format fmt`` prints them (see
        :func:`atomic_content.formatting.format_report`)."""
        return _diagnostic_lines(self.diagnostics, root, fmt)


class UsageError(AtomicError):
    """The caller asked for something that does not exist (unknown journey, customer, ...).

    ``hint`` says what would have worked (for example the known journey ids). No position:
    the mistake is in the command line or the call, not in a file.
    """

    exit_code: ClassVar[int] = EXIT_USAGE

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ResolutionError(AtomicError):
    """A message cannot be assembled: a required slot has no candidate atom.

    ``diagnostics`` names journey, step, channel, locale, slot and audience of every gap.
    """

    exit_code: ClassVar[int] = EXIT_CONTENT

    def __init__(self, diagnostics: Diagnostics) -> None:
        super().__init__("a required slot has no content")
        self.diagnostics = diagnostics

    def format_lines(self, root: Path | None = None, fmt: DiagnosticFormat = "text") -> list[str]:
        """The diagnostics, as for :class:`ContentError`."""
        return _diagnostic_lines(self.diagnostics, root, fmt)


class RenderError(AtomicError):
    """Rendering a message for one customer failed.

    Names the customer id, the atom and the attribute at fault, never the attribute's value:
    error messages end up in logs and customer data must not. ``path``, ``line`` and ``col``
    optionally place the error in a content file (a layout, an atom): ``path`` relative to the
    content root, ``None`` when the error has no file; ``line``/``col`` 1-based, 0 when unknown.
    ``str()`` never includes the position; :meth:`format_lines` shows it.
    """

    exit_code: ClassVar[int] = EXIT_CONTENT

    def __init__(
        self,
        code: str,
        message: str,
        *,
        customer_id: str | None = None,
        atom_id: str | None = None,
        attribute: str | None = None,
        hint: str = "",
        path: str | None = None,
        line: int = 0,
        col: int = 0,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.customer_id = customer_id
        self.atom_id = atom_id
        self.attribute = attribute
        self.hint = hint
        self.path = path
        self.line = line
        self.col = col

    def _subject(self) -> str:
        """``customer 'c', atom 'a', attribute 'x': message`` (as much as is known)."""
        where = []
        if self.customer_id is not None:
            where.append(f"customer {self.customer_id!r}")
        if self.atom_id is not None:
            where.append(f"atom {self.atom_id!r}")
        if self.attribute is not None:
            where.append(f"attribute {self.attribute!r}")
        return (", ".join(where) + ": " if where else "") + self.message

    def __str__(self) -> str:
        return f"[{self.code}] {self._subject()}"

    def format_lines(self, root: Path | None = None, fmt: DiagnosticFormat = "text") -> list[str]:
        """Without a position as :class:`AtomicError`; with one like a diagnostic:
        ``path:line:col: error[code]: ...``, the source line with a caret (when ``root`` is
        given and the file is readable), then the hint. ``fmt`` is ignored."""
        if self.path is None:
            return super().format_lines(root, fmt)
        from .formatting import format_text  # see _diagnostic_lines

        located = Diagnostic(
            self.path, self.line, self.col, Severity.ERROR, self.code, self._subject(), self.hint
        )
        return format_text([located], root).split("\n")


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A ``did you mean 'x'?`` phrase for the closest candidate, or an empty string."""
    import difflib

    matches = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean {matches[0]!r}?" if matches else ""


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """``1 warning``, ``2 warnings``, ``0 variants`` (``plural_form`` for irregular nouns):
    every count shown to a person goes through here."""
    return f"{count} {noun if count == 1 else (plural_form or noun + 's')}"
