"""`assay serve`: run the curation flow on a schedule, with Prefect (`flow.serve`)."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

ORDER = 15
HELP = "run the curation of INPUT into RUN_DIR on a schedule (cron or interval), as a served Prefect flow"
DESCRIPTION = ("Register the curation flow as a Prefect deployment with a schedule and these parameters (the same "
               "inputs, flags and --config as 'assay run'), then run each scheduled run in this process until "
               "stopped. Needs a Prefect server (PREFECT_API_URL; e.g. 'prefect server start'): a temporary one "
               "would stop with this process and keep no schedule.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from flows.cli import run

    run.add_arguments(p)
    p.usage = "%(prog)s INPUT [INPUT ...] --out RUN_DIR (--cron EXPR | --interval SECONDS) [options]"
    when = p.add_argument_group("schedule")
    spec = when.add_mutually_exclusive_group(required=True)
    spec.add_argument("--cron", metavar="EXPR", help="a cron expression, e.g. '0 3 * * *' (03:00 daily)")
    spec.add_argument("--interval", type=run._positive_int, metavar="SECONDS", help="seconds between runs")
    when.add_argument("--name", default="assay-curate", help="the deployment's name (default assay-curate)")
    when.add_argument("--timezone", metavar="TZ", help="time zone of --cron, e.g. Europe/Berlin (default UTC)")


def parameters(args: argparse.Namespace) -> dict[str, Any]:
    """The flow's parameters: what 'assay run' with the same arguments would run, paths absolute
    (a scheduled run starts in whatever folder the runner is in)."""
    from flows.cli.run import check_stages, run_options
    from flows.curate import flow_parameters

    args.inputs = [str(Path(i).absolute()) for i in args.inputs]
    args.out = Path(args.out).absolute()
    opts = run_options(args)
    check_stages(opts)
    return flow_parameters(opts)


def run(args: argparse.Namespace) -> int:
    from prefect.schedules import Cron, Interval

    from flows.curate import curate

    if args.runner not in (None, "local") or args.engine == "local":
        from stages.options import ConfigError

        raise ConfigError("assay serve runs the flow with its own task runner; --runner and --engine are for 'assay run' "
                          "(for Dask workers, deploy the flow to a work pool: see the README)")
    schedule = Cron(args.cron, timezone=args.timezone or "UTC") if args.cron else Interval(args.interval)
    curate.serve(name=args.name, schedules=[schedule], parameters=parameters(args),
                 description="assay: curate inputs into a run folder", print_starting_message=not args.quiet)
    return 0
