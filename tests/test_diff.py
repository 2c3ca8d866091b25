"""``atomic diff`` on real git repositories built in temporary folders.

Every scenario commits a small content tree (``contentkit`` plus a second journey), changes it —
edit an atom, add a segment, delete a journey, rename a file, break a file, retire and revive an
atom — and checks the exact report (JSON structure and key text lines) and the exit code. Every
run through :meth:`Project.diff` also checks that the user's working tree, index and refs are
exactly as before (``git status --porcelain``, ``git diff --cached``, the index bytes and
mtime, every file's mtime).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import atomic_content.cli.diff_cmd  # noqa: F401  (registers `atomic diff` until cli/__init__ does)
from atomic_content.cli import main
from atomic_content.diff import (
    AtomChange,
    CellChange,
    CoverageChange,
    DiffResult,
    JourneySummary,
    SideInfo,
    VariantChange,
    html_outline,
    preview_lines,
    visible,
)
from atomic_content.diff_report import (
    MARKDOWN_MAX_CHARS,
    format_json,
    format_markdown,
    format_text,
    log_safe,
    md_code,
    md_fence,
    md_text,
)
from atomic_content.errors import Diagnostic, Severity
from contentkit import BASE, JOURNEY, SETTINGS, write_tree
from test_build import READER_MJML

REPO = Path(__file__).resolve().parent.parent
DATE = "2026-11-22"
PROMO = (
    "name: Promo\nsegments: [vip]\nlocales: [en]\nsteps:\n"
    "  - id: launch\n    channels: {email: basic}\n"
)
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@dataclass
class Run:
    exit_code: int
    output: str
    stderr: str

    @property
    def data(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.output)
        return parsed


@dataclass
class Project:
    """A git repository with a content folder, and the means to change it and run the diff."""

    root: Path
    monkeypatch: pytest.MonkeyPatch

    @property
    def content(self) -> Path:
        return self.root / "content"

    def git(self, *args: str) -> str:
        env = {
            **os.environ,
            **GIT_ENV,
            "HOME": str(self.root.parent),
            "XDG_CONFIG_HOME": str(self.root.parent),
        }
        return subprocess.run(
            ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def write(self, files: dict[str, str | None]) -> None:
        """Write (or with None delete) files under the content folder."""
        for rel, text in files.items():
            target = self.content / rel
            if text is None:
                target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")

    def commit(self, message: str, files: dict[str, str | None] | None = None) -> None:
        if files:
            self.write(files)
        self.git("add", "-A")
        self.git("commit", "-qm", message)

    def settle(self) -> None:
        """Make the index stable under the test's own ``git status``.

        git rewrites the index on every status while a file is "racily clean" (modified in the
        same second as the index). Files are dated ten seconds back and the index refreshed
        once, so that from now on only a real change rewrites it.
        """
        past = time.time() - 10
        for path in self.root.rglob("*"):
            if ".git" not in path.relative_to(self.root).parts and not path.is_symlink():
                os.utime(path, (past, past))
        self.git("status", "--porcelain")

    def state(self) -> tuple[Any, ...]:
        """Index bytes and refs (read before the test's own `git status`, which may rewrite
        the index), then status, staged diff and every file's mtime."""
        index = self.root / ".git" / "index"
        before_status = (
            index.read_bytes() if index.exists() else b"",
            self.git("for-each-ref", "--format=%(refname) %(objectname)"),
        )
        mtimes = {
            p.relative_to(self.root).as_posix(): p.lstat().st_mtime_ns
            for p in sorted(self.root.rglob("*"))
            if ".git" not in p.relative_to(self.root).parts
        }
        return (
            before_status,
            self.git("status", "--porcelain", "--untracked-files=all"),
            self.git("diff", "--cached"),
            mtimes,
        )

    def diff(self, *args: str, fmt: str = "json", date: str = DATE) -> Run:
        """``atomic diff ARGS --format FMT --date DATE`` from the repository root; asserts that
        nothing in the repository changed."""
        self.monkeypatch.chdir(self.root)
        self.settle()
        before = self.state()
        index = self.root / ".git" / "index"
        index_mtime = index.stat().st_mtime_ns  # after the test's own git commands
        result = CliRunner().invoke(main, ["diff", *args, "--format", fmt, "--date", date])
        assert index.stat().st_mtime_ns == index_mtime, "atomic diff rewrote the index"
        after = self.state()
        assert after == before, "atomic diff changed the working tree, index or refs"
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Run(result.exit_code, result.stdout, result.stderr)


def make_project(root: Path, monkeypatch: pytest.MonkeyPatch, **extra: str | None) -> Project:
    root.mkdir(parents=True)
    project = Project(root, monkeypatch)
    project.git("init", "-q")
    write_tree(project.content, {"journeys/promo.yaml": PROMO, **extra})
    (root / "README.md").write_text("# content\n", encoding="utf-8")
    project.commit("base content")
    return project


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    return make_project(tmp_path / "repo", monkeypatch)


def base_text(rel: str) -> str:
    """A text file of the contentkit base tree."""
    value = BASE[rel]
    assert isinstance(value, str)
    return value


def settings(governance: str) -> str:
    head, _, _ = SETTINGS.rpartition("governance:")
    return f"{head}governance: {governance}\n"


VIP_EDIT = {
    "atoms/headline-vip.yaml": base_text("atoms/headline-vip.yaml").replace(
        "is waiting", "ships free"
    )
}
VIP_PREVIEW = (
    "@@ -2,5 +2,5 @@\n"
    " Preheader:\n"
    " ────────────────────────────────────────\n"
    "-Your VIP gear is waiting\n"
    "+Your VIP gear ships free\n"
    " \n"
    " Thanks for joining."
)


# ----------------------------------------------------------------------------- scenarios


def test_edit_an_atom(project: Project) -> None:
    project.commit("vip headline", VIP_EDIT)
    run = project.diff("HEAD~1", "HEAD")
    assert run.exit_code == 0, run.output
    data = run.data
    assert data["summary"] == {
        "added": 0,
        "removed": 0,
        "changed": 3,
        "atoms": 1,
        "coverage_better": 0,
        "coverage_worse": 0,
        "new_warnings": 0,
        "resolved_warnings": 0,
        "personal_raised": 0,
        "governance_errors": 0,
        "governance_warnings": 1,
    }
    assert data["journeys"] == {
        "promo": {
            "base": 2,
            "head": 2,
            "added": 0,
            "removed": 0,
            "changed": 1,
            "altered_percent": 50.0,
        },
        "welcome": {
            "base": 12,
            "head": 12,
            "added": 0,
            "removed": 0,
            "changed": 2,
            "altered_percent": 16.7,
        },
    }
    assert [v["id"] for v in data["variants"]] == [
        "promo/launch/email/en/vip",
        "welcome/day-0/email/de/vip",
        "welcome/day-0/email/en/vip",
    ]
    first = data["variants"][0]
    assert first["change"] == "changed" and first["form"] == "preview"
    assert first["files"] == [
        "preview/email.html",
        "preview/email.txt",
        "template/email.html",
        "template/email.txt",
    ]
    assert list(first["slots"]) == ["headline"]
    assert first["slots"]["headline"]["base"]["atom"] == "headline-vip"
    assert first["slots"]["headline"]["base"]["hash"] != first["slots"]["headline"]["head"]["hash"]
    assert first["preview_diff"] == VIP_PREVIEW
    assert data["atoms"] == [
        {
            "id": "headline-vip",
            "change": "edited",
            "previous_id": None,
            "path": {"base": "atoms/headline-vip.yaml", "head": "atoms/headline-vip.yaml"},
            "status": {"base": "approved", "head": "approved"},
            "fields": ["text"],
            "messages": 3,
            "of": 14,
            "segments": ["vip"],
            "variants": [v["id"] for v in data["variants"]],
        }
    ]
    assert [d["code"] for d in data["governance"]] == ["governance.change_budget"]
    assert data["governance"][0]["path"] == "journeys/promo.yaml"
    assert data["base"]["commit"] == project.git("rev-parse", "HEAD~1").strip()
    assert data["head"]["commit"] == project.git("rev-parse", "HEAD").strip()
    assert data["exit_code"] == 0

    text = project.diff("HEAD~1", "HEAD", fmt="text").output.splitlines()
    assert "3 of 14 messages change: 0 added, 0 removed, 3 changed" in text
    assert "  by segment: vip 3" in text
    assert "  edited   headline-vip (text): changes 3 of 14 messages across 1 segment (vip)" in text
    assert "  welcome / day-0 / email" in text
    assert "    changed 2 — de: vip · en: vip" in text
    assert (
        # one diagnostic format everywhere: path:line:col: severity[code]: message
        "  journeys/promo.yaml:1:1: warning[governance.change_budget]: this change alters 1 of 2 "
        "live variants of journey 'promo' (50%, budget 30%)"
    ) in text
    assert (
        "  promo/launch/email/en/vip (+2 with the same change: welcome/day-0/email/de/vip, "
        "welcome/day-0/email/en/vip)"
    ) in text
    assert "    -Your VIP gear is waiting" in text and "    +Your VIP gear ships free" in text


def test_a_change_outside_the_atoms_reaches_the_review(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both sides render into one throwaway cache: a change that reaches messages through the
    strings catalogue or a journey's name must not reuse the base side's renders."""
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    project = make_project(
        tmp_path / "repo", monkeypatch, **{"layouts/email/basic.mjml": READER_MJML}
    )
    project.commit("strings", {"strings/en.yaml": "unsubscribe: Leave the list\n"})
    run = project.diff("HEAD~1", "HEAD")
    assert run.exit_code == 0, run.output
    # Every email is in English (the base tree has no German headline, so the de messages
    # are English ones too): promo's two and welcome's six.
    assert sorted(v["id"] for v in run.data["variants"]) == [
        f"{message}/{audience}"
        for message, audiences in (
            ("promo/launch/email/en", ("generic", "vip")),
            ("welcome/day-0/email/de", ("generic", "new", "vip")),
            ("welcome/day-0/email/en", ("generic", "new", "vip")),
        )
        for audience in audiences
    ]
    journey = project.content / "journeys/welcome.yaml"
    project.commit(
        "rename",
        {
            "journeys/welcome.yaml": journey.read_text().replace(
                "name: Welcome", "name: Welcome aboard"
            )
        },
    )
    run = project.diff("HEAD~1", "HEAD")
    assert run.exit_code == 0, run.output
    assert run.data["journeys"]["welcome"]["changed"] > 0
    assert run.data["journeys"]["promo"]["changed"] == 0


def test_a_message_using_more_personal_data_is_flagged(project: Project) -> None:
    """The creepiness budget's count per variant: a change that raises it is listed for the
    reviewer (text, Markdown and JSON), with the attributes."""
    project.commit(
        "greet by name in the push",
        {
            "atoms/push-title.yaml": base_text("atoms/push-title.yaml").replace(
                "text: Welcome!",
                "text: \"Welcome, {{ customer.first_name | default('friend') }}!\"",
            )
        },
    )
    data = project.diff("HEAD~1", "HEAD").data
    assert data["summary"]["personal_raised"] == 6  # the app message: en/de x vip/new/generic
    raised = [v for v in data["variants"] if v["personal_dimensions"]["raised"]]
    assert {v["channel"] for v in raised} == {"app"}
    assert raised[0]["personal_dimensions"] == {
        "before": 0,
        "after": 1,
        "attributes": ["first_name"],
        "raised": True,
    }
    text = project.diff("HEAD~1", "HEAD", fmt="text").output
    assert "Privacy: 6 messages use more personal attributes" in text
    assert "welcome/day-0/app/de/generic: 0 → 1 personal attributes (first_name)" in text
    markdown = project.diff("HEAD~1", "HEAD", fmt="markdown").output
    assert "**Privacy:** 6 messages use more personal attributes" in markdown


def test_the_working_tree_is_the_default_head(project: Project) -> None:
    project.write(VIP_EDIT)  # uncommitted
    project.write({"atoms/extra.yaml": "slot: body\nstatus: draft\ntext: Later\n"})
    project.git("add", "content/atoms/extra.yaml")  # staged
    run = project.diff("HEAD")
    assert run.exit_code == 0
    assert run.data["head"]["label"] == "working tree"
    assert run.data["head"]["commit"] is None
    assert [(a["id"], a["change"]) for a in run.data["atoms"]] == [
        ("extra", "added"),
        ("headline-vip", "edited"),
    ]
    assert run.data["summary"]["changed"] == 3


def test_default_base_is_the_merge_base_with_main(project: Project) -> None:
    project.git("checkout", "-qb", "feature")
    project.commit("feature: vip headline", VIP_EDIT)
    project.git("checkout", "-q", "main")
    project.commit(
        "main moved on",
        {"atoms/cta.yaml": base_text("atoms/cta.yaml").replace("Shop now", "Shop today")},
    )
    project.git("checkout", "-q", "feature")
    run = project.diff()
    assert run.exit_code == 0
    fork = project.git("merge-base", "main", "feature").strip()
    assert run.data["base"]["commit"] == fork
    assert run.data["base"]["label"] == f"merge-base of HEAD and main ({fork[:10]})"
    # Only the feature's change: main's later CTA edit is not reported as reverted.
    assert [a["id"] for a in run.data["atoms"]] == ["headline-vip"]


def test_add_a_segment(project: Project) -> None:
    project.commit(
        "outdoor segment",
        {
            "segments/outdoor.yaml": "name: Outdoor\ncondition: {tier: silver}\npriority: 5\n",
            "journeys/welcome.yaml": JOURNEY.replace("[vip, new]", "[vip, new, outdoor]"),
        },
    )
    run = project.diff("HEAD~1", "HEAD")
    assert run.exit_code == 0
    data = run.data
    assert [(v["id"], v["change"]) for v in data["variants"]] == [
        ("welcome/day-0/app/de/outdoor", "added"),
        ("welcome/day-0/app/en/outdoor", "added"),
        ("welcome/day-0/email/de/outdoor", "added"),
        ("welcome/day-0/email/en/outdoor", "added"),
    ]
    assert data["journeys"]["welcome"] == {
        "base": 12,
        "head": 16,
        "added": 4,
        "removed": 0,
        "changed": 0,
        "altered_percent": 0.0,
    }
    added = data["variants"][3]
    assert added["slots"]["headline"] == {
        "base": None,
        "head": {"atom": "headline", "hash": added["slots"]["headline"]["head"]["hash"]},
    }
    assert added["preview_diff"].startswith("@@ -0,0 +1,")
    assert "+Gear for every trail" in added["preview_diff"].splitlines()
    # 2 locales x (5 email + 2 app slots) new cells for the new segment, none of them specific:
    # nothing targets it yet (the optional preheader has no atom at all). One message, one
    # language: German has no headline or body, so the German email is wholly English and even
    # the subject, which has a German atom, reads the English one (fallback-locale).
    cells = data["coverage"]["added"]
    assert Counter((c["segment"], c["locale"], c["base"], c["head"]) for c in cells) == {
        ("outdoor", "en", None, "generic"): 6,
        ("outdoor", "en", None, "missing"): 1,
        ("outdoor", "de", None, "fallback-locale"): 6,
        ("outdoor", "de", None, "missing"): 1,
    }
    subject_de = next(c for c in cells if (c["slot"], c["locale"]) == ("subject", "de"))
    assert subject_de["head_atom"] == "subject"
    assert data["coverage"]["better"] == data["coverage"]["worse"] == []
    assert data["governance"] == []
    text = project.diff("HEAD~1", "HEAD", fmt="text").output.splitlines()
    assert "4 of 18 messages change: 4 added, 0 removed, 0 changed" in text
    assert "    added 2 — de: outdoor · en: outdoor" in text
    assert "Coverage: 0 cells better, 0 worse, 14 new, 0 gone" in text


def test_a_better_cell_is_coverage_gained(project: Project) -> None:
    headline_de = (
        "slot: headline\nstatus: approved\nsegments: [vip]\nlocale: de\n"
        "text: Deine VIP-Ausrüstung wartet\n"
    )
    project.commit("german vip headline", {"atoms/headline-vip-de.yaml": headline_de})
    # One message, one language: the German VIP email still has no German body, so it stays
    # wholly English and the German headline wins nowhere: no message, no cell changes.
    data = project.diff("HEAD~1", "HEAD").data
    assert data["variants"] == []
    assert data["coverage"]["better"] == data["coverage"]["worse"] == []
    assert [(a["id"], a["change"], a["messages"]) for a in data["atoms"]] == [
        ("headline-vip-de", "added", 0)
    ]
    # With a German body the German VIP email is complete in German: the VIP headline becomes
    # specific, subject and body become German (generic instead of generic in another
    # locale), and the optional cta, English only, is left out of the German message.
    project.commit(
        "german body",
        {"atoms/body-de.yaml": "slot: body\nstatus: approved\nlocale: de\ntext: Danke!\n"},
    )
    data = project.diff("HEAD~2", "HEAD").data
    assert [(v["id"], v["change"]) for v in data["variants"]] == [
        ("welcome/day-0/email/de/vip", "changed")
    ]

    def cell(
        slot: str, base: str, head: str, base_atom: str, head_atom: str | None
    ) -> dict[str, Any]:
        return {
            "journey": "welcome",
            "step": "day-0",
            "channel": "email",
            "slot": slot,
            "locale": "de",
            "segment": "vip",
            "base": base,
            "head": head,
            "base_atom": base_atom,
            "head_atom": head_atom,
        }

    assert data["coverage"]["better"] == [
        cell("body", "fallback-locale", "generic", "body", "body-de"),
        cell("headline", "fallback-locale", "specific", "headline-vip", "headline-vip-de"),
        cell("subject", "fallback-locale", "generic", "subject", "subject-de"),
    ]
    assert data["coverage"]["worse"] == [cell("cta", "fallback-locale", "missing", "cta", None)]
    assert [(a["id"], a["change"], a["variants"]) for a in data["atoms"]] == [
        ("body-de", "added", ["welcome/day-0/email/de/vip"]),
        ("headline-vip-de", "added", ["welcome/day-0/email/de/vip"]),
    ]


def test_delete_a_journey(project: Project) -> None:
    project.commit("drop promo", {"journeys/promo.yaml": None})
    run = project.diff("HEAD~1", "HEAD")
    assert run.exit_code == 0
    data = run.data
    assert [(v["id"], v["change"]) for v in data["variants"]] == [
        ("promo/launch/email/en/generic", "removed"),
        ("promo/launch/email/en/vip", "removed"),
    ]
    assert data["journeys"]["promo"] == {
        "base": 2,
        "head": 0,
        "added": 0,
        "removed": 2,
        "changed": 0,
        "altered_percent": 100.0,
    }
    # Deleting a journey is the news itself; it is not measured against the change budget.
    assert data["governance"] == []
    assert data["coverage"]["removed"] and not data["coverage"]["added"]
    removed = data["variants"][1]["preview_diff"].splitlines()
    assert removed[0].startswith("@@ -1,") and removed[0].endswith(" +0,0 @@")
    assert all(line.startswith(("@@", "-")) for line in removed)


def test_rename_a_file(project: Project) -> None:
    project.git("mv", "content/atoms/cta.yaml", "content/atoms/shop-cta.yaml")
    project.git("mv", "content/atoms/body.yaml", "content/atoms/welcome-body.yaml")
    project.write({"atoms/welcome-body.yaml": "id: body\n" + base_text("atoms/body.yaml")})
    project.commit("rename files")
    run = project.diff("HEAD~1", "HEAD")
    assert run.exit_code == 0
    assert run.data["variants"] == []  # the same atoms win: no message changes
    assert [
        {k: a[k] for k in ("id", "change", "previous_id", "path", "messages")}
        for a in run.data["atoms"]
    ] == [
        {
            "id": "body",
            "change": "moved",
            "previous_id": None,
            "path": {"base": "atoms/body.yaml", "head": "atoms/welcome-body.yaml"},
            "messages": 0,
        },
        {
            "id": "shop-cta",
            "change": "renamed",
            "previous_id": "cta",
            "path": {"base": "atoms/cta.yaml", "head": "atoms/shop-cta.yaml"},
            "messages": 0,
        },
    ]
    text = project.diff("HEAD~1", "HEAD", fmt="text").output.splitlines()
    assert "no message changes (of 14): 0 added, 0 removed, 0 changed" in text
    assert "  renamed  shop-cta (was cta): changes no message" in text
    assert "  moved    body (atoms/body.yaml → atoms/welcome-body.yaml): changes no message" in text


def test_break_a_file(project: Project) -> None:
    project.commit(
        "oops", {"atoms/headline.yaml": "slot: headline\ntext: [unclosed\nstatus: approved\n"}
    )
    run = project.diff("HEAD~1", "HEAD")
    assert run.exit_code == 1
    data = run.data
    assert data["comparable"] is False and data["exit_code"] == 1
    assert data["base"]["valid"] is True and data["base"]["diagnostics"] == []
    assert data["head"]["valid"] is False
    assert [(d["path"], d["severity"], d["code"]) for d in data["head"]["diagnostics"]] == [
        ("atoms/headline.yaml", "error", "yaml.syntax")
    ]
    assert data["variants"] == [] and data["atoms"] == []
    text = project.diff("HEAD~1", "HEAD", fmt="text")
    assert text.exit_code == 1
    lines = text.output.splitlines()
    assert "head content has errors; the messages were not compared" in lines
    assert any(
        line.startswith("head: atoms/headline.yaml:3:7: error[yaml.syntax]: ") for line in lines
    )
    # The same break seen from the other side is marked base:.
    reverse = project.diff("HEAD", "HEAD~1", fmt="text")
    assert reverse.exit_code == 1
    assert any(
        line.startswith("base: atoms/headline.yaml:3:7: error[yaml.syntax]")
        for line in reverse.output.splitlines()
    )
    markdown = project.diff("HEAD~1", "HEAD", fmt="markdown").output
    assert markdown.startswith(
        "### atomic diff: head content has errors; the messages were not compared\n"
    )
    assert "**head** has 1 error:" in markdown


def test_a_required_slot_left_empty_makes_the_side_invalid(project: Project) -> None:
    project.commit("no generic headline", {"atoms/headline.yaml": None})
    run = project.diff("HEAD~1", "HEAD")
    assert run.exit_code == 1
    codes = {d["code"] for d in run.data["head"]["diagnostics"]}
    assert codes and all(d["severity"] == "error" for d in run.data["head"]["diagnostics"])


@pytest.mark.parametrize(
    ("old", "new", "code", "fragment"),
    [
        # validate's layout lint finds the typo before anything renders
        ("{{ slots.headline }}", "{{ mesage.step }}", "layout.unknown_name", "mesage"),
        ("</mjml>", "", "render.mjml_invalid", "MJML does not compile"),
    ],
    ids=["typo", "broken-mjml"],
)
def test_a_layout_that_fails_to_render_makes_the_side_invalid(
    project: Project, old: str, new: str, code: str, fragment: str
) -> None:
    mjml = (project.content / "layouts" / "email" / "basic.mjml").read_text(encoding="utf-8")
    project.commit("broken layout", {"layouts/email/basic.mjml": mjml.replace(old, new)})
    run = project.diff("HEAD~1", "HEAD")
    assert run.exit_code == 1
    diagnostics = run.data["head"]["diagnostics"]
    [problem] = [d for d in diagnostics if d["severity"] == "error"]
    assert problem["code"] == code
    # Warnings besides the error are the content's own (e.g. the German subject that never
    # wins because no German email is complete), not caused by the broken layout.
    assert all(d["code"].startswith("rank.") for d in diagnostics if d is not problem)
    assert fragment in problem["message"]


def test_retire_and_revive_an_atom(project: Project) -> None:
    retired = base_text("atoms/headline-vip.yaml").replace("approved", "retired")
    project.commit("retire the vip headline", {"atoms/headline-vip.yaml": retired})
    project.commit(
        "bring it back", {"atoms/headline-vip.yaml": base_text("atoms/headline-vip.yaml")}
    )
    run = project.diff("HEAD~1", "HEAD")
    assert run.exit_code == 1
    assert [
        (d["path"], d["line"], d["col"], d["severity"], d["code"], d["message"])
        for d in run.data["governance"]
    ] == [
        (
            "atoms/headline-vip.yaml",
            2,
            9,
            "error",
            "governance.retired_revival",
            "retired atom 'headline-vip' is approved again without a note",
        ),
        (
            "journeys/promo.yaml",
            1,
            1,
            "warning",
            "governance.change_budget",
            "this change alters 1 of 2 live variants of journey 'promo' (50%, budget 30%)",
        ),
    ]
    atom = run.data["atoms"][0]
    assert (atom["change"], atom["status"], atom["fields"]) == (
        "edited",
        {"base": "retired", "head": "approved"},
        ["status"],
    )
    text = project.diff("HEAD~1", "HEAD", fmt="text").output.splitlines()
    assert "Governance: 1 error, 1 warning" in text
    assert (
        "  edited   headline-vip (status retired → approved): changes 3 of 14 messages across 1 segment (vip)"
        in text
    )
    # With a note saying why, in the working tree: no finding.
    project.write(
        {
            "atoms/headline-vip.yaml": base_text("atoms/headline-vip.yaml")
            + "notes: Back for the winter sale.\n"
        }
    )
    fixed = project.diff("HEAD~1")
    assert fixed.exit_code == 0
    assert [d["code"] for d in fixed.data["governance"]] == ["governance.change_budget"]


def test_change_budget_at_level_error_and_allow_large_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(
        tmp_path / "repo",
        monkeypatch,
        **{"atomic.yaml": settings('{owner_required: "off", change_budget: error}')},
    )
    generic = base_text("atoms/headline.yaml").replace("Gear for every trail", "Trail gear, sorted")
    project.commit("generic headline", {"atoms/headline.yaml": generic})
    run = project.diff("HEAD~1", "HEAD")
    assert run.exit_code == 1
    assert [(d["path"], d["severity"], d["message"]) for d in run.data["governance"]] == [
        (
            "journeys/promo.yaml",
            "error",
            "this change alters 1 of 2 live variants of journey 'promo' (50%, budget 30%)",
        ),
        (
            "journeys/welcome.yaml",
            "error",
            "this change alters 4 of 12 live variants of journey 'welcome' (33%, budget 30%)",
        ),
    ]
    project.write(
        {
            "journeys/promo.yaml": "allow_large_change: true\n" + PROMO,
            "journeys/welcome.yaml": "allow_large_change: true\n" + JOURNEY,
        }
    )
    allowed = project.diff("HEAD~1")
    assert allowed.exit_code == 0 and allowed.data["governance"] == []


def test_the_rules_in_force_are_base_s(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project(
        tmp_path / "repo",
        monkeypatch,
        **{"atomic.yaml": settings('{owner_required: "off", change_budget: error}')},
    )
    generic = base_text("atoms/headline.yaml").replace("Gear for every trail", "Trail gear, sorted")
    # The change also turns the rule off; it still answers to the rule it was made under.
    project.commit(
        "sneaky",
        {
            "atoms/headline.yaml": generic,
            "atomic.yaml": settings('{owner_required: "off", change_budget: "off"}'),
        },
    )
    assert project.diff("HEAD~1", "HEAD").exit_code == 1


def test_content_folder_absent_on_one_side(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    project = Project(root, monkeypatch)
    project.git("init", "-q")
    (root / "README.md").write_text("# nothing yet\n", encoding="utf-8")
    project.commit("empty")
    write_tree(project.content, {"journeys/promo.yaml": PROMO})
    project.commit("content")
    added = project.diff("HEAD~1", "HEAD")
    assert added.exit_code == 0
    assert added.data["base"]["present"] is False and added.data["base"]["valid"] is True
    assert {v["change"] for v in added.data["variants"]} == {"added"}
    assert len(added.data["variants"]) == 14
    assert {a["change"] for a in added.data["atoms"]} == {"added"}
    assert added.data["governance"] == []
    removed = project.diff("HEAD", "HEAD~1", fmt="text")
    assert removed.exit_code == 0
    lines = removed.output.splitlines()
    assert (
        "head: no content folder at HEAD~1 ("
        + project.git("rev-parse", "HEAD~1").strip()[:10]
        + ") (counted as empty)"
        in lines
    )
    assert "14 of 14 messages change: 0 added, 14 removed, 0 changed" in lines


def test_content_folder_option_is_relative_to_the_repository(
    project: Project, tmp_path: Path
) -> None:
    project.commit("vip headline", VIP_EDIT)
    (project.root / "docs").mkdir()
    project.monkeypatch.chdir(project.root / "docs")
    result = CliRunner().invoke(
        main, ["diff", "HEAD~1", "HEAD", "--format", "json", "--date", DATE]
    )
    assert result.exit_code == 0 and json.loads(result.stdout)["summary"]["changed"] == 3
    absolute = CliRunner().invoke(
        main,
        [
            "diff",
            "HEAD~1",
            "HEAD",
            "--content",
            str(project.content),
            "--format",
            "json",
            "--date",
            DATE,
        ],
    )
    assert absolute.exit_code == 0 and json.loads(absolute.stdout)["content"] == "content"
    outside = CliRunner().invoke(main, ["diff", "HEAD~1", "--content", "../elsewhere"])
    assert outside.exit_code == 2 and "leaves the repository" in outside.stderr


def test_content_folder_absent_on_both_sides(project: Project) -> None:
    run = project.diff("HEAD", "--content", "copy")
    assert run.exit_code == 2
    assert run.stderr.splitlines()[0].startswith(
        "error: content folder 'copy' exists neither in HEAD ("
    )


def test_usage_errors(project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = project.diff("no-such-branch")
    assert run.exit_code == 2
    assert run.stderr.splitlines()[0] == "error: unknown revision 'no-such-branch'"
    # A revision that looks like an option reaches git only after --end-of-options, if at all.
    trap = tmp_path / "pwned"
    option_like = CliRunner().invoke(main, ["diff", "--format", "json", "--", f"--output={trap}"])
    assert option_like.exit_code == 2
    assert option_like.stderr.splitlines()[0] == f"error: unknown revision '--output={trap}'"
    assert not trap.exists()
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    monkeypatch.chdir(outside)
    result = CliRunner().invoke(main, ["diff"])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"error: not a git repository: {outside.as_posix()}"
    bad_date = CliRunner().invoke(main, ["diff", "--date", "tomorrow"])
    assert bad_date.exit_code == 2


def test_no_default_branch(project: Project) -> None:
    project.git("branch", "-m", "main", "trunk")
    run = project.diff()
    assert run.exit_code == 2
    assert "cannot find the default branch" in run.stderr
    assert "atomic diff BASE [HEAD]" in run.stderr


def test_out_file_and_deterministic_output(project: Project, tmp_path: Path) -> None:
    project.commit("vip headline", VIP_EDIT)
    project.monkeypatch.chdir(project.root)
    outputs = []
    for fmt in ("text", "markdown", "json"):
        runs = []
        for index in range(2):
            target = tmp_path / f"report-{fmt}-{index}.out"
            result = CliRunner().invoke(
                main,
                ["diff", "HEAD~1", "HEAD", "--format", fmt, "--date", DATE, "--out", str(target)],
            )
            assert result.exit_code == 0 and result.stdout == ""
            runs.append(target.read_text(encoding="utf-8"))
        assert runs[0] == runs[1]
        outputs.append(runs[0])
    assert outputs[1].startswith("### atomic diff: 3 of 14 messages change\n")


def test_date_defaults_to_source_date_epoch(project: Project) -> None:
    project.monkeypatch.setenv(
        "SOURCE_DATE_EPOCH", str(int(dt.datetime(2027, 1, 2, tzinfo=dt.UTC).timestamp()))
    )
    project.monkeypatch.chdir(project.root)
    result = CliRunner().invoke(main, ["diff", "HEAD", "--format", "json"])
    assert json.loads(result.stdout)["date"] == "2027-01-02"


# ------------------------------------------------------------------------ hostile content


def test_hostile_content_cannot_escape_markdown_or_forge_ci_commands(project: Project) -> None:
    hostile = (
        "slot: body\nstatus: approved\ntext: |\n  Thanks for joining.\n\n"
        "  Hi ```` @everyone ##[error]legacy $x$ *b* </details>\n\n"
        "  ::error file=x::forged\n\n"
        "  [Browse the shop](https://www.acme.example/shop)\n"
    )
    project.commit("hostile but valid", {"atoms/body.yaml": hostile})
    markdown = project.diff("HEAD~1", "HEAD", fmt="markdown").output
    text = project.diff("HEAD~1", "HEAD", fmt="text").output
    as_json = project.diff("HEAD~1", "HEAD", fmt="json").output
    for report in (markdown, text, as_json):
        assert "##[" not in report
        assert not any(line.lstrip().startswith("::") for line in report.splitlines())
    assert "legacy" in json.loads(as_json)["variants"][0]["preview_diff"]
    assert "##[error]legacy" in json.loads(as_json)["variants"][0]["preview_diff"]  # data intact
    # The preview sits in a fence longer than the content's longest backtick run.
    fences = re.findall(r"^(`{3,})diff$", markdown, flags=re.M)
    assert fences and all(len(f) >= 5 for f in fences)
    # The content's </details> sits inside the fence; ours close the sections.
    assert markdown.count("\n</details>\n") == markdown.count("<details>\n")
    assert "+Hi ```` @everyone" in markdown  # inside a code block mentions do not notify


def test_hostile_diagnostics_are_escaped(project: Project) -> None:
    # Validation echoes the offending HTML in its message: that text reaches the report.
    project.commit(
        "html in headlines",
        {
            "atoms/headline-vip.yaml": "slot: headline\nstatus: approved\nsegments: [vip]\n"
            "text: 'Hi <b data-x=\"@everyone\">x</b>'\n",
        },
    )
    markdown = project.diff("HEAD~1", "HEAD", fmt="markdown").output
    assert re.search(r"(?<!\\)<b", markdown) is None and "\\<b data-x=" in markdown
    assert "@everyone" not in markdown and "@\u200beveryone" in markdown
    assert "<details>" not in markdown  # nothing is folded when a side is invalid


# ------------------------------------------------------------------------- report units


def test_markdown_helpers() -> None:
    assert md_code("plain") == "`plain`"
    assert md_code("a `b` c") == "``a `b` c``"
    assert md_code("`x`") == "`` `x` ``"
    assert md_code("line\nbreak") == "`line%0Abreak`"
    assert (
        md_text("<b>*x*</b> | @team ~y~ $z$")
        == "\\<b\\>\\*x\\*\\</b\\> \\| @\u200bteam \\~y\\~ \\$z\\$"
    )
    assert md_fence(["```", "x"]) == ["````", "```", "x", "````"]
    assert md_fence(["a ````` b"], "diff") == ["``````diff", "a ````` b", "``````"]
    assert log_safe("::error::x") == ":\u200b:error::x"
    assert log_safe("   ::warning::x") == "   :\u200b:warning::x"
    assert log_safe("a ##[error] b") == "a #\u200b#[error] b"
    assert log_safe("a :: b") == "a :: b"
    assert visible("a\x1b[31mred\u202eevil\rx") == "a\\x1b[31mred\\u202eevil\\x0dx"


def test_preview_forms_per_channel() -> None:
    email = preview_lines(
        "email",
        {
            "subject.txt": b"Hello\n",
            "preheader.txt": b"Pre",
            "email.txt": b"Body line\n\nSecond",
            "email.html": b"<p>ignored</p>",
        },
    )
    assert email == ["Subject:   Hello", "Preheader: Pre", "─" * 40, "Body line", "", "Second"]
    app = preview_lines(
        "app",
        {
            "push.json": b'{"title": "T", "body": "B"}',
            "card.json": b"not json",
            "card_body.html": b"x",
        },
    )
    assert app == [
        "Push notification (push.json):",
        "{",
        '  "title": "T",',
        '  "body": "B"',
        "}",
        "",
        "In-app card (card.json):",
        "not json",
    ]
    page = (
        '<!doctype html><html lang="de"><head><title>T  itle</title>'
        '<meta name="description" content="Desc"><style>p{}</style></head><body>'
        "<h1>Head <em>line</em></h1><p>Para with <a href='https://x.example/'>a link</a>.</p>"
        '<img src="https://x.example/i.png" alt="Alt"><script>alert(1)</script>'
        "<ul><li>one</li><li>two</li></ul></body></html>"
    )
    assert preview_lines("microsite", {"index.html": page.encode()}) == [
        "Title: T itle",
        "Language: de",
        "Description: Desc",
        "",
        "# Head line",
        "Para with a link <https://x.example/>.",
        "[image: Alt] https://x.example/i.png",
        "one",
        "two",
    ]
    assert html_outline("") == []
    assert preview_lines("fax", {"page.txt": b"x\x07"}) == ["page.txt:", "x\\x07"]


def _synthetic(variants: int, atoms: int) -> DiffResult:
    base = SideInfo("base", "main (0123456789)", "main", "0" * 40, True, True, 500)
    head = SideInfo("head", "working tree", None, None, True, True, 500)
    changes = tuple(
        VariantChange(
            f"j/s/email/en/seg-{i:03d}",
            "j",
            "s",
            "email",
            "en",
            f"seg-{i:03d}",
            "changed",
            ("preview/email.txt",),
            (),
            "preview",
            "\n".join(
                [
                    "@@ -1,60 +1,60 @@",
                    *(f"-old {i} {n}" for n in range(60)),
                    *(f"+new {i} {n}" for n in range(60)),
                ]
            ),
        )
        for i in range(variants)
    )
    atom_changes = tuple(
        AtomChange(
            f"atom-{i:03d}",
            "edited",
            None,
            "a.yaml",
            "a.yaml",
            "approved",
            "approved",
            ("text",),
            (changes[i % variants].id,),
            (changes[i % variants].audience,),
            500,
        )
        for i in range(atoms)
    )
    cells = tuple(
        CellChange(
            "j", "s", "email", "headline", "en", f"seg-{i:03d}", "generic", "specific", "a", "b"
        )
        for i in range(40)
    )
    return DiffResult(
        base,
        head,
        "content",
        dt.date(2026, 11, 22),
        journeys=(JourneySummary("j", 500, 500, 0, 0, variants),),
        variants=changes,
        atoms=atom_changes,
        coverage=CoverageChange(better=cells),
        new_warnings=tuple(
            Diagnostic(f"atoms/a{i}.yaml", 1, 1, Severity.WARNING, "rank.shadowed", "m")
            for i in range(30)
        ),
    )


def test_markdown_caps_keep_a_big_change_readable() -> None:
    markdown = format_markdown(_synthetic(variants=300, atoms=60))
    lines = markdown.splitlines()
    assert lines[0] == "### atomic diff: 300 of 500 messages change"
    assert "- **Messages:** 0 added, 0 removed, 300 changed" in lines
    assert "- … and 35 more atoms" in lines
    assert "… and 290 more distinct changes" in lines
    assert "… and 81 more lines" in lines
    assert "- … and 15 more better" in lines
    assert "- … and 5 more new" in lines
    assert len(markdown) < MARKDOWN_MAX_CHARS
    # Summary before any folded detail; every <details> closed.
    assert markdown.index("- **Messages:**") < markdown.index("<details>")
    assert markdown.count("<details>") == markdown.count("</details>") == 5


def test_markdown_stays_under_the_comment_limit() -> None:
    result = _synthetic(variants=40, atoms=1)
    long_lines = tuple(
        VariantChange(
            v.id,
            v.journey,
            v.step,
            v.channel,
            v.locale,
            v.audience,
            v.change,
            v.files,
            v.slots,
            v.form,
            "\n".join(["@@ -1 +1 @@", *(("+" + "x" * 5000) for _ in range(60))]),
        )
        for v in result.variants
    )
    big = DiffResult(
        result.base,
        result.head,
        result.content,
        result.date,
        journeys=result.journeys,
        variants=long_lines,
    )
    markdown = format_markdown(big)
    assert len(markdown) < MARKDOWN_MAX_CHARS
    assert markdown.count("<details>") == markdown.count("</details>")


def test_text_and_json_of_the_same_result() -> None:
    result = _synthetic(variants=3, atoms=2)
    text = format_text(result)
    assert text.splitlines()[:4] == [
        "atomic diff: main (0123456789) → working tree",
        "content folder: content   date: 2026-11-22",
        "",
        "3 of 500 messages change: 0 added, 0 removed, 3 changed",
    ]
    data = json.loads(format_json(result))
    assert data["diff_version"] == 1 and data["summary"]["changed"] == 3
    assert data["coverage"]["source"] == "atomic_content.coverage"


# ------------------------------------------------------------------------------ the demo


@pytest.fixture
def demo_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    root = tmp_path / "demo"
    root.mkdir()
    project = Project(root, monkeypatch)
    project.git("init", "-q")
    shutil.copytree(REPO / "content", project.content)
    project.commit("demo content")
    yield project


@pytest.mark.slow
def test_demo_diff_of_the_last_commit(
    demo_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    headline = demo_project.content / "atoms" / "welcome" / "welcome-day0-headline.yaml"
    source = headline.read_text(encoding="utf-8")
    demo_project.write(
        {
            "atoms/welcome/welcome-day0-headline.yaml": source.replace(
                "welcome to Northwind", "good to see you"
            )
        }
    )
    demo_project.commit("friendlier day-0 headline")
    started = time.perf_counter()
    run = demo_project.diff("HEAD~1", fmt="markdown")
    seconds = time.perf_counter() - started
    assert run.exit_code == 0, run.output
    lines = run.output.splitlines()
    assert lines[0] == "### atomic diff: 15 of 228 messages change"
    assert "- **Atoms:** 1 edited" in lines
    assert (
        "- edited `welcome-day0-headline` (text): changes 15 of 228 messages across 5 segments "
        "(dach, deal-seeker, generic, mobile-first, new-customer)"
    ) in lines
    assert "-Hi Anna, welcome to Northwind" in lines and "+Hi Anna, good to see you" in lines
    with capsys.disabled():
        print(f"\n[atomic diff HEAD~1 on the demo content: {seconds:.1f}s]")


@pytest.mark.slow
def test_demo_diff_reach_of_a_targeted_german_headline(demo_project: Project) -> None:
    """Editing a German welcome headline for one segment changes exactly that journey, step,
    segment and language's variants (de, and de-AT, which falls back to de): no other journey
    is counted (a reported bug counted changes in the wrong journey)."""
    rel = "atoms/welcome/welcome-day3-headline-new-customer-de.yaml"
    source = (demo_project.content / rel).read_text(encoding="utf-8")
    assert "segments: [new-customer]" in source and "journeys: [welcome/day-3]" in source
    demo_project.commit(
        "friendlier German day-3 headline",
        {rel: source.replace("Neu hier?", "Zum ersten Mal hier?")},
    )
    run = demo_project.diff("HEAD~1", "HEAD")
    assert run.exit_code == 0, run.output
    data = run.data
    expected = [
        f"welcome/day-3/{channel}/{locale}/new-customer"
        for channel in ("email", "microsite")
        for locale in ("de-AT", "de")
    ]
    assert [(v["id"], v["change"]) for v in data["variants"]] == [
        (vid, "changed") for vid in expected
    ]
    for variant in data["variants"]:
        assert (variant["journey"], variant["step"], variant["audience"]) == (
            "welcome",
            "day-3",
            "new-customer",
        )
        assert variant["locale"] in ("de", "de-AT")
        assert variant["slots"] == {
            "headline": {
                "base": {
                    "atom": "welcome-day3-headline-new-customer-de",
                    "hash": variant["slots"]["headline"]["base"]["hash"],
                },
                "head": {
                    "atom": "welcome-day3-headline-new-customer-de",
                    "hash": variant["slots"]["headline"]["head"]["hash"],
                },
            }
        }
    changed = {journey: j["changed"] for journey, j in data["journeys"].items()}
    assert changed == {"cart-recovery": 0, "welcome": 4, "winback": 0}
    assert all(j["added"] == j["removed"] == 0 for j in data["journeys"].values())
    [atom] = data["atoms"]
    assert (atom["id"], atom["change"], atom["fields"]) == (
        "welcome-day3-headline-new-customer-de",
        "edited",
        ["text"],
    )
    assert atom["variants"] == sorted(expected) and atom["segments"] == ["new-customer"]
    assert data["coverage"]["better"] == data["coverage"]["worse"] == []
    text = demo_project.diff("HEAD~1", "HEAD", fmt="text").output.splitlines()
    assert "4 of 228 messages change: 0 added, 0 removed, 4 changed" in text
    assert "  by segment: new-customer 4" in text
    assert "  by locale:  de 2, de-AT 2" in text


# ------------------------------------------------------------------------ hooks and docs


def test_pre_commit_hook() -> None:
    from ruamel.yaml import YAML

    hooks = YAML(typ="safe").load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert [h["id"] for h in hooks] == ["atomic-validate"]
    hook = hooks[0]
    assert hook["entry"] == "atomic validate"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False
    pattern = re.compile(hook["files"])
    for path in (
        "content/atoms/welcome/a.yaml",
        "content/atomic.yaml",
        "content/segments/vip.yml",
        "content/layouts/email/standard.mjml",
        "content/layouts/microsite/landing.html.j2",
    ):
        assert pattern.search(path), path
    for path in (
        "src/atomic_content/diff.py",
        "docs/a.yaml",
        "content/README.md",
        "xcontent/a.yaml",
    ):
        assert not pattern.search(path), path


def test_review_docs_workflow_and_example() -> None:
    from ruamel.yaml import YAML

    doc = (REPO / "docs" / "review.md").read_text(encoding="utf-8")
    assert "fast: it only runs when the commit touches a content file" in doc
    workflow_text = re.search(r"```yaml\n(# \.github/workflows/content\.yml\n.*?)```", doc, re.S)
    assert workflow_text is not None
    workflow = YAML(typ="safe").load(workflow_text.group(1))
    runs = "\n".join(step.get("run", "") for step in workflow["jobs"]["review"]["steps"])
    assert "atomic validate --format github" in runs
    assert "atomic build" in runs and "atomic coverage" in runs
    assert 'atomic diff "origin/$BASE_REF" HEAD --format markdown --out diff.md' in runs
    assert "gh pr comment" in runs
    # The example is a real report: its sections are there, in order, and balanced.
    example = re.search(r"````markdown\n(.*?)\n````", doc, re.S)
    assert example is not None
    body = example.group(1)
    assert body.startswith("### atomic diff: 11 of 198 messages change")
    assert body.count("<details>") == body.count("</details>") == 5
    assert "governance.retired_revival" in body


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("content/report.md", "overlaps the content folder"),
        ("content/journeys/promo.yaml", "overlaps the content folder"),
        ("README.md", "refusing to replace README.md: the file exists"),
    ],
    ids=["into-the-content", "over-a-content-file", "over-a-file-of-the-repository"],
)
def test_out_never_replaces_content_nor_a_users_file(
    project: Project, out: str, message: str
) -> None:
    """``--out`` is checked before the diff is made: never in the content folder (not even
    with --force), never over an existing file without --force; the repository is unchanged
    (Project.diff checks it)."""
    force = ["--force"] if out.startswith("content/") else []
    run = project.diff("HEAD", "--out", out, *force, fmt="markdown")
    assert run.exit_code == 2, run
    assert message in run.stderr
