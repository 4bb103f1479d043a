"""Finds every stage in this package by its shape (a frozen dataclass with name, version, reasons,
scope and apply), so that adding a stage is adding a file: no registry to keep in step."""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from typing import Any

import stages
from stages.base import ConfigError


def _is_stage(obj: Any) -> bool:
    return (
        isinstance(obj, type)
        and dataclasses.is_dataclass(obj)
        and obj.__dataclass_params__.frozen  # type: ignore[attr-defined]
        and all(hasattr(obj, a) for a in ("name", "version", "reasons", "scope", "apply"))
    )


def all_stages() -> dict[str, type]:
    found: dict[str, type] = {}
    for mod in pkgutil.iter_modules(stages.__path__):
        module = importlib.import_module(f"stages.{mod.name}")
        for obj in vars(module).values():
            if _is_stage(obj) and obj.__module__ == module.__name__:
                if obj.name in found and found[obj.name] is not obj:
                    raise RuntimeError(f"two stages are named {obj.name!r}")
                if obj.scope == "corpus" and not all(hasattr(obj, a) for a in ("features", "judge")):
                    raise RuntimeError(f"corpus stage {obj.name!r} must implement features() and judge() (ShardedStage)")
                found[obj.name] = obj
    return dict(sorted(found.items()))


def build(name: str, options: dict[str, Any] | None = None) -> Any:
    """Instantiate a stage by name with options (unknown options are an error, not ignored)."""
    catalog = all_stages()
    if name not in catalog:
        raise ConfigError(f"unknown stage {name!r}; available: {', '.join(catalog)}")
    cls = catalog[name]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    opts = dict(options or {})
    unknown = sorted(set(opts) - set(fields))
    if unknown:
        raise ConfigError(f"stage {name!r} has no option(s) {unknown}; it has {sorted(fields)}")
    for key, value in opts.items():
        if isinstance(value, list):
            opts[key] = tuple(value)
    return cls(**opts)
