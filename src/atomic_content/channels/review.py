"""What ``atomic diff`` shows a reviewer of a built variant: readable lines per file.

Channel renderers build their :meth:`~atomic_content.channels.base.ChannelRenderer.review_lines`
from these helpers: :func:`html_outline` (a page as text), :func:`json_lines` (pretty JSON),
:func:`text_lines` and :func:`other_files` (any file the channel does not show in its own way).
Nothing here raises for bad input: a reviewer must always see something.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from html.parser import HTMLParser

_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    }
)
_SKIP_TAGS = frozenset({"script", "style", "template", "noscript", "svg", "head"})


class _TextOutline(HTMLParser):
    """A readable outline of an HTML page: title, description, language, then the visible text
    in reading order with headings as ``#`` lines, links as ``text <url>`` and images as
    ``[image: alt] src``. Used for microsite pages, whose markup is not for reviewing."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.head: list[str] = []
        self.lines: list[str] = []
        self._line: list[str] = []
        self._skip = 0
        self._title: list[str] | None = None
        self._heading = 0
        self._links: list[str] = []

    def _flush(self) -> None:
        text = " ".join("".join(self._line).split())
        if text:
            self.lines.append(("#" * self._heading + " " if self._heading else "") + text)
        self._line = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "html" and values.get("lang"):
            self.head.append(f"Language: {values['lang']}")
        elif tag == "title":
            self._title = []
        elif tag == "meta" and values.get("name") == "description":
            self.head.append(f"Description: {values.get('content', '')}")
        if tag in _SKIP_TAGS:
            self._skip += 1
            return
        if self._skip:
            return
        if tag in _BLOCK_TAGS:
            self._flush()
            if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
                self._heading = int(tag[1])
        if tag == "img":
            self._line.append(f" [image: {values.get('alt', '(no alt)')}] {values.get('src', '')} ")
        elif tag == "a":
            self._links.append(values.get("href", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._title is not None:
            self.head.insert(0, "Title: " + " ".join("".join(self._title).split()))
            self._title = None
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
            return
        if self._skip:
            return
        if tag == "a" and self._links:
            href = self._links.pop()
            if href:
                self._line.append(f" <{href}>")
        if tag in _BLOCK_TAGS:
            self._flush()
            self._heading = 0

    def handle_data(self, data: str) -> None:
        if self._title is not None:
            self._title.append(data)
        elif not self._skip:
            self._line.append(data)

    def outline(self) -> list[str]:
        self._flush()
        return [*self.head, "", *self.lines] if self.head else self.lines


def html_outline(document: str) -> list[str]:
    """The lines of :class:`_TextOutline` for an HTML document (never raises)."""
    parser = _TextOutline()
    try:
        parser.feed(document)
        parser.close()
    except (AssertionError, ValueError):  # pragma: no cover - HTMLParser is lenient
        pass
    return parser.outline()


def text_lines(data: bytes) -> list[str]:
    """The lines of a file as UTF-8 text (undecodable bytes replaced)."""
    return data.decode("utf-8", "replace").splitlines()


def json_lines(data: bytes) -> list[str]:
    """A JSON file pretty-printed (two-space indent, key order kept); its text lines when it is
    not JSON."""
    try:
        value = json.loads(data)
    except ValueError:
        return text_lines(data)
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False).splitlines()


def other_files(files: Mapping[str, bytes], shown: Collection[str], lines: list[str]) -> list[str]:
    """``lines`` followed by every file not in ``shown``, by name: ``name:`` then its JSON
    pretty-printed, its HTML outlined or its text; a blank line between blocks."""
    result = list(lines)
    for name in sorted(set(files) - set(shown)):
        if result:
            result.append("")
        result.append(f"{name}:")
        if name.endswith(".json"):
            result.extend(json_lines(files[name]))
        elif name.endswith(".html"):
            result.extend(html_outline(files[name].decode("utf-8", "replace")))
        else:
            result.extend(text_lines(files[name]))
    return result
