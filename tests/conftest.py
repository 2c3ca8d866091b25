"""Shared test setup.

* ``--update-golden``: rewrite golden files instead of comparing against them
  (``.venv/bin/python -m pytest tests/test_golden_preview.py --update-golden``).
* ``render_*`` fixtures for the render and preview tests (prefixed so they do not clash with
  fixtures of other test modules).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from atomic_content.channels.base import AssembledMessage, RenderedMessage
from atomic_content.plan import Router, make_plan
from atomic_content.privacy import without
from atomic_content.render import assemble, render_message
from atomic_content.repository import Library, load_files
from atomic_content.resolver import Resolution
from atomic_content.validate import load_library
from contentkit import write_tree

REPO = Path(__file__).resolve().parent.parent
DEMO_CONTENT = REPO / "content"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="Rewrite golden files (tests/golden/) from the current output.",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Under xdist, tests marked xdist_group("spark") share one worker and so one SparkSession:
    # "loadgroup" is the default "load" distribution plus those groups.
    if getattr(config.option, "dist", None) == "load":
        config.option.dist = "loadgroup"


@pytest.fixture
def render_update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the run should rewrite golden files rather than compare."""
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def render_demo_library() -> Library:
    """The demo content (content/), loaded and validated once per session."""
    library, _warnings = load_library(DEMO_CONTENT)
    return library


RenderTree = Callable[..., Path]


@pytest.fixture
def render_tree(tmp_path: Path) -> RenderTree:
    """Factory: write the small contentkit tree with overrides into a fresh folder.

    ``render_tree({"atoms/x.yaml": "...", "atoms/body.yaml": None})`` returns the folder; a
    value of ``None`` deletes a base file. Each call uses a new sub-folder.
    """
    counter = 0

    def make(overrides: dict[str, str | bytes | None] | None = None) -> Path:
        nonlocal counter
        counter += 1
        return write_tree(tmp_path / f"content-{counter}", overrides)

    return make


@dataclass(frozen=True)
class RenderRun:
    """One message through every stage: resolution, template form and rendered form."""

    library: Library
    resolution: Resolution
    assembled: AssembledMessage
    rendered: RenderedMessage


def render_library(content: Path, *, validate: bool = True) -> Library:
    """Load ``content``; ``validate=False`` skips cross-file validation (so tests can feed the
    renderer content that validation would refuse, to prove the second line of defence)."""
    if validate:
        return load_library(content)[0]
    library, _diagnostics = load_files(content)
    return library


def render_run_message(
    source: Path | Library,
    attributes: Mapping[str, Any],
    journey: str = "welcome",
    step: str = "day-0",
    channel: str = "email",
    *,
    on: dt.date | None = dt.date(2026, 12, 1),
    customer_id: str | None = "test-customer",
    validate: bool = True,
) -> RenderRun:
    """Resolve, assemble and render one message for ``attributes``."""
    library = source if isinstance(source, Library) else render_library(source, validate=validate)
    day = on or dt.date(2026, 12, 1)
    plan = make_plan(library, day)
    route = Router.for_plan(library, plan).route(
        dict(attributes), journey=journey, step=step, channel=channel, on=day
    )
    resolution = plan.variant(route.variant_id).resolution
    assembled = assemble(library, resolution)
    # The consent rule: attributes the customer's consent hides are absent for tokens too.
    visible = without(attributes, route.hidden)
    rendered = render_message(library.profile, assembled, visible, customer_id=customer_id)
    return RenderRun(library, resolution, assembled, rendered)


@pytest.fixture
def render_run() -> Callable[..., RenderRun]:
    """:func:`render_run_message` as a fixture."""
    return render_run_message
