"""Git plumbing for ``atomic diff`` on real repositories in temporary folders: finding the
repository, resolving revisions, the default branch and merge base, exporting a folder of a
commit — and never writing to the user's working tree, index or refs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from atomic_content.errors import AtomicError, UsageError
from atomic_content.gitrepo import GitRepo, Revision, _safe_path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` with a fixed identity and no user or system configuration."""
    env = {**os.environ, **GIT_ENV, "HOME": str(repo.parent), "XDG_CONFIG_HOME": str(repo.parent)}
    result = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def make_repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q")
    write(path, files)
    git(path, "add", "-A")
    git(path, "commit", "-qm", "first")
    return path


def write(root: Path, files: dict[str, str | None]) -> None:
    for rel, text in files.items():
        target = root / rel
        if text is None:
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def snapshot(repo: Path) -> tuple[str, str, dict[str, int]]:
    """What must not change: status, staged diff and every file's mtime (outside .git)."""
    mtimes = {
        p.relative_to(repo).as_posix(): p.lstat().st_mtime_ns
        for p in sorted(repo.rglob("*"))
        if ".git" not in p.relative_to(repo).parts
    }
    return git(repo, "status", "--porcelain"), git(repo, "diff", "--cached"), mtimes


def git_state(repo: Path) -> tuple[int, bytes, str]:
    """The index file (mtime and bytes) and every ref: read *before* any ``git status`` of the
    test itself, because status may rewrite the index to refresh its stat cache."""
    index = repo / ".git" / "index"
    refs = git(repo, "for-each-ref", "--format=%(refname) %(objectname)")
    return index.stat().st_mtime_ns, index.read_bytes(), refs + git(repo, "symbolic-ref", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(
        tmp_path / "repo",
        {"content/a.yaml": "a: 1\n", "content/sub/b.yaml": "b: 2\n", "README": "hi\n"},
    )


def test_find_from_a_sub_folder_and_a_missing_path(repo: Path) -> None:
    assert GitRepo.find(repo / "content" / "sub").root == repo.resolve()
    assert GitRepo.find(repo / "content" / "not-yet" / "x.yaml").root == repo.resolve()


def test_not_a_git_repository(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(UsageError) as info:
        GitRepo.find(tmp_path / "plain")
    assert info.value.message == f"not a git repository: {(tmp_path / 'plain').as_posix()}"


def test_resolve_revisions(repo: Path) -> None:
    found = GitRepo.find(repo)
    head = git(repo, "rev-parse", "HEAD").strip()
    assert found.resolve("HEAD") == Revision("HEAD", head)
    assert found.resolve("main").commit == head
    assert found.resolve(head[:8]).label == head[:10]
    assert found.resolve("main").label == f"main ({head[:10]})"


@pytest.mark.parametrize("name", ["nope", "HEAD~5", "--output=/tmp/x", "-h", ""])
def test_unknown_revision_is_a_usage_error(repo: Path, name: str) -> None:
    with pytest.raises(UsageError) as info:
        GitRepo.find(repo).resolve(name)
    assert info.value.message == f"unknown revision {name!r}"


def test_default_branch_main_master_and_origin_head(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"x": "1\n"})
    found = GitRepo.find(repo)
    assert found.default_branch().name == "main"
    git(repo, "branch", "-m", "main", "master")
    assert found.default_branch().name == "master"
    git(repo, "branch", "-m", "master", "topic")
    with pytest.raises(UsageError, match="cannot find the default branch"):
        found.default_branch()
    # A clone's origin/HEAD wins over local branch names.
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "update-ref", "refs/remotes/origin/trunk", head)
    git(repo, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/trunk")
    git(repo, "branch", "main")
    assert found.default_branch() == Revision("origin/trunk", head)


def test_default_branch_from_remote_tracking_main(tmp_path: Path) -> None:
    # CI checkouts often have origin/main but no local main.
    repo = make_repo(tmp_path / "r", {"x": "1\n"})
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "branch", "-m", "main", "feature")
    git(repo, "update-ref", "refs/remotes/origin/main", head)
    assert GitRepo.find(repo).default_branch() == Revision("origin/main", head)


def test_merge_base(repo: Path) -> None:
    fork = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-qb", "feature")
    write(repo, {"content/a.yaml": "a: 2\n"})
    git(repo, "commit", "-qam", "feature work")
    git(repo, "checkout", "-q", "main")
    write(repo, {"README": "main moved on\n"})
    git(repo, "commit", "-qam", "main work")
    found = GitRepo.find(repo)
    base = found.merge_base(found.resolve("main"), found.resolve("feature"))
    assert base.commit == fork


def test_no_common_ancestor(repo: Path) -> None:
    git(repo, "checkout", "-q", "--orphan", "other")
    git(repo, "commit", "-qm", "unrelated", "--allow-empty")
    found = GitRepo.find(repo)
    with pytest.raises(UsageError, match="no common ancestor"):
        found.merge_base(found.resolve("main"), found.resolve("other"))


def test_export_a_folder_byte_for_byte(repo: Path, tmp_path: Path) -> None:
    write(repo, {"content/bin.dat": "x"})
    (repo / "content" / "bin.dat").write_bytes(bytes(range(256)) + b"\r\n\x00")
    (repo / "content" / "run.sh").write_text("#!/bin/sh\n", encoding="utf-8")
    (repo / "content" / "run.sh").chmod(0o755)
    (repo / "content" / "link.yaml").symlink_to("a.yaml")
    # export-ignore would make `git archive` drop the file; the export must not.
    write(repo, {".gitattributes": "content/sub/b.yaml export-ignore\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "more")
    found = GitRepo.find(repo)
    head = found.resolve("HEAD")
    before, state = snapshot(repo), git_state(repo)
    out = found.export(head, "content", tmp_path / "export")
    assert out == tmp_path / "export" / "content"
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert files == ["a.yaml", "bin.dat", "link.yaml", "run.sh", "sub", "sub/b.yaml"]
    assert (out / "bin.dat").read_bytes() == bytes(range(256)) + b"\r\n\x00"
    assert os.access(out / "run.sh", os.X_OK)
    assert (out / "link.yaml").is_symlink() and (out / "link.yaml").readlink() == Path("a.yaml")
    assert not (tmp_path / "export" / "README").exists()
    assert git_state(repo) == state
    assert snapshot(repo) == before


def test_export_an_older_revision_while_the_tree_is_dirty(repo: Path, tmp_path: Path) -> None:
    write(repo, {"content/a.yaml": "a: 2\n"})
    git(repo, "commit", "-qam", "second")
    write(repo, {"content/a.yaml": "a: uncommitted\n", "content/new.yaml": "n: 1\n"})
    git(repo, "add", "content/new.yaml")
    before, state = snapshot(repo), git_state(repo)
    found = GitRepo.find(repo)
    out = found.export(found.resolve("HEAD~1"), "content", tmp_path / "old")
    assert (out / "a.yaml").read_text(encoding="utf-8") == "a: 1\n"
    assert not (out / "new.yaml").exists()
    assert git_state(repo) == state
    assert snapshot(repo) == before
    assert (repo / "content" / "a.yaml").read_text(encoding="utf-8") == "a: uncommitted\n"


def test_has_folder_and_root_export(repo: Path, tmp_path: Path) -> None:
    found = GitRepo.find(repo)
    head = found.resolve("HEAD")
    assert found.has_folder(head, "content")
    assert found.has_folder(head, "content/sub")
    assert not found.has_folder(head, "README")  # a file, not a folder
    assert not found.has_folder(head, "missing")
    assert found.has_folder(head, ".")
    out = found.export(head, ".", tmp_path / "all")
    assert sorted(p.name for p in out.iterdir()) == ["README", "content"]


def test_export_refuses_paths_leaving_the_folder(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "linked").symlink_to(tmp_path)
    for bad in ("../x", "/etc/passwd", "a/../../x", ".git/config", "a//b", "linked/x"):
        with pytest.raises(AtomicError):
            _safe_path(dest, dest.resolve(), bad)
    assert _safe_path(dest, dest.resolve(), "a/b.yaml") == dest / "a" / "b.yaml"


def test_hook_environment_does_not_redirect_reads(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pre-commit runs hooks with GIT_INDEX_FILE (and sometimes GIT_DIR) set for its own repo.
    other = make_repo(tmp_path / "other", {"x": "1\n"})
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other / ".git" / "index"))
    found = GitRepo.find(repo)
    assert found.root == repo.resolve()
    assert (
        found.resolve("HEAD").commit
        == git(repo, "--git-dir", str(repo / ".git"), "rev-parse", "HEAD").strip()
    )
