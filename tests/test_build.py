"""Build: determinism, atomic switch-over, locking, cache correctness for every kind of edit,
gaps stop the build, and runtime output == build/preview output for every demo message."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

import atomic_content
from atomic_content import build as build_module
from atomic_content import hashing
from atomic_content import variants as variants_module
from atomic_content.assets import asset_files, relative_assets
from atomic_content.build import (
    BuildLockedError,
    _check_relative,
    build,
    output_lock,
    output_locked,
)
from atomic_content.bundle import load_bundle
from atomic_content.cli import main
from atomic_content.errors import AtomicError, ContentError
from atomic_content.manifest import (
    DiagnosticEntry,
    Manifest,
    warning_line,
    written_variants,
)
from atomic_content.pipeline import DateRange
from atomic_content.preview import preview
from atomic_content.privacy import SuppressedError
from atomic_content.validate import check_content, load_library
from contentkit import MJML, write_tree

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "content"
DAY = dt.date(2026, 11, 22)


def tree_digest(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder`` (following the dist symlink)."""
    root = folder.resolve()
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def check_complete(out: Path) -> dict[str, object]:
    """The output is a complete build: every file in the manifest exists with its hash."""
    manifest = json.loads((out / "manifest.json").read_text())
    for variant in manifest["variants"]:
        for meta in variant["files"].values():
            data = (out / meta["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == meta["sha256"]
    assert (
        hashlib.sha256((out / "bundle/bundle.json").read_bytes()).hexdigest()
        == manifest["bundle"]["sha256"]
    )
    return manifest


# -- determinism ------------------------------------------------------------------------------


def run_cli_build(
    out: Path, env_extra: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **env_extra}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "atomic_content.cli",
            "build",
            "--content",
            str(DEMO),
            "--out",
            str(out),
            "--date",
            DAY.isoformat(),
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@pytest.mark.slow
def test_builds_are_byte_identical_across_seeds_time_zones_and_locales(tmp_path: Path) -> None:
    a = run_cli_build(
        tmp_path / "a" / "dist", {"PYTHONHASHSEED": "1", "TZ": "UTC", "LC_ALL": "C"}, "--jobs", "1"
    )
    b = run_cli_build(
        tmp_path / "b" / "dist",
        {"PYTHONHASHSEED": "4242", "TZ": "Pacific/Kiritimati", "LC_ALL": "C.UTF-8"},
        "--jobs",
        "2",
        "--no-cache",
    )
    assert a.returncode == 0, a.stderr
    assert b.returncode == 0, b.stderr
    digest_a = tree_digest(tmp_path / "a" / "dist")
    assert len(digest_a) > 500
    assert digest_a == tree_digest(tmp_path / "b" / "dist")


def test_source_date_epoch_sets_the_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SOURCE_DATE_EPOCH", str(int(dt.datetime(2027, 1, 10, tzinfo=dt.UTC).timestamp()))
    )
    # The build covers --date (default SOURCE_DATE_EPOCH) .. --until (default + 30 days).
    assert DateRange.of(None) == DateRange(dt.date(2027, 1, 10), dt.date(2027, 2, 9))
    assert DateRange.of(DAY) == DateRange(DAY, DAY + dt.timedelta(days=30))
    assert DateRange.of(DAY, dt.date(2026, 12, 1)) == DateRange(DAY, dt.date(2026, 12, 1))


# -- output layout, manifest ------------------------------------------------------------------


def test_manifest_lineage(tmp_path: Path) -> None:
    content = write_tree(tmp_path / "content")
    result = build(content, tmp_path / "dist", on=DAY, jobs=1)
    manifest = check_complete(tmp_path / "dist")
    ids = [v["id"] for v in manifest["variants"]]
    assert ids == sorted(ids)
    # welcome personalizes for [vip, new] + generic, in en and de, on email and app.
    assert len(ids) == 2 * 2 * 3 == result.variants
    vip = next(v for v in manifest["variants"] if v["id"] == "welcome/day-0/email/en/vip")
    assert vip["slots"]["headline"]["atom"] == "headline-vip"
    assert vip["slots"]["headline"]["segment"] == "vip"
    assert len(vip["slots"]["headline"]["hash"]) == 16
    assert set(vip["files"]) >= {"template/subject.txt", "preview/subject.txt"}
    template = (tmp_path / "dist" / vip["files"]["template/subject.txt"]["path"]).read_text()
    preview_text = (tmp_path / "dist" / vip["files"]["preview/subject.txt"]["path"]).read_text()
    assert template == "Welcome to Acme, {{ customer.first_name | default('friend') }}"
    assert preview_text == "Welcome to Acme, Ada"  # the profile's example value
    assert (tmp_path / "dist").is_symlink()
    # The build hands back what it checked: the plan of exactly the variants it wrote.
    assert result.checked is not None and result.checked.plan is not None
    assert [v.id for v in result.checked.plan.variants] == ids
    # A no-op rebuild checks nothing, so it has nothing to hand back.
    assert build(content, tmp_path / "dist", on=DAY, jobs=1).checked is None


# -- stops before writing -----------------------------------------------------------------------


def test_required_gap_stops_the_build_before_writing(tmp_path: Path) -> None:
    content = write_tree(tmp_path / "content", {"atoms/body.yaml": None})
    with pytest.raises(ContentError) as info:
        build(content, tmp_path / "dist", on=DAY)
    assert not (tmp_path / "dist").exists()
    # One error per variant and missing slot, at the journey step's email channel. With no body
    # in any language the German messages stay German, where the headline is missing too.
    where = "journeys/welcome.yaml:7:23: error[resolve.missing_required_slot]: "
    expected = [
        f"{where}no atom fills required slot '{slot}' of welcome/day-0 on email in {locale} "
        f"for {audience}"
        for slot, locale in (("body", "de"), ("body", "en"), ("headline", "de"))
        for audience in ("generic", "segment 'new'", "segment 'vip'")
    ]
    assert [
        f"{d.path}:{d.line}:{d.col}: {d.severity.value}[{d.code}]: {d.message}"
        for d in info.value.diagnostics
    ] == expected
    # validate reports exactly what stops the build
    _library, diagnostics = check_content(content, DAY)
    assert list(diagnostics) == list(info.value.diagnostics)


def test_validation_error_stops_the_build(tmp_path: Path) -> None:
    content = write_tree(tmp_path / "content", {"atoms/x.yaml": "slot: nope\ntext: x\n"})
    with pytest.raises(ContentError):
        build(content, tmp_path / "dist", on=DAY)
    assert not (tmp_path / "dist").exists()


# -- atomic switch-over and locking ----------------------------------------------------------


def test_crash_while_writing_leaves_previous_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    build(content, out, on=DAY, jobs=1)
    before = tree_digest(out)
    (content / "atoms" / "headline.yaml").write_text(
        "slot: headline\nstatus: approved\ntext: Changed\n"
    )
    written = []
    real_write = Path.write_bytes

    def failing_write(self: Path, data: bytes) -> int:  # a disk that fills up after 5 files
        if len(written) >= 5:
            raise OSError(28, "No space left on device")
        written.append(self)
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", failing_write)
    with pytest.raises(AtomicError, match=r"the disk is full .* the previous output is unchanged"):
        build(content, out, on=DAY, jobs=1, use_cache=False)
    monkeypatch.undo()
    assert tree_digest(out) == before
    check_complete(out)
    builds = list((tmp_path / ".dist.builds").iterdir())
    assert len(builds) == 1  # the half-written tree was removed


@pytest.mark.slow
def test_killed_build_leaves_a_complete_output(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    first = run_cli_build(out, {}, "--jobs", "1")
    assert first.returncode == 0, first.stderr
    old = tree_digest(out)
    for delay in (0.3, 1.0, 2.0):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "atomic_content.cli",
                "build",
                "--content",
                str(DEMO),
                "--out",
                str(out),
                "--date",
                "2026-12-24",
                "--no-cache",
                "--jobs",
                "1",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # Whenever it died, the output is one complete build: the old one or the new one.
        check_complete(out)
        assert (
            tree_digest(out) == old
            or json.loads((out / "manifest.json").read_text())["start"] == "2026-12-24"
        )


def test_replaced_trees_are_deleted_after_the_build_process_has_exited(tmp_path: Path) -> None:
    """The old trees go to the trash and a detached process deletes them: a build process
    exits right after its switch-over (a deleting thread died with it, and trees piled up),
    and the deleter never holds the output lock (the next build must not wait for it)."""
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    build(content, out, on=DAY, jobs=1)
    # An old tree with many files, as a large library leaves behind.
    old = tmp_path / ".dist.builds" / "0000000000000000-1"
    for folder in range(40):
        (old / f"v{folder}").mkdir(parents=True)
        for name in range(500):
            (old / f"v{folder}" / f"{name}.html").touch()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "atomic_content.cli", "build", "--content", str(content)]
    done = subprocess.run(
        [*command, "--out", str(out), "--date", DAY.isoformat(), "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    with output_lock(out, 0):  # not held by the deleter
        pass
    trash = tmp_path / ".dist.trash"
    deadline = time.monotonic() + 60
    while trash.exists() and any(trash.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not old.exists()
    assert not trash.exists() or not any(trash.iterdir())
    assert [p.name for p in (tmp_path / ".dist.builds").iterdir()] == [out.readlink().name]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_the_trash_deleter_keeps_out_of_the_builds_way(tmp_path: Path) -> None:
    """The detached deleter holds nothing of the build open: not the output lock, not a pipe
    the build's output goes to (a `| tee` would wait for it); only /dev/null and its own two
    locks. It deletes nothing while a build of the output runs, a second deleter started
    meanwhile leaves the trash to the first, and once no build runs the trash is emptied."""
    out = tmp_path / "dist"
    old = tmp_path / ".dist.trash" / "old"
    (old / "v").mkdir(parents=True)
    for name in range(600):
        (old / "v" / f"{name}.html").touch()
    own = {os.devnull, *(str(tmp_path / f".dist.{n}") for n in ("trash.lock", "active"))}
    read_end, write_end = os.pipe()  # stands for the build's piped output
    pid = second = None
    try:
        with build_module.building(out):  # a build is running
            pid = build_module.empty_trash_in_background(out)
            assert pid is not None
            deadline = time.monotonic() + 15
            held: dict[int, str] = {}
            while time.monotonic() < deadline:
                fds = Path(f"/proc/{pid}/fd")
                try:
                    held = {int(fd.name): str(fd.resolve(strict=True)) for fd in fds.iterdir()}
                except FileNotFoundError:  # the deleter closed an inherited one as we looked
                    time.sleep(0.05)
                    continue
                if held.keys() == {0, 1, 2, 3, 4} and set(held.values()) == own:
                    break
                time.sleep(0.05)
            assert held.keys() == {0, 1, 2, 3, 4} and set(held.values()) == own, held
            second = build_module.empty_trash_in_background(out)
            assert second is not None
            deadline = time.monotonic() + 10
            while os.waitpid(second, os.WNOHANG)[0] == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert time.monotonic() < deadline, "the second deleter waited for the trash"
            time.sleep(1.0)
            assert len(list((old / "v").iterdir())) == 600  # nothing deleted during the build
        deadline = time.monotonic() + 30
        while old.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not old.exists()
    finally:
        os.close(read_end)
        os.close(write_end)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def test_second_build_waits_or_stops_with_a_clear_message(tmp_path: Path) -> None:
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    with output_lock(out, 0), pytest.raises(BuildLockedError, match="another build is writing"):
        build(content, out, on=DAY, use_cache=False, lock_wait_seconds=0.2)
    build(content, out, on=DAY)  # the lock is free again
    check_complete(out)


def test_a_build_that_waits_builds_once_the_other_has_finished(tmp_path: Path) -> None:
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    holding = output_lock(out, 0)
    holding.__enter__()
    # Held for longer than the checks take, so the build reaches the lock while it is held.
    release = threading.Timer(2.0, holding.__exit__, (None, None, None))
    release.start()
    try:
        assert output_locked(out)
        started = time.monotonic()
        result = build(content, out, on=DAY, jobs=1, lock_wait_seconds=30)
        assert result.variants > 0 and time.monotonic() - started >= 1.9
    finally:
        release.join()
    assert not output_locked(out)
    check_complete(out)


def test_output_paths_cannot_leave_the_output_folder(tmp_path: Path) -> None:
    for bad in ("../x", "/etc/passwd", "a/../../b", "a//b", "a\\b", "./a", "a/.", "a/", "", "a\0b"):
        with pytest.raises(AtomicError, match="outside the output folder"):
            _check_relative(bad)
    _check_relative("a/b.txt")
    _check_relative("a/.hidden/b..txt")


def test_deleted_content_leaves_no_stale_files(tmp_path: Path) -> None:
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    build(content, out, on=DAY)
    assert (out / "welcome/day-0/app").is_dir()
    journey = (content / "journeys/welcome.yaml").read_text().replace(", app: push", "")
    (content / "journeys/welcome.yaml").write_text(journey)
    build(content, out, on=DAY)
    assert not (out / "welcome/day-0/app").exists()
    check_complete(out)


# -- cache ------------------------------------------------------------------------------------

EDITS = {
    "atom-text": (
        "atoms/headline.yaml",
        "slot: headline\nstatus: approved\ntext: Brand new headline\n",
    ),
    "atom-targeting": (
        "atoms/headline-vip.yaml",
        "slot: headline\nstatus: approved\nsegments: [new]\ntext: Your VIP gear is waiting\n",
    ),
    "layout-template": ("layouts/email/basic.mjml", None),
    "layout-slots": (
        "layouts/email/basic.yaml",
        # Every slot the template reads stays declared (the layout lint requires it).
        "template: basic.mjml\nslots:\n  subject: required\n  preheader: optional\n"
        "  headline: required\n  body: required\n  cta: required\n",
    ),
    "segment": ("segments/vip.yaml", "name: VIP\ncondition: {tier: gold}\npriority: 5\n"),
    # The condition reads another attribute: the manifest's `targeting` (and so the attributes
    # the runtime asks for) must follow, although no variant's bytes change.
    "segment-attribute": (
        "segments/vip.yaml",
        "name: VIP\ncondition: {orders: {$gte: 3}}\npriority: 5\n",
    ),
    "profile-sensitivity": ("profile.yaml", None),
    "profile-example": ("profile.yaml", None),
    "settings-brand": ("atomic.yaml", None),
    # A file the load does not read: only a warning (io.not_loaded) changes.
    "stray-file": ("atoms/notes.txt", "remember the sale\n"),
}


def apply_edit(content: Path, name: str) -> None:
    rel, text = EDITS[name]
    path = content / rel
    if text is None:
        source = path.read_text()
        if name == "layout-template":
            text = source.replace("<h1>", '<h1 style="color:#c00">')
        elif name == "profile-example":
            text = source.replace("example: Ada", "example: Grace")
        elif name == "profile-sensitivity":
            text = source.replace(
                "tier: {type: string, example: gold}",
                "tier: {type: string, example: gold, sensitivity: personal}",
            )
        else:
            text = source.replace("name: Acme Outdoor", "name: Acme Outdoor & Co")
        assert text != source
    path.write_text(text)


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_cached_rebuild_equals_clean_build_for_every_kind_of_edit(
    tmp_path: Path, edit: str
) -> None:
    content = write_tree(tmp_path / "content")
    cached_out = tmp_path / "cached" / "dist"
    build(content, cached_out, on=DAY, jobs=1)
    apply_edit(content, edit)
    result = build(content, cached_out, on=DAY, jobs=1)
    assert not result.skipped
    clean_out = tmp_path / "clean" / "dist"
    build(content, clean_out, on=DAY, jobs=1, use_cache=False)
    assert tree_digest(cached_out) == tree_digest(clean_out)
    if edit in ("segment", "segment-attribute", "stray-file"):
        # A condition decides who gets which variant and what the manifest says it reads, not
        # what a variant says; a file nobody reads changes only a warning: nothing is
        # re-rendered.
        assert result.rendered == 0
    else:
        assert result.rendered > 0
    if edit == "segment":
        # The new condition reaches the runtime through the bundle.
        bundle = json.loads((cached_out / "bundle/bundle.json").read_text())
        assert {"tier": "gold"} in [s["condition"] for s in bundle["segments"]]
    manifest = Manifest.from_json((cached_out / "manifest.json").read_bytes())
    vip = [v for v in manifest.variants if v.audience == "vip"]
    assert vip
    if edit == "segment-attribute":
        assert all(v.targeting == ("orders",) for v in vip)
    if edit == "profile-sensitivity":
        assert all("tier" in v.personal for v in vip)
    if edit == "stray-file":
        assert [w.code for w in manifest.warnings if w.path == "atoms/notes.txt"] == [
            "io.not_loaded"
        ]


# Inputs a render reads besides the atoms and the layout: a layout reading the journey's and
# the step's names and the strings catalogue, and a body linking to an asset URL (the preview
# form links to the build's copy of an asset that exists).
READER_MJML = MJML.replace(
    "<mj-text>{{ slots.body }}</mj-text>",
    "<mj-text>{{ slots.body }}</mj-text>\n"
    "      <mj-text>{{ message.journey_name }} / {{ message.step_name }} / "
    "{{ strings.unsubscribe }}</mj-text>",
)
READER_BODY = (
    "slot: body\nstatus: approved\ntext: |\n  Thanks for joining.\n\n"
    "  [Our map](https://www.acme.example/assets/extra/map.png)\n"
)
READER_EDITS: dict[str, Callable[[Path], None]] = {
    "journey-name": lambda content: _replace_in(
        content / "journeys/welcome.yaml", "name: Welcome", "name: Welcome aboard"
    ),
    "step-name": lambda content: _replace_in(
        content / "journeys/welcome.yaml", "  - id: day-0\n", "  - id: day-0\n    name: Hello\n"
    ),
    "strings-added": lambda content: _write(content / "strings/en.yaml", "unsubscribe: Opt out\n"),
    "strings-changed": lambda content: _write(
        content / "strings/en.yaml", "unsubscribe: Leave the list\n"
    ),
    "asset-added": lambda content: _write(content / "assets/extra/map.png", "\x89PNG\r\n\x1a\n"),
}


def _replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize("edit", sorted(READER_EDITS))
def test_cached_rebuild_follows_every_input_a_render_reads(tmp_path: Path, edit: str) -> None:
    """A render is reused only under a key that covers every file it read: the journey (its
    and its steps' names), the strings catalogue and the asset names too, or the incremental
    tree keeps a message no build of the current files makes (and validate, diff and the
    runtime would pass or send it)."""
    content = write_tree(
        tmp_path / "content",
        {"layouts/email/basic.mjml": READER_MJML, "atoms/body.yaml": READER_BODY},
    )
    if edit == "strings-changed":
        READER_EDITS["strings-added"](content)
    cached_out = tmp_path / "cached" / "dist"
    build(content, cached_out, on=DAY, jobs=1)
    before = tree_digest(cached_out)
    READER_EDITS[edit](content)
    result = build(content, cached_out, on=DAY, jobs=1)
    clean_out = tmp_path / "clean" / "dist"
    build(content, clean_out, on=DAY, jobs=1, use_cache=False)
    assert tree_digest(clean_out) != before  # the edit reaches the output
    assert tree_digest(cached_out) == tree_digest(clean_out)
    assert result.rendered > 0


def test_engine_version_invalidates_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    build(content, out, on=DAY)
    # One engine format for the no-op check (build) and the variant cache keys (variants).
    monkeypatch.setattr(hashing, "ENGINE_FORMAT", hashing.ENGINE_FORMAT + 1)
    result = build(content, out, on=DAY)
    assert not result.skipped and result.cached == 0 and result.rendered == result.variants


def test_one_atom_edit_rerenders_only_the_variants_that_use_it(tmp_path: Path) -> None:
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    first = build(content, out, on=DAY)
    noop = build(content, out, on=DAY)
    assert noop.skipped and noop.rendered == 0
    (content / "atoms/headline-vip.yaml").write_text(
        "slot: headline\nstatus: approved\nsegments: [vip]\ntext: VIP, again\n"
    )
    edited = build(content, out, on=DAY)
    assert edited.manifest is not None
    users = [
        v
        for v in edited.manifest.variants
        if any(s.atom == "headline-vip" for s in v.slots.values())
    ]
    assert edited.rendered == len(users) == 2  # vip email in en and de
    assert edited.cached == first.variants - 2


def test_a_no_cache_build_still_writes_the_cache(tmp_path: Path) -> None:
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    first = build(content, out, on=DAY, use_cache=False)
    assert first.cached == 0 and first.rendered == first.variants
    again = build(content, out, on=DAY, use_cache=False)
    assert not again.skipped and again.cached == 0  # --no-cache never reads it
    (content / "atoms/headline-vip.yaml").write_text(
        "slot: headline\nstatus: approved\nsegments: [vip]\ntext: VIP, again\n"
    )
    edited = build(content, out, on=DAY)
    assert edited.rendered == 2  # the vip email in en and de, not every variant
    assert edited.cached == first.variants - 2


def test_unchanged_variants_are_linked_from_the_previous_build(tmp_path: Path) -> None:
    """A rebuild writes only what the edit changed: the other variants' files are the same
    inodes as in the previous tree, and the result equals a clean build."""
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    build(content, out, on=DAY, jobs=1)
    before = {
        path.relative_to(out.resolve()).as_posix(): path.stat().st_ino
        for path in out.resolve().rglob("*")
        if path.is_file()
    }
    (content / "atoms/headline-vip.yaml").write_text(
        "slot: headline\nstatus: approved\nsegments: [vip]\ntext: VIP, again\n"
    )
    edited = build(content, out, on=DAY, jobs=1)
    assert edited.manifest is not None and edited.rendered == 2
    written = {
        variant.id
        for variant in edited.manifest.variants
        for meta in variant.files.values()
        if (out / meta.path).stat().st_ino != before.get(meta.path)
    }
    users = {
        v.id
        for v in edited.manifest.variants
        if any(s.atom == "headline-vip" for s in v.slots.values())
    }
    # Only the variants that use the atom have a file that is not the previous build's.
    assert written == users
    clean = tmp_path / "clean" / "dist"
    build(content, clean, on=DAY, jobs=1, use_cache=False)
    assert tree_digest(out) == tree_digest(clean)


def test_a_file_missing_from_the_previous_build_is_rendered_again(tmp_path: Path) -> None:
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    first = build(content, out, on=DAY, jobs=1)
    assert first.manifest is not None
    lost = next(iter(first.manifest.variants[0].files.values())).path
    (out / lost).unlink()  # removed by hand
    (content / "atoms/headline-vip.yaml").write_text(
        "slot: headline\nstatus: approved\nsegments: [vip]\ntext: VIP, again\n"
    )
    build(content, out, on=DAY, jobs=1)
    check_complete(out)
    clean = tmp_path / "clean" / "dist"
    build(content, clean, on=DAY, jobs=1, use_cache=False)
    assert tree_digest(out) == tree_digest(clean)


DAMAGES: dict[str, Callable[[bytes], bytes]] = {
    "a rendered file's text changed": lambda raw: raw.replace(b"Welcome", b"Hacked!"),
    "cut short": lambda raw: raw[: len(raw) - 7],
    "bytes after its end": lambda raw: raw + b"<script>",
    "a size in its header changed": lambda raw: re.sub(rb'"message": \d+', b'"message": 1', raw),
    "another format": lambda raw: b"{" + raw,
    "its header line cut": lambda raw: raw[: raw.index(b"\n", 30)],
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_damaged_cache_entry_is_a_miss(tmp_path: Path, damage: str) -> None:
    """Every variant of the cache damaged one way, then an edit that re-renders nothing: the
    build must render those variants again, not take the damaged bytes."""
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    build(content, out, on=DAY)
    entries = sorted((tmp_path / ".dist.cache").rglob("*.variant"))
    assert entries  # the test damages real entries
    damaged = 0
    for entry in entries:
        raw = entry.read_bytes()
        changed = DAMAGES[damage](raw)
        damaged += changed != raw
        entry.write_bytes(changed)
    assert damaged >= len(entries) // 2
    (content / "atoms/cta.yaml").write_text(
        (content / "atoms/cta.yaml").read_text() + "notes: touched\n"
    )
    shutil.rmtree(out.resolve())  # no previous tree to take the variants from: the cache
    out.unlink()
    result = build(content, out, on=DAY)
    assert result.cached == len(entries) - damaged
    clean = tmp_path / "clean" / "dist"
    build(content, clean, on=DAY, use_cache=False)
    assert tree_digest(out) == tree_digest(clean)


# -- runtime == build output -------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "dist"
    build(DEMO, out, on=DAY, jobs=2)
    return out


def test_runtime_equals_preview_for_every_demo_customer_and_message(demo_dist: Path) -> None:
    bundle = load_bundle(demo_dist)
    library, _ = load_library(DEMO)
    compared = suppressed = 0
    for customer_id in sorted(library.customers):
        for journey in sorted(library.journeys.values(), key=lambda j: j.id):
            expected = preview(DEMO, customer_id, journey.id, on=DAY)
            for item in expected:
                key = item.rendered.key
                from atomic_content.customers import find_customer

                record = find_customer(library, customer_id).attributes
                if item.suppressed:
                    # No consent for the channel: preview shows the message with a note, the
                    # runtime refuses to render it.
                    with pytest.raises(SuppressedError):
                        bundle.render(
                            record, journey=key.journey, step=key.step, channel=key.channel, on=DAY
                        )
                    suppressed += 1
                else:
                    got = bundle.render(
                        record, journey=key.journey, step=key.step, channel=key.channel, on=DAY
                    )
                    assert got.parts == item.rendered.parts, (customer_id, str(key))
                compared += 1
    messages = sum(len(step.channels) for j in library.journeys.values() for step in j.steps)
    assert compared == len(library.customers) * messages
    assert suppressed > 0, "the demo has a customer without marketing-email consent"


def test_runtime_equals_build_preview_form_for_example_customer(demo_dist: Path) -> None:
    bundle = load_bundle(demo_dist)
    manifest = json.loads((demo_dist / "manifest.json").read_text())
    library, _ = load_library(DEMO)
    from atomic_content.render import example_customer

    example = example_customer(library)
    assert library.settings is not None
    brand, assets = library.settings.brand, sorted(asset_files(library.root))
    assert assets
    checked = 0
    for variant in manifest["variants"]:
        if variant["audience"] != "generic":
            continue
        # The generic variant is what a customer in no segment (or outside the journey's
        # audience) gets. Refusing consent would also hide the attributes tokens read, so move
        # the example out of every segment with attributes no generic atom shows instead.
        record = json.loads(json.dumps(example))
        record["address"]["country"] = "US"  # not DACH
        record["last_active_days"] = 1  # not in winback's audience
        record["cart"]["items"] = 0  # not in cart-recovery's audience
        message = bundle.render(
            record,
            journey=variant["journey"],
            step=variant["step"],
            channel=variant["channel"],
            locale=variant["locale"],
            on=DAY,
        )
        for name, text in message.parts.items():
            filename = message.filenames.get(name, name)
            expected = (demo_dist / variant["files"][f"preview/{filename}"]["path"]).read_text()
            # The preview form shows the build's copy of the assets (so it opens offline)
            # where the sent message has their production URLs; nothing else differs.
            up = variant["id"].count("/") + 2 + filename.count("/")
            assert relative_assets(text, brand, assets, up) == expected, (variant["id"], name)
            if "assets/" in expected:
                assert "cdn.northwind.example/email/" in text
        checked += 1
    assert checked > 20


def test_bundle_version_mismatch_is_a_clear_error(tmp_path: Path, demo_dist: Path) -> None:
    payload = json.loads((demo_dist / "bundle/bundle.json").read_text())
    payload["bundle_version"] = 99
    (tmp_path / "bundle.json").write_text(json.dumps(payload))
    with pytest.raises(AtomicError, match="bundle version 99 is not supported"):
        load_bundle(tmp_path / "bundle.json")


def test_public_api_exports() -> None:
    assert atomic_content.load_bundle is load_bundle
    assert callable(atomic_content.evaluate) and callable(atomic_content.check_content)


# -- through the CLI: parallel == serial, the output folder is the build's --------------------

# Lints clean (the layout lint reads Jinja, not MJML) and fails only when the MJML compiles.
BROKEN_MJML = {"layouts/email/basic.mjml": MJML.replace("</mj-column>", "", 1)}


def _problems(stderr: str) -> list[str]:
    """The diagnostics the CLI printed, without the progress lines."""
    return [line for line in stderr.splitlines() if not line.startswith("rendering: ")]


@pytest.mark.usefixtures("workers_take_part")
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_broken_layout_fails_the_same_with_any_number_of_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    # Every variant goes through the worker pool with --jobs 2 (the base tree is small).
    monkeypatch.setattr(variants_module, "PARALLEL_THRESHOLD", 1)
    content = write_tree(tmp_path / "content", BROKEN_MJML)
    out = tmp_path / "dist"
    args = ["--content", str(content), "--date", DAY.isoformat(), "--no-cache"]
    result = CliRunner().invoke(main, ["build", *args, "--out", str(out), "--jobs", jobs])
    serial = CliRunner().invoke(main, ["build", *args, "--out", str(out), "--jobs", "1"])
    validate = CliRunner().invoke(main, ["validate", *args[:4]])
    assert "BrokenProcessPool" not in result.output
    assert (result.exit_code, serial.exit_code, validate.exit_code) == (1, 1, 1)
    assert _problems(result.stderr) == _problems(serial.stderr) == _problems(validate.stderr)
    assert (
        "layouts/email/basic.mjml: error[render.mjml_invalid]: MJML does not compile: "
        "unexpected end of stream in root template (in 6 variants, e.g. "
        "welcome/day-0/email/de/generic)"
    ) in result.stderr
    assert not out.exists()


@pytest.mark.usefixtures("workers_take_part")
def test_parallel_build_equals_serial_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(variants_module, "PARALLEL_THRESHOLD", 1)
    content = write_tree(tmp_path / "content")
    for jobs in ("1", "2"):
        result = CliRunner().invoke(
            main,
            ["build", "--content", str(content), "--out", str(tmp_path / jobs / "dist"),
             "--date", DAY.isoformat(), "--no-cache", "--jobs", jobs],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    assert tree_digest(tmp_path / "1" / "dist") == tree_digest(tmp_path / "2" / "dist")


@pytest.mark.usefixtures("workers_take_part")
@pytest.mark.parametrize("jobs", [1, 2])
def test_a_rebuild_in_the_same_process_leaves_the_live_tree_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    """A second build of the same inputs in one process (a library caller, or a container
    whose builds all get the same process id) names its new tree as the live one was named:
    while it runs, the output must still be the last build's, whole."""
    monkeypatch.setattr(variants_module, "PARALLEL_THRESHOLD", 1)
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    build(content, out, on=DAY, jobs=jobs, use_cache=False)
    before = tree_digest(out)
    seen: list[bool] = []
    build(
        content,
        out,
        on=DAY,
        jobs=jobs,
        use_cache=False,
        progress=lambda done, total: seen.append(tree_digest(out) == before),
    )
    assert seen and all(seen)
    assert tree_digest(out) == before


@pytest.mark.usefixtures("workers_take_part")
def test_a_killed_worker_stops_the_build_with_exit_75_and_keeps_the_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As when the kernel's out-of-memory killer picks a render worker: no traceback, no
    internal error, a retryable exit code, and the last good output as it was."""
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    args = ["build", "--content", str(content), "--out", str(out), "--date", DAY.isoformat()]
    first = CliRunner().invoke(main, [*args, "--jobs", "1"])
    assert first.exit_code == 0, first.output
    before = tree_digest(out)
    (content / "layouts" / "email" / "basic.mjml").write_text(MJML.replace("<mj-", "<mj-", 1))
    parent = os.getpid()
    render = variants_module.VariantRenderer.render_safely

    def killed_in_a_worker(self: object, *a: object, **k: object) -> object:
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return render(self, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(variants_module, "PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(variants_module.VariantRenderer, "render_safely", killed_in_a_worker)
    result = CliRunner().invoke(main, [*args, "--jobs", "2", "--no-cache"])
    assert result.exit_code == 75, result.output
    assert "error: a worker process ended before its work was done (stopped by SIGKILL)" in (
        result.stderr
    )
    assert "--jobs 1" in result.stderr
    assert "Traceback" not in result.output
    assert tree_digest(out) == before


INTERRUPTED_BUILD = """
import sys, time
from atomic_content import variants
from atomic_content.cli import main

variants.PARALLEL_THRESHOLD = 1
render = variants.VariantRenderer.render_safely

def slow(self, *args, **kwargs):
    time.sleep(0.5)  # the build is surely still rendering when Ctrl-C comes
    return render(self, *args, **kwargs)

variants.VariantRenderer.render_safely = slow
sys.argv = ["atomic", "build", *sys.argv[1:]]
main()
"""


def test_ctrl_c_stops_a_parallel_build_without_a_traceback_from_any_process(
    tmp_path: Path,
) -> None:
    """Ctrl-C reaches every process of the terminal's group: the build's and its workers'."""
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    process = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED_BUILD, "--content", str(content), "--out", str(out),
         "--date", DAY.isoformat(), "--jobs", "3"],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    assert process.stderr is not None
    with process.stderr:
        # The second progress line: a share is done, so the workers are running.
        for _ in range(2):
            line = process.stderr.readline()
            assert line.startswith("rendering: "), line
        os.killpg(process.pid, signal.SIGINT)
        rest = process.stderr.read()
    assert process.wait(timeout=60) == 130
    assert "interrupted" in rest
    assert "Traceback" not in rest
    assert not out.exists()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("target", ["project-root", "folder-with-user-files", "a-file"])
def test_build_refuses_an_output_that_is_not_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    project = tmp_path / "project"
    write_tree(project / "content")
    (project / "README.md").write_text("my project\n")
    (project / "docs").mkdir()
    (project / "docs" / "notes.md").write_text("keep me\n")
    (project / "report.txt").write_text("a file\n")
    monkeypatch.chdir(project)
    out = {"project-root": ".", "folder-with-user-files": "docs", "a-file": "report.txt"}[target]
    before = _snapshot(project)
    result = CliRunner().invoke(
        main, ["build", "--content", "content", "--out", out, "--date", DAY.isoformat()]
    )
    assert result.exit_code == 2, result.output
    assert "refusing to build into" in result.stderr or "is a file" in result.stderr
    assert _snapshot(project) == before
    assert sorted(p.name for p in project.iterdir()) == [
        "README.md",
        "content",
        "docs",
        "report.txt",
    ]


# -- parallel writing and manifest reuse -------------------------------------------------------


@pytest.mark.usefixtures("workers_take_part")
def test_parallel_render_writes_the_tree_in_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With worker processes, each worker writes the variants it renders into the new tree;
    cold, edited and clean builds are byte for byte the serial ones, and every file counts."""
    monkeypatch.setattr(variants_module, "PARALLEL_THRESHOLD", 1)
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    cold = build(content, out, on=DAY, jobs=2)
    serial = tmp_path / "serial" / "dist"
    build(content, serial, on=DAY, jobs=1, use_cache=False)
    assert tree_digest(out) == tree_digest(serial)
    manifest = check_complete(out)
    assert cold.files == manifest["file_count"] == len(tree_digest(out))
    assert cold.rendered == cold.variants  # all of them in the workers
    (content / "atoms/headline.yaml").write_text(
        "slot: headline\nstatus: approved\ntext: Changed in parallel\n"
    )
    edited = build(content, out, on=DAY, jobs=2)
    assert 0 < edited.rendered < edited.variants
    clean = tmp_path / "clean" / "dist"
    build(content, clean, on=DAY, jobs=1, use_cache=False)
    assert tree_digest(out) == tree_digest(clean)
    assert edited.files == check_complete(out)["file_count"] == len(tree_digest(out))
    assert [p.name for p in (tmp_path / ".dist.builds").iterdir()] == [out.readlink().name]


@pytest.mark.usefixtures("workers_take_part")
def test_parallel_build_that_fails_leaves_no_tree_and_no_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(variants_module, "PARALLEL_THRESHOLD", 1)
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    build(content, out, on=DAY, jobs=2)
    before = tree_digest(out)
    template = content / "layouts/email/basic.mjml"
    template.write_text(template.read_text().replace("</mjml>", ""))
    with pytest.raises(ContentError):
        build(content, out, on=DAY, jobs=2, use_cache=False)
    assert tree_digest(out) == before
    assert [p.name for p in (tmp_path / ".dist.builds").iterdir()] == [out.readlink().name]
    # The lock is free again, and a build that finds it taken stops before writing anything.
    with output_lock(out, 0), pytest.raises(BuildLockedError):
        build(content, out, on=DAY, jobs=2, use_cache=False, lock_wait_seconds=0.1)
    assert tree_digest(out) == before
    assert [p.name for p in (tmp_path / ".dist.builds").iterdir()] == [out.readlink().name]


def test_a_rebuild_reuses_manifest_lines_only_from_its_own_manifest(tmp_path: Path) -> None:
    """The manifest lines of unchanged variants are taken from the previous manifest only when
    that file is byte for byte the one the build wrote; a reformatted one is serialized anew."""
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    build(content, out, on=DAY, jobs=1)
    previous = variants_module.PreviousBuild.read(out)
    assert previous is not None and set(previous.lines) == set(previous.entries)
    # Reformat the previous manifest (same data, other bytes), then edit one atom.
    manifest_path = out / "manifest.json"
    data = json.loads(manifest_path.read_bytes())
    reformatted = json.dumps(data, indent=2, sort_keys=True).encode()
    manifest_path.unlink()  # a new file: the previous tree's files are links of older ones
    manifest_path.write_bytes(reformatted)
    previous = variants_module.PreviousBuild.read(out)
    assert previous is not None and previous.lines == {}
    (content / "atoms/cta.yaml").write_text(
        "slot: cta\nstatus: approved\ncta: {label: Go now, url: https://www.acme.example/go}\n"
    )
    build(content, out, on=DAY, jobs=1)
    clean = tmp_path / "clean" / "dist"
    build(content, clean, on=DAY, jobs=1, use_cache=False)
    assert tree_digest(out) == tree_digest(clean)


def built_manifest(tmp_path: Path) -> bytes:
    """The manifest a build of the test content writes."""
    out = tmp_path / "dist"
    build(write_tree(tmp_path / "content"), out, on=DAY, jobs=1)
    return (out / "manifest.json").read_bytes()


def test_manifest_lines_reused_only_for_equal_entries(tmp_path: Path) -> None:
    raw = built_manifest(tmp_path)
    manifest = Manifest.from_json(raw)
    lines = written_variants(raw)
    assert lines is not None and len(lines) == len(manifest.variants) > 1
    assert manifest.to_json(lines) == manifest.to_json() == raw
    # A known line whose entry differs from the variant's is not used.
    first = manifest.variants[0]
    changed = dataclasses.replace(first, valid_until=first.valid_until + dt.timedelta(days=1))
    other = dataclasses.replace(manifest, variants=(changed, *manifest.variants[1:]))
    assert other.to_json(lines) == other.to_json() != raw
    items = manifest.variant_items(lines)
    assert manifest.to_json(variant_items=items) == raw


def test_written_variants_are_the_manifests_own(tmp_path: Path) -> None:
    """The previous build's variants, read without the rest of its manifest, are exactly
    the manifest's entries and lines; anything not laid out or versioned as this engine
    writes it gives nothing, so the caller parses it whole and reuses no line."""
    raw = built_manifest(tmp_path)
    manifest = Manifest.from_json(raw)
    found = written_variants(raw)
    assert found is not None
    assert [entry for entry, _line in found.values()] == list(manifest.variants)
    assert [line for _entry, line in found.values()] == manifest.variant_items()
    data = json.loads(raw)
    for bad in (
        json.dumps(data, indent=2, sort_keys=True).encode(),
        raw.replace(b'"manifest_version": ', b'"manifest_version": 9', 1),
        raw.replace(b'"variants": [', b'"variantz": [', 1),
        raw.replace(b'"valid_from": "', b'"valid_from": "x', 1),  # a damaged entry
        raw.replace(b"},\n    {", b"}, {", 1),  # two variants on one line
    ):
        assert written_variants(bad) is None


def test_the_entry_memo_holds_the_manifests_variants(tmp_path: Path) -> None:
    """The next build reads the previous variants from the entry memo: exactly the entries
    and lines of the manifest the build wrote; an edit writes only the messages it changed;
    a memo of another manifest, a damaged one or a foreign pickle is no memo, and the build
    falls back to the manifest with the same output."""
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    folder = tmp_path / ".dist.cache" / "entries"
    build(content, out, on=DAY, jobs=1)
    raw = (out / "manifest.json").read_bytes()
    sha = json.loads((out / "build-info.json").read_bytes())["manifest"]
    assert sha == hashlib.sha256(raw).hexdigest()
    assert variants_module.EntryMemo(folder).read(sha) == written_variants(raw)
    assert variants_module.EntryMemo(folder).read("0" * 64) is None  # another build's
    messages = {path.name for path in folder.glob("*.pickle")} - {"index.pickle"}
    assert len(messages) > 2
    # Edit one atom: its messages are written again, the others are kept as they are.
    edit = content / "atoms/cta.yaml"
    edit.write_text(edit.read_text().replace("Shop now", "Shop today"))
    previous = variants_module.PreviousBuild.read(out, variants_module.EntryMemo(folder))
    assert previous is not None and previous.lines == written_variants(raw)
    build(content, out, on=DAY, jobs=1)
    raw = (out / "manifest.json").read_bytes()
    sha = json.loads((out / "build-info.json").read_bytes())["manifest"]
    assert variants_module.EntryMemo(folder).read(sha) == written_variants(raw)
    after = {path.name for path in folder.glob("*.pickle")} - {"index.pickle"}
    assert 0 < len(after - messages) < len(messages) and len(after) == len(messages)
    # Damaged, or holding something else than entries: no memo.
    piece = sorted(after)[0]
    data = (folder / piece).read_bytes()
    (folder / piece).write_bytes(data.replace(b"de", b"en", 1))
    assert variants_module.EntryMemo(folder).read(sha) is None
    # A pickle that would run a command, named by its hash and listed in the index.
    command = f"touch {tmp_path / 'pwned'}".encode()
    hostile = b"atomic-content entry memo 1\ncos\nsystem\n(S'" + command + b"'\ntR."
    name = f"{hashlib.sha256(hostile).hexdigest()}.pickle"
    (folder / name).write_bytes(hostile)
    index = {"manifest": sha, "files": {"welcome/day-0/email/de": name}}
    (folder / "index.pickle").write_bytes(
        b"atomic-content entry memo 1\n" + pickle.dumps(index, protocol=5)
    )
    assert variants_module.EntryMemo(folder).read(sha) is None
    assert not (tmp_path / "pwned").exists()
    edit.write_text(edit.read_text().replace("Shop today", "Shop now"))
    build(content, out, on=DAY, jobs=1)
    clean = tmp_path / "clean" / "dist"
    build(content, clean, on=DAY, jobs=1, use_cache=False)
    assert tree_digest(out) == tree_digest(clean)


_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(_TEXT, st.integers(0, 10**6), st.integers(0, 10**6), _TEXT, _TEXT, _TEXT, _TEXT)
def test_a_warning_line_is_the_generic_encoding_of_the_warning(
    path: str, line: int, col: int, severity: str, code: str, message: str, hint: str
) -> None:
    """warning_line formats the manifest's warnings directly: byte for byte what the generic
    path (pydantic's JSON form, keys sorted, compact) gives, quotes, escapes and all."""
    entry = DiagnosticEntry(path, line, col, severity, code, message, hint)
    generic = json.dumps(
        TypeAdapter(DiagnosticEntry).dump_python(entry, mode="json"),
        sort_keys=True,
        ensure_ascii=False,
        separators=(", ", ": "),
    )
    assert warning_line(entry) == generic


@pytest.mark.usefixtures("workers_take_part")
@pytest.mark.parametrize("jobs", [1, 2])
def test_a_rebuild_never_writes_through_the_previous_trees_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    """A rebuild clones the previous tree as hard links and replaces what changed: every file
    of the previous tree keeps its bytes (a file written in place would change the live tree
    under its readers), and the result equals a clean build."""
    monkeypatch.setattr(variants_module, "PARALLEL_THRESHOLD", 1)
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    build(content, out, on=DAY, jobs=jobs)
    old_root = out.resolve()
    before = tree_digest(out)
    kept = tmp_path / "kept"  # more links to the same inodes, to read them afterwards
    for rel in before:
        (kept / rel).parent.mkdir(parents=True, exist_ok=True)
        os.link(old_root / rel, kept / rel)
    for name in ("atom-text", "layout-template"):  # a few variants, then all of them
        apply_edit(content, name)
        result = build(content, out, on=DAY, jobs=jobs)
        assert not result.skipped and result.rendered > 0
        assert tree_digest(kept) == before
        clean = tmp_path / f"clean-{name}" / "dist"
        build(content, clean, on=DAY, jobs=1, use_cache=False)
        assert tree_digest(out) == tree_digest(clean)
        assert result.files == check_complete(out)["file_count"] == len(tree_digest(out))


def test_a_locked_rebuild_changes_nothing(tmp_path: Path) -> None:
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    build(content, out, on=DAY)
    before = tree_digest(out)
    apply_edit(content, "atom-text")
    with output_lock(out, 0), pytest.raises(BuildLockedError):
        build(content, out, on=DAY, lock_wait_seconds=0.1)
    assert tree_digest(out) == before
    assert [p.name for p in (tmp_path / ".dist.builds").iterdir()] == [out.readlink().name]
    assert not build(content, out, on=DAY).skipped  # the lock is free again
    check_complete(out)


def tree_folders(folder: Path) -> list[str]:
    """Every folder under ``folder`` (following the dist symlink), relative and sorted."""
    root = folder.resolve()
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_dir())


def hard_link_copy(source: Path, target: Path) -> None:
    """More links to the inodes of every file under ``source``: they keep the bytes a build
    must never write through."""
    for path in source.rglob("*"):
        if path.is_file():
            (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            os.link(path, target / path.relative_to(source))


_MORE_EDITS = ("channel-removed", "asset-added", "asset-removed", "headline", "headline-back")


def _apply_more(content: Path, name: str) -> None:
    if name == "channel-removed":
        journey = content / "journeys/welcome.yaml"
        journey.write_text(journey.read_text().replace(", app: push", ""))
    elif name == "asset-added":
        (content / "assets/extra").mkdir(parents=True)
        (content / "assets/extra/pixel.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
    elif name == "asset-removed":
        shutil.rmtree(content / "assets/extra")
    else:  # "headline-back": what the spare (two builds ago) holds, not the live tree
        text = "Another headline" if name == "headline" else "Brand new headline"
        (content / "atoms/headline.yaml").write_text(
            f"slot: headline\nstatus: approved\ntext: {text}\n"
        )


@pytest.mark.usefixtures("workers_take_part")
@pytest.mark.parametrize("jobs", [1, 2])
def test_a_rebuild_brings_the_spare_tree_up_to_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    """The tree a build replaces is kept as the spare, and the next build makes it its new
    tree, replacing only what differs. After every kind of edit in a row the tree equals a
    clean build's, file for file and folder for folder, and the live tree keeps every byte
    while the spare (whose files are partly the same inodes) is brought up to date."""
    monkeypatch.setattr(variants_module, "PARALLEL_THRESHOLD", 1)
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    spares = tmp_path / ".dist.spare"
    build(content, out, on=DAY, jobs=jobs)
    assert not spares.exists()  # nothing was replaced yet
    names = [*sorted(EDITS), *_MORE_EDITS]
    for step, name in enumerate(names):
        live = out.resolve()
        spare = next(iter(spares.iterdir()), None) if spares.is_dir() else None
        spare_inode = spare.stat().st_ino if spare is not None else None
        before = tree_digest(out)
        kept = tmp_path / f"kept-{step}"
        hard_link_copy(live, kept)
        if name in EDITS:
            apply_edit(content, name)
        else:
            _apply_more(content, name)
        result = build(content, out, on=DAY, jobs=jobs)
        assert not result.skipped, name
        if step > 0:  # the spare became the new tree
            assert out.resolve().stat().st_ino == spare_inode, name
        assert [p.name for p in spares.iterdir()] == [live.name]  # the replaced tree
        assert tree_digest(kept) == before, name  # no byte of the live tree was written
        clean = tmp_path / f"clean-{step}" / "dist"
        build(content, clean, on=DAY, jobs=1, use_cache=False)
        assert tree_digest(out) == tree_digest(clean), name
        assert tree_folders(out) == tree_folders(clean), name
        assert result.files == check_complete(out)["file_count"] == len(tree_digest(out))
        shutil.rmtree(kept)


def test_a_spare_missing_a_file_is_not_trusted_with_it(tmp_path: Path) -> None:
    """A file removed or cut short by hand in the live tree is not carried into a later tree
    through the spare: the variants whose files are not all there are written again."""
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    first = build(content, out, on=DAY, jobs=1)
    assert first.manifest is not None
    files = [meta.path for v in first.manifest.variants for meta in v.files.values()]
    apply_edit(content, "atom-text")
    build(content, out, on=DAY, jobs=1)  # the first tree is the spare now
    spare = next((tmp_path / ".dist.spare").iterdir())
    (spare / files[0]).unlink()
    (spare / files[-1]).unlink()  # its inode is the live tree's too: a new, shorter file
    (spare / files[-1]).write_bytes(b"cut")
    apply_edit(content, "segment")
    build(content, out, on=DAY, jobs=1)
    clean = tmp_path / "clean" / "dist"
    build(content, clean, on=DAY, jobs=1, use_cache=False)
    assert tree_digest(out) == tree_digest(clean)
    check_complete(out)


def test_a_spare_never_lets_a_build_write_through_a_linked_folder(tmp_path: Path) -> None:
    """A spare is not a tree the build has just made: a folder in it that is a link (planted
    by hand) stops the build before anything is removed or written through it."""
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    build(content, out, on=DAY, jobs=1)
    apply_edit(content, "atom-text")
    build(content, out, on=DAY, jobs=1)
    spare = next((tmp_path / ".dist.spare").iterdir())
    # The link leads to a folder laid out as the one it replaces: removing a changed
    # variant's folder through it would delete files outside the output.
    outside = tmp_path / "outside"
    target = spare / "welcome"
    shutil.copytree(target, outside)
    shutil.rmtree(target)
    target.symlink_to(outside)
    before = tree_digest(outside)
    assert before
    apply_edit(content, "layout-template")  # every variant changes
    with pytest.raises(AtomicError, match="refusing to write through"):
        build(content, out, on=DAY, jobs=1)
    assert tree_digest(outside) == before
    check_complete(out)


def test_a_failed_build_gives_the_spare_back(tmp_path: Path) -> None:
    """A build that stops before changing the spare it claimed leaves it the spare."""
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    build(content, out, on=DAY, jobs=1)
    apply_edit(content, "atom-text")
    build(content, out, on=DAY, jobs=1)
    spares = tmp_path / ".dist.spare"
    before = [p.stat().st_ino for p in spares.iterdir()]
    (content / "atoms/headline.yaml").write_text("slot: headline\nstatus: approved\n")  # no text
    with pytest.raises(ContentError):
        build(content, out, on=DAY, jobs=1)
    assert [p.stat().st_ino for p in spares.iterdir()] == before
    assert [p.name for p in (tmp_path / ".dist.builds").iterdir()] == [out.readlink().name]


def test_the_spare_is_kept_when_the_output_is_reached_through_a_link(tmp_path: Path) -> None:
    """An output folder whose parent is reached through a symbolic link (``/tmp`` on macOS)
    still keeps the replaced tree as the spare, and the next rebuild makes it its tree."""
    content = write_tree(tmp_path / "content")
    (tmp_path / "real").mkdir()
    (tmp_path / "via").symlink_to(tmp_path / "real")
    out = tmp_path / "via" / "dist"
    build(content, out, on=DAY, jobs=1)
    apply_edit(content, "atom-text")
    build(content, out, on=DAY, jobs=1)
    spares = tmp_path / "real" / ".dist.spare"
    (spare,) = spares.iterdir()
    inode = spare.stat().st_ino
    apply_edit(content, "segment")
    build(content, out, on=DAY, jobs=1)
    assert out.resolve().stat().st_ino == inode
    check_complete(out)


# -- the variant cache is pruned ---------------------------------------------------------------


def test_the_variant_cache_is_pruned(tmp_path: Path) -> None:
    """Entries no build used for two weeks go, and files of another format; what the last
    build used, recent entries and the folders beside the entries stay; one look a day."""
    from atomic_content.variants import PRUNE_AFTER_SECONDS, PRUNE_EVERY_SECONDS, VariantCache

    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    build(content, out, on=DAY)
    folder = tmp_path / ".dist.cache"
    used = sorted(folder.glob("??/*.variant"))
    assert used
    now = time.time()
    old = now - PRUNE_AFTER_SECONDS - 3600

    def plant(name: str, age: float) -> Path:
        path = folder / "ab" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x")
        os.utime(path, (age, age))
        return path

    stale = plant("ab" + "1" * 62 + ".variant", old)
    recent = plant("ab" + "2" * 62 + ".variant", now - 3600)
    older_format = plant("ab" + "3" * 62 + ".json", now)
    left_behind = plant("ab" + "4" * 62 + ".tmp123", now - 7200)
    writing = plant("ab" + "5" * 62 + ".tmp456", now - 60)
    for path in used:
        os.utime(path, (old, old))  # written long ago, but the build uses them
    # A link named like an entry folder, to files that are not the cache's: never followed.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("not the cache's\n")
    os.utime(elsewhere / "keep.txt", (old, old))
    (folder / "cd").symlink_to(elsewhere, target_is_directory=True)
    beside = sorted(p for p in folder.rglob("*") if p.is_file() and len(p.parent.name) != 2)
    # The plan memo, the entry memo and the input digests, as the first build left them.
    assert {p.parent.name for p in beside} >= {"plan", "entries", ".dist.cache"}
    (folder / "pruned").unlink()  # the build just looked: let the next look happen now
    # A change that renders no variant again (a file the load does not read): the build
    # keeps every entry it uses.
    (content / "atoms/notes.txt").write_text("to do\n")
    result = build(content, out, on=DAY)
    assert result.rendered == 0
    assert all(path.exists() for path in used)
    assert not stale.exists() and not older_format.exists() and not left_behind.exists()
    assert recent.exists() and writing.exists()
    assert all(path.exists() for path in beside)
    assert (elsewhere / "keep.txt").exists()
    # One look a day: an entry that turns stale now waits for tomorrow's.
    os.utime(recent, (old, old))
    keys = [path.name.partition(".")[0] for path in used]
    assert VariantCache(folder).prune(keys, now=now + 60) is None  # looked less than a day ago
    assert recent.exists()
    # A day later: that entry, and the write that was in progress, now over an hour old.
    assert VariantCache(folder).prune(keys, now=now + PRUNE_EVERY_SECONDS + 1) == 2
    assert not recent.exists() and not writing.exists()
    assert all(path.exists() for path in used)
