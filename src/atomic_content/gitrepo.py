"""Read-only git plumbing for ``atomic diff``: find the repository, resolve revisions, find the
merge base with the default branch and export one folder of a commit into a temporary folder.

Contract:

* **Never touches the user's working tree, index or refs.** Only plumbing commands that read
  are run (``rev-parse``, ``symbolic-ref``, ``merge-base``, ``ls-tree``, ``cat-file``), with
  ``GIT_OPTIONAL_LOCKS=0`` so that git does not even refresh the index's stat cache. Porcelain
  such as ``git status``, ``git stash`` or ``git checkout`` is never used.
* A tree is exported by listing it (``ls-tree``) and reading its blobs (``cat-file --batch``)
  into a folder the caller owns; every path is checked to stay inside that folder, and
  ``.gitattributes`` export rules (which ``git archive`` would apply) do not change the bytes.
* User mistakes are :class:`~atomic_content.errors.UsageError` (exit 2): not a git repository,
  unknown revision, no default branch, no common ancestor. Anything else git reports is an
  :class:`~atomic_content.errors.AtomicError` with git's own message.
* Revisions given by the user are passed after ``--end-of-options`` so they can never be read
  as options by git.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import AtomicError, UsageError

DEFAULT_BRANCH_CANDIDATES = ("main", "master")
"""Tried in this order (local branch, then the ``origin/`` remote-tracking branch) when
``origin/HEAD`` is not set."""

_MODE_SYMLINK = "120000"
_MODE_SUBMODULE = "160000"


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    # Reading must not write: no optional locks (and so no index refresh), no prompts, and
    # messages in English so that the few we recognize are recognized.
    env.update({"GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        # A repository is found from a path; variables left over from a git hook that
        # launched us (pre-commit sets GIT_INDEX_FILE) must not redirect these reads.
        env.pop(name, None)
    return env


def _run(
    args: Sequence[str], cwd: Path, *, input_bytes: bytes | None = None, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=input_bytes,
            capture_output=True,
            env=_environment(),
            check=False,
        )
    except FileNotFoundError:
        raise UsageError(
            "git is not installed (or not on PATH)",
            "install git: atomic diff reads revisions with it",
        ) from None
    if check and result.returncode != 0:
        raise AtomicError(f"git {args[0]} failed: {_first_line(result.stderr)}")
    return result


def _first_line(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else "(no message)"


@dataclass(frozen=True)
class Revision:
    """A resolved revision: what the user wrote (or how we found it) and the commit id."""

    name: str
    commit: str

    @property
    def short(self) -> str:
        return self.commit[:10]

    @property
    def label(self) -> str:
        """``main (1a2b3c4d5e)``, or just the short id when the name is the id itself."""
        if self.commit.startswith(self.name):
            return self.short
        return f"{self.name} ({self.short})"


@dataclass(frozen=True)
class GitRepo:
    """A git working tree, found from any path inside it. Methods only read."""

    root: Path

    @classmethod
    def find(cls, start: Path) -> GitRepo:
        """The repository containing ``start`` (a folder or file; need not exist yet).

        Raises UsageError when ``start`` is not inside a git working tree.
        """
        folder = Path(start).absolute()
        while not folder.is_dir() and folder != folder.parent:
            folder = folder.parent
        result = _run(["rev-parse", "--show-toplevel"], folder, check=False)
        if result.returncode != 0:
            message = _first_line(result.stderr)
            if "not a git repository" in message:
                raise UsageError(
                    f"not a git repository: {folder.as_posix()}",
                    "run atomic diff inside a clone of your content repository",
                )
            raise UsageError(f"cannot use the git repository at {folder.as_posix()}: {message}")
        return cls(Path(result.stdout.decode("utf-8", "surrogateescape").strip()))

    def git(
        self, *args: str, input_bytes: bytes | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        """Run a read-only git command in the repository root."""
        return _run(args, self.root, input_bytes=input_bytes, check=check)

    def resolve(self, name: str) -> Revision:
        """The commit a revision names (``main``, ``HEAD~1``, a tag, an id ...).

        Raises UsageError for anything that does not name a commit.
        """
        if not name or name.startswith("-") or "\0" in name:
            raise UsageError(f"unknown revision {name!r}", "name a branch, tag or commit")
        result = self.git(
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            f"{name}^{{commit}}",
            check=False,
        )
        if result.returncode != 0:
            raise UsageError(
                f"unknown revision {name!r}",
                "name a branch, tag or commit of this repository (git log --oneline shows them); "
                "in CI fetch enough history (actions/checkout with fetch-depth: 0)",
            )
        return Revision(name, result.stdout.decode().strip())

    def has_commits(self) -> bool:
        return (
            self.git("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False).returncode
            == 0
        )

    def default_branch(self) -> Revision:
        """``origin/HEAD``, else ``main``/``origin/main``, else ``master``/``origin/master``.

        Raises UsageError when none exists (then BASE must be given).
        """
        result = self.git("symbolic-ref", "--quiet", "refs/remotes/origin/HEAD", check=False)
        if result.returncode == 0:
            ref = result.stdout.decode().strip()
            with_commit = self.git(
                "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False
            )
            if with_commit.returncode == 0:
                short = ref.removeprefix("refs/remotes/")
                return Revision(short, with_commit.stdout.decode().strip())
        for branch in DEFAULT_BRANCH_CANDIDATES:
            for ref, shown in (
                (f"refs/heads/{branch}", branch),
                (f"refs/remotes/origin/{branch}", f"origin/{branch}"),
            ):
                found = self.git(
                    "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False
                )
                if found.returncode == 0:
                    return Revision(shown, found.stdout.decode().strip())
        raise UsageError(
            "cannot find the default branch (no origin/HEAD, main or master)",
            "name the base revision: atomic diff BASE [HEAD]",
        )

    def merge_base(self, one: Revision, other: Revision) -> Revision:
        """The best common ancestor of two commits. Raises UsageError when there is none."""
        result = self.git("merge-base", one.commit, other.commit, check=False)
        if result.returncode != 0:
            raise UsageError(
                f"{one.label} and {other.label} have no common ancestor",
                "name the base revision: atomic diff BASE [HEAD]",
            )
        commit = result.stdout.decode().strip()
        return Revision(f"merge-base of {other.name} and {one.name}", commit)

    def has_folder(self, revision: Revision, folder: str) -> bool:
        """Whether ``folder`` (relative to the root, ``.`` for it) is a tree in ``revision``."""
        spec = (
            f"{revision.commit}^{{tree}}" if folder in ("", ".") else f"{revision.commit}:{folder}"
        )
        result = self.git("cat-file", "-t", spec, check=False)
        return result.returncode == 0 and result.stdout.strip() == b"tree"

    def export(self, revision: Revision, folder: str, dest: Path) -> Path:
        """Write the files under ``folder`` at ``revision`` into ``dest/folder``; return that path.

        ``dest`` must be an empty or absent folder owned by the caller. Symbolic links are
        recreated as links (the content loader refuses those leaving the content root);
        submodules are skipped. Raises AtomicError for a path that would leave ``dest``.
        """
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        target_root = dest if folder in ("", ".") else dest / folder
        target_root.mkdir(parents=True, exist_ok=True)
        pathspec = [] if folder in ("", ".") else ["--", folder]
        listing = self.git("ls-tree", "-r", "-z", "--full-tree", revision.commit, *pathspec).stdout
        entries: list[tuple[str, str, str]] = []  # (mode, object id, path)
        for record in listing.split(b"\0"):
            if not record:
                continue
            meta, _, raw_path = record.partition(b"\t")
            mode, kind, oid = meta.decode().split(" ")
            if kind != "blob" or mode == _MODE_SUBMODULE:
                continue
            entries.append((mode, oid, raw_path.decode("utf-8", "surrogateescape")))
        if not entries:
            return target_root
        blobs = _read_blobs(self, [oid for _mode, oid, _path in entries])
        resolved_dest = dest.resolve()
        for mode, oid, rel in entries:
            target = _safe_path(dest, resolved_dest, rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            data = blobs[oid]
            if mode == _MODE_SYMLINK:
                target.symlink_to(os.fsdecode(data))
                continue
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            perms = 0o755 if mode == "100755" else 0o644
            handle = os.open(target, flags, perms)
            with os.fdopen(handle, "wb") as out:
                out.write(data)
        return target_root


def _safe_path(dest: Path, resolved_dest: Path, rel: str) -> Path:
    """``dest/rel``, refusing absolute paths, ``..``, ``.git`` and links in the parent chain."""
    parts = rel.split("/")
    if any(p in ("", ".", "..", ".git") for p in parts):
        raise AtomicError(f"refusing to export a path outside the temporary folder: {rel!r}")
    current = dest
    for part in parts[:-1]:
        current = current / part
        if current.is_symlink():
            raise AtomicError(f"refusing to export {rel!r}: {part!r} is a symbolic link")
    target = dest.joinpath(*parts)
    if not target.parent.resolve().is_relative_to(resolved_dest):
        raise AtomicError(f"refusing to export a path outside the temporary folder: {rel!r}")
    if target.exists() or target.is_symlink():
        raise AtomicError(f"refusing to export {rel!r} twice")
    return target


def _read_blobs(repo: GitRepo, oids: list[str]) -> dict[str, bytes]:
    """Object id -> bytes, read in one ``git cat-file --batch`` process."""
    unique = list(dict.fromkeys(oids))
    request = "".join(f"{oid}\n" for oid in unique).encode()
    output = repo.git("cat-file", "--batch", input_bytes=request).stdout
    blobs: dict[str, bytes] = {}
    pos = 0
    for oid in unique:
        end = output.index(b"\n", pos)
        header = output[pos:end].decode().split(" ")
        if len(header) != 3:
            raise AtomicError(f"git cat-file could not read object {oid}: {' '.join(header)}")
        size = int(header[2])
        start = end + 1
        blobs[oid] = output[start : start + size]
        pos = start + size + 1  # the blob is followed by a newline
    return blobs
