"""Flags generated from `option()` declarations: `--<stage>-<option>` for every stage option,
`--<option>` for every ingest option, and the short alias a spec names (`--against`).

The dataclasses hold every default, type, range and meaning; nothing here repeats them, so `--help`,
`assay stages`, the CLI's checks and the TOML checks cannot disagree. Flags default to None (unset),
so a flag left out never overrides the config file: the dataclass default applies last.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from stages.options import ConfigError, OptionSpec, accepts, base_type, coerce, spec_of

STAGE, INGEST = "stage", "ingest"
_METAVAR = {int: "N", float: "X", str: "TEXT", tuple: "VALUE"}
_INPUT_METAVAR = {"file": "FILE", "path": "PATH", "runs": "RUN_DIR"}


def show_default(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ", ".join(map(str, value)) if value else "none"
    return str(value)


def describe(cls: type, f: dataclasses.Field) -> str:
    """'<meaning>. Accepts <what>; default <default>.' for one option."""
    spec = spec_of(f)
    text = (f"{spec.help}. " if spec.help else "") + f"Accepts {accepts(cls, f)}; default {show_default(f.default)}"
    if base_type(cls, f.name)[0] is tuple:
        text += "; repeat the flag for several"
    if spec.role == "decide" and _splits_scoring(cls):
        text += "; changing it re-decides from cached scores"
    return text + "."


def _splits_scoring(cls: type) -> bool:
    return getattr(cls, "scope", None) == "corpus" or hasattr(cls, "score")


def flag_name(owner: str, name: str) -> str:
    return f"--{name}".replace("_", "-") if owner == INGEST else f"--{owner}-{name}".replace("_", "-")


def metavar(cls: type, f: dataclasses.Field) -> str:
    spec: OptionSpec = spec_of(f)
    if spec.choices:
        return "{" + ",".join(spec.choices) + "}"
    if spec.input:
        return _INPUT_METAVAR[spec.input]
    return _METAVAR.get(base_type(cls, f.name)[0], "VALUE")


def _checker(cls: type, owner: str, name: str) -> Any:
    """An argparse `type` that checks a value with the same `coerce` the TOML path uses, so a bad
    value is the same one-line usage error (exit 2) from either, naming the option and what it
    accepts. argparse's own `type=int`/`choices` would word it differently."""
    is_tuple = base_type(cls, name)[0] is tuple

    def check(value: str) -> Any:
        try:
            out = coerce(cls, owner, name, [value] if is_tuple else value)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return value if is_tuple else out

    check.__name__ = name
    return check


def add_flags(parser: argparse.ArgumentParser, cls: type, owner: str, title: str, description: str | None = None) -> None:
    group = parser.add_argument_group(title, description)
    for f in dataclasses.fields(cls):
        spec = spec_of(f)
        names = [flag_name(owner, f.name)] + ([spec.alias] if spec.alias else [])
        # argparse treats '%' in help as a format directive
        kw: dict[str, Any] = {"dest": f"{owner}__{f.name}" if owner == INGEST else f"{STAGE}__{owner}__{f.name}",
                              "default": None, "help": describe(cls, f).replace("%", "%%")}
        kind = base_type(cls, f.name)[0]
        if kind is bool:
            group.add_argument(*names, action=argparse.BooleanOptionalAction, **kw)
        elif kind is tuple:
            group.add_argument(*names, action="append", type=_checker(cls, owner, f.name), metavar=metavar(cls, f), **kw)
        else:
            group.add_argument(*names, type=_checker(cls, owner, f.name), metavar=metavar(cls, f), **kw)


def stage_summary(cls: type) -> str:
    """First line of what a stage does (its class docstring, else its module's)."""
    doc = cls.__doc__ or ""
    if doc.startswith(f"{cls.__name__}("):  # the signature dataclasses writes when there is none
        doc = getattr(sys.modules.get(cls.__module__), "__doc__", None) or ""
    return doc.strip().split("\n\n")[0].replace("\n", " ")


def add_stage_flags(parser: argparse.ArgumentParser) -> None:
    from stages import catalog

    found = catalog.all_stages()
    for name in catalog.ordered():
        cls = found[name]
        reasons = ", ".join(sorted(cls.reasons)) or "none (never removes)"
        add_flags(parser, cls, name, f"stage {name} (v{cls.version}, {cls.scope})",
                  f"{stage_summary(cls)} Reasons: {reasons}.".replace("%", "%%"))


def add_ingest_flags(parser: argparse.ArgumentParser) -> None:
    from flows.ingest.config import IngestConfig

    add_flags(parser, IngestConfig, INGEST, "ingest", "How input records become documents.")


def collect(args: argparse.Namespace) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """(stage options, ingest options) the user set on the command line."""
    stage_opts: dict[str, dict[str, Any]] = {}
    ingest: dict[str, Any] = {}
    for dest, value in vars(args).items():
        if value is None:
            continue
        if dest.startswith(f"{STAGE}__"):
            _, stage, name = dest.split("__", 2)
            stage_opts.setdefault(stage, {})[name] = value
        elif dest.startswith(f"{INGEST}__"):
            ingest[dest.removeprefix(f"{INGEST}__")] = value
    return stage_opts, ingest
