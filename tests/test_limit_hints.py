"""Channel limits tell the editor the right fix, and the layout's own problems are reported
once, at the layout.

Every problem code a channel can report (read from the channel modules' source, so a new code
cannot be missed) has a fix: its channel's advice, or "shorten" for the lengths measured by
``length_problems``. A message that is too short or empty is never told to shorten."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

from atomic_content.channels import RENDERERS, limit_advice, limit_hint
from atomic_content.errors import Diagnostic
from atomic_content.validate import check_content
from contentkit import JOURNEY, SETTINGS, write_tree

CHANNELS = Path(__file__).parent.parent / "src" / "atomic_content" / "channels"


def _reported_codes() -> tuple[set[str], set[str]]:
    """``(codes only the channel's advice can explain, length codes)`` that the channel
    modules pass to ``LimitProblem(...)``, to microsite's ``warn(...)`` or to
    ``length_problems(code=..., hard_code=...)``."""
    advised: set[str] = set()
    lengths: set[str] = set()
    for module in CHANNELS.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            name = node.func.id
            literal = [a.value for a in node.args if isinstance(a, ast.Constant)]
            if name == "LimitProblem" and len(node.args) > 1:
                code = node.args[1]
                if isinstance(code, ast.Constant) and isinstance(code.value, str):
                    advised.add(code.value)
            elif name == "warn" and literal and isinstance(literal[0], str):
                advised.add(literal[0])
            elif name == "length_problems":
                for keyword in node.keywords:
                    if isinstance(keyword.value, ast.Constant) and keyword.arg == "hard_code":
                        advised.add(str(keyword.value.value))
                    elif isinstance(keyword.value, ast.Constant) and keyword.arg == "code":
                        lengths |= {
                            f"{keyword.value.value}_too_long",
                            f"{keyword.value.value}_long",
                        }
    return advised, lengths


def test_the_source_scan_finds_the_codes() -> None:
    """The scan below is only as good as what it finds: one code of each way of reporting."""
    advised, lengths = _reported_codes()
    assert {"email.preheader_short", "microsite.no_viewport", "sms.too_many_segments"} <= advised
    assert {"email.subject_long", "app.push_payload_long"} <= lengths
    assert {code.partition(".")[0] for code in advised | lengths} == set(RENDERERS)


def test_every_code_a_channel_reports_has_its_fix() -> None:
    advised, lengths = _reported_codes()
    missing = sorted(code for code in advised if limit_advice(code) is None)
    assert not missing, f"limit codes without a LimitAdvice in their channel: {missing}"
    # A length code gets the generic fix, so no advice should shadow it by accident ...
    assert not sorted(code for code in lengths if limit_advice(code) is not None)
    # ... and no advice is left for a code no channel reports any more.
    declared = {code for renderer in RENDERERS.values() for code in renderer.limit_advice}
    assert declared == advised
    for name, renderer in RENDERERS.items():
        assert all(code.startswith(f"{name}.") for code in renderer.limit_advice)
        assert all(advice.hint.strip() for advice in renderer.limit_advice.values())


@pytest.mark.parametrize(
    ("code", "slot", "expected"),
    [
        ("email.subject_long", "subject", "shorten the text of the `subject` atom"),
        ("email.subject_too_long", "subject", "shorten the text of the `subject` atom"),
        ("sms.segments_long", None, "shorten the atoms of this message"),
        ("email.preheader_short", "preheader", "write a longer preheader"),
        ("email.preheader_short", None, "write a longer preheader"),
        ("email.subject_empty", None, "give the message a subject"),
        ("app.push_title_empty", "push_title", "give the message a push title"),
        ("microsite.no_viewport", None, '<meta name="viewport"'),
        ("microsite.no_description", None, '<meta name="description"'),
        ("sms.ucs2", None, "use plain characters"),
    ],
)
def test_the_fix_points_the_right_way(code: str, slot: str | None, expected: str) -> None:
    hint = limit_hint(code, slot)
    assert expected in hint
    if not code.endswith(("_long", "_large")):  # too short, empty, missing, not allowed
        assert "shorten" not in hint


def _warning(diagnostics: list[Diagnostic], code: str) -> list[Diagnostic]:
    return [d for d in diagnostics if d.code == code]


def test_a_missing_preheader_is_not_to_be_shortened(tmp_path: Path) -> None:
    """No preheader atom: at the journey step. A short one: at its atom. Both: lengthen."""
    write_tree(tmp_path / "none")
    _library, diagnostics = check_content(tmp_path / "none")
    (missing,) = _warning(list(diagnostics), "email.preheader_short")
    assert (missing.path, missing.line) == ("journeys/welcome.yaml", 7)
    assert missing.hint.startswith("write a longer preheader: lengthen its atom, or add")

    short = "slot: preheader\nstatus: approved\ntext: Trails await\n"
    write_tree(tmp_path / "short", {"atoms/preheader.yaml": short})
    _library, diagnostics = check_content(tmp_path / "short")
    (found,) = _warning(list(diagnostics), "email.preheader_short")
    assert (found.path, found.line, found.col) == ("atoms/preheader.yaml", 3, 7)
    assert found.hint == missing.hint


PAGE_WITHOUT_HEAD = """\
<!doctype html>
<html>
<body><h1>{{ slots.headline }}</h1><p>{{ slots.summary }}</p>{{ slots.body }}
<a href="{{ slots.cta.url }}">{{ slots.cta.label }}</a></body>
</html>
"""


def test_a_layouts_own_problem_is_reported_once_at_the_layout(tmp_path: Path) -> None:
    """A page layout without viewport and lang: one warning each at its template for every
    message that uses it, with the fix in the layout, not one per journey step."""
    steps = "\n".join(
        f"  - id: {step}\n    trigger: Sign-up\n    channels: {{microsite: page}}"
        for step in ("day-0", "day-3")
    )
    write_tree(
        tmp_path,
        {
            "atomic.yaml": SETTINGS.replace("  app: {}\n", "  app: {}\n  microsite: {}\n").replace(
                "  body: {kind: markdown}\n", "  body: {kind: markdown}\n  summary: {kind: line}\n"
            ),
            "journeys/welcome.yaml": JOURNEY.split("steps:")[0] + "steps:\n" + steps + "\n",
            "layouts/microsite/page.yaml": "template: page.html.j2\nslots:\n  headline: required\n"
            "  summary: required\n  body: required\n  cta: required\n",
            "layouts/microsite/page.html.j2": PAGE_WITHOUT_HEAD,
            "atoms/summary.yaml": "slot: summary\nstatus: approved\ntext: Boots that last.\n",
        },
    )
    _library, diagnostics = check_content(tmp_path)
    for code, fix in (
        ("microsite.no_viewport", '<meta name="viewport"'),
        ("microsite.no_lang", '<html lang="{{ message.lang }}">'),
    ):
        (found,) = _warning(list(diagnostics), code)
        assert (found.path, found.line, found.col) == ("layouts/microsite/page.html.j2", 1, 1)
        assert fix in found.hint
        assert "variants, e.g. welcome/day-0/microsite/" in found.message
    # The page's title comes from a headline atom as much as from the layout: at the step.
    titles = _warning(list(diagnostics), "microsite.no_title")
    assert {(d.path, d.line) for d in titles} == {
        ("journeys/welcome.yaml", 7),
        ("journeys/welcome.yaml", 10),
    }
    assert all("`headline` atom" in d.hint for d in titles)


def test_preview_shows_the_same_fix(tmp_path: Path) -> None:
    """``atomic preview`` (text, JSON and the problems it prints beside an HTML document)
    gives each limit problem the fix the build gives it."""
    import json

    from click.testing import CliRunner

    import atomic_content.cli.preview_cmd  # noqa: F401  (registers `atomic preview`)
    from atomic_content.cli import main

    write_tree(tmp_path)
    fix = limit_hint("email.preheader_short", None)
    args = ["preview", "--content", str(tmp_path), "--customer", "ada", "--journey", "welcome"]
    args += ["--step", "day-0", "--channel", "email", "--date", "2026-12-01"]
    runner = CliRunner()
    text = runner.invoke(main, args)
    assert text.exit_code == 0, text.stderr
    lines = text.stdout.splitlines()
    (at,) = [i for i, line in enumerate(lines) if line.startswith("  warning[email.preheader_")]
    assert lines[at + 1] == f"    hint: {fix}"
    shown = json.loads(runner.invoke(main, [*args, "--format", "json"]).stdout)
    (problem,) = [p for p in shown[0]["problems"] if p["code"] == "email.preheader_short"]
    assert problem["hint"] == fix
    html = runner.invoke(main, [*args, "--format", "html"])
    assert "welcome/day-0/email/en: warning[email.preheader_short]" in html.stderr
    assert f"\n  hint: {fix}\n" in html.stderr


def test_the_studio_shows_the_fix(tmp_path: Path) -> None:
    import datetime as dt
    from html import unescape

    import httpx

    from atomic_content.serve import StudioConfig
    from atomic_content.serve.server import serve_in_thread

    content = write_tree(tmp_path / "content")
    (tmp_path / "dist").mkdir()
    config = StudioConfig(content, out=tmp_path / "dist", start=dt.date(2026, 12, 1))
    with serve_in_thread(config) as running, httpx.Client(base_url=running.url, timeout=60) as c:
        page = c.get("/message?journey=welcome&step=day-0&channel=email&customer=ada").text
    assert "warning[email.preheader_short]" in page
    assert f"hint: {limit_hint('email.preheader_short', None)}" in unescape(page)


def test_the_runtime_tells_the_fix_for_one_customers_values(tmp_path: Path) -> None:
    """At send time a customer's values can break a hard limit the build could not see: a
    blank first name empties a subject of only that token (fix: a default), a long one makes
    it too long (fix: shorter)."""
    from atomic_content.build import build
    from atomic_content.bundle import load_bundle
    from atomic_content.errors import RenderError

    subject = "slot: subject\nchannels: [email]\nstatus: approved\n"
    subject += "text: \"{{ customer.first_name | default('') }}\"\n"
    content = write_tree(tmp_path / "content", {"atoms/subject.yaml": subject})
    build(content, tmp_path / "dist", on=dt.date(2026, 12, 1), jobs=1)
    bundle = load_bundle(tmp_path / "dist")
    record = {"id": "C-9", "locale": "en", "tier": "silver", "orders": 1}
    where = {"journey": "welcome", "step": "day-0", "channel": "email", "on": dt.date(2026, 12, 1)}
    for first_name, code, fix in (
        (" ", "email.subject_empty", "give its tokens a default"),
        ("A" * 200, "email.subject_too_long", "shorten the atoms or give the tokens a shorter"),
    ):
        with pytest.raises(RenderError) as raised:
            bundle.render({**record, "first_name": first_name}, **where)
        assert raised.value.code == code
        assert fix in (raised.value.hint or "")
