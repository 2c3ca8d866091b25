"""``atomic serve``: a live preview studio (a local web app) for the content folder.

Needs the optional extra ``serve`` (Starlette, uvicorn, watchfiles): ``pip install
'atomic-content[serve]'``. :func:`run` serves until interrupted; :func:`~.app.create_app` is the
ASGI app (tests run it in a thread); :class:`~.state.Studio` keeps the checked content current.
"""

from __future__ import annotations

from ..errors import UsageError
from ..sendtest import is_loopback
from .config import DEFAULT_EDITOR_LINK, LOOPBACK_HOSTS, StudioConfig


def check_host(host: str, allow_remote: bool) -> None:
    """UsageError for a host other than loopback without ``allow_remote``."""
    if not is_loopback(host) and not allow_remote:
        raise UsageError(
            f"refusing to serve on {host!r}: the studio shows customer data and has no login",
            "serve on 127.0.0.1 (the default), or pass --allow-remote if you really mean it",
        )


def run(config: StudioConfig, *, host: str, port: int, allow_remote: bool = False) -> None:
    """Serve the studio on ``host``:``port`` until interrupted (blocks)."""
    check_host(host, allow_remote)
    try:
        from .server import serve_forever
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise UsageError(
            f"atomic serve needs the 'serve' extra ({exc.name} is not installed)",
            "pip install 'atomic-content[serve]'",
        ) from None
    serve_forever(config, host=host, port=port)


__all__ = [
    "DEFAULT_EDITOR_LINK",
    "LOOPBACK_HOSTS",
    "StudioConfig",
    "check_host",
    "is_loopback",
    "run",
]
