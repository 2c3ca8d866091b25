"""Formatters of a :class:`~atomic_content.diff.DiffResult`: text, markdown and JSON strings.

* ``text`` — for a terminal and CI logs: a summary, then every section in full (long lists and
  previews are capped so a large change stays readable).
* ``markdown`` — a pull-request comment: a short summary first (counts, a table per journey and
  the governance findings), details folded in ``<details>``, each list capped with
  "and N more", the whole comment kept under GitHub's size limit.
* ``json`` — the complete data (:meth:`DiffResult.to_dict`), uncapped.

All three are deterministic (sorted input, no clock) and pure: they return strings.

Safety — content reaches CI logs and pull-request pages through these strings, so:

* single-line values taken from content (paths, messages, revision names) are kept on one line:
  CR/LF are encoded with :func:`atomic_content.formatting.github_escape` and other control
  characters shown as ``\\xNN`` (:func:`atomic_content.formatting.one_line`);
* every output line is made inert for the GitHub Actions runner (:func:`log_safe`): a line
  cannot start a ``::workflow-command::`` and cannot contain the legacy ``##[command]`` prefix;
  in JSON the same is done with a JSON escape, so the data decodes unchanged;
* in markdown, content is written inside code fences longer than any backtick run in it, or as
  inline text with markdown and HTML characters escaped and ``@`` mentions broken, so an atom
  cannot close a fence or ``<details>``, inject HTML or notify people.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from .diff import AtomChange, CellChange, DiffResult, SideInfo, VariantChange
from .errors import Diagnostic, Severity, plural
from .formatting import ZWSP, log_safe, one_line

FORMATS = ("text", "markdown", "json")

MARKDOWN_MAX_CHARS = 60_000
"""GitHub refuses comments over 65,536 characters; previews are cut until the comment fits."""


@dataclass(frozen=True)
class Limits:
    """Caps that keep a report readable: items per list, distinct previews, lines per
    preview, characters per preview line, variants named per preview."""

    items: int = 25
    previews: int = 10
    preview_lines: int = 40
    line_chars: int = 200
    named_variants: int = 4


TEXT_LIMITS = Limits(items=50, previews=20, preview_lines=80, line_chars=400, named_variants=6)
MARKDOWN_LIMITS = Limits()


# ------------------------------------------------------------------------------- escaping


_MD_ESCAPE = re.compile(r"([\\`*_\[\]<>&|~$])")


def md_text(value: str) -> str:
    """Content as inline markdown text: on one line, markdown/HTML characters escaped, ``@``
    followed by a zero-width space so no one is mentioned."""
    return _MD_ESCAPE.sub(r"\\\1", one_line(value)).replace("@", "@" + ZWSP)


def md_code(value: str) -> str:
    """Content as an inline code span that its own backticks cannot close."""
    text = one_line(value)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    if text.startswith("`") or text.endswith("`") or not text.strip():
        text = f" {text} "
    return f"{fence}{text}{fence}"


def md_fence(lines: Sequence[str], info: str = "") -> list[str]:
    """A fenced code block that no line inside can close."""
    longest = max((len(run) for line in lines for run in re.findall(r"`{3,}", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, *lines, fence]


def _cap(line: str, limit: int) -> str:
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _finish(lines: Iterable[str]) -> str:
    return "\n".join(log_safe(line.rstrip()) for line in lines).rstrip("\n") + "\n"


# --------------------------------------------------------------------------- shared parts


def _where(d: Diagnostic) -> str:
    where = d.path or "<content>"
    return f"{where}:{d.line}:{d.col}" if d.line else where


def _atom_summary(atom: AtomChange) -> str:
    """``changes 14 of 212 messages across 3 segments (a, b, c)``."""
    if not atom.variants:
        return "changes no message"
    segments = ", ".join(atom.segments)
    return (
        f"changes {len(atom.variants)} of {plural(atom.of, 'message')} across "
        f"{plural(len(atom.segments), 'segment')} ({segments})"
    )


def _atom_detail(atom: AtomChange) -> str:
    """What changed about an atom, besides its reach: fields, status, rename, move."""
    parts = []
    if atom.change == "renamed" and atom.previous_id:
        parts.append(f"was {atom.previous_id}")
    status_changed = bool(atom.base_status and atom.head_status) and (
        atom.base_status != atom.head_status
    )
    fields = [f for f in atom.fields if not (status_changed and f == "status")]
    if fields:
        parts.append(", ".join(fields))
    if status_changed:
        parts.append(f"status {atom.base_status} → {atom.head_status}")
    elif atom.change == "added" and atom.head_status:
        parts.append(atom.head_status)
    if atom.change == "moved" and atom.base_path and atom.head_path:
        parts.append(f"{one_line(atom.base_path)} → {one_line(atom.head_path)}")
    return "; ".join(parts)


def _by(changes: Sequence[VariantChange], attribute: str) -> str:
    counts: dict[str, int] = defaultdict(int)
    for change in changes:
        counts[getattr(change, attribute)] += 1
    return ", ".join(f"{key} {counts[key]}" for key in sorted(counts))


def _message_lines(changes: Sequence[VariantChange]) -> list[str]:
    """``changed  en: generic, vip · de: vip`` per change kind of one message."""
    lines = []
    for kind in ("added", "removed", "changed"):
        of_kind = [c for c in changes if c.change == kind]
        if not of_kind:
            continue
        by_locale: dict[str, list[str]] = defaultdict(list)
        for change in of_kind:
            by_locale[change.locale].append(change.audience)
        listing = " · ".join(
            f"{locale}: {', '.join(sorted(by_locale[locale]))}" for locale in sorted(by_locale)
        )
        lines.append(f"{kind} {len(of_kind)} — {listing}")
    return lines


@dataclass(frozen=True)
class _PreviewGroup:
    channel: str
    form: str
    text: str
    variants: tuple[str, ...]


def _preview_groups(changes: Sequence[VariantChange]) -> list[_PreviewGroup]:
    """Variants with the same preview diff, shown once: one edited headline in 14 variants is
    one preview, not 14."""
    groups: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for change in changes:
        if change.preview:
            groups[(change.channel, change.form, change.preview)].append(change.id)
    result = [
        _PreviewGroup(channel, form, text, tuple(sorted(ids)))
        for (channel, form, text), ids in groups.items()
    ]
    return sorted(result, key=lambda g: g.variants[0])


def _preview_body(group: _PreviewGroup, limits: Limits) -> list[str]:
    lines = group.text.split("\n")
    shown = [_cap(line, limits.line_chars) for line in lines[: limits.preview_lines]]
    if len(lines) > limits.preview_lines:
        shown.append(f"… and {len(lines) - limits.preview_lines} more lines")
    return shown


def _form_note(group: _PreviewGroup) -> str:
    return " (template form: the preview is unchanged)" if group.form == "template" else ""


def _markup_only(changes: Sequence[VariantChange]) -> list[VariantChange]:
    return [c for c in changes if c.change == "changed" and c.form == "markup"]


def _cell_text(cell: CellChange) -> str:
    before = cell.base or "—"
    after = cell.head or "—"
    atoms = ""
    if cell.base_atom != cell.head_atom:
        atoms = f" ({cell.base_atom or 'nothing'} → {cell.head_atom or 'nothing'})"
    return f"{cell.key}: {before} → {after}{atoms}"


def _side_title(side: SideInfo) -> str:
    return one_line(side.label)


def _headline(result: DiffResult) -> str:
    if not result.comparable:
        broken = [s.side for s in (result.base, result.head) if not s.valid]
        return f"{' and '.join(broken)} content has errors; the messages were not compared"
    altered = len(result.variants)
    if not altered:
        return f"no message changes (of {result.total})"
    verb = "changes" if result.total == 1 else "change"
    return f"{altered} of {plural(result.total, 'message')} {verb}"


def _counts(result: DiffResult) -> str:
    return (
        f"{result.count('added')} added, {result.count('removed')} removed, "
        f"{result.count('changed')} changed"
    )


def _atom_counts(atoms: Sequence[AtomChange]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for atom in atoms:
        counts[atom.change] += 1
    order = ("edited", "added", "removed", "renamed", "moved")
    return ", ".join(f"{counts[k]} {k}" for k in order if counts[k]) or "none changed"


def _governance_counts(result: DiffResult) -> tuple[int, int]:
    errors = sum(1 for d in result.governance if d.severity is Severity.ERROR)
    return errors, len(result.governance) - errors


# ----------------------------------------------------------------------------------- text


def _privacy_lines(raised: Sequence[VariantChange], limits: Limits) -> list[str]:
    """``<variant>: 2 → 3 personal attributes (a, b, c)`` for each raise, capped."""
    lines = [
        f"{v.id}: {len(v.personal_before or ())} → {len(v.personal_after or ())} personal "
        f"attributes ({', '.join(v.personal_after or ())})"
        for v in raised[: limits.items]
    ]
    if len(raised) > limits.items:
        lines.append(f"… and {len(raised) - limits.items} more")
    return lines


def format_text(result: DiffResult, limits: Limits = TEXT_LIMITS) -> str:
    """The report for a terminal or a CI log."""
    lines = [
        f"atomic diff: {_side_title(result.base)} → {_side_title(result.head)}",
        f"content folder: {one_line(result.content)}   date: {result.date.isoformat()}",
        "",
    ]
    for side in (result.base, result.head):
        if not side.present:
            lines.append(
                f"{side.side}: no content folder at {_side_title(side)} (counted as empty)"
            )
    if not result.comparable:
        lines.append(_headline(result))
        for side in (result.base, result.head):
            for d in side.diagnostics[: limits.items * 4]:
                lines.append(
                    f"{side.side}: {one_line(_where(d))}: {d.severity.value}[{d.code}]: "
                    f"{one_line(d.message)}"
                )
                if d.hint:
                    lines.append(f"  hint: {one_line(d.hint)}")
            if len(side.diagnostics) > limits.items * 4:
                lines.append(f"{side.side}: … and {len(side.diagnostics) - limits.items * 4} more")
        return _finish(lines)

    lines.append(f"{_headline(result)}: {_counts(result)}")
    if result.variants:
        lines.append(f"  by segment: {_by(result.variants, 'audience')}")
        lines.append(f"  by locale:  {_by(result.variants, 'locale')}")
    if result.journeys:
        lines.append("")
        width = max(len(j.journey) for j in result.journeys)
        lines.append(
            f"  {'journey':<{width}}  {'live':>5}  {'added':>5}  {'removed':>7}  {'changed':>7}  "
            f"{'altered':>7}"
        )
        for j in result.journeys:
            percent = j.altered_percent
            shown = "new" if percent is None else f"{percent:.0f}%"
            lines.append(
                f"  {j.journey:<{width}}  {j.base:>5}  {j.added:>5}  {j.removed:>7}  "
                f"{j.changed:>7}  {shown:>7}"
            )

    if result.governance:
        errors, warnings = _governance_counts(result)
        lines += ["", f"Governance: {plural(errors, 'error')}, {plural(warnings, 'warning')}"]
        for d in result.governance:
            lines.append(
                f"  {one_line(_where(d))}: {d.severity.value}[{d.code}]: {one_line(d.message)}"
            )
            if d.hint:
                lines.append(f"    hint: {one_line(d.hint)}")

    raised = result.privacy_raised
    if raised:
        lines += ["", f"Privacy: {plural(len(raised), 'message')} use more personal attributes"]
        lines.extend(f"  {line}" for line in _privacy_lines(raised, limits))

    if result.atoms:
        lines += ["", f"Atoms: {_atom_counts(result.atoms)}"]
        for atom in result.atoms[: limits.items]:
            detail = _atom_detail(atom)
            lines.append(
                f"  {atom.change:<8} {atom.id}{f' ({detail})' if detail else ''}: "
                f"{_atom_summary(atom)}"
            )
        if len(result.atoms) > limits.items:
            lines.append(f"  … and {len(result.atoms) - limits.items} more atoms")

    groups = _group_messages(result.variants)
    if groups:
        lines += ["", "Messages"]
        for index, (key, changes) in enumerate(groups.items()):
            if index == limits.items:
                lines.append(f"  … and {len(groups) - limits.items} more messages")
                break
            lines.append(f"  {' / '.join(key)}")
            lines.extend(f"    {line}" for line in _message_lines(changes))

    previews = _preview_groups(result.variants)
    if previews:
        lines += ["", f"Previews: {plural(len(previews), 'distinct change')}"]
        for group in previews[: limits.previews]:
            lines.append(f"  {_variant_list(group.variants, limits)}{_form_note(group)}")
            lines.extend(f"    {line}" for line in _preview_body(group, limits))
        if len(previews) > limits.previews:
            lines.append(f"  … and {len(previews) - limits.previews} more distinct changes")
    markup = _markup_only(result.variants)
    if markup:
        lines.append(
            f"  markup only (no readable text changed) in {plural(len(markup), 'message')}: "
            + _variant_list(tuple(c.id for c in markup), limits)
        )

    coverage = result.coverage
    if coverage.better or coverage.worse or coverage.added or coverage.removed:
        lines += [
            "",
            f"Coverage: {plural(len(coverage.better), 'cell')} better, "
            f"{len(coverage.worse)} worse, {len(coverage.added)} new, "
            f"{len(coverage.removed)} gone",
        ]
        for label, cells in (("better", coverage.better), ("worse", coverage.worse)):
            for cell in cells[: limits.items]:
                lines.append(f"  {label:<6} {_cell_text(cell)}")
            if len(cells) > limits.items:
                lines.append(f"  … and {len(cells) - limits.items} more {label}")

    if result.new_warnings or result.resolved_warnings:
        lines += [
            "",
            f"Warnings: {len(result.new_warnings)} new, {len(result.resolved_warnings)} resolved",
        ]
        for label, items in (("new", result.new_warnings), ("resolved", result.resolved_warnings)):
            for d in items[: limits.items]:
                lines.append(
                    f"  {label:<8} {one_line(_where(d))}: {d.severity.value}[{d.code}]: "
                    f"{one_line(d.message)}"
                )
            if len(items) > limits.items:
                lines.append(f"  … and {len(items) - limits.items} more {label}")
    return _finish(lines)


def _group_messages(
    changes: Sequence[VariantChange],
) -> dict[tuple[str, str, str], list[VariantChange]]:
    groups: dict[tuple[str, str, str], list[VariantChange]] = defaultdict(list)
    for change in changes:
        groups[change.message].append(change)
    return {key: groups[key] for key in sorted(groups)}


def _variant_list(ids: Sequence[str], limits: Limits, code: bool = False) -> str:
    def show(vid: str) -> str:
        return md_code(vid) if code else vid

    head = show(ids[0])
    rest = ids[1:]
    if not rest:
        return head
    named = ", ".join(show(v) for v in rest[: limits.named_variants])
    more = len(rest) - limits.named_variants
    tail = f" and {more} more" if more > 0 else ""
    return f"{head} (+{len(rest)} with the same change: {named}{tail})"


# ------------------------------------------------------------------------------- markdown


def format_markdown(result: DiffResult, limits: Limits = MARKDOWN_LIMITS) -> str:
    """The report as a pull-request comment (GitHub-flavoured markdown), under
    :data:`MARKDOWN_MAX_CHARS`: previews are dropped, then lists shortened, until it fits."""
    text = _markdown(result, limits)
    while len(text) > MARKDOWN_MAX_CHARS and (limits.previews or limits.items > 5):
        if limits.previews:
            limits = replace(limits, previews=limits.previews // 2, preview_lines=20)
        else:
            limits = replace(limits, items=max(5, limits.items // 2))
        text = _markdown(result, limits)
    return text


def _details(summary: str, body: list[str]) -> list[str]:
    # The blank lines matter: without them GitHub does not render markdown inside <details>.
    while body and not body[-1]:
        body = body[:-1]
    return ["<details>", f"<summary>{summary}</summary>", "", *body, "", "</details>", ""]


def _md_diagnostic(d: Diagnostic, prefix: str = "") -> str:
    icon = "❌" if d.severity is Severity.ERROR else "⚠️"
    line = (
        f"- {icon} {prefix}{md_code(_where(d))} **{d.severity.value}** "
        f"{md_code(d.code)}: {md_text(d.message)}"
    )
    if d.hint:
        line += f" — *hint:* {md_text(d.hint)}"
    return line


def _markdown(result: DiffResult, limits: Limits) -> str:
    lines = [
        f"### atomic diff: {md_text(_headline(result))}",
        "",
        f"{md_code(result.base.label)} → {md_code(result.head.label)} · content folder "
        f"{md_code(result.content)} · date {result.date.isoformat()}",
        "",
    ]
    for side in (result.base, result.head):
        if not side.present:
            lines += [f"- {side.side}: no content folder (counted as empty)"]
    if not result.comparable:
        for side in (result.base, result.head):
            if side.valid:
                continue
            count = sum(1 for d in side.diagnostics if d.severity is Severity.ERROR)
            lines += [f"**{side.side}** has {plural(count, 'error')}:", ""]
            for d in side.diagnostics[: limits.items]:
                lines.append(_md_diagnostic(d, f"{side.side}: "))
            if len(side.diagnostics) > limits.items:
                lines.append(f"- … and {len(side.diagnostics) - limits.items} more")
        return _finish(lines)

    errors, warnings = _governance_counts(result)
    coverage = result.coverage
    lines += [
        f"- **Messages:** {_counts(result)}",
        f"- **Atoms:** {_atom_counts(result.atoms)}",
        f"- **Coverage:** {plural(len(coverage.better), 'cell')} better, "
        f"{len(coverage.worse)} worse"
        + (
            f", {len(coverage.added)} new, {len(coverage.removed)} gone"
            if coverage.added or coverage.removed
            else ""
        ),
        f"- **Warnings:** {len(result.new_warnings)} new, {len(result.resolved_warnings)} resolved",
        f"- **Governance:** {'❌ ' if errors else ''}{plural(errors, 'error')}, "
        f"{plural(warnings, 'warning')}",
        "",
    ]
    touched = [j for j in result.journeys if j.added or j.removed or j.changed]
    if touched:
        lines += [
            "| journey | live | added | removed | changed | altered |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for j in touched[: limits.items]:
            percent = j.altered_percent
            shown = "new" if percent is None else f"{percent:.0f}%"
            lines.append(
                f"| {md_code(j.journey)} | {j.base} | {j.added} | {j.removed} | {j.changed} | "
                f"{shown} |"
            )
        if len(touched) > limits.items:
            lines.append(f"| … and {len(touched) - limits.items} more | | | | | |")
        lines.append("")
    raised = result.privacy_raised
    if raised:
        lines += [
            f"**Privacy:** {plural(len(raised), 'message')} use more personal attributes",
            "",
        ]
        lines += [f"- {md_text(line)}" for line in _privacy_lines(raised, limits)]
        lines.append("")
    if result.governance:
        lines += ["**Governance**", ""]
        lines += [_md_diagnostic(d) for d in result.governance[: limits.items]]
        if len(result.governance) > limits.items:
            lines.append(f"- … and {len(result.governance) - limits.items} more")
        lines.append("")

    if result.atoms:
        body = []
        for atom in result.atoms[: limits.items]:
            detail = _atom_detail(atom)
            body.append(
                f"- {atom.change} {md_code(atom.id)}"
                + (f" ({md_text(detail)})" if detail else "")
                + f": {_atom_summary(atom)}"
            )
        if len(result.atoms) > limits.items:
            body.append(f"- … and {len(result.atoms) - limits.items} more atoms")
        lines += _details(f"Atoms ({len(result.atoms)})", body)

    groups = _group_messages(result.variants)
    if groups:
        body = [
            f"By segment: {_by(result.variants, 'audience')}. "
            f"By locale: {_by(result.variants, 'locale')}.",
            "",
        ]
        for index, (key, changes) in enumerate(groups.items()):
            if index == limits.items:
                body.append(f"- … and {len(groups) - limits.items} more messages")
                break
            body.append(f"- {' / '.join(md_code(k) for k in key)}")
            body.extend(f"  - {line}" for line in _message_lines(changes))
        lines += _details(f"Messages ({len(result.variants)})", body)

    previews = _preview_groups(result.variants)
    markup = _markup_only(result.variants)
    if previews or markup:
        body = []
        for group in previews[: limits.previews]:
            body += [
                f"{_variant_list(group.variants, limits, code=True)}{_form_note(group)}",
                "",
                *md_fence(_preview_body(group, limits), "diff"),
                "",
            ]
        if len(previews) > limits.previews:
            body.append(f"… and {len(previews) - limits.previews} more distinct changes")
        if markup:
            body.append(
                f"Markup only (no readable text changed) in {plural(len(markup), 'message')}: "
                + _variant_list(tuple(c.id for c in markup), limits, code=True)
            )
        lines += _details(f"Previews ({plural(len(previews), 'distinct change')})", body)

    if coverage.better or coverage.worse:
        body = []
        for label, cells in (("better", coverage.better), ("worse", coverage.worse)):
            for cell in cells[: limits.items]:
                body.append(f"- {label}: {md_text(_cell_text(cell))}")
            if len(cells) > limits.items:
                body.append(f"- … and {len(cells) - limits.items} more {label}")
        lines += _details(
            f"Coverage ({len(coverage.better)} better, {len(coverage.worse)} worse)", body
        )

    if result.new_warnings or result.resolved_warnings:
        body = []
        for label, items in (("new", result.new_warnings), ("resolved", result.resolved_warnings)):
            for d in items[: limits.items]:
                body.append(_md_diagnostic(d, f"{label}: "))
            if len(items) > limits.items:
                body.append(f"- … and {len(items) - limits.items} more {label}")
        lines += _details(
            f"Warnings ({len(result.new_warnings)} new, {len(result.resolved_warnings)} resolved)",
            body,
        )
    return _finish(lines)


# ----------------------------------------------------------------------------------- json


def format_json(result: DiffResult) -> str:
    """The complete report as JSON (docs/review.md). ``##[`` is written ``#\\u0023[``: the same
    string once decoded, inert in a CI log."""
    text = json.dumps(result.to_dict(), indent=2, ensure_ascii=False, sort_keys=False)
    return text.replace("##[", "#\\u0023[") + "\n"


def format_report(result: DiffResult, fmt: str) -> str:
    """``fmt`` is one of :data:`FORMATS`."""
    if fmt == "json":
        return format_json(result)
    if fmt == "markdown":
        return format_markdown(result)
    if fmt == "text":
        return format_text(result)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


__all__ = [
    "FORMATS",
    "Limits",
    "format_json",
    "format_markdown",
    "format_report",
    "format_text",
    "log_safe",
    "md_code",
    "md_fence",
    "md_text",
    "one_line",
]
