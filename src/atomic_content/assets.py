"""Images shipped with the content: ``assets/`` in the content tree.

An image source (``brand.logo.src``, an atom's ``image.src``) is either an absolute https URL
or an *asset path*: ``assets/<name>.png`` (also .jpg, .jpeg, .gif), a file under the content
root's ``assets/`` folder. Messages reference an asset by its production URL,
``brand.asset_base_url`` (default: ``<brand.base_url>/assets/``) followed by the name, so the
template form and the ``.eml`` are what gets sent. Previews show the local file instead:
``atomic preview --format html`` inlines each asset as a ``data:`` URI (one self-contained file
that works offline), and ``atomic build`` copies the folder to ``<out>/assets/`` and points
the preview form at it with a relative path. Nothing is fetched from the network.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

from .models import ASSET_PATH, Brand

ASSETS_DIR: Final = "assets"
"""The folder of the content root that holds the assets (and its name in a build output)."""

MEDIA_TYPES: Final = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                      ".gif": "image/gif"}  # fmt: skip


def is_asset(src: str) -> bool:
    """True when ``src`` is an asset path (``assets/logo.png``), not a URL."""
    return ASSET_PATH.fullmatch(src) is not None


def asset_base(brand: Brand) -> str:
    """The production URL the asset names are appended to (ends with ``/``)."""
    base = brand.asset_base_url or brand.base_url.rstrip("/") + "/" + ASSETS_DIR + "/"
    return base if base.endswith("/") else base + "/"


def asset_url(brand: Brand, src: str) -> str:
    """The production URL of an image source: an asset path on the asset base, a URL as it
    is."""
    if not is_asset(src):
        return src
    return asset_base(brand) + src[len(ASSETS_DIR) + 1 :]


def asset_files(root: Path) -> dict[str, Path]:
    """The asset paths under ``root/assets`` (``assets/logo.png`` -> file), sorted; regular
    files only, links and names that are not asset paths left out."""
    folder = root / ASSETS_DIR
    if not folder.is_dir() or folder.is_symlink():
        return {}
    found: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not path.is_symlink() and is_asset(rel):
            found[rel] = path
    return found


def _replace(document: str, brand: Brand, targets: Mapping[str, str]) -> str:
    for name, target in targets.items():
        document = document.replace(asset_url(brand, name), target)
    return document


def inline_assets(document: str, brand: Brand, files: Mapping[str, Path]) -> str:
    """``document`` with every asset URL replaced by the asset as a ``data:`` URI."""
    targets = {}
    for name, path in files.items():
        if asset_url(brand, name) in document:
            media = MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            targets[name] = f"data:{media};base64,{data}"
    return _replace(document, brand, targets)


def relative_assets(document: str, brand: Brand, names: Iterable[str], up: int) -> str:
    """``document`` with every asset URL replaced by a path ``up`` folders up into the
    build's ``assets/`` copy."""
    return _replace(document, brand, {name: "../" * up + name for name in names})
