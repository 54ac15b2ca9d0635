"""Name -> builder class, discovered from the modules of the ``builders`` package."""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from .base import ChinchillaBuilder


@lru_cache(maxsize=None)
def builders() -> dict:
    """``{corpus name: builder class}`` for every module in ``builders/``, sorted by name."""
    import builders as package

    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"builders.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, ChinchillaBuilder) and obj.__dict__.get("corpus") is not None:
                found[obj.corpus.name] = obj
    return dict(sorted(found.items()))


def get_builder(name: str) -> type:
    try:
        return builders()[name]
    except KeyError:
        raise KeyError(f"unknown corpus {name!r}; known: {', '.join(builders())}") from None
