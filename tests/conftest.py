"""Shared test setup.

* ``--update-golden``: rewrite golden files instead of comparing against them
  (``.venv/bin/python -m pytest tests/test_golden_preview.py --update-golden``).
* ``render_*`` fixtures for the render and preview tests (prefixed so they do not clash with
  fixtures of other test modules).
* ``workers_take_part``: every parallel stage waits, before its own first share, until a
  forked worker has started one, so a test of the worker path runs it whatever the machine's
  speed (the build's process works too and could otherwise do every share of a small tree).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from atomic_content import parallel, repository, variants
from atomic_content import plan as plan_module
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

DEMO_RECORD: dict[str, Any] = {
    "id": "C-0",
    "email": "c@example.com",
    "locale": "en",
    "tier": "none",
    "orders": {"count": 3},
    "lifetime_value": 10.0,
    "app_installed": False,
    "sessions_mobile_share": 0.1,
    "discount_affinity": 0.1,
    "last_active_days": 5,
    "consent": {"personalization": True, "email_marketing": True},
    "signup_date": "2026-01-01",
}
"""A valid record of the demo profile, in no segment (tests vary one attribute of it)."""


def flat_keys(data: Mapping[str, Any], base: str = "") -> dict[str, Any]:
    """``data`` with every group written as flat dotted keys (as CSV columns are)."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(flat_keys(value, f"{base}{key}."))
        else:
            flat[f"{base}{key}"] = value
    return flat


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
def workers_take_part(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every parallel stage (:func:`~atomic_content.parallel.share_work`, as each stage
    module calls it) let a forked worker start a share before this process does any."""
    real = parallel.share_work

    def share_work(shares: int, jobs: int, work: Callable[[int], Any], **kw: Any) -> list[Any]:
        if jobs <= 1 or shares <= 1:
            return real(shares, jobs, work, **kw)
        started = multiprocessing.get_context("fork").Value("i", 0)
        give_up = time.monotonic() + 30
        remote = kw.pop("remote", None) or work

        def in_worker(index: int) -> Any:
            started.value = 1  # the share is the worker's now, whatever happens to it
            return remote(index)

        def here(index: int) -> Any:  # only ever called in this process
            while not started.value and time.monotonic() < give_up:
                time.sleep(0.001)
            return work(index)

        return real(shares, jobs, here, remote=in_worker, **kw)

    for module in (parallel, plan_module, repository, variants):
        monkeypatch.setattr(module, "share_work", share_work)


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
