"""``atomic send-test`` and the studio's send button against a real SMTP server (aiosmtpd on a
free local port): the message arrives, addressed to the test address, as the .eml export."""

from __future__ import annotations

import datetime as dt
import email
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner

from atomic_content.cli import main
from atomic_content.errors import UsageError
from atomic_content.preview import format_export, preview
from atomic_content.sendtest import PASSWORD_ENV, SendError, SmtpServer, send_eml, send_test
from atomic_content.serve import StudioConfig
from atomic_content.serve.server import free_port, serve_in_thread
from conftest import DEMO_CONTENT

DAY = dt.date(2026, 11, 22)


@dataclass
class Inbox:
    """What the SMTP server received: (envelope from, envelope to, message) per mail."""

    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, _class=EmailMessage, policy=SMTP)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


@dataclass
class Running:
    inbox: Inbox
    port: int


@pytest.fixture
def smtp_server() -> Iterator[Running]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield Running(inbox, port)
    finally:
        controller.stop()


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"s3cret"
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_with_login() -> Iterator[Running]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticator,
        auth_require_tls=False,  # loopback only: the test relay has no certificate
    )
    controller.start()
    try:
        yield Running(inbox, port)
    finally:
        controller.stop()


def test_cli_sends_the_customer_email(smtp_server: Running) -> None:
    result = CliRunner().invoke(
        main,
        [
            "send-test", "--content", str(DEMO_CONTENT), "--customer", "anna",
            "--journey", "welcome", "--step", "day-0", "--date", DAY.isoformat(),
            "--to", "tester@example.com", "--smtp", f"127.0.0.1:{smtp_server.port}",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "sent welcome/day-0/email/de-AT/dach to tester@example.com" in result.output
    [(sender, recipients, message)] = smtp_server.inbox.messages
    assert recipients == ["tester@example.com"]
    assert message["To"] == "tester@example.com"
    assert sender == email.utils.parseaddr(message["From"])[1]
    expected = email.message_from_bytes(
        format_export(
            preview(DEMO_CONTENT, "anna", "welcome", step="day-0", channel="email", on=DAY),
            "eml",
            date=DAY,
        ),
        _class=EmailMessage,
        policy=SMTP,
    )
    assert message["Subject"] == expected["Subject"]
    html = message.get_body(("html",))
    assert html is not None and "Servus Anna" in html.get_content()


def test_cli_marks_a_test_email_with_drafts_as_not_built(smtp_server: Running) -> None:
    """A draft offer wins day-7 in January with --include-drafts: no build holds that email."""
    result = CliRunner().invoke(
        main,
        [
            "send-test", "--content", str(DEMO_CONTENT), "--customer", "tom",
            "--journey", "welcome", "--step", "day-7", "--date", "2027-01-10",
            "--include-drafts", "--to", "tester@example.com",
            "--smtp", f"127.0.0.1:{smtp_server.port}",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        "sent welcome/day-7/email/en/generic (with drafts: not built) to tester@example.com"
        in result.output
    )
    assert len(smtp_server.inbox.messages) == 1


def test_login_reads_the_password_from_the_environment(
    smtp_with_login: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = [
        "send-test", "--content", str(DEMO_CONTENT), "--customer", "tom", "--journey",
        "welcome", "--step", "day-0", "--date", DAY.isoformat(), "--to", "qa@example.com",
        "--smtp", f"127.0.0.1:{smtp_with_login.port}", "--user", "editor",
    ]  # fmt: skip
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 69
    assert "refused the login of 'editor'" in refused.output
    assert "wrong" not in refused.output
    monkeypatch.setenv(PASSWORD_ENV, "s3cret")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert len(smtp_with_login.inbox.messages) == 1


def test_no_password_flag_exists() -> None:
    result = CliRunner().invoke(main, ["send-test", "--help"])
    assert "--password" not in result.output
    assert PASSWORD_ENV in result.output


def test_password_never_crosses_an_unencrypted_remote_connection() -> None:
    server = SmtpServer("mail.example.com", 25, user="editor", password="s3cret")
    with pytest.raises(UsageError, match="without TLS"):
        send_test(DEMO_CONTENT, "anna", "welcome", "day-0", "qa@example.com", server, on=DAY)
    assert "s3cret" not in repr(server)


def test_unreachable_server_is_a_send_error() -> None:
    server = SmtpServer("127.0.0.1", free_port(), timeout=5)
    with pytest.raises(SendError, match="cannot reach"):
        send_eml(b"From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n", "qa@example.com", server)


@pytest.mark.parametrize("address", ["", "two@example.com, three@example.com", "a\r\nBcc: x@y.z"])
def test_bad_test_addresses_are_usage_errors(address: str) -> None:
    server = SmtpServer("127.0.0.1", 1)
    with pytest.raises(UsageError):
        send_eml(b"From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n", address, server)


@pytest.mark.parametrize("text", ["localhost", "host:", ":25", "host:99999", "host:port"])
def test_bad_smtp_addresses_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        SmtpServer.parse(text)


def test_studio_button_sends(smtp_server: Running, tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(DEMO_CONTENT, content)
    config = StudioConfig(
        content, start=DAY, smtp=SmtpServer("127.0.0.1", smtp_server.port, timeout=10)
    )
    with serve_in_thread(config) as running:
        page = httpx.get(
            running.url + "/message?journey=welcome&step=day-0&channel=email&customer=anna",
            timeout=60,
        )
        assert 'id="send-test"' in page.text
        form = {"journey": "welcome", "step": "day-0", "channel": "email", "customer": "anna"}
        form |= {"date": DAY.isoformat(), "to": "button@example.com"}
        response = httpx.post(
            running.url + "/send-test",
            data=form,
            headers={"Origin": running.url},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        assert "Test sent" in response.text
    [(_sender, recipients, message)] = smtp_server.inbox.messages
    assert recipients == ["button@example.com"]
    assert message["To"] == "button@example.com"
