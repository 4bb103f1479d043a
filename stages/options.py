"""Stage options: the one source of truth for every option's default, type, allowed values, meaning,
cache role and whether it names files.

A stage declares each config field with `option(...)`. From that declaration alone the CLI builds
its `--<stage>-<option>` flags and their help, TOML values are checked, the runner resolves file
options to content hashes, and the cache key is split into scoring and deciding parts.
"""
from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["score", "decide"]
# What a file option names: one file, a file or a folder of files, or earlier assay run folders.
InputKind = Literal["file", "path", "runs"]


class ConfigError(KeyError):
    """A stage name, option, option value or referenced column the user got wrong: a usage error."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class OptionSpec:
    help: str
    role: Role = "score"
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    input: InputKind | None = None
    alias: str | None = None  # a short run-level flag, e.g. --against for near_dup's `against`
    check: Callable[[Any], str | None] | None = None  # returns an error message or None


def option(default: Any, help: str, **spec: Any) -> Any:
    """A stage config field. `role="decide"` marks options that only choose from scores already
    computed (thresholds): changing one re-decides without rescoring."""
    meta = {"assay": OptionSpec(help=help, **spec)}
    if isinstance(default, list | dict | set):
        raise TypeError("option defaults must be immutable (use a tuple)")
    return dataclasses.field(default=default, metadata=meta)


def spec_of(f: dataclasses.Field) -> OptionSpec:
    return f.metadata.get("assay") or OptionSpec(help="")


def base_type(cls: type, name: str) -> tuple[Any, bool]:
    """(int | float | str | bool | tuple, optional?) of a config field."""
    hint = typing.get_type_hints(cls)[name]
    args = typing.get_args(hint)
    optional = type(None) in args
    if optional:
        rest = [a for a in args if a is not type(None)]
        hint = rest[0] if len(rest) == 1 else hint
    if typing.get_origin(hint) is tuple or hint is tuple:
        return tuple, optional
    if typing.get_origin(hint) is Literal:
        return str, optional
    return hint, optional


def _num(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def _describe_type(kind: Any, spec: OptionSpec) -> str:
    if spec.choices:
        return "one of " + ", ".join(spec.choices)
    if kind is bool:
        return "true or false"
    if kind is tuple:
        return "a list of strings"
    noun = {int: "an integer", float: "a number", str: "a string"}.get(kind, str(kind))
    if spec.minimum is not None and spec.maximum is not None:
        return f"{noun} in [{_num(spec.minimum)}, {_num(spec.maximum)}]"
    if spec.minimum is not None:
        return f"{noun} >= {_num(spec.minimum)}"
    return noun


def accepts(cls: type, f: dataclasses.Field) -> str:
    kind, optional = base_type(cls, f.name)
    text = _describe_type(kind, spec_of(f))
    return text + (" (or unset)" if optional else "")


def coerce(cls: type, stage: str, name: str, value: Any) -> Any:
    """Check and convert one option value from the CLI or TOML; ConfigError names the option and
    what it accepts."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    f = fields[name]
    kind, optional = base_type(cls, name)
    spec = spec_of(f)

    # Run-level (ingest) options have no stage: they read "option 'max_doc_bytes' accepts ...".
    label = f"option {name!r}" if stage in ("", "ingest") else f"stage {stage!r} option {name!r}"

    def bad(got: Any = value) -> ConfigError:
        return ConfigError(f"{label} accepts {accepts(cls, f)}; got {got!r}")

    if value is None:
        if optional:
            return None
        raise bad()
    if kind is bool:
        if isinstance(value, bool):
            out: Any = value
        elif isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            out = value.lower() in ("true", "1", "yes")
        else:
            raise bad()
    elif kind is int:
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, int):
            out = value
        elif isinstance(value, str):
            try:
                out = int(value.replace("_", ""))
            except ValueError:
                raise bad() from None
        else:
            raise bad()
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise bad()
        try:
            out = float(value)
        except ValueError:
            raise bad() from None
        if not math.isfinite(out):
            raise bad()
    elif kind is tuple:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(v, str) for v in items):
            raise bad()
        out = tuple(items)
    else:
        if not isinstance(value, str):
            raise bad()
        out = value
    if spec.choices and out not in spec.choices:
        raise bad()
    if spec.minimum is not None and out < spec.minimum:
        raise bad()
    if spec.maximum is not None and out > spec.maximum:
        raise bad()
    if spec.check and (msg := spec.check(out)):
        raise ConfigError(f"{label}: {msg}; got {value!r}")
    return out


def split_config(stage: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(scoring config, deciding config) of a stage instance, as plain JSON values."""
    score, decide = {}, {}
    for f in dataclasses.fields(stage):
        value = getattr(stage, f.name)
        value = list(value) if isinstance(value, tuple) else value
        (decide if spec_of(f).role == "decide" else score)[f.name] = value
    return score, decide


def file_options(cls: type) -> list[tuple[str, InputKind]]:
    return [(f.name, spec_of(f).input) for f in dataclasses.fields(cls) if spec_of(f).input]  # type: ignore[misc]
