"""Send a test: deliver one customer's email, as the ``.eml`` export writes it, over SMTP.

:func:`send_test` previews the email of one journey step for a sample customer (the same
routing and rendering as ``atomic preview --format eml``), sets ``To`` to the test address and
hands the message to an SMTP server with the standard library's client. The password comes from
the caller (the CLI reads the environment variable :data:`PASSWORD_ENV`, never a flag), and it
is never sent over a connection without TLS except to a loopback server (a local test relay).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import smtplib
import ssl
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import ClassVar

from .errors import AtomicError, UsageError

PASSWORD_ENV = "ATOMIC_SMTP_PASSWORD"
"""The environment variable that holds the SMTP password."""

EXIT_UNAVAILABLE = 69
"""The SMTP server could not be reached or refused the message (BSD ``EX_UNAVAILABLE``)."""

EXPORT_FORMAT = "eml"
"""The export format whose bytes are sent."""


class SendError(AtomicError):
    """The SMTP server was unreachable or refused the message; exit 69."""

    exit_code: ClassVar[int] = EXIT_UNAVAILABLE

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


def is_loopback(host: str) -> bool:
    """``host`` names this machine only (127.0.0.0/8, ::1, ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class SmtpServer:
    """Where to send: host, port, STARTTLS, and an optional login (password kept out of repr)."""

    host: str
    port: int
    starttls: bool = False
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0

    @classmethod
    def parse(cls, text: str, **options: object) -> SmtpServer:
        """``HOST:PORT`` (``[::1]:25`` for IPv6) -> SmtpServer; UsageError when malformed."""
        host, sep, port = text.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise UsageError(
                f"{text!r} is not an SMTP server address", "write HOST:PORT, e.g. localhost:1025"
            )
        return cls(host, int(port), **options)  # type: ignore[arg-type]

    @property
    def loopback(self) -> bool:
        """The server is this machine (a password may cross without TLS)."""
        return is_loopback(self.host)


@dataclass(frozen=True)
class SentMessage:
    """What was sent: envelope sender and recipient, the subject and the message size."""

    sender: str
    to: str
    subject: str
    size: int
    variant_id: str
    with_drafts: bool = False
    """Draft or review atoms win in the message sent (``--include-drafts``): no build holds it."""


def address_to(eml: bytes, to: str) -> EmailMessage:
    """The message of ``eml`` addressed to ``to`` (its ``To`` header replaced).

    UsageError when ``to`` is not one bare address.
    """
    from .models import address_problem  # imported when used: the CLI starts without it

    problem = address_problem(to)
    if problem is not None:
        raise UsageError(f"--to: {problem}", "give one address, e.g. me@example.com")
    message = message_from_bytes(eml, _class=EmailMessage, policy=policy.SMTP)
    del message["To"]
    message["To"] = to
    return message


def deliver(message: EmailMessage, to: str, server: SmtpServer) -> str:
    """Hand ``message`` to ``server`` for ``to``; returns the envelope sender.

    SendError when the server is unreachable, refuses STARTTLS, the login or a recipient;
    UsageError when a password would cross an unencrypted connection to another machine.
    """
    if server.user and not server.starttls and not server.loopback:
        raise UsageError(
            "refusing to send the SMTP password without TLS",
            "add --starttls (or use a relay on this machine)",
        )
    sender = parseaddr(str(message["From"] or ""))[1]
    try:
        with smtplib.SMTP(server.host, server.port, timeout=server.timeout) as smtp:
            smtp.ehlo()
            if server.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if server.user:
                smtp.login(server.user, server.password or "")
            smtp.send_message(message, from_addr=sender, to_addrs=[to])
    except smtplib.SMTPAuthenticationError:
        raise SendError(
            f"the SMTP server {server.host}:{server.port} refused the login of {server.user!r}",
            f"check the user and the password in ${PASSWORD_ENV}",
        ) from None
    except smtplib.SMTPException as exc:
        raise SendError(
            f"the SMTP server {server.host}:{server.port} refused the message: "
            f"{type(exc).__name__}",
            "check the address and the server's log",
        ) from None
    except (TimeoutError, OSError) as exc:
        raise SendError(
            f"cannot reach the SMTP server {server.host}:{server.port} ({exc.strerror or exc})",
            "check --smtp HOST:PORT and that the server runs",
        ) from None
    return sender


def send_test(
    content: Path,
    customer_ref: str,
    journey: str,
    step: str,
    to: str,
    server: SmtpServer,
    *,
    locale: str | None = None,
    on: dt.date | None = None,
    include_drafts: bool = False,
) -> SentMessage:
    """Send the email of ``journey``/``step`` for a sample customer to ``to``.

    The message is the ``.eml`` export of ``atomic preview`` for that customer (routed through
    the plan, rendered, limit-checked) with ``To`` set to ``to``. Raises ContentError for
    invalid content, UsageError for unknown ids or a step without an email, ResolutionError /
    RenderError as preview does, and SendError when the SMTP server fails.
    """
    from .channels import export_formats
    from .preview import format_export, preview

    channel, _export = export_formats()[EXPORT_FORMAT]
    results = preview(
        content, customer_ref, journey, step=step, channel=channel, locale=locale, on=on,
        include_drafts=include_drafts,
    )  # fmt: skip
    eml = format_export(results, EXPORT_FORMAT, date=on or dt.date.today())
    return send_eml(
        eml, to, server, variant_id=results[0].variant_id, with_drafts=results[0].with_drafts
    )


def send_eml(
    eml: bytes, to: str, server: SmtpServer, *, variant_id: str = "", with_drafts: bool = False
) -> SentMessage:
    """Send an ``.eml`` file's message to ``to`` (``To`` replaced) through ``server``;
    ``variant_id`` and ``with_drafts`` describe it in the result."""
    message = address_to(eml, to)
    sender = deliver(message, to, server)
    return SentMessage(sender, to, str(message["Subject"] or ""), len(eml), variant_id, with_drafts)


__all__ = [
    "EXIT_UNAVAILABLE",
    "PASSWORD_ENV",
    "SendError",
    "SentMessage",
    "SmtpServer",
    "address_to",
    "deliver",
    "is_loopback",
    "send_eml",
    "send_test",
]
