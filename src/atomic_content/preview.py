"""Preview: what one customer gets from a journey — resolved, assembled, rendered and checked.

:func:`preview` does the whole pipeline for one sample customer (or customer file) and the
steps and channels asked for; the ``format_*`` functions turn the results into text for a
terminal, one HTML document for a browser, JSON for programs or an ``.eml`` file for a mail
client. Nothing here prints: the CLI (``atomic preview``) does.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .api import CustomerMessage, customer_messages
from .assets import asset_files, inline_assets
from .channels import export_formats, get_renderer, problem_hint
from .channels.base import (
    AssembledMessage,
    ExportOptions,
    LimitProblem,
    RenderedMessage,
    send_time,
)
from .errors import Severity, UsageError, plural
from .experiments import Assignment
from .formatting import format_resolution, inline, log_safe, variant_label
from .models import ArmKind, Settings
from .privacy import without
from .render import assemble, check_limits, render_message
from .repository import Library
from .resolver import Resolution, require_complete


@dataclass(frozen=True)
class PreviewResult:
    """One message for one customer: how it was resolved, its template form, its rendered
    form and the channel limits it breaks."""

    customer_id: str
    resolution: Resolution
    assembled: AssembledMessage
    rendered: RenderedMessage
    problems: tuple[LimitProblem, ...]
    settings: Settings
    variant_id: str = ""
    assignment: Assignment | None = None
    holdout: bool = False
    assets: dict[str, Path] = field(default_factory=dict)
    """The content's assets (``assets/logo.png`` -> file), shown inline by :func:`format_html`."""
    suppressed: tuple[str, ...] = ()

    @property
    def has_errors(self) -> bool:
        return any(p.severity is Severity.ERROR for p in self.problems)

    @property
    def with_drafts(self) -> bool:
        """Whether draft or review atoms win in this message (``--include-drafts``): a
        preview that no build contains; :attr:`variant_id` is the built variant it would
        replace once they are approved."""
        return bool(self.resolution.drafts)

    def hint(self, problem: LimitProblem) -> str:
        """How to fix ``problem`` (one of :attr:`problems`): the build's hint for it."""
        return problem_hint(problem.code, problem.slot, self.resolution)

    def to_dict(self, *, explain: bool = False) -> dict[str, Any]:
        """The JSON shape of a preview (docs/cli.md): resolution, parts and problems; with an
        experiment, ``experiment`` (arm and reason) and ``holdout`` (no message is sent).
        ``with_drafts`` is true when draft or review atoms win (no build contains the
        message; ``variant`` names the built variant it would replace)."""
        extra: dict[str, Any] = {}
        if self.assignment is not None:
            extra = {"experiment": self.assignment.to_dict(), "holdout": self.holdout}
        return {
            **extra,
            "customer": self.customer_id,
            "variant": self.variant_id,
            "with_drafts": self.with_drafts,
            "resolution": self.resolution.to_dict(explain=explain),
            "parts": {
                name: {
                    "media_type": self.rendered.media_types.get(name, ""),
                    "filename": self.rendered.filenames.get(name, ""),
                    "content": text,
                }
                for name, text in self.rendered.parts.items()
            },
            "problems": [{**p.to_dict(), "hint": self.hint(p)} for p in self.problems],
            "suppressed": list(self.suppressed),
        }


def preview(
    content: Path,
    customer_ref: str,
    journey: str,
    *,
    step: str | None = None,
    channel: str | None = None,
    locale: str | None = None,
    on: dt.date | None = None,
    include_drafts: bool = False,
    explain: bool = False,
    arm: ArmKind | None = None,
) -> list[PreviewResult]:
    """Resolve, assemble, render and check every message of ``journey`` for one customer.

    ``step`` and ``channel`` narrow the messages (default: every step, every channel of each
    step, in the journey's order); ``locale`` overrides the customer's; ``on`` is the
    resolution date (default: today). Raises ContentError for invalid content, UsageError for
    unknown ids, ResolutionError when a required slot has no content and RenderError when the
    customer's data cannot be rendered safely. ``arm`` forces an experiment arm; a holdout
    result (``holdout`` True) shows what the personalized arm would get, and is not sent.
    """
    found = customer_messages(
        content, customer_ref, journey, step=step, channel=channel, locale=locale, on=on,
        include_drafts=include_drafts, explain=explain, arm=arm,
    )  # fmt: skip
    library, customer = found.library, found.customer
    assets = asset_files(library.root) if library.root else {}
    return [
        render_customer_message(
            library, message, customer.attributes, customer_id=customer.id, assets=assets
        )
        for message in found.messages
    ]


def render_customer_message(
    library: Library,
    message: CustomerMessage,
    attributes: Mapping[str, Any],
    *,
    customer_id: str | None = None,
    assets: dict[str, Path] | None = None,
) -> PreviewResult:
    """One routed message rendered for one customer record and checked against the channel
    limits: what ``Bundle.render`` would send. ``assets`` are the content's asset files
    (default: read from the library's folder). The customer's consent hides attributes from
    tokens exactly as at send time; a suppressed message is still rendered (with a note), so
    editors see what it is. ResolutionError when a required slot has no content, RenderError
    when the record cannot be rendered safely."""
    assert library.settings is not None
    if assets is None:
        assets = asset_files(library.root) if library.root else {}
    require_complete(library, message.resolution)
    # The build's template form of the variant (the same call as the render stage), then
    # this customer's tokens: what Bundle.render would send.
    assembled = assemble(library, message.variant.resolution)
    hidden = message.route.hidden if message.route else frozenset()
    rendered = render_message(
        library.profile, assembled, without(attributes, hidden), customer_id=customer_id
    )
    return PreviewResult(
        customer_id or "",
        message.resolution,
        assembled,
        rendered,
        tuple(check_limits(library.settings, rendered)),
        library.settings,
        message.variant.id,
        message.assignment,
        message.holdout,
        suppressed=message.route.suppressed if message.route else (),
        assets=assets,
    )


# --------------------------------------------------------------------------------------------
# Formatters
# --------------------------------------------------------------------------------------------


def _heading(result: PreviewResult) -> str:
    key = result.resolution.key
    title = f"{key.journey} / {key.step} / {key.channel} / {key.locale}"
    return (
        f"═══ {title} — customer {inline(result.customer_id)} — "
        f"layout {result.resolution.layout} ═══"
    )


def _summary(result: PreviewResult) -> list[str]:
    resolution = result.resolution
    audience = resolution.audience
    segments = ", ".join(sorted(audience.matched)) or "none"
    lines = [
        f"segments: {segments}",
        f"audience: {audience.id}",
        f"variant: {variant_label(result.variant_id, result.with_drafts)}",
    ]
    if result.assignment is not None:
        arm = result.assignment.arm.value if result.assignment.arm else "not in the experiment"
        lines.append(f"arm: {arm} ({result.assignment.key})")
    lines.extend(f"note: {note}" for note in resolution.notes)
    atoms = ", ".join(f"{slot}={atom}" for slot, atom in result.assembled.atoms.items())
    lines.append(f"atoms: {atoms}")
    return lines


def format_problems(result: PreviewResult) -> list[tuple[str, str]]:
    """``(severity[code]: message, hint)`` of each limit problem of ``result`` (empty when
    there are none)."""
    return [(f"{p.severity.value}[{p.code}]: {p.message}", result.hint(p)) for p in result.problems]


def format_text(results: list[PreviewResult], *, explain: bool = False) -> str:
    """Each message as a person would see it; with ``explain`` the resolution of every slot.

    Every line is passed through :func:`~atomic_content.formatting.log_safe`, so content
    cannot start a GitHub Actions workflow command (``::error ...``) in a CI log.
    """
    blocks: list[str] = []
    for result in results:
        lines = [_heading(result)]
        if explain:
            lines.append(format_resolution(result.resolution, explain=True))
        else:
            lines.extend(_summary(result))
        lines.append("")
        if result.holdout:
            lines.append("(holdout: no message is sent to this customer; above, the variant the")
            lines.append(" personalized arm gets)")
            lines.append("")
        lines.append(get_renderer(result.rendered.key.channel).preview_text(result.rendered))
        problems = format_problems(result)
        lines.append("")
        lines.append("checks: " + ("ok" if not problems else plural(len(problems), "problem")))
        for line, hint in problems:
            lines += [f"  {line}", f"    hint: {hint}"]
        blocks.append("\n".join(lines))
    text = "\n\n".join(blocks) + "\n"
    # Split on every line boundary the runner may honour (CR, U+2028 ... too), ends kept.
    return "".join(log_safe(line) for line in text.splitlines(keepends=True))


def format_html(results: list[PreviewResult]) -> str:
    """One HTML document: the message itself for one result (email HTML, microsite page, an
    app card mock-up), else an index page that shows each message in a frame."""
    documents = [
        inline_assets(
            get_renderer(r.rendered.key.channel).preview_html(r.rendered),
            r.settings.brand,
            r.assets,
        )
        for r in results
    ]
    if len(documents) == 1:
        return documents[0]
    lang = html.escape(results[0].resolution.key.locale) if results else "en"
    sections = []
    for result, document in zip(results, documents, strict=True):
        key = result.resolution.key
        title = html.escape(f"{key.journey} / {key.step} / {key.channel} / {key.locale}")
        problems = "".join(
            f"<li>{html.escape(line)}<br>hint: {html.escape(hint)}</li>"
            for line, hint in format_problems(result)
        )
        sections.append(
            f"<section><h2>{title}</h2>{f'<ul>{problems}</ul>' if problems else ''}"
            f'<iframe title="{title}" sandbox srcdoc="{html.escape(document, quote=True)}">'
            "</iframe></section>"
        )
    customer = html.escape(results[0].customer_id) if results else ""
    return (
        f'<!doctype html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>Preview for {customer}</title>\n"
        "<style>body{margin:0 auto;max-width:760px;padding:16px;font:15px/1.5 sans-serif}"
        "iframe{width:100%;height:900px;border:1px solid #ccc}</style>\n</head>\n<body>\n"
        f"<h1>Preview for {customer}</h1>\n" + "\n".join(sections) + "\n</body>\n</html>\n"
    )


def format_json(results: list[PreviewResult], *, explain: bool = False) -> str:
    """The documented JSON list of previews (see :meth:`PreviewResult.to_dict`)."""
    return json.dumps(
        [r.to_dict(explain=explain) for r in results], indent=2, ensure_ascii=False, default=str
    )


def format_export(
    results: list[PreviewResult],
    fmt: str,
    *,
    date: dt.date | None = None,
    to: str | None = None,
    sent: dt.datetime | None = None,
) -> bytes:
    """One message in a channel's export format ``fmt`` (``eml``: an ``.eml`` file).

    Needs exactly one message of the channel that owns ``fmt`` among ``results`` (narrow with
    --step / --channel). The send time is ``sent``, else ``date`` at midnight UTC, else
    SOURCE_DATE_EPOCH, else now (:func:`~atomic_content.channels.base.send_time`); ``to``
    replaces the customer's address. UsageError for an unknown format or not exactly one
    message.
    """
    formats = export_formats()
    if fmt not in formats:
        raise UsageError(f"unknown format {fmt!r}", f"formats: {', '.join(sorted(formats))}")
    channel, export = formats[fmt]
    matching = [r for r in results if r.rendered.key.channel == channel]
    if len(matching) != 1:
        found = ", ".join(f"{r.resolution.key.step}" for r in matching) or "none"
        raise UsageError(
            f"the {fmt} format needs exactly one {channel} message "
            f"({channel} messages found: {found})",
            f"choose one with --step and --channel {channel}",
        )
    result = matching[0]
    options = ExportOptions(sent=sent or send_time(date), to=to)
    return export.write(result.rendered, result.settings, options)


def format_eml(
    results: list[PreviewResult], *, date: dt.date | None = None, to: str | None = None
) -> str:
    """The email message as an ``.eml`` file (CRLF line ends): :func:`format_export` ``eml``."""
    return format_export(results, "eml", date=date, to=to).decode("ascii")


__all__ = [
    "PreviewResult",
    "format_eml",
    "format_export",
    "format_html",
    "format_json",
    "format_problems",
    "format_text",
    "preview",
    "render_customer_message",
]
