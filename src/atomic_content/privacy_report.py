"""Formatting of the privacy report (:func:`atomic_content.privacy.privacy_report`).

Text for a terminal, Markdown for a pull request or a data-protection file, HTML for one
self-contained page, JSON for programs. Pure functions returning strings; the CLI prints them.
Only attribute names, profile descriptions and content ids appear: never a customer value.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence

from .coverage_report import md
from .privacy import MessageRow, PrivacyReport

FORMATS = ("text", "markdown", "html", "json")


def format_privacy(report: PrivacyReport, fmt: str) -> str:
    """The report in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return format_markdown(report)
    if fmt == "html":
        return format_html(report)
    if fmt == "text":
        return format_text(report)
    raise ValueError(f"unknown format {fmt!r}")


def _budget(row: MessageRow) -> str:
    if row.budget is None:
        return f"{row.max_personal} personal (no budget)"
    mark = f" OVER ({row.budget_level})" if row.over_budget else ""
    return f"{row.max_personal} of {row.budget} personal{mark}"


def _purposes(values: Iterable[str]) -> str:
    return ", ".join(values) or "none"


def _head(report: PrivacyReport) -> list[tuple[str, str]]:
    return [
        ("range", f"{report.start.isoformat()} .. {report.until.isoformat()}"),
        (
            "consents",
            ", ".join(f"{p} ({a})" for p, a in report.purposes.items()) or "none declared",
        ),
        (
            "channels need",
            ", ".join(f"{c}: {p or 'no consent'}" for c, p in report.channels.items()),
        ),
    ]


def format_text(report: PrivacyReport) -> str:
    lines = ["Privacy report"]
    lines.extend(f"  {name}: {value}" for name, value in _head(report))
    for row in report.messages:
        lines.append("")
        lines.append(
            f"{row.journey} / {row.step} / {row.channel} — needs "
            f"{row.channel_purpose or 'no consent'} to send — {_budget(row)} "
            f"(most: {row.max_personal_variant})"
        )
        for attr in row.attributes:
            extra = f"; allowed use: {attr.allowed_use}" if attr.allowed_use else ""
            lines.append(
                f"  {attr.attribute:<24} {'+'.join(attr.uses):<16} {attr.sensitivity:<9} "
                f"purposes: {_purposes(attr.purposes)}{extra}"
            )
        for variant in row.over_budget:
            lines.append(f"  over budget: {variant}")
        lines.append(f"  reads (minimal export): {', '.join(row.required)}")
    if report.unused:
        lines.append("")
        lines.append(f"personal attributes no message uses: {', '.join(report.unused)}")
    return "\n".join(lines) + "\n"


def _md_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def format_markdown(report: PrivacyReport) -> str:
    parts = ["# Privacy report", ""]
    parts.extend(f"- **{name}**: {md(value)}" for name, value in _head(report))
    parts.append("")
    parts.append("## Messages")
    parts.append("")
    parts.append(
        _md_table(
            [
                "journey / step / channel",
                "consent to send",
                "personal (most in one variant)",
                "budget",
            ],
            [
                [
                    _code(f"{r.journey}/{r.step}/{r.channel}"),
                    md(r.channel_purpose or "none"),
                    str(r.max_personal),
                    "none"
                    if r.budget is None
                    else f"{r.budget} ({r.budget_level})"
                    + (f" — **over in {len(r.over_budget)}**" if r.over_budget else ""),
                ]
                for r in report.messages
            ],
        )
    )
    for row in report.messages:
        parts += ["", f"### {md(row.journey)} / {md(row.step)} / {md(row.channel)}", ""]
        parts.append(
            _md_table(
                ["attribute", "used for", "sensitivity", "purposes", "allowed use"],
                [
                    [
                        _code(a.attribute),
                        md(", ".join(a.uses)),
                        md(a.sensitivity),
                        md(_purposes(a.purposes)),
                        md(a.allowed_use or ""),
                    ]
                    for a in row.attributes
                ],
            )
            if row.attributes
            else "No customer attributes (beyond routing)."
        )
        parts.append("")
        parts.append(f"Reads (minimal export): {', '.join(_code(a) for a in row.required)}")
        for variant in row.over_budget:
            parts.append(f"- over budget: {_code(variant)}")
    if report.unused:
        parts += [
            "",
            "Personal attributes no message uses: " + ", ".join(_code(a) for a in report.unused),
        ]
    return "\n".join(parts) + "\n"


def format_html(report: PrivacyReport) -> str:
    esc = html.escape
    out = [
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>Privacy report</title>\n<style>body{font:15px/1.5 sans-serif;max-width:1000px;"
        "margin:0 auto;padding:16px}table{border-collapse:collapse;margin:8px 0}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.over{color:#a00}"
        "</style>\n</head>\n<body>\n<h1>Privacy report</h1>\n<ul>"
    ]
    out.extend(f"<li><b>{esc(n)}</b>: {esc(v)}</li>" for n, v in _head(report))
    out.append("</ul>")
    for row in report.messages:
        title = esc(f"{row.journey} / {row.step} / {row.channel}")
        cls = ' class="over"' if row.over_budget else ""
        out.append(
            f"<h2>{title}</h2><p>Consent to send: {esc(row.channel_purpose or 'none')}. "
            f"<span{cls}>Budget: {esc(_budget(row))}</span></p>"
        )
        out.append(
            "<table><tr><th>attribute</th><th>used for</th><th>sensitivity</th>"
            "<th>purposes</th><th>allowed use</th></tr>"
        )
        out.extend(
            f"<tr><td><code>{esc(a.attribute)}</code></td><td>{esc(', '.join(a.uses))}</td>"
            f"<td>{esc(a.sensitivity)}</td><td>{esc(_purposes(a.purposes))}</td>"
            f"<td>{esc(a.allowed_use or '')}</td></tr>"
            for a in row.attributes
        )
        out.append("</table>")
        out.append(f"<p>Reads (minimal export): {esc(', '.join(row.required))}</p>")
        if row.over_budget:
            items = "".join(f"<li>{esc(v)}</li>" for v in row.over_budget)
            out.append(f'<ul class="over">{items}</ul>')
    if report.unused:
        out.append(f"<p>Personal attributes no message uses: {esc(', '.join(report.unused))}</p>")
    out.append("</body>\n</html>\n")
    return "\n".join(out)


__all__ = ["FORMATS", "format_html", "format_markdown", "format_privacy", "format_text"]
