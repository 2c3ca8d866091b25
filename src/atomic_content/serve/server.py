"""Running the studio: in the foreground (``atomic serve``) or in a background thread (tests,
benchmarks, embedding)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

import uvicorn
from starlette.applications import Starlette

from .app import StudioConfig, create_app
from .state import Studio


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _config(app: Starlette, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=1,
        proxy_headers=False,
        server_header=False,
        lifespan="on",
    )


def started_studio(config: StudioConfig, *, jobs: int | None = None) -> Studio:
    """A studio with its first check done and the watcher started. The first check renders
    every variant; ``jobs`` None uses a worker process per core (fine before the server's
    threads start), 1 renders in this thread."""
    studio = Studio(config.content, start=config.start, until=config.until)
    studio.refresh(jobs=jobs)
    studio.start_watching()
    return studio


class _Server(uvicorn.Server):
    """Ends the studio's event streams as soon as the server is asked to stop (Ctrl-C), so
    that the graceful shutdown does not wait for them."""

    def __init__(self, config: uvicorn.Config, studio: Studio) -> None:
        super().__init__(config)
        self.studio = studio

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.studio.stop()
        super().handle_exit(sig, frame)


def serve_forever(config: StudioConfig, *, host: str, port: int) -> None:
    """Serve until interrupted (Ctrl-C)."""
    studio = started_studio(config)
    try:
        _Server(_config(create_app(config, studio), host, port), studio).run()
    finally:
        studio.close()


@dataclass(frozen=True)
class Running:
    """A studio served in a background thread: its base URL and its state."""

    url: str
    studio: Studio


@contextmanager
def serve_in_thread(
    config: StudioConfig,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    jobs: int | None = 1,
) -> Iterator[Running]:
    """Serve the studio in a daemon thread until the block ends; the content is checked
    (``jobs`` as in :func:`started_studio`) and watched before the block starts."""
    studio = started_studio(config, jobs=jobs)
    app = create_app(config, studio)
    server = uvicorn.Server(_config(app, host, port or free_port(host)))
    thread = threading.Thread(target=server.run, name="atomic-serve", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the studio did not start")
            time.sleep(0.02)
        yield Running(f"http://{host}:{server.config.port}", studio)
    finally:
        studio.stop()
        server.should_exit = True
        thread.join(timeout=10)
        studio.close()


__all__ = ["Running", "free_port", "serve_forever", "serve_in_thread", "started_studio"]
