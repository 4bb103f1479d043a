"""`assay` command line. Exit codes: 0 ok, 1 failure, 2 usage error."""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tomllib
import typing
from pathlib import Path
from typing import Any

USAGE, FAILURE = 2, 1


class UsageError(Exception):
    pass


def _field_type(cls: type, f: dataclasses.Field) -> Any:
    hint = typing.get_type_hints(cls)[f.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is tuple:
        return "list"
    return args[0] if args and typing.get_origin(hint) is not None else hint


def _stage_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per stage option (`--quality-min-words 30`), generated from the dataclass fields."""
    from stages.catalog import all_stages

    for name, cls in all_stages().items():
        group = parser.add_argument_group(f"stage {name}")
        for f in dataclasses.fields(cls):
            flag = f"--{name}-{f.name}".replace("_", "-")
            kind = _field_type(cls, f)
            dest = f"opt__{name}__{f.name}"
            if kind == "list":
                group.add_argument(flag, dest=dest, action="append", metavar="VALUE")
            elif kind is bool:
                group.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=None)
            else:
                group.add_argument(flag, dest=dest, type=kind if kind in (int, float) else str, metavar=kind.__name__.upper() if isinstance(kind, type) else "VALUE")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assay", description="Curate LM training data; every decision lands in a DuckDB ledger.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="curate JSONL / JSONL.gz / JSONL.zst / Parquet inputs into RUN_DIR")
    run.add_argument("inputs", nargs="+", metavar="INPUT", help="files or folders of data files")
    run.add_argument("--out", required=True, type=Path, metavar="RUN_DIR")
    run.add_argument("--stages", help="comma-separated stage names in order (default: every available stage)")
    run.add_argument("--config", type=Path, help="TOML file: stages = [...], text_field, id_field, source, [stage.NAME] options")
    run.add_argument("--text-field", help="input field holding the text (default: text)")
    run.add_argument("--id-field", help="input field holding the record id (default: id)")
    run.add_argument("--source", help="source name for records that carry none")
    run.add_argument("--license", help="license for records that carry none (provenance stage)")
    run.add_argument("--against", action="append", metavar="PREVIOUS_RUN_DIR", help="near_dup: also remove near-duplicates of documents kept in an earlier release (repeatable)")
    run.add_argument("--max-doc-bytes", type=int, help="records larger than this are quarantined as too_large (default 16000000)")
    run.add_argument("--shard-size", type=int, default=None, help="documents per shard (default 20000)")
    run.add_argument("--engine", choices=("auto", "local", "prefect"), default="auto",
                     help="auto: the Prefect flow when PREFECT_API_URL is set, else in-process (same output)")
    run.add_argument("--quiet", action="store_true", help="no progress bars or funnel")
    _stage_flags(run)

    demo = sub.add_parser("demo", help="generate a small raw release with planted problems and curate it")
    demo.add_argument("--out", type=Path, default=Path("demo"), help="folder for the sample and its run (default: ./demo)")
    demo.add_argument("--docs", type=int, default=2000)
    demo.add_argument("--seed", type=int, default=0)

    sql = sub.add_parser("sql", help="read-only SQL on a run's ledger")
    sql.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    sql.add_argument("query", metavar="SQL")
    sql.add_argument("--format", choices=("table", "csv", "json"), default="table")

    show = sub.add_parser("show", help="one document's whole history")
    show.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    show.add_argument("doc_id", metavar="DOC_ID")

    ablate = sub.add_parser("ablate", help="train proxy models on curation recipes and compare them")
    try:
        from eval import ablate as ablate_mod

        ablate_mod.add_arguments(ablate)
    except ImportError as exc:  # the proxy-model extras are part of the install; say so if broken
        ablate.set_defaults(ablate_error=str(exc))
    return parser


def run_options(args: argparse.Namespace) -> Any:
    from flows.runner import RunOptions

    cfg: dict[str, Any] = {}
    if args.config:
        try:
            cfg = tomllib.loads(args.config.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"cannot read config {args.config}: {exc}") from None
    unknown = sorted(set(cfg) - {"stages", "text_field", "id_field", "source", "shard_size", "max_doc_bytes", "stage"})
    if unknown:
        raise UsageError(f"unknown keys in {args.config}: {unknown}")
    stages = tuple(s.strip() for s in args.stages.split(",") if s.strip()) if args.stages is not None else cfg.get("stages")
    options: dict[str, dict[str, Any]] = {k: dict(v) for k, v in cfg.get("stage", {}).items()}
    for key, value in vars(args).items():
        if key.startswith("opt__") and value is not None:
            _, stage, opt = key.split("__")
            options.setdefault(stage, {})[opt] = value
    if args.license:
        options.setdefault("provenance", {})["license"] = args.license
    if args.against:
        options.setdefault("near_dup", {})["against"] = list(args.against)
    from flows.runner import default_stages

    chosen = tuple(stages) if stages is not None else default_stages()
    stray = sorted(set(options) - set(chosen))
    if stray:
        raise UsageError(f"options given for stage(s) not in this run: {', '.join(stray)} (stages: {', '.join(chosen)})")
    return RunOptions(
        inputs=tuple(args.inputs), out=args.out, stages=tuple(stages) if stages is not None else None,
        stage_options=options, text_field=args.text_field or cfg.get("text_field", "text"),
        id_field=args.id_field or cfg.get("id_field", "id"), source=args.source or cfg.get("source"),
        shard_size=args.shard_size or cfg.get("shard_size", 20_000), progress=not args.quiet,
        max_doc_bytes=args.max_doc_bytes or cfg.get("max_doc_bytes", 16_000_000),
    )


def cmd_run(args: argparse.Namespace) -> int:
    from flows import report
    from flows.runner import run_local

    opts = run_options(args)
    engine = args.engine
    if engine == "auto":
        engine = "prefect" if os.environ.get("PREFECT_API_URL") else "local"
    if engine == "prefect":
        from flows.curate import run_prefect

        run_prefect(opts)
    else:
        run_local(opts)
    if not args.quiet:
        report.print_funnel(Path(args.out))
    return 0


def main(argv: list[str] | None = None) -> int:
    from flows import report
    from stages.base import ConfigError
    from stages.readers import InputError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return cmd_run(args)
        if args.command == "demo":
            from flows.demo import run_demo

            return run_demo(args.out, args.docs, args.seed)
        if args.command == "sql":
            return report.run_sql(args.run_dir, args.query, args.format)
        if args.command == "show":
            return report.show(args.run_dir, args.doc_id)
        if args.command == "ablate":
            if getattr(args, "ablate_error", None):
                print(f"assay ablate is unavailable: {args.ablate_error}", file=sys.stderr)
                return FAILURE
            from eval import ablate as ablate_mod

            return ablate_mod.run(args)
    except UsageError as exc:
        print(f"assay: usage error: {exc}", file=sys.stderr)
        return USAGE
    except ConfigError as exc:  # unknown stage, option or column: not any KeyError, which may be a bug
        print(f"assay: usage error: {exc}", file=sys.stderr)
        return USAGE
    except (InputError, report.LedgerError, FileNotFoundError) as exc:
        print(f"assay: error: {exc}", file=sys.stderr)
        return FAILURE
    except Exception as exc:  # one line for users; the traceback on request
        if os.environ.get("ASSAY_DEBUG"):
            raise
        print(f"assay: error: {type(exc).__name__}: {exc} (set ASSAY_DEBUG=1 for the traceback)", file=sys.stderr)
        return FAILURE
    return FAILURE


if __name__ == "__main__":
    sys.exit(main())
