"""atomic-content: assemble personalized marketing messages from small content atoms.

The public API, re-exported here:

* :func:`check_content` / :func:`load_library` — load and validate a content folder;
* :class:`Resolver` — choose atoms per slot for a customer or segment, with explanations;
* :func:`evaluate` — GrowthBook-compatible condition evaluation;
* :func:`atomic_content.build.build` — render every variant into an output folder (imported
  from its module: the module's name would shadow a re-export);
* :func:`load_bundle` — the runtime: render one customer fast from a built bundle;
* :class:`Holdout` — what the runtime returns for a customer in an experiment's holdout arm.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Holdout",
    "Resolver",
    "__version__",
    "check_content",
    "evaluate",
    "load_bundle",
    "load_library",
]

if TYPE_CHECKING:
    from .bundle import load_bundle
    from .conditions import evaluate
    from .plan import Holdout
    from .resolver import Resolver
    from .validate import check_content, load_library

_LAZY = {
    "Holdout": ("plan", "Holdout"),
    "Resolver": ("resolver", "Resolver"),
    "check_content": ("validate", "check_content"),
    "evaluate": ("conditions", "evaluate"),
    "load_bundle": ("bundle", "load_bundle"),
    "load_library": ("validate", "load_library"),
}


def __getattr__(name: str) -> Any:
    # Lazy so that `import atomic_content` (and the CLI start-up) stays cheap.
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module 'atomic_content' has no attribute {name!r}")
