"""The studio's settings (no web stack imported: the CLI builds them before the extra is
needed)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ..sendtest import SmtpServer

DEFAULT_EDITOR_LINK = "vscode://file/{path}:{line}:{col}"
"""Where atom and diagnostic links open: ``{path}`` (absolute), ``{line}``, ``{col}``."""

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
"""Host names the studio answers to unless --allow-remote (a DNS-rebinding page gets 400)."""


@dataclass(frozen=True)
class StudioConfig:
    """How the studio runs: the content (and optional output) folder, the dates the checks
    cover, the editor link template, the SMTP server for the send-test button, and the host
    names the app answers to (``("*",)`` with --allow-remote)."""

    content: Path
    out: Path | None = None
    start: dt.date | None = None
    until: dt.date | None = None
    editor_link: str = DEFAULT_EDITOR_LINK
    smtp: SmtpServer | None = None
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS
