"""``atomic serve`` over real HTTP (uvicorn in a thread, a copy of the demo content): pages,
the sandboxed frames, the CSP on every response, file serving without path traversal, the
record check of the customer form, diagnostics instead of messages while the content is broken,
and no state change on GET (send-test is a same-origin POST)."""

from __future__ import annotations

import datetime as dt
import http.client
import re
import shutil
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from click.testing import CliRunner

from atomic_content.cli import main
from atomic_content.errors import UsageError
from atomic_content.serve import StudioConfig, check_host, is_loopback
from atomic_content.serve.app import FRAME_CSP, PAGE_CSP
from atomic_content.serve.server import Running, serve_in_thread, started_studio
from conftest import DEMO_CONTENT

DAY = dt.date(2026, 11, 22)
EMAIL = "/message?journey=welcome&step=day-0&channel=email&customer=anna"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, Path]]:
    root = tmp_path_factory.mktemp("serve")
    content = root / "content"
    shutil.copytree(DEMO_CONTENT, content)
    (root / "secret.txt").write_text("outside the content folder\n", encoding="utf-8")
    out = root / "dist"
    out.mkdir()
    (out / "link-out.txt").symlink_to(root / "secret.txt")
    (out / ".hidden").write_text("hidden", encoding="utf-8")
    (out / "index.html").write_text("<p>built</p>\n", encoding="utf-8")
    config = StudioConfig(content, out=out, start=DAY)
    with serve_in_thread(config) as running:
        yield running, content


def raw_get(url: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """GET ``path`` exactly as written (no client-side normalization of ``..``)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_pages_render_with_strict_csp(served: tuple[Running, Path]) -> None:
    running, _content = served
    with httpx.Client(base_url=running.url, timeout=60) as client:
        for path in (
            EMAIL,
            "/message?journey=cart-recovery&step=nudge-1h&channel=app&customer=tom",
            "/message?journey=welcome&step=day-3&channel=microsite&customer=jonas",
            "/message?journey=welcome&step=day-0&channel=email&audience=dach",
            "/grid?journey=welcome&step=day-0&channel=email",
            "/coverage",
            "/diagnostics",
            "/static/studio.css",
        ):
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.headers["content-security-policy"] == PAGE_CSP, path
            assert response.headers["x-content-type-options"] == "nosniff"
            assert "Traceback" not in response.text
        page = client.get(EMAIL).text
        assert "welcome/day-0/email/de-AT/dach" in page  # anna's variant, routed by the plan
        assert "Gmail clipping" in page and "Subject" in page
        assert "vscode://file/" in page  # atoms link to their file and line
        frames = re.findall(r"<iframe[^>]*>", page)
        assert frames, "the email is shown in frames"
        for frame in frames:
            assert 'sandbox=""' in frame, frame
            assert "allow-scripts" not in frame
        src = unescape(re.search(r'src="(/frame[^"]+)"', page).group(1))  # type: ignore[union-attr]
        response = client.get(src)
        assert response.status_code == 200
        assert response.headers["content-security-policy"] == FRAME_CSP
        assert "sandbox" in FRAME_CSP and "script-src" not in FRAME_CSP
        assert "Servus Anna" in response.text


def test_routes_answer_404_with_csp(served: tuple[Running, Path]) -> None:
    running, _content = served
    status, _body = raw_get(running.url, "/no-such-page")
    assert status == 404
    response = httpx.get(running.url + "/no-such-page")
    assert response.headers["content-security-policy"] == PAGE_CSP


@pytest.mark.parametrize(
    "path",
    [
        "/files/content/../secret.txt",
        "/files/content/%2e%2e/secret.txt",
        "/files/content/..%2fsecret.txt",
        "/files/content/atoms/../../secret.txt",
        "/files/content//etc/passwd",
        "/files/content/%2fetc%2fpasswd",
        "/files/out/link-out.txt",  # a link out of the folder
        "/files/out/.hidden",
        "/files/content/atoms",  # a folder
        "/files/out/../content/atomic.yaml",
        "/files/home/.bashrc",
        "/files/content/atomic.yaml%00.png",
        "/files/content/..\\secret.txt",
    ],
)
def test_path_traversal_is_refused(served: tuple[Running, Path], path: str) -> None:
    running, _content = served
    status, body = raw_get(running.url, path)
    assert status in (400, 404), (path, status)
    assert b"outside the content folder" not in body
    assert b"root:" not in body


def test_files_under_content_and_out_are_served(served: tuple[Running, Path]) -> None:
    running, _content = served
    response = httpx.get(running.url + "/files/content/atomic.yaml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["content-security-policy"] == FRAME_CSP
    built = httpx.get(running.url + "/files/out/index.html")
    assert built.status_code == 200 and "built" in built.text
    assert built.headers["content-security-policy"] == FRAME_CSP  # no script, even top-level


def test_other_host_names_are_refused(served: tuple[Running, Path]) -> None:
    """A DNS-rebinding page (Host: attacker.example) gets nothing."""
    running, _content = served
    status, _body = raw_get(running.url, EMAIL, {"Host": "attacker.example"})
    assert status == 400


def test_send_test_is_post_only_and_same_origin(served: tuple[Running, Path]) -> None:
    running, _content = served
    form = {"journey": "welcome", "step": "day-0", "channel": "email", "customer": "anna"}
    with httpx.Client(base_url=running.url, timeout=60) as client:
        assert client.get("/send-test").status_code == 405
        refused = client.post("/send-test", data={**form, "to": "me@example.com"})
        assert refused.status_code == 403  # no Origin, no Sec-Fetch-Site
        foreign = client.post(
            "/send-test",
            data={**form, "to": "me@example.com"},
            headers={"Origin": "https://attacker.example"},
        )
        assert foreign.status_code == 403
        same = client.post(
            "/send-test", data={**form, "to": "me@example.com"}, headers={"Origin": running.url}
        )
        # Same origin, but this studio was started without --smtp: refused with a reason.
        assert same.status_code == 400
        assert "--smtp" in same.text


def test_customer_form_uses_the_record_check(served: tuple[Running, Path]) -> None:
    running, _content = served
    base = "/message?journey=welcome&step=day-0&channel=email&customer=anna&edited=1"
    with httpx.Client(base_url=running.url, timeout=60) as client:
        bad = client.get(base + "&a.id=X1&a.email=x%40example.com&a.orders.count=many")
        assert bad.status_code == 200
        assert "record-problems" in bad.text
        assert "orders.count" in bad.text
        good = client.get(
            base + "&a.id=X1&a.email=x%40example.com&a.locale=en&a.tier=gold&a.orders.count=3"
            "&a.lifetime_value=10&a.app_installed=false&a.sessions_mobile_share=0.1"
            "&a.discount_affinity=0.1&a.last_active_days=3&a.consent.personalization=true"
            "&a.consent.email_marketing=true&a.consent.profiling=true"
            "&a.signup_date=2026-11-01&a.first_name=Zelda"
        )
        assert good.status_code == 200
        assert "record-problems" not in good.text
        assert (
            "Zelda"
            in httpx.get(
                running.url + unescape(re.search(r'src="(/frame[^"]+)"', good.text).group(1))  # type: ignore[union-attr]
            ).text
        )


def wait_for(predicate: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_broken_content_shows_diagnostics_and_recovers(
    tmp_path: Path,
) -> None:
    content = tmp_path / "content"
    shutil.copytree(DEMO_CONTENT, content)
    atom = content / "atoms" / "welcome" / "welcome-day0-subject-de.yaml"
    original = atom.read_text(encoding="utf-8")
    with serve_in_thread(StudioConfig(content, start=DAY)) as running:
        generation = running.studio.generation
        atom.write_text(original.replace("slot: subject", "slot: [subject"), encoding="utf-8")
        wait_for(lambda: running.studio.generation > generation)
        page = httpx.get(running.url + EMAIL, timeout=60)
        assert page.status_code == 200
        assert "The content has errors" in page.text
        assert "atoms/welcome/welcome-day0-subject-de.yaml:" in page.text
        generation = running.studio.generation
        atom.write_text(original, encoding="utf-8")
        wait_for(lambda: running.studio.generation > generation and running.studio.snapshot.ok)  # type: ignore[union-attr]
        page = httpx.get(running.url + EMAIL, timeout=60)
        assert "The content has errors" not in page.text
        assert "welcome/day-0/email/de-AT/dach" in page.text


def test_event_stream_announces_a_new_check(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(DEMO_CONTENT, content)
    with serve_in_thread(StudioConfig(content, start=DAY)) as running:
        since = running.studio.generation
        with httpx.stream("GET", f"{running.url}/events?since={since}", timeout=60) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert next(lines).startswith("retry:")
            atom = content / "atoms" / "welcome" / "welcome-day0-subject-de.yaml"
            atom.write_text(atom.read_text(encoding="utf-8") + "\n", encoding="utf-8")
            for line in lines:
                if line.startswith("event:"):
                    assert line == "event: change"
                    break


def test_serve_binds_to_loopback_unless_allowed() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    check_host("127.0.0.1", allow_remote=False)
    check_host("0.0.0.0", allow_remote=True)
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--content", "content"])
    assert result.exit_code == 2
    assert "refusing to serve on '0.0.0.0'" in result.output


def test_serving_a_content_folder_that_does_not_exist_is_a_usage_error(tmp_path: Path) -> None:
    """Refused before the server starts, with the fix (the watcher thread used to die with a
    traceback while the studio served on). `atomic serve` exits 2 with it, as for any
    UsageError."""
    missing = tmp_path / "content"
    studio = None
    with pytest.raises(UsageError) as caught:
        studio = started_studio(StudioConfig(content=missing), jobs=1)
    if studio is not None:  # the bug: close what it started
        studio.close()
    assert str(caught.value) == f"content folder '{missing.as_posix()}' does not exist"
    assert caught.value.hint == "run from your project folder or pass --content DIR"
