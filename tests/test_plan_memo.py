"""The plan memo: re-planning only what an edit touches gives exactly the plan of planning
everything (:class:`atomic_content.plan.PlanMemo`, :class:`~atomic_content.plan.PlanStore`).

Real files: a copy of the demo content is edited on disk, loaded again, planned once with the
memo the previous plan left (read back from disk) and once from scratch; the two plans must be
equal, variant by variant and problem by problem.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle
import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from atomic_content.hashing import canonical_json
from atomic_content.plan import Plan, PlanMemo, PlanStore, RouteMemo, make_plan
from atomic_content.repository import Library
from atomic_content.validate import static_check
from contentkit import write_tree

DEMO = Path(__file__).resolve().parents[1] / "content"
START = dt.date(2026, 11, 22)
UNTIL = START + dt.timedelta(days=30)
SEGMENTS = sorted(p.stem for p in (DEMO / "segments").glob("*.yaml"))


@pytest.fixture()
def content(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(DEMO, root)
    return root


def load(root: Path) -> Library | None:
    library, diagnostics = static_check(root, START)
    return None if diagnostics.has_errors else library


def atom_files(root: Path) -> list[Path]:
    return sorted((root / "atoms").rglob("*.yaml"))


def set_field(path: Path, key: str, value: str | None) -> None:
    """Set (or with None remove) one top-level ``key: value`` line of an atom file."""
    text = path.read_text(encoding="utf-8")
    line = re.compile(rf"^{re.escape(key)}:.*\n", re.MULTILINE)
    if value is None:
        text = line.sub("", text)
    elif line.search(text):
        text = line.sub(f"{key}: {value}\n", text, count=1)
    else:
        text += f"{key}: {value}\n"
    path.write_text(text, encoding="utf-8")


def assert_same_plan(incremental: Plan, fresh: Plan) -> None:
    assert [v.id for v in incremental.variants] == [v.id for v in fresh.variants]
    for mine, theirs in zip(incremental.variants, fresh.variants, strict=True):
        assert mine == theirs, mine.id
    assert list(incremental.problems) == list(fresh.problems)
    assert incremental.experiments == fresh.experiments


def replan(root: Path, store_folder: Path) -> tuple[Plan, Plan]:
    """(the plan made with the memo on disk, the plan made from scratch) of ``root``."""
    library = load(root)
    assert library is not None
    store = PlanStore(store_folder)
    incremental = make_plan(library, START, UNTIL, previous=store.load(library))
    store.save(incremental.memo)
    return incremental, make_plan(library, START, UNTIL)


Edit = Callable[[Path], None]


def first_atom(root: Path, needle: str) -> Path:
    return next(p for p in atom_files(root) if needle in p.read_text(encoding="utf-8"))


def add_atom(root: Path) -> None:
    """A new headline atom for every journey, ranked above the rest: it competes (and wins)
    in messages that no changed atom competed in before."""
    path = root / "atoms" / "zz-new.yaml"
    path.write_text(
        "id: zz-new\nslot: headline\ntext: Brand new\nstatus: approved\npriority: 99\n",
        encoding="utf-8",
    )


def widen(path: Path) -> None:
    """An atom scoped to one journey made available to all, ranked above the rest."""
    set_field(path, "journeys", None)
    set_field(path, "segments", None)
    set_field(path, "priority", "99")


EDITS: dict[str, Edit] = {
    "text": lambda root: set_field(first_atom(root, "\ntext:"), "text", "Edited copy"),
    "priority": lambda root: set_field(first_atom(root, "slot: headline"), "priority", "99"),
    "segments added": lambda root: set_field(
        next(p for p in atom_files(root) if "segments:" not in p.read_text()), "segments", "[vip]"
    ),
    "segments removed": lambda root: set_field(first_atom(root, "segments:"), "segments", None),
    "channels": lambda root: set_field(first_atom(root, "channels: [email]"), "channels", None),
    "locale": lambda root: set_field(first_atom(root, "locale: de\n"), "locale", "de-AT"),
    "expires in range": lambda root: set_field(
        first_atom(root, "slot: subject"), "valid_until", (START + dt.timedelta(days=5)).isoformat()
    ),
    "starts in range": lambda root: set_field(
        first_atom(root, "slot: headline"), "valid_from", (START + dt.timedelta(days=9)).isoformat()
    ),
    "retired": lambda root: set_field(first_atom(root, "slot: headline"), "status", "retired"),
    "journeys removed": lambda root: set_field(first_atom(root, "journeys:"), "journeys", None),
    "deleted": lambda root: first_atom(root, "segments: [vip]").unlink(),
    "added": lambda root: add_atom(root),
    "widened and raised": lambda root: widen(first_atom(root, "journeys: [winback")),
    "moved": lambda root: first_atom(root, "slot: subject").rename(root / "atoms" / "moved.yaml"),
}

WHOLE: dict[str, Edit] = {
    "segment priority": lambda root: set_field(root / "segments" / "vip.yaml", "priority", "1"),
    "journey": lambda root: (root / "journeys" / "welcome.yaml").write_text(
        (root / "journeys" / "welcome.yaml").read_text(encoding="utf-8") + "\n# edited\n",
        encoding="utf-8",
    ),
}


@pytest.mark.parametrize("name", sorted(EDITS))
def test_the_routing_table_is_encoded_message_by_message(
    content: Path, tmp_path: Path, name: str
) -> None:
    """``Plan.encoded_routing`` is the routing table's canonical JSON (the bundle's), with and
    without a memo; after an edit, a message whose plan is the very object of the last plan
    keeps its encoded part, and the others are encoded again."""
    store = PlanStore(tmp_path / "memo")  # one store: a session's, which keeps its memo
    library = load(content)
    assert library is not None
    first = make_plan(library, START, UNTIL, previous=store.load(library))
    store.save(first.memo)
    routes: RouteMemo = {}
    assert first.encoded_routing(routes) == canonical_json(first.routing.to_json())
    assert first.encoded_routing() == canonical_json(first.routing.to_json())
    assert first.memo is not None and len(routes) == len(first.memo.messages)
    fewer = dataclasses.replace(first, variants=first.variants[1:])  # not its memo's variants
    assert fewer.encoded_routing(dict(routes)) == canonical_json(fewer.routing.to_json())

    EDITS[name](content)
    library = load(content)
    assert library is not None
    again = make_plan(library, START, UNTIL, previous=store.load(library))
    kept = dict(routes)
    assert again.encoded_routing(routes) == canonical_json(again.routing.to_json())
    assert again.memo is not None and len(routes) == len(again.memo.messages)
    same = [piece for piece in again.memo.messages.values() if id(piece) in kept]
    assert same, "most messages keep the very plan of the last plan"
    if again.replanned:
        assert len(same) < len(again.memo.messages)
    for piece in same:
        assert kept[id(piece)][0] is piece and routes[id(piece)][1] is kept[id(piece)][1]


@pytest.mark.parametrize("name", sorted(EDITS))
def test_an_atom_edit_replans_only_its_messages(content: Path, tmp_path: Path, name: str) -> None:
    first, _ = replan(content, tmp_path / "memo")
    assert first.memo is not None and first.replanned == len(first.memo.messages)
    EDITS[name](content)
    incremental, fresh = replan(content, tmp_path / "memo")
    assert_same_plan(incremental, fresh)
    before, after = first.memo, incremental.memo
    assert after is not None
    changed = {
        atom_id
        for atom_id in before.atoms.keys() | after.atoms.keys()
        if before.atoms.get(atom_id) != after.atoms.get(atom_id)
    }
    assert changed
    # An atom whose targeting (all but its content) is as before competes where it did.
    retargeted = {
        atom_id
        for atom_id in changed
        if atom_id not in before.atoms
        or atom_id not in after.atoms
        or before.atoms[atom_id].rpartition("\0")[2] != after.atoms[atom_id].rpartition("\0")[2]
    }
    # Exactly the messages a retargeted atom could compete in, before or after the edit, were
    # planned again; every other one came from the memo.
    touched = {m for m, piece in after.messages.items() if piece.competing & retargeted} | {
        m for m, piece in before.messages.items() if piece.competing & retargeted
    }
    assert incremental.replanned == len(touched) < len(after.messages)
    if name in ("text", "moved"):  # the content alone changed: nothing is planned again
        assert not retargeted and incremental.replanned == 0
        # ... but the variants it wins carry its new content and cache keys (a moved file
        # has the same content: the same keys).
        keys_before = {v.id: v.cache_key for v in first.variants}
        rekeyed = {v.id for v in incremental.variants if keys_before[v.id] != v.cache_key}
        assert bool(rekeyed) == (name == "text")
    else:
        assert retargeted == changed


@pytest.mark.parametrize("name", sorted(WHOLE))
def test_any_other_edit_replans_everything(content: Path, tmp_path: Path, name: str) -> None:
    replan(content, tmp_path / "memo")
    WHOLE[name](content)
    incremental, fresh = replan(content, tmp_path / "memo")
    assert_same_plan(incremental, fresh)
    assert incremental.memo is not None
    assert incremental.replanned == len(incremental.memo.messages)


def test_a_different_range_or_drafts_replans_everything(content: Path) -> None:
    library = load(content)
    assert library is not None
    memo = make_plan(library, START, UNTIL).memo
    later = make_plan(library, START, UNTIL + dt.timedelta(days=1), previous=memo)
    drafts = make_plan(library, START, UNTIL, include_drafts=True, previous=memo)
    assert later.memo is not None and later.replanned == len(later.memo.messages)
    assert drafts.memo is not None and drafts.replanned == len(drafts.memo.messages)
    assert_same_plan(drafts, make_plan(library, START, UNTIL, include_drafts=True))


@pytest.mark.parametrize("seed", range(3))
def test_random_edit_sequences_give_the_fresh_plan(
    content: Path, tmp_path: Path, seed: int
) -> None:
    """A seeded walk of atom edits, each planned from the memo of the step before."""
    rng = random.Random(seed)
    replan(content, tmp_path / "memo")
    fields: dict[str, Callable[[], str | None]] = {
        "priority": lambda: rng.choice([None, str(rng.randint(0, 60))]),
        "segments": lambda: rng.choice([None, f"[{rng.choice(SEGMENTS)}]"]),
        "channels": lambda: rng.choice([None, "[email]", "[app]", "[email, microsite]"]),
        "locale": lambda: rng.choice([None, "en", "de", "de-AT", "fr"]),
        "status": lambda: rng.choice(["approved", "approved", "draft", "retired"]),
        "valid_until": lambda: rng.choice(
            [None, (START + dt.timedelta(days=rng.randint(-3, 35))).isoformat()]
        ),
        "valid_from": lambda: rng.choice(
            [None, (START + dt.timedelta(days=rng.randint(-3, 35))).isoformat()]
        ),
        "journeys": lambda: rng.choice([None, "[welcome]", "[cart-recovery]", "[winback]"]),
    }
    checked = 0
    for _ in range(12):
        path = rng.choice(atom_files(content))
        before = path.read_text(encoding="utf-8")
        for key in rng.sample(sorted(fields), rng.randint(1, 3)):
            set_field(path, key, fields[key]())
        if load(content) is None:  # an edit validate refuses never reaches the plan
            path.write_text(before, encoding="utf-8")
            continue
        incremental, fresh = replan(content, tmp_path / "memo")
        assert_same_plan(incremental, fresh)
        checked += 1
    assert checked >= 4


def test_the_memo_survives_the_disk_and_writes_only_what_changed(
    content: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "memo"
    replan(content, folder)
    files = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    EDITS["priority"](content)
    incremental, _ = replan(content, folder)
    assert incremental.memo is not None
    after = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    kept = [name for name in files if after.get(name) == files[name]]
    # one file per message plus the index; the messages the edit did not touch are kept as
    # they were, and no file of a message that is gone is left behind
    assert len(after) == len(incremental.memo.messages) + 1
    assert "index.pickle" in after and "index.pickle" not in kept
    assert incremental.replanned > 0
    assert len(kept) >= len(incremental.memo.messages) - incremental.replanned


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_bytes(b""),
        lambda path: path.write_bytes(path.read_bytes()[:-40]),
        lambda path: path.write_bytes(b"not a memo at all"),
        # A pickle that would run a command when loaded by plain pickle.
        lambda path: path.write_bytes(
            path.read_bytes().split(b"\n", 1)[0] + b"\n" + pickle.dumps(Exploit())
        ),
    ],
    ids=["empty", "truncated", "garbage", "hostile"],
)
def test_a_damaged_or_hostile_memo_is_no_memo(
    content: Path, tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    folder = tmp_path / "memo"
    replan(content, folder)
    damage(folder / "index.pickle")
    library = load(content)
    assert library is not None
    assert PlanStore(folder).load(library) is None
    assert not (tmp_path / "exploited").exists()
    incremental, fresh = replan(content, folder)
    assert_same_plan(incremental, fresh)


class Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, ("touch exploited",))


def test_no_cache_reads_nothing_but_still_saves(content: Path, tmp_path: Path) -> None:
    replan(content, tmp_path / "memo")
    library = load(content)
    assert library is not None
    store = PlanStore(tmp_path / "memo", read=False)
    assert store.load(library) is None
    plan = make_plan(library, START, UNTIL)
    store.save(plan.memo)
    assert PlanStore(tmp_path / "memo").load(library) is not None


def test_memo_atoms_are_the_current_librarys(content: Path, tmp_path: Path) -> None:
    """A memo read from disk points at the loaded library's atom objects, not copies."""
    replan(content, tmp_path / "memo")
    library = load(content)
    assert library is not None
    memo = PlanStore(tmp_path / "memo").load(library)
    assert isinstance(memo, PlanMemo)
    atoms = [
        a
        for piece in memo.messages.values()
        for v in piece.variants
        for a in v.resolution.atoms.values()
    ]
    assert atoms and all(atom is library.atoms[atom.id] for atom in atoms)


@pytest.mark.usefixtures("workers_take_part")
def test_planning_in_worker_processes_gives_the_same_plan(
    content: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``jobs=2`` plans the messages in this process and a forked worker (the threshold lowered
    so the small demo qualifies); the plan is the same one, atoms included, and so is its
    memo."""
    from atomic_content import plan as plan_module

    library = load(content)
    assert library is not None
    serial = make_plan(library, START, UNTIL, jobs=1)
    monkeypatch.setattr(plan_module, "PARALLEL_PAIRS", 1)
    parallel = make_plan(library, START, UNTIL, jobs=2)
    assert_same_plan(parallel, serial)
    assert parallel.memo is not None and serial.memo is not None
    assert parallel.memo.messages == serial.memo.messages
    # A worker planned some messages: they came back as memo bytes, kept for saving.
    assert parallel.memo.encoded and not serial.memo.encoded
    atoms = [a for v in parallel.variants for a in v.resolution.atoms.values()]
    assert all(atom is library.atoms[atom.id] for atom in atoms)


def test_a_memo_kept_in_memory_keeps_the_ranking_warnings_when_the_ranking_is_the_same(
    tmp_path: Path,
) -> None:
    """A build session keeps the memo in memory, ranking warnings included: a plan that
    plans nothing again reuses them, and places again those about an atom whose file was
    edited (the key may have moved). Either way they are those of a plan made from scratch."""
    root = write_tree(tmp_path / "content")
    library = load(root)
    assert library is not None
    first = make_plan(library, START, UNTIL)
    assert first.memo is not None and first.memo.ranking
    shadowed = {w.diagnostic.path for w in first.memo.ranking}
    assert shadowed == {"atoms/subject-de.yaml"}
    plans = [first]
    for edited, text in [
        ("atoms/headline.yaml", "slot: headline\nstatus: approved\ntext: Another headline\n"),
        ("atoms/subject-de.yaml", None),  # a line above its `slot:` key: the warning moves
    ]:
        path = root / edited
        path.write_text(text if text is not None else "# moved\n" + path.read_text())
        library = load(root)
        assert library is not None
        before = plans[-1].memo
        assert before is not None
        plan = make_plan(library, START, UNTIL, previous=before)
        assert plan.replanned == 0
        assert_same_plan(plan, make_plan(library, START, UNTIL))
        assert plan.memo is not None
        assert (plan.memo.ranking is before.ranking) == (text is not None), edited
        plans.append(plan)
    assert plans[-1].memo is not None and plans[-1].memo.ranking != first.memo.ranking
