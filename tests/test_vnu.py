"""The Nu Html Checker (vnu, the W3C validator) finds no error on any demo microsite page.

Every page the demo build writes (each microsite variant's preview form, with the profile's
example customer) goes through one ``vnu.jar`` run. The checker comes from npm's ``vnu-jar``
and needs Java; it is looked up at ``$ATOMIC_VNU_JAR`` or ``tests/.node/node_modules/vnu-jar``
(where ``.ci/run`` installs it). Skipped when either is missing, unless ``ATOMIC_REQUIRE_VNU=1``
(CI), where that fails.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from atomic_content.build import build

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "content"
DAY = dt.date(2026, 11, 22)
DEFAULT_JAR = REPO / "tests" / ".node" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


def vnu_command() -> list[str]:
    jar = Path(os.environ.get("ATOMIC_VNU_JAR", DEFAULT_JAR))
    java = shutil.which("java")
    if not jar.is_file() or java is None:
        if os.environ.get("ATOMIC_REQUIRE_VNU") == "1":
            pytest.fail(f"the Nu Html Checker is required (ATOMIC_REQUIRE_VNU=1): {jar}, java")
        pytest.skip("vnu.jar or Java is missing (npm install --prefix tests/.node vnu-jar)")
    return [java, "-jar", str(jar)]


def test_every_demo_page_passes_the_nu_html_checker(tmp_path: Path) -> None:
    command = vnu_command()
    out = tmp_path / "dist"
    build(DEMO, out, on=DAY, until=DAY, jobs=1)
    pages = sorted(out.resolve().glob("*/*/microsite/*/*/preview/index.html"))
    assert len(pages) >= 9, "the demo has microsite pages in several locales and audiences"
    run = subprocess.run(
        [*command, "--errors-only", "--format", "json", *map(str, pages)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # vnu writes its JSON report to stderr and exits 1 when it found errors.
    report = json.loads(run.stderr)
    errors = [m for m in report["messages"] if m.get("type") == "error"]
    print(f"Nu Html Checker: {len(pages)} pages, {len(errors)} errors")
    shown = [f"{Path(m.get('url', '')).parent.parent.name}: {m.get('message')}" for m in errors]
    assert errors == [], "\n".join(shown[:20])
    assert run.returncode == 0
