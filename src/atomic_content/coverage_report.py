"""Coverage reports as text: a terminal matrix, JSON for CI, Markdown for pull requests and one
self-contained HTML page.

Every function takes a :class:`~atomic_content.coverage.CoverageReport` and returns a string;
none prints or reads files. Output depends only on the report (no clock, no paths, no
environment), so the same content and ``--date`` give byte-identical reports. Everything that
comes from content (names, ids) is escaped for the target format: rich markup is never parsed,
Markdown special characters are backslash-escaped, HTML is entity-escaped.

The JSON shape is documented in docs/coverage.md and versioned by ``version``.
"""

from __future__ import annotations

import html
import io
import json
import textwrap
from collections.abc import Iterable, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .coverage import (
    REPORT_VERSION,
    SEVERITY,
    SEVERITY_GENERIC_FALLBACK_LOCALE,
    SLOT_WEIGHT_OPTIONAL,
    SLOT_WEIGHT_REQUIRED,
    Cell,
    CellStatus,
    CoverageReport,
    Flag,
    Gap,
    Stats,
)
from .errors import plural

FORMATS = ("table", "json", "markdown", "html")

IMPACT_FORMULA = (
    "impact = segment size x value per customer x slot weight (required 1.0, optional 0.3) "
    "x severity (missing 1.0, generic 0.5, fallback-locale 0.25, or 0.75 when the fallback "
    "winner is generic); a missing size or value counts as 1"
)


def format_report(report: CoverageReport, fmt: str, **options: Any) -> str:
    """Dispatch to ``format_<fmt>``; ``options`` go to the formatter (e.g. ``color``)."""
    if fmt == "table":
        return format_table(report, **options)
    if fmt == "json":
        return format_json(report)
    if fmt == "markdown":
        return format_markdown(report, **options)
    if fmt == "html":
        return format_html(report, **options)
    raise ValueError(f"unknown coverage format {fmt!r}; use one of {', '.join(FORMATS)}")


# --------------------------------------------------------------------------- shared helpers


def percent(share: float | None) -> str:
    """``62%`` (rounded down so that 99.6% never shows as a perfect 100%); ``n/a`` for None."""
    if share is None:
        return "n/a"
    return f"{int(share * 100 + 1e-9)}%"


def marker(stats: Stats) -> str:
    """One ASCII character for the worst thing in a group of cells.

    ``!`` a required slot is missing, ``?`` an optional slot is missing, ``L`` filled through
    a fallback locale, ``G`` generic only, blank when every cell is specific.
    """
    if stats.missing_required:
        return "!"
    if stats.missing:
        return "?"
    if stats.fallback_locale:
        return "L"
    if stats.generic:
        return "G"
    return " "


def _gap_where(cell: Cell) -> str:
    return f"{cell.journey}/{cell.step}/{cell.channel} {cell.slot} [{cell.locale}]"


def _status_counts(stats: Stats) -> str:
    return (
        f"{stats.specific} specific, {stats.generic} generic, "
        f"{stats.fallback_locale} fallback-locale, {stats.missing} missing "
        f"({stats.missing_required} required)"
    )


def _share_line(name: str, stats: Stats) -> str:
    return f"{name} {percent(stats.specific_share)}"


# --------------------------------------------------------------------------- JSON


def stats_to_dict(stats: Stats) -> dict[str, Any]:
    share = stats.specific_share
    return {
        "cells": stats.cells,
        "specific": stats.specific,
        "generic": stats.generic,
        "fallback_locale": stats.fallback_locale,
        "missing": stats.missing,
        "missing_required": stats.missing_required,
        "expiring": stats.expiring,
        "drafts_only": stats.drafts_only,
        "ambiguous": stats.ambiguous,
        "specific_share": None if share is None else round(share, 4),
    }


def cell_to_dict(cell: Cell) -> dict[str, Any]:
    return {
        "journey": cell.journey,
        "step": cell.step,
        "channel": cell.channel,
        "layout": cell.layout,
        "slot": cell.slot,
        "required": cell.required,
        "locale": cell.locale,
        "segment": cell.segment,
        "status": cell.status.value,
        "atom": cell.atom,
        "atom_locale": cell.atom_locale,
        "targeted": cell.targeted,
        "flags": [flag.value for flag in cell.flags],
        "expires_on": cell.expires_on.isoformat() if cell.expires_on else None,
        "status_after": cell.status_after.value if cell.status_after else None,
        "atom_after": cell.atom_after,
        "draft_atom": cell.draft_atom,
        "draft_status": cell.draft_status.value if cell.draft_status else None,
        "tied_with": list(cell.tied_with),
    }


def gap_to_dict(gap: Gap) -> dict[str, Any]:
    cell = gap.cell
    return {
        "rank": gap.rank,
        "impact": round(gap.impact, 6),
        "journey": cell.journey,
        "step": cell.step,
        "channel": cell.channel,
        "slot": cell.slot,
        "required": cell.required,
        "locale": cell.locale,
        "segment": cell.segment,
        "status": cell.status.value,
        "atom": cell.atom,
        "flags": [flag.value for flag in cell.flags],
        "size": gap.size,
        "value": gap.value,
        "size_assumed": gap.size_assumed,
        "value_assumed": gap.value_assumed,
        "value_source": gap.value_source,
        "slot_weight": gap.slot_weight,
        "severity": gap.severity,
        "suggestion": gap.suggestion,
    }


def report_to_dict(report: CoverageReport) -> dict[str, Any]:
    """The documented JSON shape (docs/coverage.md, version :data:`REPORT_VERSION`)."""
    return {
        "version": REPORT_VERSION,
        "date": report.date.isoformat(),
        "horizon_days": report.horizon_days,
        "journey": report.journey,
        "formula": {
            "impact": "size * value * slot_weight * severity",
            "slot_weight": {"required": SLOT_WEIGHT_REQUIRED, "optional": SLOT_WEIGHT_OPTIONAL},
            "severity": {
                **{status.value: weight for status, weight in SEVERITY.items()},
                "fallback-locale-generic": SEVERITY_GENERIC_FALLBACK_LOCALE,
            },
            "assumed_when_missing": {"size": 1, "value": 1},
        },
        "segments": [
            {
                "id": s.id,
                "name": s.name,
                "size": s.size,
                "value": s.value,
                "size_assumed": s.size_assumed,
                "value_assumed": s.value_assumed,
                "value_source": s.value_source,
            }
            for s in report.segments
        ],
        "summary": {
            "overall": stats_to_dict(report.overall),
            "by_segment": {k: stats_to_dict(v) for k, v in report.by_segment.items()},
            "by_journey": {k: stats_to_dict(v) for k, v in report.by_journey.items()},
            "by_channel": {k: stats_to_dict(v) for k, v in report.by_channel.items()},
            "by_locale": {k: stats_to_dict(v) for k, v in report.by_locale.items()},
            "assumed_segments": list(report.assumed_segments),
        },
        "cells": [cell_to_dict(cell) for cell in report.cells],
        "gaps": [gap_to_dict(gap) for gap in report.gaps],
    }


def format_json(report: CoverageReport) -> str:
    """The report as indented JSON (UTF-8 text, keys in documented order, trailing newline)."""
    return json.dumps(report_to_dict(report), indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- terminal table


def _style(stats: Stats) -> str:
    share = stats.specific_share
    if stats.missing_required:
        return "bold white on red"
    if share is None:
        return "dim"
    if share >= 1:
        return "green"
    if share >= 0.5:
        return "yellow"
    return "red"


VIEWS = ("summary", "messages", "segment")
"""Terminal views: segment x journey (default), segment x journey/step/channel (``--journey``,
``--wide``), one segment's messages (``--segment``)."""

LEGEND = (
    "cell: share of slots x locales with segment-specific content; ! required slot missing, "
    "? optional slot missing, L fallback locale, G generic only, . journey does not target "
    "the segment"
)


def format_table(
    report: CoverageReport,
    *,
    color: bool = False,
    width: int | None = None,
    top: int = 10,
    view: str = "summary",
    segment: str | None = None,
) -> str:
    """The terminal report: a matrix, the summary, the ``top`` gaps and the flags.

    ``view`` picks the matrix (see :data:`VIEWS`): ``summary`` is segments x journeys, as the
    HTML heat map, and fits an 80-column terminal; ``messages`` is segments x every
    journey/step/channel (wide unless the report covers one journey); ``segment`` lists the
    messages of ``segment`` one per row. Cells hold the specific share and a :func:`marker`.

    ``color`` adds ANSI colours and rounded boxes (for a TTY); without it the output is plain
    ASCII-boxed text for logs. ``width`` is the terminal width (None: as wide as needed).
    Tables wrap long ids onto more lines; they never cut them short.
    """
    if view not in VIEWS:
        raise ValueError(f"unknown coverage view {view!r}; use one of {', '.join(VIEWS)}")
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width or 100_000,
        force_terminal=color,
        color_system="standard" if color else None,
        no_color=not color,
        highlight=False,
        emoji=False,
        markup=False,
        legacy_windows=False,
    )
    boxes = box.ROUNDED if color else box.ASCII
    title = f"Content coverage on {report.date.isoformat()}"
    if report.journey:
        title += f" (journey {report.journey})"
    if view == "segment":
        title += f" (segment {segment})"
    console.print(Text(title, style="bold"))

    if report.cells:
        if view == "summary":
            console.print(_summary_matrix(report, boxes, color))
        elif view == "messages":
            console.print(_message_matrix(report, boxes, color))
        else:
            console.print(_segment_table(report, str(segment), boxes, color))
        console.print(Text(LEGEND))
    else:
        console.print(Text("no cells: no journey personalizes for any segment"))

    overall = report.overall
    console.print(Text(""))
    console.print(
        Text(
            f"specific: {percent(overall.specific_share)} of {plural(overall.cells, 'cell')}",
            style="bold",
        )
    )
    console.print(Text(f"  {_status_counts(overall)}"))
    for label, groups in (
        ("by journey", report.by_journey),
        ("by channel", report.by_channel),
        ("by locale", report.by_locale),
    ):
        console.print(
            Text(f"  {label}: " + ", ".join(_share_line(k, v) for k, v in groups.items()))
        )
    console.print(
        Text(
            f"  flags: {overall.expiring} expiring within {plural(report.horizon_days, 'day')}, "
            f"{overall.drafts_only} drafts only, {overall.ambiguous} ambiguous"
        )
    )
    if report.assumed_segments:
        console.print(
            Text("  size or value missing (counted as 1): " + ", ".join(report.assumed_segments))
        )
    if report.measured_segments:
        console.print(
            Text(
                "  ranked by measured lift (experiment analysis): "
                + ", ".join(report.measured_segments)
                + "; the others by their assumed value"
            )
        )

    gaps_shown = [g for g in report.gaps if view != "segment" or g.cell.segment == segment]
    if gaps_shown:
        console.print(Text(""))
        if width is None:
            console.print(_gap_table(gaps_shown, top, boxes, color))
        else:  # a list reads better than six squeezed columns
            for line in _gap_list(gaps_shown, top, color, width):
                console.print(line)
    lines = [line.rstrip() for line in buffer.getvalue().splitlines()]
    return "\n".join(lines) + "\n"


def _column(table: Table, name: str, justify: str = "left") -> None:
    # fold: a long id wraps onto the next line instead of ending in "…"
    table.add_column(Text(name), justify=justify, overflow="fold")  # type: ignore[arg-type]


def _share_cell(stats: Stats | None, color: bool) -> Text:
    if stats is None:
        return Text(".")
    return Text(
        f"{percent(stats.specific_share)} {marker(stats)}".rstrip(),
        style=_style(stats) if color else "",
    )


def _summary_matrix(report: CoverageReport, boxes: box.Box, color: bool) -> Table:
    """Segments x journeys (each cell: every step, channel, slot and locale of the journey)."""
    journeys = list(dict.fromkeys(j for j, _s, _c in report.columns))
    grid = report.group(lambda c: (c.segment, c.journey))
    matrix = Table(box=boxes)
    _column(matrix, "segment")
    for journey in journeys:
        _column(matrix, journey, "right")
    for info in report.segments:
        matrix.add_row(
            Text(info.id), *(_share_cell(grid.get((info.id, j)), color) for j in journeys)
        )
    return matrix


def _message_matrix(report: CoverageReport, boxes: box.Box, color: bool) -> Table:
    """Segments x journey/step/channel: the full matrix."""
    matrix = Table(box=boxes)
    _column(matrix, "segment")
    previous: tuple[str, str] = ("", "")
    for journey, step, channel in report.columns:
        # Name a journey and a step once, above their first column.
        header = [
            journey if journey != previous[0] else "",
            step if (journey, step) != previous else "",
            channel,
        ]
        previous = (journey, step)
        _column(matrix, "\n".join(header), "right")
    grid = report.grid_by_message
    for info in report.segments:
        row = [Text(info.id)]
        row.extend(_share_cell(grid.get((info.id, column)), color) for column in report.columns)
        matrix.add_row(*row)
    return matrix


def _segment_table(report: CoverageReport, segment: str, boxes: box.Box, color: bool) -> Table:
    """One segment's messages, one per row: share, marker and the counts that are not zero."""
    table = Table(box=boxes)
    ids = list(zip(*report.columns, strict=True)) if report.columns else [(), (), ()]
    for name, values in zip(("journey", "step", "channel"), ids, strict=True):
        # as wide as the longest id, so that ids never break; the counts wrap instead
        table.add_column(
            Text(name), overflow="fold", min_width=max(map(len, values), default=len(name))
        )
    _column(table, "specific", "right")
    _column(table, "cells")
    grid = report.grid_by_message
    for column in report.columns:
        stats = grid.get((segment, column))
        table.add_row(
            *(Text(part) for part in column),
            _share_cell(stats, color),
            Text(_nonzero_counts(stats) if stats is not None else "not targeted"),
        )
    return table


def _nonzero_counts(stats: Stats) -> str:
    parts = [
        f"{count} {name}"
        for name, count in (
            ("specific", stats.specific),
            ("generic", stats.generic),
            ("fallback-locale", stats.fallback_locale),
            ("missing", stats.missing),
        )
        if count
    ]
    if stats.missing_required:
        parts.append(f"({stats.missing_required} required)")
    return ", ".join(parts)


def _gap_list(gaps: Sequence[Gap], top: int, color: bool, width: int) -> list[Text]:
    """The ``top`` gaps as two lines each: rank, impact, segment, where, status; the fix."""
    shown = gaps[:top]
    lines = [Text(f"Top {len(shown)} of {plural(len(gaps), 'gap')} by impact", style="bold")]
    digits = len(str(len(shown)))
    for gap in shown:
        cell = gap.cell
        status = cell.status.value + ("" if cell.required else " (optional)")
        line = Text(f"{gap.rank:>{digits}}. {_number(gap.impact)}  {cell.segment}  ")
        line.append(_gap_where(cell))
        line.append("  ")
        line.append(status, style=_status_style(cell) if color else "")
        lines.append(line)
        indent = " " * (digits + 2)
        wrapped = textwrap.fill(
            gap.suggestion,
            width=max(width, 40),
            initial_indent=indent,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
        lines.append(Text(wrapped))
    return lines


def _gap_table(gaps: Sequence[Gap], top: int, boxes: box.Box, color: bool) -> Table:
    shown = gaps[:top]
    table = Table(
        title=Text(f"Top {len(shown)} of {plural(len(gaps), 'gap')} by impact"),
        title_justify="left",
        box=boxes,
    )
    for name, justify in (
        ("#", "right"),
        ("impact", "right"),
        ("segment", "left"),
        ("where", "left"),
        ("status", "left"),
        ("suggestion", "left"),
    ):
        _column(table, name, justify)
    for gap in shown:
        cell = gap.cell
        status = cell.status.value + ("" if cell.required else " (optional)")
        table.add_row(
            Text(str(gap.rank)),
            Text(_number(gap.impact)),
            Text(cell.segment),
            Text(_gap_where(cell)),
            Text(status, style=_status_style(cell) if color else ""),
            Text(gap.suggestion),
        )
    return table


def _status_style(cell: Cell) -> str:
    if cell.status is CellStatus.MISSING:
        return "bold red" if cell.required else "red"
    return "yellow"


def _number(value: float) -> str:
    """Impact for people: thousands separators, no noise decimals."""
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".") or "0"


# --------------------------------------------------------------------------- Markdown

_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|#!~"})
MARKDOWN_LIMIT = 60_000
"""Characters kept under GitHub's 65 536-character comment limit; past it, matrices go."""


def md(text: str) -> str:
    """Escape text from content for Markdown (and for the HTML GitHub allows in it)."""
    return text.replace("\n", " ").translate(_MD_SPECIAL)


def _md_code(text: str) -> str:
    # Ids and suggestions never contain backticks (ids are [a-z0-9_-]); strip them anyway so a
    # code span can never be closed early.
    return "`" + text.replace("`", "'").replace("\n", " ") + "`"


def _md_table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str = "") -> str:
    aligns = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else "---" for a in aligns]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def _stats_row(name: str, stats: Stats) -> list[str]:
    return [
        name,
        str(stats.cells),
        percent(stats.specific_share),
        str(stats.generic),
        str(stats.fallback_locale),
        str(stats.missing),
        str(stats.missing_required),
    ]


STATS_HEADER = [
    "",
    "cells",
    "specific",
    "generic",
    "fallback-locale",
    "missing",
    "of which required",
]


def format_markdown(report: CoverageReport, *, top: int = 20, flagged: int = 30) -> str:
    """A pull-request comment: the summary first, everything else folded in ``<details>``.

    Shows the ``top`` gaps and at most ``flagged`` cells per flag; drops the per-journey
    matrices (with a note) when the comment would exceed :data:`MARKDOWN_LIMIT`.
    """
    overall = report.overall
    head: list[str] = []
    scope = f" — journey `{report.journey}`" if report.journey else ""
    head.append(f"## Content coverage on {report.date.isoformat()}{scope}")
    head.append("")
    head.append(
        f"**{percent(overall.specific_share)} specific** ({overall.specific} of "
        f"{plural(overall.cells, 'cell')}) · {overall.generic} generic · {overall.fallback_locale} "
        f"fallback-locale · {overall.missing} missing (**{overall.missing_required} required**)"
    )
    head.append("")
    head.append(
        f"Flags: {overall.expiring} expiring within {report.horizon_days} days · "
        f"{overall.drafts_only} drafts only · {overall.ambiguous} ambiguous"
    )
    if report.assumed_segments:
        head.append("")
        head.append(
            "Segments without `size` or `value` (counted as 1 in the ranking): "
            + ", ".join(_md_code(s) for s in report.assumed_segments)
        )
    if report.measured_segments:
        head.append("")
        head.append(
            "Ranked by measured lift (experiment analysis): "
            + ", ".join(_md_code(s) for s in report.measured_segments)
            + "; the others by their assumed value"
        )
    head.append("")
    rows = [_stats_row(f"**{md(k)}**", v) for k, v in report.by_journey.items()]
    rows += [_stats_row(f"channel {md(k)}", v) for k, v in report.by_channel.items()]
    rows += [_stats_row(f"locale {md(k)}", v) for k, v in report.by_locale.items()]
    head.append(_md_table(["journey / channel / locale", *STATS_HEADER[1:]], rows))
    head.append("")

    details: list[str] = []
    seg_rows = [
        [
            f"{md(s.name)} ({_md_code(s.id)})",
            *_stats_row("", report.by_segment.get(s.id, Stats()))[1:],
        ]
        for s in report.segments
    ]
    details.append(
        _details(
            f"Coverage by segment ({len(seg_rows)})",
            _md_table(["segment", *STATS_HEADER[1:]], seg_rows),
        )
    )

    shown = report.gaps[:top]
    gap_rows = [
        [
            str(g.rank),
            _number(g.impact) + (" \\*" if g.size_assumed or g.value_assumed else ""),
            _md_code(g.cell.segment),
            _md_code(_gap_where(g.cell)),
            g.cell.status.value + ("" if g.cell.required else " (optional)"),
            _md_code(g.suggestion),
        ]
        for g in shown
    ]
    gap_body = (
        _md_table(["#", "impact", "segment", "where", "status", "suggestion"], gap_rows, "rrllll")
        + f"\n\n{md(IMPACT_FORMULA)}. \\* size or value assumed."
        if gap_rows
        else "No gaps: every cell is segment-specific."
    )
    gaps = plural(len(report.gaps), "gap")
    details.append(_details(f"Top {len(shown)} of {gaps} by impact", gap_body))

    for flag, what in (
        (Flag.EXPIRING, f"get worse within {report.horizon_days} days as atoms expire"),
        (Flag.DRAFTS_ONLY, "would be better with draft or review atoms approved"),
        (Flag.AMBIGUOUS, "have a winner that tied on rank (decided by id)"),
    ):
        cells = report.flagged(flag)
        if not cells:
            continue
        lines = [
            f"- {_md_code(c.segment)} {_md_code(_gap_where(c))}: {_flag_detail(c, flag)}"
            for c in cells[:flagged]
        ]
        if len(cells) > flagged:
            lines.append(f"- … and {len(cells) - flagged} more (see the JSON report)")
        summary = f"{plural(len(cells), 'cell')} {what} (`{flag.value}`)"
        details.append(_details(summary, "\n".join(lines)))

    matrices = [_md_matrix(report, journey) for journey in report.by_journey]
    text = _join(head, details, matrices)
    if len(text) > MARKDOWN_LIMIT:
        note = ["_Matrices left out: too large for a comment; see the HTML or JSON report._"]
        text = _join(head, details, note)
    return text


def _join(head: list[str], details: list[str], tail: list[str]) -> str:
    return "\n".join([*head, *details, *tail]).rstrip() + "\n"


def _details(summary: str, body: str) -> str:
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>\n"


def _flag_detail(cell: Cell, flag: Flag) -> str:
    if flag is Flag.EXPIRING and cell.expires_on and cell.status_after:
        return (
            f"{cell.status.value} via {_md_code(cell.atom or '-')} until "
            f"{cell.expires_on.isoformat()}, then {cell.status_after.value}"
        )
    if flag is Flag.DRAFTS_ONLY and cell.draft_atom and cell.draft_status:
        return (
            f"{cell.status.value} now; {cell.draft_status.value} with "
            f"{_md_code(cell.draft_atom)} approved"
        )
    tied = ", ".join(_md_code(a) for a in cell.tied_with)
    return f"{_md_code(cell.atom or '-')} tied with {tied}"


def _md_matrix(report: CoverageReport, journey: str) -> str:
    columns = [c for c in report.columns if c[0] == journey]
    grid = report.grid_by_message
    segments = [s for s in report.segments if any((s.id, c) in grid for c in columns)]
    rows = []
    for segment in segments:
        row = [_md_code(segment.id)]
        for column in columns:
            stats = grid.get((segment.id, column))
            row.append(
                "·" if stats is None else f"{percent(stats.specific_share)} {marker(stats)}".strip()
            )
        rows.append(row)
    header = ["segment", *(f"{md(step)} {md(channel)}" for _j, step, channel in columns)]
    body = _md_table(header, rows)
    body += (
        "\n\n! required slot missing · ? optional slot missing · L fallback locale · "
        "G generic only · `·` journey does not target the segment"
    )
    return _details(f"Matrix: journey {_md_code(journey)}", body)


# --------------------------------------------------------------------------- HTML

_CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
color:#1d1d1b;background:#f7f7f5;margin:0;padding:24px}
main{max-width:1400px;margin:0 auto}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px}
.meta{color:#555;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}
.card{background:#fff;border:1px solid #ddd;border-radius:8px;padding:10px 14px;min-width:150px}
.card b{display:block;font-size:22px}
.bar{display:flex;height:14px;border-radius:7px;overflow:hidden;border:1px solid #ccc;
max-width:700px}
.bar span{display:block;height:100%}
.s-specific{background:#3c9d5d}.s-generic{background:#e8c547}
.s-fallback-locale{background:#7fb3e0}.s-missing{background:#d9534f}
table{border-collapse:collapse;background:#fff;margin:8px 0}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
td.n,th.n{text-align:right}
.scroll{overflow-x:auto;max-width:100%}
table.heatmap td{text-align:center;min-width:64px;font-variant-numeric:tabular-nums;
font-weight:600}
table.heatmap th.seg{white-space:nowrap}
table.heatmap td.na{background:#eee;color:#999;font-weight:400}
table.heatmap td.broken{outline:3px solid #b00020;outline-offset:-3px}
.legend span{display:inline-block;padding:2px 8px;margin-right:6px;border-radius:4px}
small,.muted{color:#666}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
"""


def h(text: object) -> str:
    """HTML-escape anything from content (quotes too: it may end up in an attribute)."""
    return html.escape(str(text), quote=True)


def heat_colour(share: float | None) -> str:
    """Background for a heat-map cell: red (0% specific) through amber to green (100%)."""
    if share is None:
        return "#eeeeee"
    hue = round(share * 120)
    return f"hsl({hue}, 70%, 72%)"


def format_html(report: CoverageReport, *, top: int = 200, flagged: int = 200) -> str:
    """One self-contained HTML page (inline CSS, no scripts, no external assets).

    A heat map of segments x journey steps coloured by the specific share, the summary, the
    ``top`` gaps with suggestions and up to ``flagged`` cells per flag. Everything from
    content is escaped; the markup is well-formed XML apart from the doctype.
    """
    overall = report.overall
    title = f"Content coverage on {report.date.isoformat()}"
    if report.journey:
        title += f" — journey {report.journey}"
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8" />',
        '<meta name="viewport" content="width=device-width, initial-scale=1" />',
        f"<title>{h(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{h(title)}</h1>",
        f'<p class="meta">Which segments get content written for them, where, and which gaps '
        f"cost the most. Expiry horizon: {report.horizon_days} days.</p>",
    ]
    out.append('<section id="summary"><div class="cards">')
    cards = [
        (
            "specific",
            percent(overall.specific_share),
            f"{overall.specific} of {plural(overall.cells, 'cell')}",
        ),
        ("generic only", str(overall.generic), "cells"),
        ("fallback locale", str(overall.fallback_locale), "cells"),
        ("missing", str(overall.missing), f"{overall.missing_required} in required slots"),
        ("expiring", str(overall.expiring), f"within {report.horizon_days} days"),
        ("drafts only", str(overall.drafts_only), "cells"),
        ("ambiguous", str(overall.ambiguous), "cells"),
    ]
    for label, big, small in cards:
        out.append(f'<div class="card">{h(label)}<b>{h(big)}</b><small>{h(small)}</small></div>')
    out.append("</div>")
    out.append(_html_bar(overall))
    out.append("</section>")

    out.append('<section id="heatmap"><h2>Heat map: segments × journey steps</h2>')
    out.append(
        '<p class="legend"><span style="background:hsl(0, 70%, 72%)">0% specific</span>'
        '<span style="background:hsl(60, 70%, 72%)">50%</span>'
        '<span style="background:hsl(120, 70%, 72%)">100%</span>'
        '<span style="background:#eee">journey does not target the segment</span>'
        '<span style="outline:3px solid #b00020;outline-offset:-3px">'
        "a required slot is missing (!)</span></p>"
    )
    out.append(_html_heatmap(report))
    out.append("</section>")

    out.append('<section id="breakdown"><h2>Coverage by segment, journey, channel, locale</h2>')
    seg_names = {s.id: s for s in report.segments}
    seg_rows = [
        (f"{h(seg_names[k].name)} <code>{h(k)}</code>" if k in seg_names else h(k), v)
        for k, v in report.by_segment.items()
    ]
    out.append(_html_stats_table("segment", seg_rows))
    out.append(
        _html_stats_table(
            "journey",
            [
                (f"{h(report.journey_names.get(k, k))} <code>{h(k)}</code>", v)
                for k, v in report.by_journey.items()
            ],
        )
    )
    out.append(_html_stats_table("channel", [(h(k), v) for k, v in report.by_channel.items()]))
    out.append(_html_stats_table("locale", [(h(k), v) for k, v in report.by_locale.items()]))
    out.append("</section>")

    out.append(_html_gaps(report, top))
    out.append(_html_flags(report, flagged))
    if report.assumed_segments:
        out.append(
            '<p class="muted">Segments without a size or value in their file (counted as 1): '
            + ", ".join(f"<code>{h(s)}</code>" for s in report.assumed_segments)
            + "</p>"
        )
    out.append(
        '<footer class="muted"><p>A cell is one slot of one message in one locale for one '
        "segment. <b>specific</b>: content targeted at the segment in the right language; "
        "<b>generic</b>: only a generic fallback; <b>fallback-locale</b>: filled from another "
        "language through the locale fallback; <b>missing</b>: nothing fills it (a required "
        f"slot then stops the message). Ranking: {h(IMPACT_FORMULA)}.</p></footer>"
    )
    out += ["</main>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


def _html_bar(stats: Stats) -> str:
    if not stats.cells:
        return ""
    parts = []
    for status, count in (
        (CellStatus.SPECIFIC, stats.specific),
        (CellStatus.GENERIC, stats.generic),
        (CellStatus.FALLBACK_LOCALE, stats.fallback_locale),
        (CellStatus.MISSING, stats.missing),
    ):
        if count:
            width = f"{count * 100 / stats.cells:.2f}%"
            parts.append(
                f'<span class="s-{status.value}" style="width:{width}" '
                f'title="{h(status.value)}: {count}"></span>'
            )
    return '<div class="bar" role="img" aria-label="cells by status">' + "".join(parts) + "</div>"


def _html_heatmap(report: CoverageReport) -> str:
    steps = report.steps
    if not steps or not report.segments:
        return "<p>No cells: no journey personalizes for any segment.</p>"
    grid = report.grid_by_step
    out = ['<div class="scroll"><table class="heatmap" id="heatmap-table">', "<thead><tr>"]
    out.append('<th rowspan="2">segment</th>')
    spans: dict[str, int] = {}
    for journey, _step in steps:
        spans[journey] = spans.get(journey, 0) + 1
    for journey, span in spans.items():
        name = report.journey_names.get(journey, journey)
        out.append(f'<th colspan="{span}" title="{h(journey)}">{h(name)}</th>')
    out.append("</tr><tr>")
    for journey, step in steps:
        name = report.step_names.get((journey, step), step)
        out.append(f'<th title="{h(journey)}/{h(step)}">{h(name)}</th>')
    out.append("</tr></thead><tbody>")
    for segment in report.segments:
        size = "" if segment.size_assumed else f" · {segment.size:,}"
        out.append(
            f'<tr><th class="seg" title="{h(segment.name)}">{h(segment.id)}'
            f"<small>{h(size)}</small></th>"
        )
        for journey, step in steps:
            stats = grid.get((segment.id, (journey, step)))
            if stats is None:
                out.append('<td class="na" title="not targeted">–</td>')
                continue
            classes = "broken" if stats.missing_required else "cov"
            tip = (
                f"{segment.id} in {journey}/{step}: {percent(stats.specific_share)} specific; "
                + _status_counts(stats)
            )
            mark = " !" if stats.missing_required else ""
            out.append(
                f'<td class="{classes}" style="background:{heat_colour(stats.specific_share)}" '
                f'title="{h(tip)}">{h(percent(stats.specific_share))}{mark}</td>'
            )
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _html_stats_table(label: str, rows: Iterable[tuple[str, Stats]]) -> str:
    """``rows`` hold already-escaped HTML labels."""
    out = [
        f'<div class="scroll"><table class="stats"><thead><tr><th>{h(label)}</th>'
        '<th class="n">cells</th><th class="n">specific</th><th class="n">generic</th>'
        '<th class="n">fallback-locale</th><th class="n">missing</th>'
        '<th class="n">of which required</th></tr></thead><tbody>'
    ]
    for name, stats in rows:
        out.append(
            f'<tr><td>{name}</td><td class="n">{stats.cells}</td>'
            f'<td class="n" style="background:{heat_colour(stats.specific_share)}">'
            f"{h(percent(stats.specific_share))}</td>"
            f'<td class="n">{stats.generic}</td><td class="n">{stats.fallback_locale}</td>'
            f'<td class="n">{stats.missing}</td><td class="n">{stats.missing_required}</td></tr>'
        )
    out.append("</tbody></table></div>")
    return "".join(out)


def _html_gaps(report: CoverageReport, top: int) -> str:
    shown = report.gaps[:top]
    gaps = plural(len(report.gaps), "gap")
    out = [f'<section id="gaps"><h2>Top {len(shown)} of {gaps} by impact</h2>']
    if not shown:
        out.append("<p>No gaps: every cell is segment-specific.</p></section>")
        return "".join(out)
    out.append(f'<p class="muted">{h(IMPACT_FORMULA)}. * size or value assumed.</p>')
    out.append(
        '<div class="scroll"><table class="gaps"><thead><tr><th class="n">#</th>'
        '<th class="n">impact</th><th>segment</th><th>message</th><th>slot</th><th>locale</th>'
        "<th>status</th><th>suggestion</th></tr></thead><tbody>"
    )
    for gap in shown:
        cell = gap.cell
        star = " *" if gap.size_assumed or gap.value_assumed else ""
        status = cell.status.value + ("" if cell.required else " (optional)")
        out.append(
            f'<tr><td class="n">{gap.rank}</td><td class="n">{h(_number(gap.impact) + star)}</td>'
            f"<td><code>{h(cell.segment)}</code></td><td><code>{h(cell.message)}</code></td>"
            f"<td><code>{h(cell.slot)}</code></td><td>{h(cell.locale)}</td>"
            f'<td><span class="s-{h(cell.status.value)}">&#160;&#160;</span> {h(status)}</td>'
            f"<td>{h(gap.suggestion)}</td></tr>"
        )
    out.append("</tbody></table></div></section>")
    return "".join(out)


def _html_flags(report: CoverageReport, flagged: int) -> str:
    out = ['<section id="flags"><h2>Flags</h2>']
    any_flag = False
    for flag, what in (
        (Flag.EXPIRING, f"get worse within {report.horizon_days} days as atoms expire"),
        (Flag.DRAFTS_ONLY, "would be better if draft or review atoms were approved"),
        (Flag.AMBIGUOUS, "have a winner that tied on rank and won on its id"),
    ):
        cells = report.flagged(flag)
        if not cells:
            continue
        any_flag = True
        out.append(f"<h3>{plural(len(cells), 'cell')} {h(what)} ({h(flag.value)})</h3><ul>")
        for cell in cells[:flagged]:
            detail = _flag_detail(cell, flag).replace("`", "")
            out.append(
                f"<li><code>{h(cell.segment)}</code> <code>{h(_gap_where(cell))}</code>: "
                f"{h(detail)}</li>"
            )
        if len(cells) > flagged:
            out.append(f"<li>… and {len(cells) - flagged} more (see the JSON report)</li>")
        out.append("</ul>")
    if not any_flag:
        out.append("<p>No cell is expiring, drafts-only or ambiguous.</p>")
    out.append("</section>")
    return "".join(out)
