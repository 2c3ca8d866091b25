"""Colour contrast of the brand colours (WCAG 2 AA), for ``atomic validate``.

Layouts put text only on the colour pairs of :data:`PAIRS` (docs/format.md, "Brand colours"):
body text on the background and on the content surface, links and headlines in the primary
colour, the button text on the primary colour, the offer text on the accent colour, footer
text in the muted colour. Each pair is checked in the light colours and in the dark-mode
colours (``brand.colors.dark``) against WCAG 2 AA: 4.5:1 for text, 3:1 for large text (24 px,
or 18.66 px bold). A pair below its minimum is a :class:`ContrastProblem` naming the
foreground colour's place in atomic.yaml, with a nearby colour that passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .models import Colors, DarkColors

TEXT: Final = 4.5
"""WCAG 2 AA (1.4.3) for text."""
LARGE_TEXT: Final = 3.0
"""WCAG 2 AA (1.4.3) for large text: at least 24 px, or 18.66 px bold."""


@dataclass(frozen=True)
class Pair:
    """Text in colour ``foreground`` on colour ``background`` (field names of Colors), which
    must reach ``minimum``; ``usage`` says where layouts use it."""

    foreground: str
    background: str
    minimum: float
    usage: str


PAIRS: Final = (
    Pair("text", "background", TEXT, "body text on the page background"),
    Pair("text", "surface", TEXT, "body text on the content panel"),
    Pair("primary", "surface", TEXT, "links and headlines on the content panel"),
    Pair("primary", "background", TEXT, "the brand name and links on the page background"),
    Pair("muted", "background", TEXT, "footer text on the page background"),
    Pair("muted", "surface", TEXT, "secondary text on the content panel"),
    Pair("on_primary", "primary", TEXT, "button text on the primary colour"),
    Pair("on_accent", "accent", TEXT, "offer text on the accent colour"),
)
"""Every pair of brand colours the layouts put text on."""


@dataclass(frozen=True)
class ContrastProblem:
    """A pair below its minimum: ``loc`` is the YAML path in atomic.yaml of the colour the
    file sets (the foreground when it sets both or neither)."""

    loc: tuple[str, ...]
    message: str
    hint: str


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _rgb(colour: str) -> tuple[int, int, int]:
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def luminance(colour: str) -> float:
    """The relative luminance of a hex colour (WCAG 2)."""
    r, g, b = _rgb(colour)
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(foreground: str, background: str) -> float:
    """The WCAG 2 contrast ratio of two hex colours, 1.0 to 21.0."""
    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def passing_colour(foreground: str, background: str, minimum: float) -> str:
    """The colour nearest ``foreground`` (mixed toward black or white, whichever the
    background allows) whose contrast on ``background`` reaches ``minimum``."""
    rgb = _rgb(foreground)
    target = (0, 0, 0) if luminance(background) > 0.18 else (255, 255, 255)
    for step in range(101):
        mixed = tuple(round(c + (t - c) * step / 100) for c, t in zip(rgb, target, strict=True))
        candidate = "#{:02x}{:02x}{:02x}".format(*mixed)
        if contrast_ratio(candidate, background) >= minimum:
            return candidate
    return "#000000" if target == (0, 0, 0) else "#ffffff"


def contrast_problems(colors: Colors) -> list[ContrastProblem]:
    """Every pair of :data:`PAIRS` below its minimum, light colours then dark ones."""
    problems: list[ContrastProblem] = []
    sets: tuple[tuple[tuple[str, ...], Colors | DarkColors], ...] = (
        (("brand", "colors"), colors),
        (("brand", "colors", "dark"), colors.dark),
    )
    for prefix, values in sets:
        name = ".".join(prefix)
        for pair in PAIRS:
            fg, bg = getattr(values, pair.foreground), getattr(values, pair.background)
            ratio = contrast_ratio(fg, bg)
            if ratio >= pair.minimum:
                continue
            # Point at the colour the file sets (the foreground when it sets both or neither)
            # and suggest a nearby value for that one.
            written = values.model_fields_set
            blame_background = pair.foreground not in written and pair.background in written
            blamed, other = (
                (pair.background, pair.foreground)
                if blame_background
                else (pair.foreground, pair.background)
            )
            current, against = (bg, fg) if blame_background else (fg, bg)
            better = passing_colour(current, against, pair.minimum)
            problems.append(
                ContrastProblem(
                    (*prefix, blamed),
                    f"{name}.{pair.foreground} {fg} on {name}.{pair.background} {bg} has a "
                    f"contrast of {_floor(ratio)}:1 ({pair.usage}); WCAG AA needs "
                    f"{pair.minimum:g}:1",
                    f"use colours with at least {pair.minimum:g}:1, e.g. {blamed}: "
                    f'"{better}" ({_floor(contrast_ratio(better, against))}:1), or change {other}',
                )
            )
    return problems


def _floor(ratio: float) -> str:
    # Rounded down, so that 4.49 never reads as the 4.5 it misses.
    return f"{int(ratio * 100) / 100:.2f}"
