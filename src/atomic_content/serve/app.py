"""The studio web app (Starlette): pages, sandboxed message frames, live reload, send-test.

Routes (all GET unless said):

* ``/`` and ``/message`` — one message for a sample customer, a customer edited in the form,
  or (``audience=``) the plan's variant of one audience with the profile's example values;
* ``/grid`` — one message for the generic audience and every segment of its journey;
* ``/coverage`` — the coverage heat map; each cell opens the message view of that cell;
* ``/diagnostics`` — the last check's positioned diagnostics (every page shows them instead of
  a message while the content has errors);
* ``/frame`` — one rendered part (email HTML, microsite page, card body) as its own document,
  under a CSP with ``sandbox`` and no script source, shown in ``<iframe sandbox>``;
* ``/export`` — the message in a channel export format (``.eml``) as a download;
* ``/events`` — server-sent events: ``change`` after every check (the page reloads);
* ``/files/content/...``, ``/files/out/...`` — files under the content and output folders;
* ``POST /send-test`` — send the email to a test address (same-origin requests only).

Nothing changes state on GET. Every response carries a strict Content-Security-Policy.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import mimetypes
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..api import CustomerMessage, explain_variant
from ..assets import inline_assets
from ..channels import get_renderer
from ..channels.studio import ChannelView, badges, channel_view
from ..coverage import CoverageReport
from ..customers import find_customer
from ..errors import AtomicError
from ..plan import PlannedVariant, journey_audiences, journey_locales
from ..preview import PreviewResult, format_export, format_problems, render_customer_message
from ..records import RecordError, check_record
from ..render import example_customer
from ..segments import GENERIC, Audience, SegmentIndex
from ..sendtest import SendError, send_eml
from .config import DEFAULT_EDITOR_LINK, LOOPBACK_HOSTS, StudioConfig
from .state import Snapshot, Studio, Workspace
from .views import attribute_fields, editor_href, record_from_form, slot_views

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 65_536
"""The largest form the studio reads (a customer record edited in the form is a few KB)."""

PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "frame-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
"""The studio's own pages: scripts and styles from the studio only, frames from the studio."""

FRAME_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; font-src https: data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox"
)
"""A rendered message or a served file: no script at all (``sandbox`` without allow-scripts,
no script source), inline styles and https images as a mail client allows."""

DARK_MODE = (
    '<meta name="color-scheme" content="dark">'
    "<style>html{filter:invert(1) hue-rotate(180deg);background:#fff}"
    "img,picture,video{filter:invert(1) hue-rotate(180deg)}</style>"
)
"""Dark mode as the clients that invert colours show it (Gmail apps, Outlook.com)."""

# --------------------------------------------------------------------------------------------
# Security headers and the live-reload notifier
# --------------------------------------------------------------------------------------------


class SecurityHeaders:
    """Adds the CSP (the page policy unless the response set its own) and the other hardening
    headers to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                extra = {
                    b"content-security-policy": PAGE_CSP.encode(),
                    b"x-content-type-options": b"nosniff",
                    b"referrer-policy": b"no-referrer",
                    b"cross-origin-opener-policy": b"same-origin",
                    b"cross-origin-resource-policy": b"same-origin",
                    b"cache-control": b"no-store",
                }
                headers += [(k, v) for k, v in extra.items() if k not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class Notifier:
    """Wakes the event streams (on the server's loop) when the studio finishes a check."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.event = asyncio.Event()

    def notify(self, _snapshot: Snapshot) -> None:
        self.loop.call_soon_threadsafe(self._fire)

    def _fire(self) -> None:
        event, self.event = self.event, asyncio.Event()
        event.set()


# --------------------------------------------------------------------------------------------
# The message a request names
# --------------------------------------------------------------------------------------------

_QUERY_KEYS = ("journey", "step", "channel", "locale", "customer", "audience", "date")


@dataclass(frozen=True)
class MessageQuery:
    """The message a page or frame shows, with every default filled in from the workspace."""

    journey: str
    step: str
    channel: str
    locale: str
    customer: str
    audience: str
    on: dt.date
    form: tuple[tuple[str, str], ...] = ()
    scheme: str = "light"

    @property
    def edited(self) -> bool:
        return bool(self.form)

    def params(self, **changes: str) -> dict[str, str]:
        """The query string values of this message (``changes`` replace some)."""
        values = {
            "journey": self.journey,
            "step": self.step,
            "channel": self.channel,
            "locale": self.locale,
            "customer": self.customer,
            "audience": self.audience,
            "date": self.on.isoformat(),
        }
        if self.edited:
            values["edited"] = "1"
            values.update(self.form)
        values.update(changes)
        return {k: v for k, v in values.items() if v != ""}

    def url(self, path: str, **changes: str) -> str:
        return f"{path}?{urlencode(self.params(**changes))}"


def parse_query(ws: Workspace, query: Mapping[str, str]) -> MessageQuery:
    """The message ``query`` names; unknown or missing ids fall back to the first valid one
    (journeys by id, steps and channels in the journey's order)."""
    library = ws.library
    journeys = sorted(library.journeys)
    journey_id = query.get("journey", "")
    if journey_id not in library.journeys:
        journey_id = journeys[0] if journeys else ""
    journey = library.journeys.get(journey_id)
    step_id = query.get("step", "")
    channel = query.get("channel", "")
    locale = query.get("locale", "")
    if journey is not None:
        steps = {s.id: s for s in journey.steps}
        if step_id not in steps and journey.steps:
            step_id = journey.steps[0].id
        step = steps.get(step_id)
        if step is not None and channel not in step.channels:
            channel = next(iter(step.channels), "")
        if locale and locale not in journey_locales(library, journey):
            locale = ""
    customers = sorted(library.customers)
    customer = query.get("customer", "")
    if customer not in library.customers:
        customer = customers[0] if customers else ""
    audience = query.get("audience", "")
    on = ws.plan.start
    with suppress(ValueError):
        on = dt.date.fromisoformat(query.get("date", ""))
    if not ws.plan.start <= on <= ws.plan.until:
        on = ws.plan.start
    form: tuple[tuple[str, str], ...] = ()
    if query.get("edited") == "1":
        form = tuple(sorted((k, v) for k, v in query.items() if k.startswith("a.")))
    scheme = "dark" if query.get("scheme") == "dark" else "light"
    return MessageQuery(journey_id, step_id, channel, locale, customer, audience, on, form, scheme)


@dataclass
class Outcome:
    """A message computed for a query: the result, or the problems that stopped it."""

    query: MessageQuery
    record: dict[str, Any] = field(default_factory=dict)
    customer_id: str = ""
    result: PreviewResult | None = None
    problems: list[str] = field(default_factory=list)
    record_problems: dict[str, str] = field(default_factory=dict)
    record_summary: list[str] = field(default_factory=list)


def _variant_for(ws: Workspace, q: MessageQuery) -> PlannedVariant:
    message = ws.router.message(q.journey, q.step, q.channel, q.locale or None)
    audience = Audience.for_id(q.audience).id
    for variant in ws.plan.variants:
        if (
            variant.message == message
            and variant.audience == audience
            and variant.start <= q.on <= variant.until
        ):
            return variant
    from ..errors import UsageError

    raise UsageError(
        f"no variant of {message} for the audience {q.audience!r} on {q.on.isoformat()}",
        "pick an audience the journey personalizes for",
    )


def compute(ws: Workspace, q: MessageQuery) -> Outcome:
    """Route (or, for an audience, look up) the message and render it; problems, not
    exceptions, for anything the user can fix."""
    library = ws.library
    outcome = Outcome(q)
    profile = library.profile
    assert profile is not None
    try:
        if q.audience:
            outcome.record = example_customer(library)
            outcome.customer_id = "example values"
            variant = _variant_for(ws, q)
            audience = Audience.for_id(q.audience)
            resolution = explain_variant(
                ws.resolver, variant, audience, q.on, include_drafts=ws.plan.include_drafts
            )
            message = CustomerMessage(variant, resolution)
        else:
            if q.edited:
                try:
                    outcome.record = check_record(
                        record_from_form(profile, dict(q.form)), profile, where="the form"
                    )
                except RecordError as exc:
                    for problem in exc.problems:
                        if problem.attribute:
                            outcome.record_problems[problem.attribute] = problem.message
                        outcome.record_summary.append(str(problem))
                    outcome.record = {}
                    return outcome
                outcome.customer_id = q.customer + " (edited)"
            else:
                customer = find_customer(library, q.customer)
                outcome.record = customer.attributes
                outcome.customer_id = customer.id
            found = ws.messages(
                outcome.record,
                q.journey,
                step=q.step,
                channel=q.channel,
                locale=q.locale or None,
                on=q.on,
                label=f"customer {outcome.customer_id!r}",
            )
            message = found[0]
        outcome.result = render_customer_message(
            library, message, outcome.record, customer_id=outcome.customer_id
        )
    except AtomicError as exc:
        outcome.problems = exc.format_lines(ws.library.root)
    return outcome


# --------------------------------------------------------------------------------------------
# The app
# --------------------------------------------------------------------------------------------


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("atomic_content.serve", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["heat"] = lambda share: "na" if share is None else f"h{round(share * 10)}"
    return env


class StudioApp:
    """The request handlers, around one :class:`Studio`."""

    def __init__(self, studio: Studio, config: StudioConfig) -> None:
        self.studio = studio
        self.config = config
        self.env = _environment()
        self.notifier: Notifier | None = None
        self._outcomes: OrderedDict[tuple[int, MessageQuery], Outcome] = OrderedDict()

    # -- helpers -------------------------------------------------------------------------------
    def page(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        snapshot = self.studio.snapshot
        template = self.env.get_template(name)
        body = template.render(
            snapshot=snapshot,
            generation=self.studio.generation,
            content=self.studio.content.as_posix(),
            checked_at=time.strftime("%H:%M:%S", time.localtime(snapshot.finished))
            if snapshot
            else "",
            **context,
        )
        return HTMLResponse(body, status_code=status)

    def diagnostics_page(self, status: int = 200) -> HTMLResponse:
        snapshot = self.studio.snapshot
        items = []
        if snapshot is not None:
            for d in snapshot.diagnostics.sorted():
                absolute = (self.studio.content / d.path).as_posix() if d.path else ""
                items.append(
                    {
                        "diagnostic": d,
                        "editor": editor_href(self.config.editor_link, absolute, d.line, d.col)
                        if d.path
                        else "",
                        "source": self._source_line(d.path, d.line),
                    }
                )
        return self.page("diagnostics.html", status, items=items)

    def _source_line(self, path: str, line: int) -> str:
        file = self._safe_file(self.studio.content, path) if path and line > 0 else None
        if file is None:
            return ""
        try:
            lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return ""
        return lines[line - 1] if line <= len(lines) else ""

    def workspace(self) -> Workspace | None:
        """The workspace to show: None while the latest check has errors."""
        snapshot = self.studio.snapshot
        if snapshot is None or not snapshot.ok:
            return None
        return self.studio.workspace

    def outcome(self, ws: Workspace, q: MessageQuery) -> Outcome:
        key = (ws.snapshot.generation, q)
        found = self._outcomes.get(key)
        if found is None:
            found = compute(ws, q)
            self._outcomes[key] = found
            while len(self._outcomes) > 64:
                self._outcomes.popitem(last=False)
        return found

    @staticmethod
    def _safe_file(root: Path, relative: str) -> Path | None:
        """``relative`` below ``root`` as an existing regular file, or None: no ``..``, no
        absolute paths, no hidden files, no links out of the folder."""
        if not relative or "\x00" in relative or "\\" in relative:
            return None
        parts = relative.split("/")
        if any(part in ("", ".", "..") or part.startswith(".") for part in parts):
            return None
        base = root.resolve()
        target = (base / relative).resolve()
        if not target.is_relative_to(base) or not target.is_file():
            return None
        return target

    def pickers(self, ws: Workspace, q: MessageQuery) -> dict[str, Any]:
        library = ws.library
        journey = library.journeys.get(q.journey)
        steps = [s.id for s in journey.steps] if journey else []
        step = next((s for s in journey.steps if s.id == q.step), None) if journey else None
        return {
            "journeys": sorted(library.journeys),
            "steps": steps,
            "channels": list(step.channels) if step else [],
            "locales": journey_locales(library, journey) if journey else [],
            "customers": sorted(library.customers),
            "audiences": journey_audiences(SegmentIndex(library.segments, library.profile), journey)
            if journey
            else [],
            "start": ws.plan.start.isoformat(),
            "until": ws.plan.until.isoformat(),
        }

    # -- pages ---------------------------------------------------------------------------------
    async def message(self, request: Request) -> Response:
        ws = self.workspace()
        if ws is None:
            return self.diagnostics_page()
        q = parse_query(ws, dict(request.query_params))
        outcome = await run_in_threadpool(self.outcome, ws, q)
        result = outcome.result
        view: ChannelView | None = None
        context: dict[str, Any] = {}
        if result is not None:
            view = channel_view(result.rendered, result.settings)
            resolution = result.resolution
            context = {
                "variant_id": result.variant_id,
                "audience": resolution.audience,
                "language": resolution.language,
                "notes": resolution.notes,
                "badges": badges(result.rendered, result.problems, result.settings),
                "limit_problems": format_problems(result),
                "slots": slot_views(ws.library, resolution, self.config.editor_link),
                "exports": sorted(get_renderer(q.channel).exports),
            }
        profile = ws.library.profile
        assert profile is not None
        return self.page(
            "message.html",
            q=q,
            outcome=outcome,
            view=view,
            fields=attribute_fields(profile, outcome.record),
            can_send=self.config.smtp is not None and "eml" in get_renderer(q.channel).exports,
            **self.pickers(ws, q),
            **context,
        )

    async def grid(self, request: Request) -> Response:
        ws = self.workspace()
        if ws is None:
            return self.diagnostics_page()
        q = parse_query(ws, dict(request.query_params))
        pickers = self.pickers(ws, q)
        cells = []
        # The generic message first: the one every segment is compared with.
        for audience in sorted(pickers["audiences"], key=lambda a: a != GENERIC):
            cell_q = MessageQuery(
                q.journey, q.step, q.channel, q.locale, q.customer, audience, q.on, (), q.scheme
            )
            outcome = await run_in_threadpool(self.outcome, ws, cell_q)
            result = outcome.result
            cells.append(
                {
                    "audience": audience,
                    "q": cell_q,
                    "outcome": outcome,
                    "view": channel_view(result.rendered, result.settings) if result else None,
                    "badges": badges(result.rendered, result.problems, result.settings)
                    if result
                    else [],
                    "winners": sorted(result.assembled.atoms.items()) if result else [],
                    "variant_id": result.variant_id if result else "",
                }
            )
        return self.page("grid.html", q=q, cells=cells, **pickers)

    async def coverage(self, request: Request) -> Response:
        ws = self.workspace()
        if ws is None:
            return self.diagnostics_page()
        q = parse_query(ws, dict(request.query_params))
        report: CoverageReport = await run_in_threadpool(ws.coverage, q.on)
        grid = report.grid_by_step
        rows = []
        for segment in report.segments:
            cells = []
            for journey, step in report.steps:
                stats = grid.get((segment.id, (journey, step)))
                link = (
                    "/message?"
                    + urlencode(
                        {
                            "journey": journey,
                            "step": step,
                            "audience": segment.id,
                            "date": q.on.isoformat(),
                        }
                    )
                    if stats is not None
                    else ""
                )
                cells.append({"stats": stats, "link": link, "journey": journey, "step": step})
            rows.append({"segment": segment, "cells": cells})
        return self.page("coverage.html", q=q, report=report, rows=rows, **self.pickers(ws, q))

    async def diagnostics(self, request: Request) -> Response:
        return self.diagnostics_page()

    async def frame(self, request: Request) -> Response:
        ws = self.workspace()
        if ws is None:
            return _frame_response("<!doctype html><p>The content has errors.</p>", 200)
        q = parse_query(ws, dict(request.query_params))
        part = request.query_params.get("part", "")
        outcome = await run_in_threadpool(self.outcome, ws, q)
        result = outcome.result
        if result is None:
            return _frame_response("<!doctype html><p>No message.</p>", 404)
        rendered = result.rendered
        if part == "preview":
            document = get_renderer(rendered.key.channel).preview_html(rendered)
        elif rendered.media_types.get(part) == "text/html":
            document = rendered.parts[part]
        else:
            return _frame_response("<!doctype html><p>No such part.</p>", 404)
        # The content's own assets (brand logo ...) as data: URIs, as `atomic preview` shows
        # them: the studio shows this tree, not what is deployed.
        document = inline_assets(document, result.settings.brand, result.assets)
        if q.scheme == "dark":
            document = _dark(document)
        return _frame_response(document, 200)

    async def export(self, request: Request) -> Response:
        ws = self.workspace()
        if ws is None:
            return self.diagnostics_page(409)
        q = parse_query(ws, dict(request.query_params))
        fmt = request.query_params.get("format", "")
        exports = get_renderer(q.channel).exports
        if fmt not in exports:
            return PlainTextResponse("no such export format", 404)
        outcome = await run_in_threadpool(self.outcome, ws, q)
        if outcome.result is None:
            return PlainTextResponse("no message", 404)
        result = outcome.result
        data = format_export([result], fmt, date=q.on)
        name = result.variant_id.replace("/", "-").replace("@", "-") + exports[fmt].suffix
        return Response(
            data,
            media_type="application/octet-stream",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )

    async def files(self, request: Request) -> Response:
        area = request.path_params["area"]
        roots = {"content": self.studio.content}
        if self.config.out is not None:
            roots["out"] = self.config.out
        root = roots.get(area)
        target = self._safe_file(root, request.path_params["path"]) if root else None
        if target is None:
            return PlainTextResponse("not found", 404)
        media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if (media_type.startswith("text/") and media_type != "text/html") or target.suffix in (
            ".yaml",
            ".yml",
            ".j2",
            ".mjml",
        ):
            media_type = "text/plain; charset=utf-8"
        return Response(
            target.read_bytes(),
            media_type=media_type,
            headers={"content-security-policy": FRAME_CSP},
        )

    async def events(self, request: Request) -> Response:
        notifier = self.notifier
        try:
            since = int(request.query_params.get("since", ""))
        except ValueError:
            since = self.studio.generation

        async def stream() -> AsyncIterator[str]:
            seen = since
            yield "retry: 1000\n\n"
            while not self.studio.stopping:
                event = notifier.event if notifier is not None else None
                current = self.studio.generation
                if current != seen:
                    seen = current
                    yield f"event: change\ndata: {current}\n\n"
                    continue
                if event is None:
                    await asyncio.sleep(0.2)
                    continue
                try:
                    await asyncio.wait_for(event.wait(), timeout=15)
                except TimeoutError:
                    yield ": keep-alive\n\n"

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"x-accel-buffering": "no"},
        )

    async def send_test(self, request: Request) -> Response:
        if not _same_origin(request):
            return PlainTextResponse("cross-site request refused", 403)
        if request.headers.get("content-type", "").split(";")[0] != FORM_TYPE:
            return PlainTextResponse("send a form", 415)
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return PlainTextResponse("form too large", 413)
        values = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        ws = self.workspace()
        if ws is None:
            return self.diagnostics_page(409)
        q = parse_query(ws, values)
        to = values.get("to", "")
        status = "sent"
        detail = ""
        smtp = self.config.smtp
        if smtp is None:
            status, detail = "error", "start atomic serve with --smtp HOST:PORT to send tests"
        elif "eml" not in get_renderer(q.channel).exports:
            status, detail = "error", "this message has no .eml form"
        else:
            outcome = await run_in_threadpool(self.outcome, ws, q)
            if outcome.result is None:
                status, detail = "error", "; ".join(outcome.problems + outcome.record_summary)
            else:
                result = outcome.result
                try:
                    eml = format_export([result], "eml", date=q.on)
                    sent = await run_in_threadpool(
                        send_eml, eml, to, smtp, variant_id=result.variant_id
                    )
                    detail = f"sent {sent.subject!r} from {sent.sender} to {sent.to}"
                except (SendError, AtomicError) as exc:
                    status, detail = "error", " ".join(exc.format_lines())
        code = 200 if status == "sent" else 400
        return self.page("sent.html", code, q=q, outcome_status=status, detail=detail)

    async def index(self, request: Request) -> Response:
        return RedirectResponse("/message", status_code=302)


def _frame_response(document: str, status: int) -> HTMLResponse:
    return HTMLResponse(
        document, status_code=status, headers={"content-security-policy": FRAME_CSP}
    )


def _dark(document: str) -> str:
    lowered = document.lower()
    at = lowered.find("<head>")
    if at >= 0:
        at += len("<head>")
        return document[:at] + DARK_MODE + document[at:]
    return DARK_MODE + document


def _same_origin(request: Request) -> bool:
    """A state-changing request must come from a studio page: its Origin is this server (or,
    without Origin, the browser says same-origin)."""
    host = request.headers.get("host", "")
    origin = request.headers.get("origin")
    if origin is not None:
        return origin in (f"http://{host}", f"https://{host}")
    return request.headers.get("sec-fetch-site") == "same-origin"


def create_app(config: StudioConfig, studio: Studio | None = None) -> Starlette:
    """The studio as an ASGI app. Checks the content at start-up and watches it while running
    (the app owns a Studio it made; one passed in is only subscribed to)."""
    own = studio is None
    the_studio = studio or Studio(config.content, start=config.start, until=config.until)
    handlers = StudioApp(the_studio, config)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        handlers.notifier = Notifier(asyncio.get_running_loop())
        unsubscribe = the_studio.subscribe(handlers.notifier.notify)
        if the_studio.snapshot is None:
            await run_in_threadpool(the_studio.refresh)
        if own:
            await run_in_threadpool(the_studio.start_watching)
        try:
            yield
        finally:
            unsubscribe()
            if own:
                the_studio.close()

    static = Path(__file__).parent / "static"
    routes = [
        Route("/", handlers.index),
        Route("/message", handlers.message),
        Route("/grid", handlers.grid),
        Route("/coverage", handlers.coverage),
        Route("/diagnostics", handlers.diagnostics),
        Route("/frame", handlers.frame),
        Route("/export", handlers.export),
        Route("/events", handlers.events),
        Route("/files/{area}/{path:path}", handlers.files),
        Route("/send-test", handlers.send_test, methods=["POST"]),
        Mount("/static", StaticFiles(directory=static), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(TrustedHostMiddleware, allowed_hosts=list(config.allowed_hosts)),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.studio = the_studio
    return app


__all__ = [
    "DEFAULT_EDITOR_LINK",
    "FRAME_CSP",
    "LOOPBACK_HOSTS",
    "PAGE_CSP",
    "StudioConfig",
    "create_app",
]
