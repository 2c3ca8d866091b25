"""validate.usable_atoms (the atom.unused check and the plan's ranking diagnostics) indexes the
atoms by slot and journey scope; it must name exactly the atoms the plain definition names: an
atom is usable when some journey step has a layout with its slot, on one of its channels, in
its journey scope, in a locale on the chain of a journey locale and, when targeted, for a
segment the journey personalizes for."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atomic_content.models import Atom
from atomic_content.repository import Library, load_files
from atomic_content.validate import usable_atoms
from contentkit import write_tree

OTHER_JOURNEY = """\
name: Other
segments: [vip]
locales: [de]
steps:
  - id: s1
    trigger: Later
    channels: {email: basic}
  - id: s2
    trigger: Much later
    channels: {app: push}
"""


def reference(library: Library) -> set[str]:
    """The definition, checked for every atom against every step (no index)."""
    settings = library.settings
    assert settings is not None
    found: set[str] = set()
    for journey in library.journeys.values():
        chains = {
            loc
            for code in journey.locales or list(settings.locales)
            for loc in library.locale_chain(code)
        }
        segments = set(journey.segments) if journey.segments is not None else set(library.segments)
        for step in journey.steps:
            for channel, layout_id in step.channels.items():
                entry = library.layouts.get((channel, layout_id))
                if entry is None:
                    continue
                for atom in library.atoms.values():
                    if (
                        atom.slot in entry.layout.slots
                        and (atom.channels is None or channel in atom.channels)
                        and (
                            atom.journeys is None
                            or journey.id in atom.journeys
                            or f"{journey.id}/{step.id}" in atom.journeys
                        )
                        and (atom.locale or settings.default_locale) in chains
                        and (atom.segments is None or bool(set(atom.segments) & segments))
                    ):
                        found.add(atom.id)
    return found


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Library:
    root = write_tree(
        tmp_path_factory.mktemp("usable") / "content", {"journeys/other.yaml": OTHER_JOURNEY}
    )
    library, _diagnostics = load_files(root, cache=False)
    assert set(library.journeys) == {"welcome", "other"}
    return library


atoms = st.fixed_dictionaries(
    {
        "slot": st.sampled_from(["headline", "body", "subject", "push_title", "offer"]),
        "journeys": st.sampled_from(
            [
                None,
                [],
                ["welcome"],
                ["welcome/day-0"],
                ["welcome/day-1"],
                ["other"],
                ["other/s2"],
                ["other/s1", "welcome"],
                ["missing"],
            ]
        ),
        "channels": st.sampled_from([None, ["email"], ["app"], ["sms"]]),
        "locale": st.sampled_from([None, "en", "de", "de-AT"]),
        "segments": st.sampled_from([None, ["vip"], ["new"], ["gone"], ["new", "vip"]]),
    }
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(specs=st.lists(atoms, max_size=12))
def test_usable_atoms_is_the_definition(base: Library, specs: list[dict[str, Any]]) -> None:
    library = dataclasses.replace(base, atoms={})
    for index, spec in enumerate(specs):
        fields = {key: value for key, value in spec.items() if value is not None}
        atom = Atom.model_validate({"id": f"a{index}", "text": "Hello", **fields})
        library.atoms[atom.id] = atom
    assert usable_atoms(library) == reference(library)


def test_demo_content_agrees() -> None:
    library, _diagnostics = load_files(Path(__file__).resolve().parent.parent / "content")
    assert usable_atoms(library) == reference(library)
    assert usable_atoms(library)  # the demo's atoms are used
