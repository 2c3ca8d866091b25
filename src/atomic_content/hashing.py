"""Content hashes and the canonical JSON they are taken of: the one home of both (the
manifest, the caches, the plan's keys and the build's no-op fingerprint use them). Standard
library only, so the no-op check stays light (see :mod:`atomic_content.inputs`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

ENGINE_FORMAT = 3
"""Bumped whenever rendering changes output; part of every variant's cache key (and so of
the plan memo's context and the build's no-op fingerprint)."""


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` as 64 hex digits."""
    return hashlib.sha256(data).hexdigest()


def canonical_json(value: Any, *, default: Callable[[Any], Any] | None = None) -> bytes:
    """``value`` as canonical JSON bytes (sorted keys, no spaces, UTF-8): the input of every
    content hash, so equal data always hashes equal. ``default`` as for ``json.dumps``."""
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=default
    ).encode()
