"""``atomic init``: a new brand that validates, builds and previews at once; never overwrites
silently; the README's snippet works as written. Plus the project-aware editor schemas."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from atomic_content.cli import main
from atomic_content.errors import Severity, UsageError
from atomic_content.init import init_project
from atomic_content.models import FILE_KINDS
from atomic_content.validate import check_content

REPO = Path(__file__).resolve().parent.parent
DAY = "2026-11-22"


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_init_validate_build_preview(tmp_path: Path) -> None:
    target = tmp_path / "acme"
    output = run("init", str(target), "--brand", "Acme Outdoor", "--locales", "en,de")
    assert f"wrote {28 + len(FILE_KINDS)} files" in output  # 27 starter files, the schemas
    content = target / "content"
    assert run("validate", "--content", str(content), "--strict", "--date", DAY).strip() == (
        "no problems"
    )
    run("build", "--content", str(content), "--out", str(tmp_path / "dist"), "--date", DAY)
    manifest = json.loads((tmp_path / "dist" / "manifest.json").read_text())
    channels = {variant["channel"] for variant in manifest["variants"]}
    assert channels == {"email", "app", "microsite"}
    for customer, audience in [("ada", "vip"), ("ben", "new-customer")]:
        shown = run(
            "preview", "--content", str(content), "--customer", customer, "--journey", "welcome"
        )
        assert f"audience: {audience}" in shown
        assert "Acme Outdoor" in shown
    settings = (content / "atomic.yaml").read_text()
    assert "name: Acme Outdoor" in settings
    assert "  de: {name: Deutsch, fallback: en}" in settings
    assert (target / ".github" / "workflows" / "content.yml").is_file()
    hooks = YAML(typ="safe").load((target / ".pre-commit-config.yaml").read_text())
    assert hooks["repos"][0]["hooks"][0]["entry"] == "atomic validate --content content"
    atoms = list((content / "atoms").rglob("*.yaml"))
    assert len(atoms) == 12
    # The schemas it wrote are the project's, and current.
    run("schema", "--content", str(content), "--check")


def test_init_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    result = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert result.exit_code == 2
    assert f"error: {tmp_path.as_posix()} is not empty" in result.output
    assert "pass --force" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_init_force_names_every_replaced_file(tmp_path: Path) -> None:
    init_project(tmp_path, brand="First")
    (tmp_path / "content" / "atomic.yaml").write_text("edited\n")
    (tmp_path / "keep.txt").write_text("mine\n")
    result = CliRunner().invoke(main, ["init", str(tmp_path), "--brand", "Second", "--force"])
    assert result.exit_code == 0, result.output
    assert f"replaced {(tmp_path / 'content' / 'atomic.yaml').as_posix()}" in result.output
    assert "name: Second" in (tmp_path / "content" / "atomic.yaml").read_text()
    assert (tmp_path / "keep.txt").read_text() == "mine\n"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"locales": ["en", "de_AT"]}, "'de_AT' is not a locale"),
        ({"brand": "  "}, "'' cannot be a brand name here"),
    ],
)
def test_init_refuses_bad_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        init_project(tmp_path / "x", **kwargs)
    assert str(caught.value) == message
    assert not (tmp_path / "x").exists()


def test_readme_init_snippet_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- snippet: init[^>]*-->\n```sh\n(.*?)\n```", readme, flags=re.S)
    assert block is not None, "README lost its `atomic init` snippet"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795305600")  # 2026-11-22
    ran = []
    for line in block.group(1).splitlines():
        words = shlex.split(line)
        if words[0] == "cd":
            monkeypatch.chdir(Path.cwd() / words[1])
            continue
        assert words[0] == "atomic", line
        result = CliRunner().invoke(main, words[1:])
        assert result.exit_code == 0, (line, result.output)
        ran.append(words[1])
    assert ran == ["init", "validate", "build", "preview"]


# -- project-aware schemas ----------------------------------------------------------------------


def test_project_schemas_flag_unknown_ids(tmp_path: Path) -> None:
    init_project(tmp_path, brand="Acme")
    schemas = tmp_path / "schemas"
    atom = json.loads((schemas / "atom.schema.json").read_text())
    journey = json.loads((schemas / "journey.schema.json").read_text())
    layout = json.loads((schemas / "layout.schema.json").read_text())
    good = {"slot": "headline", "segments": ["vip"], "journeys": ["welcome/day-0"], "text": "Hi"}
    jsonschema.validate(good, atom)
    for field, value in [
        ("segments", ["vipp"]),
        ("slot", "headlin"),
        ("locale", "fr"),
        ("channels", ["emial"]),
        ("journeys", ["welcom"]),
    ]:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**good, field: value}, atom)
    step = {"name": "W", "steps": [{"id": "a", "channels": {"email": "standard"}}]}
    jsonschema.validate(step, journey)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {**step, "steps": [{"id": "a", "channels": {"email": "basic"}}]}, journey
        )
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"slots": {"headlin": "required"}}, layout)


def test_validate_hints_at_stale_schemas(tmp_path: Path) -> None:
    init_project(tmp_path, brand="Acme")
    content = tmp_path / "content"
    (content / "segments" / "lapsed.yaml").write_text("name: Lapsed\ncondition: {orders: 0}\n")
    _library, diagnostics = check_content(content)
    stale = [d for d in diagnostics if d.code == "schema.stale"]
    assert [(d.path, d.severity, d.message) for d in stale] == [
        (
            "../schemas",
            Severity.HINT,
            "the editor schemas are out of date: they list other segment, slot, locale, "
            f"channel, journey or layout ids than the content has ({len(FILE_KINDS)} files)",
        )
    ]
    assert "run `atomic schema`" in stale[0].hint
    # A schema without a stamp (written with --generic, or by hand) is not judged.
    run("schema", "--content", str(content), "--generic")
    assert not [d for d in check_content(content)[1] if d.code == "schema.stale"]
    run("schema", "--content", str(content))
    assert not [d for d in check_content(content)[1] if d.code == "schema.stale"]
    (content / "segments" / "dormant.yaml").write_text("name: Dormant\ncondition: {orders: 1}\n")
    # A hint never fails validate, not even with --strict.
    result = CliRunner().invoke(main, ["validate", "--content", str(content), "--strict"])
    assert result.exit_code == 0, result.output
    assert "../schemas: hint[schema.stale]" in result.output
    assert result.output.rstrip().endswith("1 hint")
    check = CliRunner().invoke(main, ["schema", "--content", str(content), "--check"])
    assert check.exit_code == 1
    run("schema", "--content", str(content))
    _library, diagnostics = check_content(content)
    assert not [d for d in diagnostics if d.code == "schema.stale"]


@pytest.mark.parametrize(
    ("brand", "scheme"),
    [
        ("Acme Outdoor", "acmeoutdoor"),
        ("1st Choice", "brand1stchoice"),  # a scheme starts with a letter
        ("Data", "datalink"),  # data: (and javascript:, https: ...) are the browser's own
        ("JavaScript", "javascriptlink"),
        ("HTTPS", "httpslink"),
    ],
)
def test_init_names_a_deep_link_scheme_that_validates(
    tmp_path: Path, brand: str, scheme: str
) -> None:
    init_project(tmp_path / "p", brand=brand)
    settings = YAML(typ="safe").load((tmp_path / "p" / "content" / "atomic.yaml").read_text())
    assert settings["brand"]["deep_link_scheme"] == scheme
    _library, diagnostics = check_content(tmp_path / "p" / "content")
    assert not diagnostics.has_errors, [d.message for d in diagnostics]


def test_no_stale_schema_hint_while_a_file_does_not_load(tmp_path: Path) -> None:
    """A journey that does not load is missing from the ids: the schemas only look stale, and
    `atomic schema` would then drop its ids. Its own error is what to fix."""
    init_project(tmp_path, brand="Acme")
    content = tmp_path / "content"
    journey = next((content / "journeys").glob("*.yaml"))
    journey.write_text(journey.read_text().replace("steps:", "stepz:", 1))
    _library, diagnostics = check_content(content)
    assert diagnostics.has_errors
    assert not [d for d in diagnostics if d.code == "schema.stale"]
