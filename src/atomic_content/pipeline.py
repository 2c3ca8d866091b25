"""The checking pipeline shared by ``atomic validate`` and ``atomic build``: load → check →
plan → render → check limits. The build adds only the write stage, so a tree that validates
clean builds clean (the pre-commit hook is a safety net, not a guess).

Each stage runs once and hands its typed result to the next; :func:`check` stops after the
first stage that found errors, because later stages need a sound input.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .collector import long_lived
from .dates import DateRange
from .errors import Diagnostics
from .inputs import Listing
from .plan import Plan, PlanStore, make_plan
from .repository import Library, LoadCache
from .validate import static_check
from .variants import (
    ProgressCallback,
    RenderedPlan,
    VariantCache,
    VariantSink,
    render_diagnostics,
    render_plan,
)


@dataclass(frozen=True)
class Checked:
    """Everything the checking stages produced. ``plan`` is None when loading or the static
    checks found errors; ``rendered`` is None when planning did."""

    library: Library
    diagnostics: Diagnostics
    dates: DateRange
    plan: Plan | None = None
    rendered: RenderedPlan | None = None

    @property
    def ok(self) -> bool:
        """No errors, and every stage ran."""
        return self.rendered is not None and not self.diagnostics.has_errors


def check(
    content: Path,
    dates: DateRange | None = None,
    *,
    cache: VariantCache | None = None,
    jobs: int | None = None,
    progress: ProgressCallback | None = None,
    plans: PlanStore | None = None,
    sink: VariantSink | None = None,
    listing: Listing | None = None,
    load_cache: LoadCache | None = None,
) -> Checked:
    """Load, check, plan and render ``content`` for ``dates``; never raises for bad content.

    All diagnostics of every stage that ran are in ``Checked.diagnostics``. ``plans`` keeps
    the plan between runs, so that the next one plans again only the messages an edit can
    change (:class:`~atomic_content.plan.PlanMemo`); ``cache`` does the same for rendering.
    ``sink`` is :func:`~atomic_content.variants.render_plan`'s (the build's output tree).
    ``listing``: the content tree as the caller has just listed it (see
    :func:`~atomic_content.repository.load_files`); ``load_cache`` the load cache to use
    instead of reading it (see :meth:`~atomic_content.repository.LoadCache.carried`).
    """
    dates = dates or DateRange.of()
    library, diagnostics = static_check(
        content, dates.start, jobs=jobs, listing=listing, keep_cache=True, load_cache=load_cache
    )
    checked = _check(library, diagnostics, dates, cache, jobs, progress, plans, sink)
    if library.load_cache is not None:
        # The positions that planning and rendering looked up (limit problems at a journey's
        # step ...) are kept with their documents for the next run.
        library.load_cache.save_positions()
        library.load_cache = None
    return checked


def _check(
    library: Library,
    diagnostics: Diagnostics,
    dates: DateRange,
    cache: VariantCache | None,
    jobs: int | None,
    progress: ProgressCallback | None,
    plans: PlanStore | None,
    sink: VariantSink | None,
) -> Checked:
    if diagnostics.has_errors or library.settings is None or library.profile is None:
        return Checked(library, diagnostics, dates)
    previous = plans.load(library) if plans is not None else None
    # The library, the memo and the plan live until the end of the run (static_check and
    # the memo's load hold them out of the collector's sight too).
    with long_lived():
        plan = make_plan(library, dates.start, dates.until, previous=previous, jobs=jobs)
    if plans is not None:
        plans.save(plan.memo)
    diagnostics.extend(plan.problems)
    if plan.problems.has_errors:
        return Checked(library, diagnostics, dates, plan)
    rendered = render_plan(library, plan, cache=cache, jobs=jobs, progress=progress, sink=sink)
    diagnostics.extend(render_diagnostics(library, plan, rendered))
    return Checked(library, diagnostics, dates, plan, rendered)
