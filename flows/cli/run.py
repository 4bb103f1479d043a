"""`assay run`: curate input files into a run folder, on the local engine or as a Prefect flow."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

ORDER = 10
HELP = "curate JSONL / JSONL.gz / JSONL.zst / Parquet inputs into RUN_DIR"
DESCRIPTION = ("Curate input files into RUN_DIR: curated Parquet, a DuckDB ledger of every decision and a "
               "manifest. A rerun reuses every step whose inputs and options did not change.")
# How many skipped files to name before summarising the rest (the manifest lists them all).
_SKIPPED_SHOWN = 10


def _positive_int(value: str) -> int:
    try:
        out = int(value.replace("_", ""))
    except ValueError:
        out = 0
    if out < 1:
        raise argparse.ArgumentTypeError(f"accepts an integer >= 1; got {value!r}")
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    from flows.cli import options
    from flows.config import INGEST_KEYS
    from flows.plan import DEFAULT_SHARD_SIZE
    from stages import catalog

    # argparse would list all ~40 generated flags in the usage line; they are listed below it.
    p.usage = "%(prog)s INPUT [INPUT ...] --out RUN_DIR [options]"
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files or folders of data files")
    p.add_argument("--out", required=True, type=Path, metavar="RUN_DIR", help="the run folder (created or resumed)")
    p.add_argument("--stages", metavar="NAMES",
                   help="comma-separated stage names, run in this order; '' ingests only "
                        f"(default: {','.join(catalog.default_stages())}; see 'assay stages')")
    p.add_argument("--config", type=Path, metavar="FILE",
                   help=f"TOML file: top-level keys stages, shard_size, work_compression, {', '.join(INGEST_KEYS)}; "
                        "[stage.NAME] tables of stage options; [benchmarks] NAME = PATH (contamination). Flags override it, option by option")
    p.add_argument("--shard-size", type=_positive_int, metavar="N",
                   help=f"documents per shard; accepts an integer >= 1; default {DEFAULT_SHARD_SIZE}")
    p.add_argument("--work-compression", choices=("auto", "none", "lz4", "zstd"), default=None,
                   help="compression of the text shards each step keeps in RUN_DIR/work (a cache): none is "
                        "fastest; lz4 (2-3x smaller) or zstd (3-5x smaller) save disk; default auto: none "
                        "below 1 GiB of input, lz4 above")
    p.add_argument("--engine", choices=("auto", "local", "prefect"), default="auto",
                   help="auto: the Prefect flow when PREFECT_API_URL is set, else in-process (same output)")
    p.add_argument("--runner", choices=("local", "threads", "dask", "ray"), default=None,
                   help="what runs the units of work (one per input file, then per shard): local, one at a time "
                        "(default); threads, dask or ray (worker processes, or the cluster at --runner-address) run "
                        "them in parallel as a Prefect flow; same output")
    p.add_argument("--runner-address", metavar="ADDRESS",
                   help="an existing Dask scheduler (tcp://HOST:PORT) for --runner dask, or Ray cluster (ray://HOST:PORT) "
                        "for --runner ray; its workers must see RUN_DIR and the inputs")
    p.add_argument("--workers", type=_positive_int, metavar="N",
                   help="threads or local worker processes for --runner threads|dask|ray; default: the CPU cores")
    p.add_argument("--quiet", action="store_true", help="no progress bars, funnel or Prefect logs below warnings")
    p.add_argument("--write-removed", action="store_true",
                   help="also write the removed documents, with the stage and reason that removed them, "
                        "as Parquet in RUN_DIR/removed/ (beside curated/)")
    p.add_argument("--compact-work", action="store_true",
                   help="keep less in RUN_DIR/work during the run: a step's text copy is dropped once the next "
                        "step is done (as 'assay gc --compact' does afterwards); a later run that changes a stage "
                        "rebuilds the copies it needs, and 'assay show' shows a removed document's text only after that")
    options.add_ingest_flags(p)
    options.add_stage_flags(p)


def run_options(args: argparse.Namespace) -> Any:
    from flows.cli.options import collect
    from flows.config import run_options

    stage_opts, ingest = collect(args)
    stages = None if args.stages is None else tuple(s.strip() for s in args.stages.split(",") if s.strip())
    import dataclasses

    opts = run_options(args.inputs, args.out, config=args.config, stages=stages, stage_options=stage_opts,
                       ingest=ingest, shard_size=args.shard_size, progress=not args.quiet,
                       work_compression=args.work_compression)
    return dataclasses.replace(opts, write_removed=args.write_removed, compact_work=args.compact_work)


def check_stages(opts: Any) -> None:
    """Stage names and option values, checked before anything starts: a usage error on the Prefect
    engine is then one line here instead of a failed flow run and a traceback in its logs."""
    from stages import catalog
    from stages.options import ConfigError

    names = catalog.default_stages() if opts.stages is None else opts.stages
    if len(set(names)) != len(names):
        raise ConfigError(f"a stage is named twice in {list(names)}")
    for name in names:
        catalog.build(name, dict(opts.stage_options.get(name, {})))
    stray = sorted(set(opts.stage_options) - set(names))
    if stray:
        raise ConfigError(f"options given for stage(s) not in this run: {', '.join(stray)} (stages: {', '.join(names)})")


def note_skipped(manifest: dict[str, Any]) -> None:
    """Files inside input folders that are not data, and default stages that were not configured,
    are never skipped without a word."""
    for item in manifest.get("not_configured", []):
        print(f"note: stage {item['stage']} did not run: {item['needs']}", file=sys.stderr)
    skipped = manifest.get("inputs", {}).get("skipped", [])
    for item in skipped[:_SKIPPED_SHOWN]:
        print(f"note: skipped {item['path']}: {item['why']}", file=sys.stderr)
    if len(skipped) > _SKIPPED_SHOWN:
        print(f"note: and {len(skipped) - _SKIPPED_SHOWN} more skipped files (manifest.json: inputs.skipped)",
              file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from stages.options import ConfigError

    opts = run_options(args)
    check_stages(opts)
    engine = args.engine
    runner = args.runner or "local"
    from flows.runners import check

    check(runner, args.runner_address, args.workers)
    if engine == "local" and runner != "local":
        raise ConfigError(f"--runner {runner} runs the Prefect flow; it cannot be combined with --engine local")
    if engine == "auto":
        engine = "prefect" if os.environ.get("PREFECT_API_URL") or runner != "local" else "local"
    if engine == "prefect":
        from flows.runners import quiet_prefect, task_runner

        if args.quiet:
            quiet_prefect()
        from flows.curate import run_prefect

        manifest = run_prefect(opts, task_runner(runner, args.runner_address, args.workers) if args.runner else None)
    else:
        from flows.execute import run_local

        manifest = run_local(opts)
    note_skipped(manifest)
    from flows.run_report import write_quietly

    write_quietly(Path(args.out))  # every run leaves report.html and report.md (assay report rebuilds them)
    if not args.quiet:
        from flows import report

        report.print_funnel(Path(args.out))
        print(f"report:            {Path(args.out) / 'report.html'} (opens offline)")
    return 0
