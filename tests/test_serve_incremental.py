"""The studio's incremental re-check (:class:`atomic_content.serve.state.Studio`) gives what a
fresh check of the same files gives: the plan (from the in-memory memo) and every rendered
variant's manifest entry (from the in-memory render cache), after each kind of edit."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from atomic_content.pipeline import DateRange, check
from atomic_content.serve.state import Studio
from conftest import DEMO_CONTENT

DAY = dt.date(2026, 11, 22)


def edit_segment_attribute(content: Path) -> None:
    path = content / "segments" / "vip.yaml"
    text = path.read_text(encoding="utf-8")
    edited = text.replace(
        "condition: {tier: {$in: [gold, platinum]}}",
        "condition: {tier: {$in: [gold, platinum]}, orders.count: {$gte: 1}}",
    )
    assert edited != text
    path.write_text(edited, encoding="utf-8")


def edit_atom(content: Path) -> None:
    path = next(
        p for p in sorted((content / "atoms").rglob("*.yaml")) if "\ntext: " in p.read_text()
    )
    path.write_text(path.read_text(encoding="utf-8").replace("\ntext: ", "\ntext: Edited ", 1))


@pytest.mark.parametrize("edit", [edit_segment_attribute, edit_atom], ids=["segment", "atom"])
def test_a_recheck_after_an_edit_equals_a_fresh_check(
    tmp_path: Path, edit: Callable[[Path], None]
) -> None:
    content = tmp_path / "content"
    shutil.copytree(DEMO_CONTENT, content)
    studio = Studio(content, start=DAY, cache_dir=tmp_path / "cache")
    try:
        assert studio.refresh().ok
        edit(content)
        incremental = studio.refresh(["edited"]).checked
    finally:
        studio.close()
    fresh = check(content, DateRange.of(DAY))
    assert incremental.plan is not None and fresh.plan is not None
    assert incremental.plan.variants == fresh.plan.variants
    assert incremental.plan.replanned < len(fresh.plan.variants)
    assert incremental.rendered is not None and fresh.rendered is not None
    mine = {k: v.entry for k, v in incremental.rendered.outputs.items()}
    theirs = {k: v.entry for k, v in fresh.rendered.outputs.items()}
    assert mine == theirs
    assert list(incremental.diagnostics) == list(fresh.diagnostics)
