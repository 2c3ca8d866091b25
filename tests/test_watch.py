"""``atomic build --watch`` and the build session under it: builds that keep the last build's
caches in memory are exactly the builds a new process makes, and a watch builds again after
every change (real files, a real file watcher, a real ``atomic`` process)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from atomic_content import inputs, repository
from atomic_content import variants as variants_module
from atomic_content.build import (
    BuildLockedError,
    BuildSession,
    build,
    output_lock,
    output_locked,
)
from atomic_content.cli import main
from atomic_content.errors import ContentError, Diagnostics, UsageError
from atomic_content.inputs import FileDigests, listed_stats
from atomic_content.plan import PlanStore
from atomic_content.repository import LoadCache, load_files
from atomic_content.variants import EntryMemo
from atomic_content.watch import WatchedBuild, watch_builds
from contentkit import write_tree
from test_build import _MORE_EDITS, DAY, EDITS, _apply_more, apply_edit, tree_digest, tree_folders

BROKEN = ("atoms/broken.yaml", "slot: headline\nstatus: [approved\n")
COMMENTED = {
    "comment": "slot: headline\nstatus: approved\ntext: Our #1 rain shell\n",
    "quoted": 'slot: headline\nstatus: approved\ntext: "Our #1 rain shell"\n',
}


def _dicts(diagnostics: Diagnostics) -> list[dict[str, object]]:
    """Every field of every diagnostic (hints and severities too), in order."""
    return [d.to_dict() for d in diagnostics.sorted()]


@pytest.mark.usefixtures("workers_take_part")
@pytest.mark.parametrize("jobs", [1, 2])
def test_every_build_of_a_session_equals_a_fresh_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    """Every kind of edit in a row, one session: after each, its tree equals a clean build's
    file for file and folder for folder, and so do its warnings and counts; a broken file
    stops the build without touching the output."""
    monkeypatch.setattr(variants_module, "PARALLEL_THRESHOLD", 1)
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    session = BuildSession(content, out, on=DAY, jobs=jobs)
    first = session.build()
    assert not first.skipped and first.rendered == first.variants
    names = [*sorted(EDITS), "broken", "fixed", "comment", "quoted", *_MORE_EDITS]
    for step, name in enumerate(names):
        if name in EDITS:
            apply_edit(content, name)
        elif name in COMMENTED:  # a load warning (yaml.comment_in_text) comes, then goes
            (content / "atoms/headline.yaml").write_text(COMMENTED[name])
        elif name == "broken":
            (content / BROKEN[0]).write_text(BROKEN[1])
        elif name == "fixed":
            (content / BROKEN[0]).unlink()
        else:
            _apply_more(content, name)
        before = tree_digest(out)
        if name == "broken":
            with pytest.raises(ContentError) as caught:
                session.build()
            assert [d.path for d in caught.value.diagnostics.errors] == [BROKEN[0]]
            assert tree_digest(out) == before  # the last good output stays
            continue
        result = session.build()
        clean_out = tmp_path / f"clean-{step}" / "dist"
        clean = build(content, clean_out, on=DAY, jobs=1, use_cache=False)
        assert tree_digest(out) == tree_digest(clean_out), name
        assert tree_folders(out) == tree_folders(clean_out), name
        if name == "fixed":  # the same files as the last good build: nothing to do
            assert result.skipped
            continue
        assert not result.skipped, name
        assert _dicts(result.warnings) == _dicts(clean.warnings), name
        assert (result.variants, result.files) == (clean.variants, clean.files), name
    assert session.builds == len(names) + 1


def test_a_one_atom_edit_in_a_session_renders_only_what_it_changes(tmp_path: Path) -> None:
    content = write_tree(tmp_path / "content")
    session = BuildSession(content, tmp_path / "dist", on=DAY, jobs=1)
    session.build()
    apply_edit(content, "atom-text")
    result = session.build()
    assert 0 < result.rendered < result.variants
    assert result.cached == result.variants - result.rendered


def test_a_session_reads_its_caches_from_disk_only_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After its first build a session reads neither the input digests, the load cache, the
    plan memo nor the entry memo back from disk; it still writes them for the next process."""
    monkeypatch.setenv("ATOMIC_CACHE_DIR", str(tmp_path / "user-cache"))
    content = write_tree(tmp_path / "content")
    cache = tmp_path / "cache"
    session = BuildSession(content, tmp_path / "dist", on=DAY, jobs=1, cache_dir=cache)
    session.build()

    def no_reading(*_args: object) -> None:
        raise AssertionError("read from disk")

    for owner in (FileDigests, LoadCache, EntryMemo):
        monkeypatch.setattr(owner, "_read", no_reading)
    monkeypatch.setattr(PlanStore, "_load", no_reading)
    written = {path: path.stat().st_mtime_ns for path in cache.rglob("index*")}
    apply_edit(content, "atom-text")
    result = session.build()
    assert 0 < result.rendered < result.variants
    assert written and all(path.stat().st_mtime_ns != was for path, was in written.items())


def test_a_build_that_defers_its_saves_writes_the_memos_when_the_session_tidies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A watch's build leaves the plan and entry memos to ``tidy`` (after its report): until
    then the files on disk are the previous build's; afterwards a new process reads exactly
    this build's (its plan by message, and its variants' manifest lines)."""
    monkeypatch.setenv("ATOMIC_CACHE_DIR", str(tmp_path / "user-cache"))
    content = write_tree(tmp_path / "content")
    cache, out = tmp_path / "cache", tmp_path / "dist"
    session = BuildSession(content, out, on=DAY, jobs=1, cache_dir=cache)
    session.build()
    indexes = [cache / "plan" / "index.pickle", cache / "entries" / "index.pickle"]
    before = [path.read_bytes() for path in indexes]
    apply_edit(content, "atom-text")
    result = session.build(defer_saves=True)
    assert [path.read_bytes() for path in indexes] == before
    session.tidy()
    assert all(path.read_bytes() != was for path, was in zip(indexes, before, strict=True))

    checked = result.checked
    assert checked is not None and checked.plan is not None and checked.plan.memo is not None
    memo = PlanStore(cache / "plan").load(checked.library)
    assert memo is not None and memo.messages == checked.plan.memo.messages
    manifest = json.loads((out / "build-info.json").read_text())["manifest"]
    lines = EntryMemo(cache / "entries").read(manifest)
    assert lines is not None
    assert {key: entry for key, (entry, _line) in lines.items()} == {
        entry.id: entry for entry in result.manifest.variants
    }
    # Written once: nothing is left for a second save.
    written = [path.stat().st_mtime_ns for path in indexes]
    session.save_caches()
    assert [path.stat().st_mtime_ns for path in indexes] == written


def test_a_session_loads_again_only_the_atom_files_that_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edit of atom files reloads those files into the last load; any other edit (and an
    atom that now fails or names another id) loads everything. The trees are held to clean
    builds by the test above; here, which way each build went."""
    content = write_tree(tmp_path / "content")
    session = BuildSession(content, tmp_path / "dist", on=DAY, jobs=1)
    session.build()
    whole: list[str] = []
    load_folder = repository._Loader.load_folder

    def counted(self: repository._Loader, folder: str, *args: Any, **kwargs: Any) -> None:
        whole.append(folder)
        load_folder(self, folder, *args, **kwargs)

    monkeypatch.setattr(repository._Loader, "load_folder", counted)
    steps = [
        ("atom-text", False),
        ("atom-targeting", False),
        ("segment", True),
        ("headline", False),  # patched again after a whole load
        ("renamed id", True),
        ("headline-back", True),  # the last load was a whole one, but its id is not the last's
        ("headline", False),
    ]
    for name, loads_everything in steps:
        if name in EDITS:
            apply_edit(content, name)
        elif name == "renamed id":
            path = content / "atoms/headline.yaml"
            path.write_text("id: headline-new\n" + path.read_text())
        else:
            _apply_more(content, name)
        whole.clear()
        result = session.build()
        assert not result.skipped, name
        assert bool(whole) == loads_everything, name


def test_a_carried_load_cache_loads_what_a_fresh_load_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Files written a moment ago count as old enough to trust their lstat.
    monkeypatch.setattr(inputs, "RACY_NANOSECONDS", -(10**18))
    content = write_tree(tmp_path / "content")
    cache = LoadCache(tmp_path / "load.cache", content.resolve())
    load_files(content, load_cache=cache)
    carried = cache.carried()
    assert carried.old == cache.new and carried.path == cache.path
    assert carried.digests.old  # the digests travel with the entries
    apply_edit(content, "atom-text")
    (content / BROKEN[0]).write_text(BROKEN[1])
    library, diagnostics = load_files(content, load_cache=carried)
    fresh_library, fresh_diagnostics = load_files(content, cache=False)
    assert _dicts(diagnostics) == _dicts(fresh_diagnostics)
    assert library.atoms == fresh_library.atoms
    assert library.file_hashes == fresh_library.file_hashes
    # Unchanged files came from memory: the very objects of the first load.
    assert carried.digests.reused >= len(library.atoms) - 1


def test_carried_digests_hash_a_file_changed_since(tmp_path: Path) -> None:
    content = write_tree(tmp_path / "content")
    stats, _refused = listed_stats(content)
    old = time.time_ns() + 10**10  # every file is older than the racy margin
    digests = FileDigests(None, content, now_ns=old)
    for shown, path, info in stats:
        digests.digest(shown, path, info)
    carried = digests.carried()
    assert carried.old == digests.new and carried.started > 0
    path = content / "atoms/headline.yaml"
    path.write_text(path.read_text() + "# changed\n")
    stats, _refused = listed_stats(content)
    found = {shown: carried.digest(shown, p, info)[0] for shown, p, info in stats}
    assert carried.hashed == 1
    assert (
        found["atoms/headline.yaml"]
        == FileDigests(None, content).digest("atoms/headline.yaml", str(path), path.lstat())[0]
    )


def test_an_entry_memo_answers_for_its_last_build_from_memory(tmp_path: Path) -> None:
    content = write_tree(tmp_path / "content")
    build(content, tmp_path / "dist", on=DAY, jobs=1, cache_dir=tmp_path / "cache")
    reader = EntryMemo(tmp_path / "cache" / "entries")
    info = json.loads((tmp_path / "dist" / "build-info.json").read_text())
    lines = reader.read(info["manifest"])
    assert lines
    shutil.rmtree(tmp_path / "cache" / "entries")
    assert reader.read(info["manifest"]) == lines  # from memory
    assert reader.read("0" * 64) is None  # another build: from disk, where there is none
    assert reader.read(info["manifest"]) is None  # and the memory is gone with the failure


class _Watching:
    """``watch_builds`` of ``session`` in a thread, its reports collected as they arrive."""

    def __init__(self, session: BuildSession) -> None:
        self.reports: list[WatchedBuild] = []
        self.arrived = threading.Condition()
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=watch_builds, args=(session, self.report), kwargs={"stop": self.stop}
        )
        self.thread.start()

    def report(self, watched: WatchedBuild) -> None:
        with self.arrived:
            self.reports.append(watched)
            self.arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 60) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.reports) >= count, timeout=timeout)

    def end(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


def test_a_watch_reports_a_build_before_it_writes_the_memos(tmp_path: Path) -> None:
    """The plan and entry memos (for a later process) are written after the report, and
    before the watch ends."""
    content, cache = write_tree(tmp_path / "content"), tmp_path / "cache"
    session = BuildSession(content, tmp_path / "dist", on=DAY, jobs=1, cache_dir=cache)
    indexes = [cache / "plan" / "index.pickle", cache / "entries" / "index.pickle"]
    stopped = threading.Event()
    at_report: list[bool] = []

    def report(watched: WatchedBuild) -> None:
        assert watched.result is not None
        at_report.extend(path.exists() for path in indexes)
        stopped.set()

    watch_builds(session, report, stop=stopped)
    assert at_report == [False, False]
    assert all(path.exists() for path in indexes)


def test_watch_builds_after_every_change_until_stopped(tmp_path: Path) -> None:
    content = write_tree(tmp_path / "content")
    watching = _Watching(BuildSession(content, tmp_path / "dist", on=DAY, jobs=1))
    reports = watching.reports
    try:
        assert watching.wait_for(1), reports
        assert reports[0].changed == () and reports[0].result is not None
        assert not reports[0].result.skipped
        apply_edit(content, "atom-text")
        assert watching.wait_for(2), reports
        assert reports[1].changed == ("atoms/headline.yaml",)
        assert reports[1].result is not None and reports[1].result.rendered > 0
        (content / BROKEN[0]).write_text(BROKEN[1])
        assert watching.wait_for(3), reports
        assert isinstance(reports[2].error, ContentError) and reports[2].result is None
        (content / BROKEN[0]).unlink()
        assert watching.wait_for(4), reports
        assert reports[3].result is not None and reports[3].result.skipped
    finally:
        watching.end()


def test_a_watch_build_waits_for_another_build_holding_the_output(tmp_path: Path) -> None:
    """A one-shot build or a second watch holding the output: the watch builds the files as
    they are once it is free, instead of giving up until the next change; stopping ends the
    wait."""
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    with output_lock(out, 0):
        watching = _Watching(BuildSession(content, out, on=DAY, jobs=1))
        try:
            assert not watching.wait_for(1, timeout=2), watching.reports  # still waiting
            assert output_locked(out)
        except BaseException:
            watching.end()
            raise
    try:
        assert watching.wait_for(1), watching.reports
        first = watching.reports[0]
        assert first.error is None and first.result is not None and first.result.variants > 0
        assert (out / "manifest.json").is_file() and not output_locked(out)
    finally:
        watching.end()

    apply_edit(content, "atom-text")
    with output_lock(out, 0):
        watching = _Watching(BuildSession(content, out, on=DAY, jobs=1))
        assert not watching.wait_for(1, timeout=1)
        watching.end()  # while it waits
    assert isinstance(watching.reports[0].error, BuildLockedError)


def _watch_process(tmp_path: Path, content: Path, *options: str) -> subprocess.Popen[str]:
    """A real ``atomic build --watch`` of ``content`` into ``tmp_path/dist`` (with ``options``),
    with a cache folder of its own."""
    command = [
        *(sys.executable, "-m", "atomic_content.cli", "build", "--watch", "--jobs", "1"),
        *("--content", str(content), "--out", str(tmp_path / "dist"), "--date", DAY.isoformat()),
        *options,
    ]
    env = {**os.environ, "ATOMIC_CACHE_DIR": str(tmp_path / "user-cache")}
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_build_watch_on_the_command_line(tmp_path: Path, stop: signal.Signals) -> None:
    """A real ``atomic build --watch --format json``: one JSON line per build, the error of a
    broken file as a line too, and Ctrl-C or SIGTERM ends it with exit status 0."""
    content = write_tree(tmp_path / "content")
    process = _watch_process(tmp_path, content, "--format", "json")
    try:
        assert process.stdout is not None
        first = json.loads(process.stdout.readline())
        assert first["changed"] == [] and first["rendered"] == first["variants"] > 0
        apply_edit(content, "atom-text")
        second = json.loads(process.stdout.readline())
        assert second["changed"] == ["atoms/headline.yaml"]
        assert 0 < second["rendered"] < second["variants"]
        (content / BROKEN[0]).write_text(BROKEN[1])
        third = json.loads(process.stdout.readline())
        assert third["error"]["exit_code"] == 1
        assert [d["path"] for d in third["error"]["diagnostics"]] == [BROKEN[0]]
    finally:
        process.send_signal(stop)
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "stopped watching" in err


def test_watching_without_watchfiles_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "watchfiles", None)  # import fails as if not installed
    session = BuildSession(write_tree(tmp_path / "content"), tmp_path / "dist", on=DAY)
    with pytest.raises(Exception) as caught:
        watch_builds(session, lambda _watched: None)
    assert type(caught.value).__name__ == "UsageError"
    assert "pip install 'atomic-content[serve]'" in caught.value.hint  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_watching_a_content_folder_that_is_not_one_is_a_usage_error(
    tmp_path: Path, kind: str
) -> None:
    """Refused before any build, with the fix (it was an internal error from the watcher)."""
    content = tmp_path / "content"
    if kind == "a file":
        content.write_text("not a folder\n")
    reports: list[WatchedBuild] = []
    stopped = threading.Event()
    stopped.set()  # a watcher that started anyway ends at once instead of waiting for changes
    with pytest.raises(UsageError) as caught:
        watch_builds(BuildSession(content, tmp_path / "dist", on=DAY), reports.append, stop=stopped)
    reason = "is not a folder" if kind == "a file" else "does not exist"
    assert str(caught.value) == f"content folder '{content.as_posix()}' {reason}"
    assert caught.value.hint == "run from your project folder or pass --content DIR"
    assert reports == [] and not (tmp_path / "dist").exists()


def test_watching_a_missing_content_folder_on_the_command_line(tmp_path: Path) -> None:
    content = tmp_path / "content"
    result = CliRunner().invoke(
        main, ["build", "--watch", "--content", str(content), "--out", str(tmp_path / "dist")]
    )
    assert result.exit_code == 2, result.output
    assert f"error: content folder '{content.as_posix()}' does not exist" in result.output
    assert "internal error" not in result.output


def test_a_watch_in_text_prints_only_new_warnings(tmp_path: Path) -> None:
    """Each build's summary counts every warning; the warnings themselves are printed when a
    build has them and the previous one did not (a watch is not a wall of repeats)."""
    content = write_tree(tmp_path / "content")
    process = _watch_process(tmp_path, content)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("built ") and " 2 warnings" in first
        apply_edit(content, "atom-text")
        assert process.stdout.readline() == "changed: atoms/headline.yaml\n"
        second = process.stdout.readline()
        assert second.startswith("built ") and " 2 warnings" in second
        (content / "atoms/subject-de.yaml").unlink()  # its warning goes, no other comes
        assert process.stdout.readline() == "changed: atoms/subject-de.yaml\n"
        assert " 1 warning," in process.stdout.readline()
    finally:
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    # rank.shadowed and email.preheader_short, each printed once (by the first build).
    assert err.count("warning[") == 2, err
    assert "stopped watching" in err
