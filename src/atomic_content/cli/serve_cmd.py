"""``atomic serve`` (the live preview studio) and ``atomic send-test`` (an email over SMTP)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import F, LazyHelpOption, content_option, main
from .commands import date_option, parse_date

if TYPE_CHECKING:
    from ..sendtest import SmtpServer

# sendtest (smtplib, ssl, email) and serve are imported inside the commands: `atomic build`
# and `atomic validate` never need them (tests/test_startup.py).


def _smtp(address: str | None, starttls: bool, user: str | None) -> SmtpServer | None:
    if address is None:
        return None
    from ..sendtest import PASSWORD_ENV, SmtpServer

    password = os.environ.get(PASSWORD_ENV) if user else None
    return SmtpServer.parse(address, starttls=starttls, user=user, password=password)


def _user_help() -> str:
    from ..sendtest import PASSWORD_ENV

    return f"SMTP login; the password is read from ${PASSWORD_ENV}."


def smtp_options(required: bool) -> Callable[[F], F]:
    """``--smtp HOST:PORT``, ``--starttls``, ``--user U`` (the password from the environment)."""

    def decorate(func: F) -> F:
        options = [
            click.option("--smtp", "smtp_address", required=required, metavar="HOST:PORT",
                         help="SMTP server to send through."),
            click.option("--starttls", is_flag=True, help="Upgrade the connection with STARTTLS."),
            click.option("--user", cls=LazyHelpOption, help_factory=_user_help),
        ]  # fmt: skip
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


@main.command()
@content_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a host other than loopback (the studio has no login: anyone who reaches it "
    "sees the content and the sample customers).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="An output folder (a build) whose files the studio may serve too.",
)
@click.option(
    "--date",
    "date_text",
    metavar="YYYY-MM-DD",
    help="First send date to check and preview (default: SOURCE_DATE_EPOCH or today).",
)
@click.option(
    "--editor-link",
    default=None,
    metavar="TEMPLATE",
    help="Link for atoms and diagnostics, with {path} {line} {col} "
    "(default: vscode://file/{path}:{line}:{col}; '' for none).",
)
@smtp_options(required=False)
@click.pass_context
def serve(
    ctx: click.Context, content: Path, host: str, port: int, allow_remote: bool, out: Path | None,
    date_text: str | None, editor_link: str | None, smtp_address: str | None, starttls: bool,
    user: str | None,
) -> None:  # fmt: skip
    """Serve a live preview studio of the content: every save reloads the browser.

    Binds to 127.0.0.1 unless --allow-remote; needs the 'serve' extra.
    """

    from ..serve import (
        DEFAULT_EDITOR_LINK,
        LOOPBACK_HOSTS,
        StudioConfig,
        check_host,
        is_loopback,
        run,
    )

    ctx.meta["content_root"] = content
    check_host(host, allow_remote)
    if not is_loopback(host):
        click.echo(
            f"warning: serving on {host}: anyone who can reach this address sees the content "
            "and the sample customers, and can send test emails",
            err=True,
        )
    config = StudioConfig(
        content=content,
        out=out,
        start=parse_date(date_text),
        editor_link=DEFAULT_EDITOR_LINK if editor_link is None else editor_link,
        smtp=_smtp(smtp_address, starttls, user),
        allowed_hosts=("*",) if allow_remote else LOOPBACK_HOSTS,
    )
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"atomic studio on http://{shown}:{port}/ (Ctrl-C stops)", err=True)
    run(config, host=host, port=port, allow_remote=allow_remote)


@main.command("send-test")
@content_option
@click.option("--customer", "customer_ref", required=True, metavar="FILE_OR_ID",
              help="Sample customer id (content/customers/) or a customer file.")  # fmt: skip
@click.option("--journey", required=True, help="Journey id.")
@click.option("--step", required=True, help="Step id (its email is sent).")
@click.option("--locale", help="Locale (default: the customer's).")
@date_option
@click.option("--include-drafts", is_flag=True, help="Let draft and review atoms compete.")
@click.option("--to", "to", required=True, metavar="ADDRESS", help="Test address to send to.")
@smtp_options(required=True)
@click.pass_context
def send_test_command(
    ctx: click.Context, content: Path, customer_ref: str, journey: str, step: str,
    locale: str | None, date_text: str | None, include_drafts: bool, to: str,
    smtp_address: str, starttls: bool, user: str | None,
) -> None:  # fmt: skip
    """Send one customer's email of a journey step to a test address over SMTP.

    The message is `atomic preview --format eml` with To set to --to. The password for --user
    comes from the ATOMIC_SMTP_PASSWORD environment variable, never from a flag.
    """
    from ..sendtest import send_test

    ctx.meta["content_root"] = content
    server = _smtp(smtp_address, starttls, user)
    assert server is not None
    sent = send_test(
        content, customer_ref, journey, step, to, server, locale=locale,
        on=parse_date(date_text), include_drafts=include_drafts,
    )  # fmt: skip
    from ..formatting import variant_label

    click.echo(
        f"sent {variant_label(sent.variant_id, sent.with_drafts)} to {sent.to} via "
        f"{server.host}:{server.port} "
        f"({sent.size} bytes, subject {sent.subject!r})"
    )
