"""Markdown for atom texts: HTML and plain text from one token stream, tokens kept verbatim.

Contract
--------
Atom texts are CommonMark (markdown-it-py, ``commonmark`` preset) with raw HTML **off**,
typographer off and linkify off. Personalization tokens (``{{ ... }}``, ``{% ... %}``) are
hidden behind placeholders (:func:`atomic_content.tokens.protect_tokens`) before parsing and put
back after rendering, so they come out byte for byte -- quotes inside tokens are not
HTML-escaped -- and are filled in per customer later, at send time, as data.

Links and images pass only when their target starts with a literal allowed scheme
(``https``, ``mailto`` by default; a brand deep-link scheme may be added). Refused are
``javascript:``, ``vbscript:``, ``data:``, ``file:``, protocol-relative ``//host``, relative
targets, targets that start with a token (a customer value must never choose the scheme) and
targets whose ``//host`` part contains a token (nor the host). A refused link renders as its
label, a refused image as its alt text. Links carry the ``href`` attribute only.

:func:`render_markdown` returns HTML, plain text (derived from the same tokens, not scraped from
the HTML) and the allowed link targets; :func:`flatten` gives one line of plain text for push
notifications; :func:`lint_markdown` reports raw HTML and refused links with positions. All
functions are deterministic and never raise for bad content.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Final

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markdown_it.rules_inline import autolink as _autolink_rule
from markdown_it.rules_inline import html_inline as _html_inline_rule
from markdown_it.rules_inline import image as _image_rule
from markdown_it.rules_inline import link as _link_rule
from markdown_it.token import Token

from atomic_content.tokens import _line_col, _line_starts, _protect, restore_tokens

__all__ = ["MarkdownProblem", "RenderedMarkdown", "flatten", "lint_markdown", "render_markdown"]

_DEFAULT_SCHEMES: Final = frozenset({"https", "mailto"})


@dataclass(frozen=True)
class RenderedMarkdown:
    """One Markdown source rendered: ``html``, plain ``text`` and allowed link targets.

    ``links`` are the ``href`` values of the links that were kept, in document order, with
    tokens restored.
    """

    html: str
    text: str
    links: tuple[str, ...]


@dataclass(frozen=True)
class MarkdownProblem:
    """One problem in a Markdown source; ``line``/``col`` are 1-based positions in it."""

    line: int
    col: int
    code: str
    message: str
    hint: str


class _Markdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:  # markdown-it's name
        # Every link is parsed; :func:`_sanitize` vets it afterwards so that a refused link can
        # be shown as its label rather than as raw Markdown source.
        return True


def _parser(*, html: bool) -> _Markdown:
    return _Markdown("commonmark", {"html": html, "linkify": False, "typographer": False})


_RuleFn = Callable[[StateInline, bool], bool]
_POSITIONS_KEY: Final = "atomic_content_positions"
_RECORDED: Final = frozenset({"link_open", "image", "html_inline"})


def _recording(rule: _RuleFn) -> _RuleFn:
    """Wrap an inline rule to remember where in its inline source each token it made began."""

    def wrapped(state: StateInline, silent: bool) -> bool:
        start = state.pos
        count = len(state.tokens)
        matched = rule(state, silent)
        if matched and not silent:
            # Pending text is flushed into a token first; record the rule's own token.
            for token in state.tokens[count:]:
                if token.type in _RECORDED:
                    positions = state.env.setdefault(_POSITIONS_KEY, {})
                    positions[id(token)] = (state.src, start)
                    break
        return matched

    return wrapped


_RENDER: Final = _parser(html=False)
# Lint parses the same way as rendering, plus position recording; a second parser with raw
# HTML on finds the HTML that rendering shows escaped.
_LINT_LINKS: Final = _parser(html=False)
_LINT_HTML: Final = _parser(html=True)
for _name, _rule in (("link", _link_rule), ("image", _image_rule), ("autolink", _autolink_rule)):
    _LINT_LINKS.inline.ruler.at(_name, _recording(_rule))
_LINT_HTML.inline.ruler.at("html_inline", _recording(_html_inline_rule))

_SCHEME_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_AUTHORITY_END_RE: Final = re.compile(r"[/?#]")
# Whitespace for flatten(); not \s, which would also swallow no-break spaces.
_COLLAPSE_RE: Final = re.compile("[ \t\r\n\f\v\u2028\u2029\x85]+")


def _link_allowed(url: str, schemes: frozenset[str], placeholders: Collection[str]) -> bool:
    """True when ``url`` (tokens still protected) starts with a literal allowed scheme.

    A token placeholder before the colon is part of the scheme and fails the check; a token in
    the ``//host`` part is refused too, so no inserted value can choose where a link goes.
    """
    match = _SCHEME_RE.match(url)
    if match is None:
        return False  # relative, protocol-relative, or starting with a token
    scheme = match.group(1).lower()
    if scheme not in schemes:
        return False
    rest = url[match.end() :]
    if rest.startswith("//"):
        authority = _AUTHORITY_END_RE.split(rest[2:], maxsplit=1)[0]
        return bool(authority) and not any(p in authority for p in placeholders)
    # https:foo (no //host) is not a usable web link.
    return scheme not in ("http", "https")


def _alt_text(token: Token) -> str:
    return _inline_text(token.children or [], links_as_label=True)


def _sanitize(
    tokens: list[Token], schemes: frozenset[str], placeholders: Collection[str]
) -> list[str]:
    """Drop refused links and images in place; keep only ``href`` / ``src`` + ``alt``.

    Returns the hrefs of the links kept, in order.
    """
    links: list[str] = []
    for block in tokens:
        if block.type != "inline" or block.children is None:
            continue
        kept: list[Token] = []
        dropping = False
        for token in block.children:
            if token.type == "link_open":
                href = str(token.attrGet("href") or "")
                if _link_allowed(href, schemes, placeholders):
                    token.attrs = {"href": href}
                    links.append(href)
                    kept.append(token)
                else:
                    dropping = True  # the label stays, the link goes
                continue
            if token.type == "link_close" and dropping:
                dropping = False
                continue
            if token.type == "image":
                src = str(token.attrGet("src") or "")
                if _link_allowed(src, schemes, placeholders):
                    token.attrs = {"src": src, "alt": ""}  # the renderer fills in alt
                    kept.append(token)
                else:
                    text = Token("text", "", 0)
                    text.content = _alt_text(token)
                    kept.append(text)
                continue
            kept.append(token)
        block.children = kept
    return links


def _link_text(label: str, href: str, links_as_label: bool, bare: bool = False) -> str:
    if links_as_label or not href:
        return label
    if not label or label == href:
        return href
    if href == "mailto:" + label:
        return label
    return f"{label} {href}" if bare else f"{label} ({href})"


def _inline_text(children: list[Token], *, links_as_label: bool, bare: bool = False) -> str:
    parts: list[str] = []
    link_start: int | None = None
    href = ""
    for token in children:
        kind = token.type
        if kind in ("text", "text_special", "code_inline", "html_inline"):
            parts.append(token.content)
        elif kind in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif kind == "image":
            parts.append(_alt_text(token))
        elif kind == "link_open":
            link_start = len(parts)
            href = str(token.attrGet("href") or "")
        elif kind == "link_close" and link_start is not None:
            label = "".join(parts[link_start:])
            del parts[link_start:]
            parts.append(_link_text(label, href, links_as_label, bare))
            link_start = None
    return "".join(parts)


def _close_index(tokens: list[Token], open_index: int) -> int:
    depth = 0
    for index in range(open_index, len(tokens)):
        depth += tokens[index].nesting
        if depth == 0:
            return index
    return len(tokens) - 1


def _indent(body: str, marker: str) -> str:
    lines = body.split("\n")
    pad = " " * len(marker)
    rest = [pad + line if line else "" for line in lines[1:]]
    return "\n".join([(marker + lines[0]).rstrip(), *rest])


def _text_blocks(tokens: list[Token], start: int, end: int) -> list[str]:
    """Plain text of each block in ``tokens[start:end]``."""
    blocks: list[str] = []
    index = start
    while index < end:
        token = tokens[index]
        if token.nesting != 1:
            if token.type == "inline":
                blocks.append(_inline_text(token.children or [], links_as_label=False))
            elif token.type in ("code_block", "fence", "html_block"):
                blocks.append(token.content.rstrip("\n"))
            elif token.type == "hr":
                blocks.append("---")
            index += 1
            continue
        close = _close_index(tokens, index)
        if token.type in ("bullet_list_open", "ordered_list_open"):
            blocks.append(_list_text(tokens, index, close))
        elif token.type == "blockquote_open":
            body = "\n\n".join(_text_blocks(tokens, index + 1, close))
            blocks.append("\n".join("> " + line if line else ">" for line in body.split("\n")))
        else:  # paragraph, heading: their text
            blocks.append("\n".join(_text_blocks(tokens, index + 1, close)))
        index = close + 1
    return blocks


def _list_text(tokens: list[Token], open_index: int, close_index: int) -> str:
    ordered = tokens[open_index].type == "ordered_list_open"
    start_attr = tokens[open_index].attrGet("start")
    number = int(start_attr) if start_attr is not None else 1
    items: list[str] = []
    tight = False
    index = open_index + 1
    while index < close_index:
        item_close = _close_index(tokens, index)
        inner = tokens[index + 1 : item_close]
        # markdown-it hides the paragraphs of tight lists.
        tight = any(t.type == "paragraph_open" and t.hidden for t in inner) or tight
        separator = "\n" if tight else "\n\n"
        body = separator.join(_text_blocks(tokens, index + 1, item_close))
        marker = f"{number}. " if ordered else "- "
        items.append(_indent(body, marker))
        number += 1
        index = item_close + 1
    return ("\n" if tight else "\n\n").join(items)


def _parse(text: str, *, inline: bool) -> list[Token]:
    if inline:
        return _RENDER.parseInline(text, {})
    return _RENDER.parse(text, {})


def render_markdown(
    source: str, *, inline: bool = False, link_schemes: Collection[str] = _DEFAULT_SCHEMES
) -> RenderedMarkdown:
    """Render ``source`` to HTML and plain text; tokens come out verbatim in both.

    ``inline=True`` renders a single line without the wrapping ``<p>`` (for subjects and
    headlines). ``link_schemes`` are the schemes a link or image may use (lower case).

    Plain text: blocks are separated by a blank line, emphasis markers are dropped, links are
    written ``label (url)`` (just the url when it is its own label), bullet items ``- item``,
    ordered items ``1. item``, headings as their text, hard breaks as newlines.

    Raw HTML in ``source`` is shown as text (escaped in ``html``). Never raises for bad content.
    The result is remembered (:data:`MEMO_SIZE` sources): a build renders one atom's text for
    every variant it wins in.
    """
    return _render_markdown(source, inline, frozenset(link_schemes))


MEMO_SIZE = 8192
"""Sources whose rendering :func:`render_markdown` and :func:`flatten` remember (each)."""


@functools.lru_cache(maxsize=MEMO_SIZE)
def _render_markdown(source: str, inline: bool, link_schemes: frozenset[str]) -> RenderedMarkdown:
    schemes = frozenset(s.lower() for s in link_schemes)
    protected = _protect(source)
    tokens = _parse(protected.text, inline=inline)
    links = _sanitize(tokens, schemes, protected.mapping.keys())
    html = _RENDER.renderer.render(tokens, _RENDER.options, {})
    if inline:
        text = "".join(_text_blocks(tokens, 0, len(tokens)))
    else:
        text = "\n\n".join(_text_blocks(tokens, 0, len(tokens)))
    mapping = protected.mapping
    return RenderedMarkdown(
        html=restore_tokens(html, mapping),
        text=restore_tokens(text, mapping),
        links=tuple(restore_tokens(link, mapping) for link in links),
    )


def flatten(source: str, *, link_schemes: Collection[str] | None = None) -> str:
    """One line of plain text for push notifications.

    No markup: links become their label, images their alt text, list markers and heading
    marks are dropped, all whitespace runs (including line breaks) become one space. Tokens are
    kept verbatim. Allowed and refused links alike are reduced to their label.

    With ``link_schemes`` (text messages, where phones link bare addresses) a link whose
    target starts with one of those schemes is written ``label url`` (just ``url`` when it is
    its own label); other links are still reduced to their label.

    The result is remembered, as :func:`render_markdown`'s.
    """
    return _flatten(source, None if link_schemes is None else frozenset(link_schemes))


@functools.lru_cache(maxsize=MEMO_SIZE)
def _flatten(source: str, link_schemes: frozenset[str] | None) -> str:
    protected = _protect(source)
    tokens = _RENDER.parse(protected.text, {})
    keep_links = link_schemes is not None
    if link_schemes is not None:
        schemes = frozenset(s.lower() for s in link_schemes)
        _sanitize(tokens, schemes, protected.mapping.keys())
    parts: list[str] = []
    for token in tokens:
        if token.type == "inline":
            children = token.children or []
            parts.append(_inline_text(children, links_as_label=not keep_links, bare=True))
        elif token.type in ("code_block", "fence"):
            parts.append(token.content)
    text = _COLLAPSE_RE.sub(" ", " ".join(parts)).strip()
    return restore_tokens(text, protected.mapping)


def _inline_offset(block: Token, pos: int, lines: list[str], starts: list[int]) -> int | None:
    """Offset in the (protected) source of position ``pos`` of ``block``'s inline content."""
    if block.map is None:
        return None
    content = block.content
    before = content[:pos]
    line_index = before.count("\n")
    col = pos - (before.rfind("\n") + 1)
    line_no = block.map[0] + line_index
    if line_no >= len(lines):
        return None
    content_line = content.split("\n")[line_index]
    source_line = lines[line_no]
    # The inline content is the source line without container markers and indentation.
    at = source_line.find(content_line) if content_line else -1
    if at < 0:
        at = len(source_line) - len(source_line.lstrip())
    return starts[line_no] + at + col


def _block_offset(block: Token, lines: list[str], starts: list[int]) -> int:
    if block.map is None or block.map[0] >= len(lines):
        return 0
    line = lines[block.map[0]]
    return starts[block.map[0]] + len(line) - len(line.lstrip())


def _token_offset(
    token: Token,
    block: Token,
    positions: Mapping[int, tuple[str, int]],
    lines: list[str],
    starts: list[int],
) -> int:
    recorded = positions.get(id(token))
    if recorded is not None and recorded[0] == block.content:
        offset = _inline_offset(block, recorded[1], lines, starts)
        if offset is not None:
            return offset
    return _block_offset(block, lines, starts)


def lint_markdown(source: str, *, link_schemes: frozenset[str]) -> list[MarkdownProblem]:
    """Problems in a Markdown source, ordered by position.

    * ``markdown.raw_html``: raw HTML (tags, comments); it is shown escaped, as text.
    * ``markdown.link_not_allowed``: a link or image whose target does not start with a
      literal allowed scheme (see the module docstring); it is shown as its label.

    Positions are 1-based lines and columns in ``source``. Never raises for bad content.
    """
    if "[" not in source and "<" not in source:
        return []  # no link, image, autolink or HTML can be written without them (fast path)
    schemes = frozenset(s.lower() for s in link_schemes)
    source = source.replace("\r\n", "\n").replace("\r", "\n")
    protected = _protect(source)
    text = protected.text
    lines = text.split("\n")
    starts = _line_starts(text)
    original_starts = _line_starts(source)
    problems: list[MarkdownProblem] = []

    def add(offset: int, code: str, message: str, hint: str) -> None:
        line, col = _line_col(original_starts, protected.original_offset(offset))
        problems.append(MarkdownProblem(line, col, code, message, hint))

    env: MutableMapping[str, Any] = {}
    for block in _LINT_LINKS.parse(text, env):
        for token in block.children or []:
            if token.type not in ("link_open", "image"):
                continue
            attribute = "href" if token.type == "link_open" else "src"
            url = str(token.attrGet(attribute) or "")
            if _link_allowed(url, schemes, protected.mapping.keys()):
                continue
            what = "link" if token.type == "link_open" else "image"
            shown = restore_tokens(url, protected.mapping)
            add(
                _token_offset(token, block, env.get(_POSITIONS_KEY, {}), lines, starts),
                "markdown.link_not_allowed",
                f"this {what} target is not allowed: {shown!r}; it will be shown as plain text",
                "links must start with "
                + " or ".join(f"{s}:" for s in sorted(schemes))
                + " written out, for example [Shop now](https://www.example.com/shop); "
                "they may not start with a token, and the web address may not come from one",
            )

    html_env: MutableMapping[str, Any] = {}
    for block in _LINT_HTML.parse(text, html_env):
        if block.type == "html_block":
            add(
                _block_offset(block, lines, starts),
                "markdown.raw_html",
                "HTML is not allowed here; it will be shown as text",
                "use Markdown instead: **bold**, *italic*, [label](https://www.example.com)",
            )
            continue
        for token in block.children or []:
            if token.type == "html_inline" and not token.content.startswith("</"):
                tag = restore_tokens(token.content, protected.mapping)
                add(
                    _token_offset(token, block, html_env.get(_POSITIONS_KEY, {}), lines, starts),
                    "markdown.raw_html",
                    f"HTML is not allowed here; it will be shown as text: {tag[:60]}",
                    "use Markdown instead: **bold**, *italic*, [label](https://www.example.com)",
                )
    return sorted(problems, key=lambda p: (p.line, p.col, p.code))
