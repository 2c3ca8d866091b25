"""Turn diagnostics into text for people, JSON for programs and annotations for GitHub.

Pure functions returning strings; the CLI prints them. Everything echoed from content into CI
logs goes through :func:`github_escape` (inside a workflow command) or :func:`log_safe` (a line
of text output) so that an atom cannot forge workflow commands; a value from data shown inside a
line (a customer id, a segment name) goes through :func:`inline` (:func:`one_line`, then
:func:`log_safe`), so it cannot end the line and start a forged one.
"""

from __future__ import annotations

import json
import os
import stat
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from .errors import Diagnostic, DiagnosticFormat, Severity, plural
from .resolver import Resolution, Verdict
from .segments import SegmentVerdict


class _SourceLines:
    """Lines of content files for :func:`format_text`, quoted only from regular files inside
    ``root`` once symbolic links are followed.

    One instance per report: the root and each folder are resolved once (a build can print
    thousands of warnings, and resolving every file's whole path again cost seconds), and the
    last file read is kept (the diagnostics come sorted by path). Plain strings and ``os``
    calls, not :class:`~pathlib.Path`: a third of the time for 16 000 warnings."""

    def __init__(self, root: Path | None) -> None:
        self._root = root
        self._real_root: str | None = None
        self._real_dirs: dict[str, str] = {}
        self._path: str | None = None  # the last path asked for, and its real file
        self._candidate: str | None = None
        self._file: str | None = None
        self._lines: list[bytes] = []

    def line(self, path: str, line: int) -> str | None:
        """Line ``line`` (1-based) of ``root/path``; None when it cannot or may not be shown."""
        if self._root is None or line <= 0:
            return None
        try:
            if path != self._path:  # the same file as the diagnostic before: known
                self._path = path
                self._candidate = None
                self._candidate = self._real_file(os.path.join(self._root, path))  # noqa: PTH118
            candidate = self._candidate
            if candidate is None:
                return None
            if candidate != self._file:
                with open(candidate, "rb") as handle:  # noqa: PTH123
                    lines = handle.read().split(b"\n")
                if lines and not lines[-1]:
                    lines.pop()  # the file's last line end starts no line
                self._file, self._lines = candidate, lines
        except OSError:
            return None
        if line > len(self._lines):
            return None
        return self._lines[line - 1].decode("utf-8", "replace").rstrip("\r\n")

    def _real_file(self, joined: str) -> str | None:
        """The real path of ``joined`` when it is a regular file below the real root."""
        assert self._root is not None
        if self._real_root is None:
            self._real_root = os.path.realpath(self._root)
        # realpath(folder/name) == realpath(realpath(folder)/name); a last part "", "." or
        # ".." names a folder, which the regular-file test below refuses.
        folder, name = os.path.split(joined)
        real_folder = self._real_dirs.get(folder)
        if real_folder is None:
            real_folder = self._real_dirs[folder] = os.path.realpath(folder)
        candidate = os.path.join(real_folder, name)  # noqa: PTH118
        mode = os.lstat(candidate).st_mode
        if stat.S_ISLNK(mode):
            candidate = os.path.realpath(candidate)
            mode = os.stat(candidate).st_mode  # noqa: PTH116
        inside = self._real_root.rstrip(os.sep) + os.sep
        return candidate if candidate.startswith(inside) and stat.S_ISREG(mode) else None


def format_text(diagnostics: Iterable[Diagnostic], root: Path | None = None) -> str:
    """``path:line:col: error[code]: message``, the source line with a caret, then the hint."""
    blocks: list[str] = []
    sources = _SourceLines(root)
    for d in diagnostics:
        where = d.path or "<content>"
        if d.line:
            where += f":{d.line}:{d.col}"
        lines = [f"{where}: {d.severity.value}[{d.code}]: {d.message}"]
        # A line of customer data is never quoted: it would put the values in the log.
        source = None if d.personal else sources.line(d.path, d.line)
        if source is not None:
            shown = source.expandtabs(4)
            lines.append(f"  {d.line:>4} | {shown}")
            if d.col > 0:
                lines.append(f"       | {' ' * (d.col - 1)}^")
        if d.hint:
            lines.append(f"  hint: {d.hint}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def summary_line(diagnostics: list[Diagnostic]) -> str:
    """``2 errors, 1 warning`` (or ``no problems``); hints are counted apart (``1 hint``)."""
    if not diagnostics:
        return "no problems"
    parts = []
    for severity in Severity:
        count = sum(1 for d in diagnostics if d.severity is severity)
        if count:
            parts.append(plural(count, severity.value))
    return ", ".join(parts)


def format_json(diagnostics: Iterable[Diagnostic]) -> str:
    """The documented JSON list of diagnostics (see docs/cli.md)."""
    return json.dumps([d.to_dict() for d in diagnostics], indent=2, ensure_ascii=False)


def github_escape(value: str, *, property_value: bool = False) -> str:
    """Escape text for a GitHub Actions workflow command (data or property part).

    Percent, CR and LF are encoded so a message cannot end the command and start another
    (``::set-output``, ``::add-mask`` ...); in properties ``:`` and ``,`` are encoded too.
    """
    escaped = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        escaped = escaped.replace(":", "%3A").replace(",", "%2C")
    return escaped


ZWSP = "\u200b"
"""Zero-width space: breaks a command prefix without changing what a reader sees."""


def log_safe(line: str) -> str:
    """``line`` made inert for the GitHub Actions runner: a zero-width space breaks a leading
    ``::`` (workflow command) and every ``##[`` (legacy command prefix). Invisible on screen.

    For text output that shows content line by line (``atomic diff``, ``atomic preview``);
    the line must not hold CR/LF (split first)."""
    stripped = line.lstrip()
    if stripped.startswith("::"):
        at = len(line) - len(stripped) + 1
        line = line[:at] + ZWSP + line[at:]
    return line.replace("##[", "#" + ZWSP + "#[")


_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Direction marks and overrides: shown, not applied, so text reads as it is stored."""


def visible(text: str) -> str:
    """``text`` with control characters (other than tab) and line/paragraph separators shown as
    ``\\xNN`` / ``\\uNNNN``, so content cannot move the cursor, colour a terminal or start a new
    line in a log."""
    out = []
    for char in text:
        if char == "\t":
            out.append(char)
        elif unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in _BIDI_CONTROLS:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def one_line(value: str) -> str:
    """A content value on one line: CR/LF (and then ``%``) encoded as in workflow commands,
    other control characters made visible (:func:`visible`)."""
    if "\n" in value or "\r" in value:
        value = github_escape(value)
    return visible(value)


def inline(value: str) -> str:
    """A value from data (a customer id, a sample customer's file name, a segment name from a
    results file) to show inside a line of text output: on one line (:func:`one_line`) and inert
    for the GitHub Actions runner (:func:`log_safe`). ``x)\\n::error ...`` is shown as
    ``x)%0A::error ...``: it cannot end the line it is in nor start a forged one."""
    return log_safe(one_line(value))


def format_github(diagnostics: Iterable[Diagnostic], content_prefix: str = "") -> str:
    """``::error file=...,line=...,col=...,title=code::message`` lines for GitHub annotations."""
    lines = []
    for d in diagnostics:
        level = {Severity.ERROR: "error", Severity.WARNING: "warning"}.get(d.severity, "notice")
        props = [f"file={github_escape(content_prefix + d.path, property_value=True)}"]
        if d.line:
            props.append(f"line={d.line}")
            props.append(f"col={d.col}")
        props.append(f"title={github_escape(d.code, property_value=True)}")
        text = d.message + (f" — hint: {d.hint}" if d.hint else "")
        lines.append(f"::{level} {','.join(props)}::{github_escape(text)}")
    return "\n".join(lines)


def repo_prefix(root: Path | None) -> str:
    """The content folder as seen from the working directory (``content/``), so that CI
    annotations name files the way the repository does; empty when it is not below it."""
    if root is None:
        return ""
    try:
        relative = root.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return ""
    text = relative.as_posix()
    return "" if text in ("", ".") else text + "/"


def format_report(
    diagnostics: list[Diagnostic], root: Path | None = None, fmt: DiagnosticFormat = "text"
) -> list[str]:
    """What the CLI prints for a list of diagnostics, as lines without line ends.

    ``text``: :func:`format_text` then :func:`summary_line` (the CLI writes them to stderr);
    ``json``: :func:`format_json`, also for an empty list; ``github``: :func:`format_github`
    with file names relative to the working directory (see :func:`repo_prefix`), nothing for
    an empty list. The diagnostics are printed in the order given.
    """
    if fmt == "json":
        return format_json(diagnostics).split("\n")
    if fmt == "github":
        if not diagnostics:
            return []
        return format_github(diagnostics, content_prefix=repo_prefix(root)).split("\n")
    lines = format_text(diagnostics, root).split("\n") if diagnostics else []
    lines.append(summary_line(diagnostics))
    return lines


DRAFTS_MARK = "with drafts: not built"
"""What marks a message in which draft or review atoms win (``--include-drafts``)."""


def variant_label(variant_id: str, with_drafts: bool) -> str:
    """How output for people names the variant of a previewed message: its id, followed by
    ``(with drafts: not built)`` when draft or review atoms win in it — the id is then the
    built variant's that the message would replace once they are approved, and no build
    contains the message itself."""
    return f"{variant_id} ({DRAFTS_MARK})" if with_drafts else variant_id


def format_segments(customer_id: str, verdicts: list[SegmentVerdict], refused: bool) -> str:
    """A customer's segments, each with the clauses that decided it."""
    matched = [v.segment for v in verdicts if v.matched]
    shown = ", ".join(matched) if matched else "no segment"
    lines = [f"customer {inline(customer_id)}: {shown}"]
    if refused:
        lines.append(
            "  consent: the customer withheld a consent; segments reading the attributes it "
            "covers are not considered"
        )
    for verdict in verdicts:
        mark = "✓" if verdict.matched else "✗"
        lines.append(f"{mark} {verdict.segment} (priority {verdict.priority}) — {verdict.name}")
        for clause in verdict.clauses:
            sign = "pass" if clause.passed else "fail"
            lines.append(f"    {sign}: {clause.clause}   attribute: {clause.value}")
        if verdict.note:
            lines.append(f"    note: {verdict.note}")
    return "\n".join(lines)


def format_resolution(resolution: Resolution, *, explain: bool = False) -> str:
    """Per slot the chosen atom; with ``explain`` every candidate and why it won or lost."""
    key = resolution.key
    audience = resolution.audience
    matched = ", ".join(sorted(audience.matched)) or "none"
    lines = [
        f"{key.journey} / {key.step} / {key.channel} / {key.locale}  (layout {resolution.layout})",
        f"audience: {audience.label} — {audience.id}"
        + (f" (in segments: {matched})" if audience.matched else ""),
        f"language: {resolution.language}",
    ]
    if resolution.date is not None:
        lines.append(f"date: {resolution.date.isoformat()}")
    lines.extend(f"note: {note}" for note in resolution.notes)
    width = max((len(name) for name in resolution.slots), default=4)
    for name, choice in resolution.slots.items():
        need = "required" if choice.required else "optional"
        atom = choice.winner.id if choice.winner else "— nothing —"
        lines.append(f"  {name:<{width}}  {atom}   [{need}] {choice.reason}")
        if explain:
            elsewhere = []
            for candidate in choice.candidates:
                if candidate.verdict is Verdict.WON:
                    continue
                if candidate.reason.startswith("other journey"):
                    # Atoms written for other journeys are listed in one line: they are many
                    # and rarely the question (the JSON format lists each).
                    elsewhere.append(candidate.atom_id)
                    continue
                lines.append(
                    f"  {'':<{width}}    {candidate.verdict.value}: {candidate.atom_id}"
                    f" — {candidate.reason}"
                )
            if elsewhere:
                shown = ", ".join(elsewhere[:3]) + (
                    f" and {len(elsewhere) - 3} more" if len(elsewhere) > 3 else ""
                )
                lines.append(
                    f"  {'':<{width}}    rejected (written for other journeys or steps): {shown}"
                )
    if resolution.missing_required:
        lines.append("missing required slots: " + ", ".join(resolution.missing_required))
    return "\n".join(lines)
