"""Rendered pages in a real browser: headless Chromium over the DevTools protocol.

Each page (the microsite page, the email HTML, the app preview) is opened from a file; every
http(s) request it makes is answered locally (images get a 1x1 PNG, anything else is recorded
and refused), so the test needs no network and proves the page loads nothing but images. We
assert that the page loads, logs no console error or exception, and that the headline is in
the DOM and visible.

Skipped when Chromium is missing, unless ``ATOMIC_REQUIRE_CHROMIUM=1`` (CI), where that fails.
The WebSocket client below is the minimum of RFC 6455 the DevTools endpoint needs (no new
dependency).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from atomic_content.channels import get_renderer
from atomic_content.repository import Library
from conftest import render_run_message

pytestmark = pytest.mark.chromium

PNG_1X1 = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
        "0000000d4944415478da63f8cfc0f01f0005000201ffa1a2b1a10000000049454e44ae426082"
    )
).decode()


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


# -- a minimal WebSocket client --------------------------------------------------------------


class WebSocket:
    """Text frames over one TCP connection, client side (masked), enough for DevTools."""

    def __init__(self, host: str, port: int, path: str, timeout: float = 30.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            response += chunk
        head, _, self.buffer = response.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"WebSocket upgrade refused: {head[:200]!r}")

    def _read(self, count: int) -> bytes:
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        header = bytes([0x80 | opcode])
        length = len(payload)
        if length < 126:
            header += bytes([0x80 | length])
        elif length < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", length)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", length)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send(self, text: str) -> None:
        self._send_frame(0x1, text.encode())

    def receive(self) -> str:
        message = b""
        while True:
            first, second = self._read(2)
            opcode, length = first & 0x0F, second & 0x7F
            if length == 126:
                (length,) = struct.unpack(">H", self._read(2))
            elif length == 127:
                (length,) = struct.unpack(">Q", self._read(8))
            mask = self._read(4) if second & 0x80 else b""
            payload = self._read(length)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x9:  # ping
                self._send_frame(0xA, payload)
                continue
            if opcode == 0x8:
                raise ConnectionError("DevTools closed the WebSocket")
            message += payload
            if first & 0x80:
                return message.decode()

    def close(self) -> None:
        self.sock.close()


# -- DevTools -------------------------------------------------------------------------------


@dataclass
class PageReport:
    """What happened while a page loaded."""

    errors: list[str] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    loaded: bool = False


class Browser:
    """One headless Chromium; :meth:`open` loads a file in a fresh tab."""

    def __init__(self, executable: str, profile: Path) -> None:
        self.process = subprocess.Popen(
            [
                executable,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and len(port_file.read_text().splitlines()) >= 2):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError("Chromium did not open its DevTools port")
            time.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        self.ws = WebSocket("127.0.0.1", int(port), path)
        self._next = 0
        self._events: list[dict[str, Any]] = []

    def stop(self) -> None:
        if getattr(self, "ws", None) is not None:
            self.ws.close()
        if self.process.poll() is None:
            # The browser's own process group (start_new_session): its renderer children too.
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> Any:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.receive())
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)

    def _event(self, timeout: float) -> dict[str, Any] | None:
        if self._events:
            return self._events.pop(0)
        self.ws.sock.settimeout(timeout)
        try:
            return dict(json.loads(self.ws.receive()))
        except TimeoutError:
            return None
        finally:
            self.ws.sock.settimeout(30)

    def open(
        self,
        page: Path,
        expression: str,
        *,
        await_promise: bool = False,
        media: dict[str, str] | None = None,
    ) -> tuple[PageReport, Any]:
        """Load ``page``, answer its requests, then evaluate ``expression`` (JSON result;
        with ``await_promise`` the value the promise it returns resolves to). ``media``
        emulates CSS media features, e.g. ``{"prefers-color-scheme": "dark"}``."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        report = PageReport()
        try:
            for domain in ("Page", "Runtime", "Log"):
                self.call(f"{domain}.enable", session=session)
            if media:
                features = [{"name": k, "value": v} for k, v in media.items()]
                self.call("Emulation.setEmulatedMedia", {"features": features}, session=session)
            self.call(
                "Fetch.enable",
                {"patterns": [{"urlPattern": "http://*"}, {"urlPattern": "https://*"}]},
                session=session,
            )
            self.call("Page.navigate", {"url": page.as_uri()}, session=session)
            deadline = time.monotonic() + 30
            quiet_until: float | None = None
            while time.monotonic() < deadline:
                if quiet_until is not None and time.monotonic() > quiet_until:
                    break
                event = self._event(0.2)
                if event is None or event.get("sessionId") != session:
                    continue
                self._handle(event, report, session)
                if event.get("method") == "Page.loadEventFired":
                    report.loaded = True
                    quiet_until = time.monotonic() + 0.5  # let late errors arrive
            result = self.call(
                "Runtime.evaluate",
                {"expression": expression, "returnByValue": True, "awaitPromise": await_promise},
                session=session,
            )
            value = result.get("result", {}).get("value")
            return report, value
        finally:
            self.call("Target.closeTarget", {"targetId": target})

    def _handle(self, event: dict[str, Any], report: PageReport, session: str) -> None:
        method, params = event.get("method"), event.get("params", {})
        if method == "Fetch.requestPaused":
            request_type = params.get("resourceType", "")
            report.requests.append((request_type, params["request"]["url"]))
            if request_type == "Image":
                self.call(
                    "Fetch.fulfillRequest",
                    {
                        "requestId": params["requestId"],
                        "responseCode": 200,
                        "responseHeaders": [{"name": "Content-Type", "value": "image/png"}],
                        "body": PNG_1X1,
                    },
                    session=session,
                )
            else:
                self.call(
                    "Fetch.fulfillRequest",
                    {"requestId": params["requestId"], "responseCode": 204, "body": ""},
                    session=session,
                )
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = [str(a.get("value", a.get("description", ""))) for a in params.get("args", [])]
            report.errors.append("console: " + " ".join(args))
        elif method == "Runtime.exceptionThrown":
            report.errors.append(
                "exception: " + str(params.get("exceptionDetails", {}).get("text"))
            )
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            report.errors.append("log: " + str(params["entry"].get("text")))


HEADLINE_CHECK = """
(() => {
  const h = document.querySelector('h1');
  if (!h) return {found: false};
  const box = h.getBoundingClientRect();
  return {
    found: true,
    text: h.textContent.replace(/\\s+/g, ' ').trim(),
    visible: h.checkVisibility({opacityProperty: true, visibilityProperty: true})
      && box.width > 0 && box.height > 0,
    lang: document.documentElement.lang,
    title: document.title,
    ready: document.readyState,
  };
})()
"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    yield from launch(tmp_path_factory)


def launch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One headless Chromium for a module's tests (the body of a module-scoped fixture):
    skipped when Chromium is missing, a failure then with ``ATOMIC_REQUIRE_CHROMIUM=1``."""
    executable = chromium_path()
    if executable is None:
        if os.environ.get("ATOMIC_REQUIRE_CHROMIUM") == "1":
            pytest.fail("Chromium is required (ATOMIC_REQUIRE_CHROMIUM=1) but not installed")
        pytest.skip("Chromium is not installed")
    instance = Browser(executable, tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield instance
    finally:
        instance.stop()


def _check(browser: Browser, tmp_path: Path, document: str, headline: str, lang: str) -> None:
    page = tmp_path / "page.html"
    page.write_text(document, encoding="utf-8")
    report, value = browser.open(page, HEADLINE_CHECK)
    assert report.loaded, "the page did not finish loading"
    assert report.errors == []
    assert {kind for kind, _url in report.requests} <= {"Image"}, report.requests
    assert value["found"] and value["ready"] == "complete"
    assert value["text"] == headline
    assert value["visible"] is True
    assert value["lang"] == lang


def test_microsite_page_in_chromium(
    browser: Browser, render_demo_library: Library, tmp_path: Path
) -> None:
    maria = render_demo_library.customers["maria"].attributes
    run = render_run_message(
        render_demo_library, maria, "cart-recovery", "last-call-72h", "microsite"
    )
    headline = run.assembled.slot_data["headline"]["text"]
    _check(browser, tmp_path, run.rendered.parts["index.html"], headline, "en")


def test_email_html_in_chromium(
    browser: Browser, render_demo_library: Library, tmp_path: Path
) -> None:
    jonas = render_demo_library.customers["jonas"].attributes
    run = render_run_message(render_demo_library, jonas, "welcome", "day-0", "email")
    headline = "Hallo Jonas! Schön, dass Sie da sind"
    assert run.assembled.part("html").source.count("{{ customer.first_name") >= 1
    _check(browser, tmp_path, run.rendered.parts["html"], headline, "de")


def test_app_preview_in_chromium(
    browser: Browser, render_demo_library: Library, tmp_path: Path
) -> None:
    anna = render_demo_library.customers["anna"].attributes
    run = render_run_message(render_demo_library, anna, "winback", "comeback-offer", "app")
    card = json.loads(run.rendered.parts["card.json"])
    document = get_renderer("app").preview_html(run.rendered)
    assert run.resolution.key.locale.startswith("de")
    _check(browser, tmp_path, document, card["title"], run.resolution.key.locale)


def test_hostile_customer_value_stays_text_in_chromium(
    browser: Browser, render_demo_library: Library, tmp_path: Path
) -> None:
    hostile = '<script>console.error("xss")</script><img src=x onerror="console.error(1)">'
    jonas = {**render_demo_library.customers["jonas"].attributes, "first_name": hostile}
    run = render_run_message(render_demo_library, jonas, "welcome", "day-0", "email")
    assert str(escape(hostile)) in run.rendered.parts["html"]
    _check(
        browser,
        tmp_path,
        run.rendered.parts["html"],
        f"Hallo {hostile}! Schön, dass Sie da sind",
        "de",
    )
