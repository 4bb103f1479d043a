"""Finds every stage in this package by its shape (a frozen dataclass with name, version, reasons,
scope and apply), so that adding a stage is adding a file plus one line in STAGE_ORDER."""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from typing import Any

import stages
from stages.options import ConfigError, coerce

# The order stages run in, for `assay run` and `assay ablate` alike. A stage that is not installed
# yet is skipped; a stage missing from this list runs after these, in name order.
STAGE_ORDER = (
    "extract",  # HTML pages become their main text before anything judges text
    "langid",
    "provenance",
    "exact_dup",
    "quality",
    "fasttext_quality",
    "near_dup",
    "contamination",
    "pii",
    "domain",
)

_EXTRA: dict[str, type] = {}  # stages registered from outside this package (tests, plugins)


def _is_stage(obj: Any) -> bool:
    return (
        isinstance(obj, type)
        and dataclasses.is_dataclass(obj)
        and obj.__dataclass_params__.frozen  # type: ignore[attr-defined]
        and all(hasattr(obj, a) for a in ("name", "version", "reasons", "scope", "apply"))
    )


def _check(obj: type) -> None:
    if obj.scope == "corpus" and not all(hasattr(obj, a) for a in ("features", "judge")):
        raise RuntimeError(f"corpus stage {obj.name!r} must implement features() and judge() (ShardedStage)")
    if obj.scope == "document" and hasattr(obj, "score") != hasattr(obj, "choose"):
        raise RuntimeError(f"stage {obj.name!r}: score() and choose() come together")


def all_stages() -> dict[str, type]:
    found: dict[str, type] = {}
    for mod in pkgutil.iter_modules(stages.__path__):
        module = importlib.import_module(f"stages.{mod.name}")
        for obj in vars(module).values():
            if _is_stage(obj) and obj.__module__ == module.__name__:
                if obj.name in found and found[obj.name] is not obj:
                    raise RuntimeError(f"two stages are named {obj.name!r}")
                _check(obj)
                found[obj.name] = obj
    for name, obj in _EXTRA.items():
        if name in found:
            raise RuntimeError(f"two stages are named {name!r}")
        found[name] = obj
    return dict(sorted(found.items()))


def register(cls: type) -> type:
    """Make a stage defined outside `stages/` buildable by name in this process (tests, plugins)."""
    if not _is_stage(cls):
        raise TypeError(f"{cls!r} is not a stage (a frozen dataclass with name, version, reasons, scope, apply)")
    _check(cls)
    _EXTRA[cls.name] = cls
    return cls


def unregister(name: str) -> None:
    _EXTRA.pop(name, None)


def ordered(names: list[str] | tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The available stages (or the given ones) in STAGE_ORDER."""
    present = set(all_stages()) if names is None else set(names)
    return tuple(s for s in STAGE_ORDER if s in present) + tuple(sorted(present - set(STAGE_ORDER)))


def recipes_of(cls: type) -> tuple[str, ...]:
    """The commands a stage belongs to by default: `run` (curation of a corpus) unless it says
    otherwise, e.g. checks of generated instruction data belong to `validate` only."""
    return tuple(getattr(cls, "recipes", ("run",)))


def default_stages(recipe: str = "run") -> tuple[str, ...]:
    found = all_stages()
    return ordered([n for n, cls in found.items() if recipe in recipes_of(cls)])


def plain_run_stages() -> tuple[str, ...]:
    """What `assay run` with no stage options runs: the default stages that need no file the user
    must give (contamination without benchmarks, a classifier without its model are left out)."""
    return tuple(n for n in default_stages() if getattr(build(n), "unconfigured", lambda: None)() is None)


def build(name: str, options: dict[str, Any] | None = None) -> Any:
    """Instantiate a stage by name. Unknown options and bad values are ConfigErrors (usage errors)
    naming the option and what it accepts, never ignored."""
    catalog = all_stages()
    if name not in catalog:
        raise ConfigError(f"unknown stage {name!r}; available: {', '.join(catalog)}")
    cls = catalog[name]
    fields = {f.name for f in dataclasses.fields(cls)}
    opts = dict(options or {})
    unknown = sorted(set(opts) - fields)
    if unknown:
        raise ConfigError(f"stage {name!r} has no option(s) {unknown}; it has {sorted(fields)}")
    values = {key: coerce(cls, name, key, value) for key, value in opts.items()}
    try:
        return cls(**values)
    except (ValueError, TypeError) as exc:  # a combination of values the stage refuses
        raise ConfigError(str(exc)) from None
