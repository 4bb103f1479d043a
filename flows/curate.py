"""The Prefect flow: the same orchestrator (flows/execute.py) with every unit of work a Prefect task.

The flow takes user-level parameters (inputs, out, config file, stages, options) and plans inside
itself, so it can be served, deployed to a work pool or run with another task runner (Dask, Ray)
without code of ours in between. Tasks pass the plan and paths, never frames. Resumption does not
depend on Prefect's result cache: each step's `_done.json` (keyed on content) lets a rerun skip
what finished.
"""
from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from flows.config import run_options
from flows.execute import Map, execute
from flows.plan import RunOptions, make_plan
from flows.runners import parallelism, share_api

# Reading and writing Parquet is where transient failures are (network file systems, full disks
# that are then cleaned): one retry; every unit is idempotent because outputs are renamed into place.
_RETRIES = 1


class PrefectExecutor:
    """Each call is a task run named after its stage (and shard), visible on a Prefect server."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers

    def call(self, label: str, fn: Callable[..., Any], *args: Any) -> Any:
        return task(fn, name=label, task_run_name=label, cache_policy=NO_CACHE, retries=_RETRIES)(*args)

    def map(self, label: str, fn: Callable[..., Any], args: Sequence[tuple[Any, ...]]) -> list[Any]:
        unit = "file" if label == "ingest-read" else "shard"
        t = task(fn, name=label, cache_policy=NO_CACHE, retries=_RETRIES)
        futures = [t.with_options(task_run_name=f"{label}-{unit}-{a[-1]:05d}").submit(*a) for a in args]
        return [f.result() for f in futures]

    def chain(self, maps: list[Map]) -> list[float]:
        """Every map's task runs submitted at once, each waiting only for the same shard's task run of
        the map before (flows/execute.chain); returns when each map ended."""
        submitted: list[list[Any]] = []
        for label, fn, args in maps:
            t = task(fn, name=label, cache_policy=NO_CACHE, retries=_RETRIES)
            before = submitted[-1] if submitted else [None] * len(args)
            submitted.append([t.with_options(task_run_name=f"{label}-shard-{a[-1]:05d}").submit(
                *a, wait_for=[b] if b is not None else None) for a, b in zip(args, before, strict=True)])
        ended = []
        for futures in submitted:  # in map order: an upstream failure is raised as itself
            for f in futures:
                f.result()
            ended.append(time.perf_counter())
        return ended


@flow(name="assay-curate", task_runner=ThreadPoolTaskRunner(max_workers=2), log_prints=True)
def curate(
    inputs: list[str],
    out: str,
    config: str | None = None,
    stages: list[str] | None = None,
    options: dict[str, dict[str, Any]] | None = None,
    ingest: dict[str, Any] | None = None,
    shard_size: int | None = None,
    work_compression: str | None = None,
    write_removed: bool = False,
    compact_work: bool = False,
) -> dict[str, Any]:
    """Curate INPUTS into the run folder OUT; returns the run's manifest."""
    opts = run_options(inputs, out, config=config, stages=stages, stage_options=options, ingest=ingest,
                       shard_size=shard_size, progress=False, work_compression=work_compression)
    opts = dataclasses.replace(opts, write_removed=write_removed, compact_work=compact_work)
    runner = FlowRunContext.get().task_runner  # type: ignore[union-attr]
    return execute(make_plan(opts), PrefectExecutor(parallelism(runner)))


def flow_parameters(opts: RunOptions) -> dict[str, Any]:
    """RunOptions as the flow's parameters (what a deployment or a server shows)."""
    defaults = type(opts.ingest)()
    ingest = {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(opts.ingest).items() if getattr(defaults, k) != v}
    return {"inputs": list(opts.inputs), "out": str(opts.out), "stages": list(opts.stages) if opts.stages is not None else None,
            "options": {k: dict(v) for k, v in opts.stage_options.items()}, "ingest": ingest, "shard_size": opts.shard_size,
            "work_compression": opts.work_compression, "write_removed": opts.write_removed,
            "compact_work": opts.compact_work}


def private_server() -> None:
    """Where no Prefect server is configured, Prefect starts a temporary one for this process: it
    should not report usage to Prefect's telemetry endpoint (without network access its attempts
    printed errors and tracebacks into `assay run --quiet`'s output). A user's own setting wins."""
    from prefect.settings import get_current_settings

    if get_current_settings().api.url is None:
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def run_prefect(opts: RunOptions, task_runner: TaskRunner | None = None) -> dict[str, Any]:
    # Prefect's temporary server cannot create its SQLite file in a PREFECT_HOME that does not exist
    # yet, and then fails with a connection timeout that names neither.
    home = os.environ.get("PREFECT_HOME")
    if home:
        Path(home).expanduser().mkdir(parents=True, exist_ok=True)
    private_server()
    runnable = curate.with_options(task_runner=share_api(task_runner)) if task_runner is not None else curate
    return runnable(**flow_parameters(opts))
