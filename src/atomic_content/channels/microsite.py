"""The microsite channel: one personal landing page, ``index.html``.

The layout is a Jinja2 HTML template rendered in the layout sandbox (autoescape on) with the
layout contract of docs/format.md plus ``message.title`` (the headline flattened to plain text)
and ``message.description`` (the summary flattened), for ``<title>``, the meta description and
Open Graph tags. The page is one html-mode part: customer values are HTML-escaped at render time.

Checks on the rendered page: title and description over their recommended lengths (warnings);
no ``lang``, ``<title>``, meta description or viewport, an image without ``alt`` (warnings);
an external script (error: the page must not load code from elsewhere).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from ..errors import Severity
from ..markdown import flatten
from ..models import ChannelSettings, Model, Settings
from ..repository import LayoutEntry
from ..resolver import Resolution
from .base import (
    AssembledMessage,
    AssemblyContext,
    ChannelView,
    Export,
    HtmlOutline,
    LayoutProblem,
    LimitAdvice,
    LimitProblem,
    Measure,
    Part,
    RenderedMessage,
    base_message,
    channel_settings,
    layout_slots,
    layout_template,
    length_problems,
    message_strings,
    message_vars,
    new_vault,
    outline_html,
    render_layout,
    text_of,
)
from .review import html_outline, other_files


class MicrositeLimits(Model):
    title_recommended: int = 60
    description_recommended: int = 160


class MicrositeChannel(ChannelSettings):
    """``channels.microsite`` in atomic.yaml."""

    limits: MicrositeLimits = MicrositeLimits()


PAGE_MESSAGE_FIELDS: Final = frozenset({"title", "description"})
"""``message.*`` names page layouts receive in addition to every layout's (see assemble)."""


class MicrositeRenderer:
    """The ``microsite`` channel."""

    name = "microsite"
    # message.title and message.description: the page's <title> and meta description.
    message_fields: frozenset[str] = PAGE_MESSAGE_FIELDS
    limit_advice: Mapping[str, LimitAdvice] = {
        "microsite.no_title": LimitAdvice(
            "give the page a title: `<title>{{ message.title }}</title>` in the layout, and a "
            "`headline` atom with text"
        ),
        "microsite.no_description": LimitAdvice(
            'describe the page: `<meta name="description" content="{{ message.description }}">`'
            " in the layout, and a `summary` atom with text"
        ),
        "microsite.no_lang": LimitAdvice(
            'write the page\'s language into the layout: `<html lang="{{ message.lang }}">`',
            in_layout=True,
        ),
        "microsite.no_viewport": LimitAdvice(
            'add `<meta name="viewport" content="width=device-width, initial-scale=1">` to '
            "the layout's <head>",
            in_layout=True,
        ),
        "microsite.image_alt": LimitAdvice(
            'give the layout\'s <img> an alt attribute (`alt=""` for a decorative image)',
            in_layout=True,
        ),
        "microsite.external_script": LimitAdvice(
            "remove the <script> from the layout: landing pages must not load code",
            in_layout=True,
        ),
    }
    settings_model = MicrositeChannel
    layout_template = "<name>.html.j2"
    exports: Mapping[str, Export] = {}

    def check_layout(self, entry: LayoutEntry) -> list[LayoutProblem]:
        return []

    def assemble(self, ctx: AssemblyContext, resolution: Resolution) -> AssembledMessage:
        entry, template = layout_template(ctx, resolution)
        atoms = resolution.atoms
        vault = new_vault(ctx, entry, atoms)
        slots = layout_slots(ctx, atoms, vault, resolution.language)
        message = message_vars(ctx, resolution)
        # Plain text with placeholders; the layout's autoescape escapes the static text.
        message["title"] = (
            vault.protect(flatten(text_of(atoms["headline"]))) if "headline" in atoms else ""
        )
        message["description"] = (
            vault.protect(flatten(text_of(atoms["summary"]))) if "summary" in atoms else ""
        )
        page = render_layout(
            template,
            name=entry.template_path or f"layouts/microsite/{resolution.layout}",
            variables={
                "slots": slots,
                "brand": ctx.brand,
                "message": message,
                "strings": message_strings(ctx, resolution),
            },
        )
        part = Part(
            "index.html",
            "html",
            vault.finish(page, part="index.html"),
            "text/html",
            "index.html",
            atom_ids=tuple(sorted({a.id for a in atoms.values()})),
        )
        return base_message(ctx, resolution, [part])

    def check_limits(
        self, rendered: RenderedMessage, settings: Settings | None
    ) -> list[LimitProblem]:
        limits = channel_settings(settings, self.name, MicrositeChannel).limits
        page = outline_html(rendered.parts.get("index.html", ""))
        description = page.meta.get("description", "")
        problems: list[LimitProblem] = []

        def warn(code: str, message: str) -> None:
            problems.append(LimitProblem(Severity.WARNING, code, message))

        if not page.title:
            warn("microsite.no_title", "the page has no <title>")
        else:
            problems += length_problems(
                len(page.title),
                what="page title",
                code="microsite.title",
                slot="headline",
                recommended=limits.title_recommended,
                shown="search results show",
            )
        if not description:
            warn("microsite.no_description", "the page has no meta description")
        else:
            problems += length_problems(
                len(description),
                what="meta description",
                code="microsite.description",
                slot="summary",
                recommended=limits.description_recommended,
                shown="search results show",
            )
        if not page.lang:
            warn("microsite.no_lang", "the <html> element has no lang attribute")
        if "viewport" not in page.meta:
            warn("microsite.no_viewport", "the page has no viewport meta tag (not responsive)")
        for src, alt in page.images:
            if alt is None:
                warn("microsite.image_alt", f"image {src} has no alt attribute")
        return problems + _script_problems(page)

    def send_limits(
        self, rendered: RenderedMessage, settings: Settings | None
    ) -> list[LimitProblem]:
        document = rendered.parts.get("index.html", "")
        # Only a <script> element can load code, and customer values are escaped into the
        # page, so a page without one needs no parse (the build checked every variant).
        if not _SCRIPT_TAG.search(document):
            return []
        return _script_problems(outline_html(document))

    def preview_text(self, rendered: RenderedMessage) -> str:
        page = outline_html(rendered.parts.get("index.html", ""))
        lines = [
            f"Title:       {page.title}",
            f"Description: {page.meta.get('description', '')}",
            f"Language:    {page.lang or '-'}",
        ]
        if page.headings:
            lines.append("Headings:")
            lines.extend(f"  {'  ' * (level - 1)}h{level} {text}" for level, text in page.headings)
        if page.images:
            lines.append("Images:")
            lines.extend(
                f"  {alt if alt is not None else '(no alt)'} — {src}" for src, alt in page.images
            )
        if page.links:
            lines.append("Links:")
            lines.extend(f"  {text or '(no text)'} → {href}" for text, href in page.links)
        return "\n".join(lines)

    # -- the studio --------------------------------------------------------------------------
    def studio_view(self, rendered: RenderedMessage, settings: Settings | None) -> ChannelView:
        pages = [name for name, kind in rendered.media_types.items() if kind == "text/html"]
        if len(pages) == 1 and len(rendered.parts) == 1:
            return ChannelView("page", {}, {pages[0]: "Page"})
        return ChannelView("frame", {}, {"preview": "Preview"})

    def measures(self, rendered: RenderedMessage, settings: Settings | None) -> list[Measure]:
        return []  # a page's limits are about its links and scripts, not a size to show

    def preview_html(self, rendered: RenderedMessage) -> str:
        return rendered.parts.get("index.html", "")

    def review_lines(self, files: Mapping[str, bytes]) -> list[str]:
        """An outline of the page (title, description, language, then the visible text): its
        markup is not for reviewing."""
        if "index.html" not in files:
            return other_files(files, (), [])
        lines = html_outline(files["index.html"].decode("utf-8", "replace"))
        return other_files(files, ("index.html",), lines)


_SCRIPT_TAG = re.compile(r"<script", re.IGNORECASE)


def _script_problems(page: HtmlOutline) -> list[LimitProblem]:
    """The error of each script the page loads from elsewhere."""
    return [
        LimitProblem(
            Severity.ERROR,
            "microsite.external_script",
            f"the page loads a script from {script}; landing pages must not load code",
        )
        for script in page.scripts
        if script is not None
    ]
