"""`assay stages`: the stages this install has, in run order, with their reasons and options."""
from __future__ import annotations

import argparse
import dataclasses
import json
import textwrap
from typing import Any

ORDER = 50
HELP = "list the stages in run order, with their reasons and options"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", metavar="STAGE", help="only these stages (default: all)")
    p.add_argument("--json", action="store_true", help="one JSON document instead of text (for tools)")


def describe(name: str, cls: type) -> dict[str, Any]:
    from flows.cli.options import flag_name, show_default, stage_summary
    from stages.options import accepts, spec_of

    opts = []
    for f in dataclasses.fields(cls):
        spec = spec_of(f)
        default = list(f.default) if isinstance(f.default, tuple) else f.default
        opts.append({"name": f.name, "flags": [flag_name(name, f.name)] + ([spec.alias] if spec.alias else []),
                     "default": default, "default_text": show_default(f.default), "accepts": accepts(cls, f),
                     "help": spec.help, "role": spec.role, "input": spec.input})
    return {"name": name, "version": cls.version, "scope": cls.scope, "summary": stage_summary(cls),
            "reasons": sorted(cls.reasons), "options": opts}


def run(args: argparse.Namespace) -> int:
    from stages import catalog
    from stages.options import ConfigError

    found = catalog.all_stages()
    unknown = [n for n in args.names if n not in found]
    if unknown:
        raise ConfigError(f"unknown stage(s) {unknown}; available: {', '.join(catalog.ordered())}")
    names = [n for n in catalog.ordered() if not args.names or n in args.names]
    info = [describe(n, found[n]) for n in names]
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    print(f"Stages in run order (the default for 'assay run'): {', '.join(catalog.default_stages())}")
    print("Set an option with its flag, or in a config file's [stage.NAME] table as NAME = value.")
    for s in info:
        print(f"\n{s['name']}  v{s['version']}, {s['scope']} scope")
        if s["summary"]:
            print(f"  {s['summary']}")
        reasons = ", ".join(s["reasons"]) or "none (never removes)"
        print(textwrap.fill(f"reasons: {reasons}", 100, initial_indent="  ", subsequent_indent="    "))
        for o in s["options"]:
            print(f"  {o['name']} = {o['default_text']}    [{', '.join(o['flags'])}]")
            print(f"      {o['help']}; accepts {o['accepts']}")
    return 0
