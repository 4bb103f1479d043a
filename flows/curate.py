"""The Prefect flow: the same steps as the local engine, as tasks that pass plans and paths.

Prefect adds retries on I/O, concurrency over shards, and visibility when PREFECT_API_URL points to
a server. Resumption does not depend on Prefect's result cache: each step's `_done.json` (keyed on
input content + stage config + version) lets a rerun skip what finished.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from flows import runner
from flows.ledger import finalize


@task(name="ingest", cache_policy=NO_CACHE, retries=1)
def ingest_task(p: dict[str, Any]) -> dict[str, Any]:
    return runner.run_ingest(p)


@task(name="stage-shard", cache_policy=NO_CACHE, retries=1)
def shard_task(p: dict[str, Any], position: int, shard: int) -> str:
    return runner.run_stage_shard(p, position, shard)


@task(name="corpus-stage", cache_policy=NO_CACHE)
def corpus_task(p: dict[str, Any], position: int) -> list[str]:
    return runner.run_corpus_stage(p, position)


@task(name="finish-stage", cache_policy=NO_CACHE)
def finish_task(p: dict[str, Any], position: int, seconds: float) -> dict[str, Any]:
    return runner.finish_stage(p, position, seconds)


@task(name="finalize", cache_policy=NO_CACHE)
def finalize_task(p: dict[str, Any], started: float) -> dict[str, Any]:
    return finalize(p, started)


@flow(name="assay-curate", task_runner=ThreadPoolTaskRunner(max_workers=2), log_prints=True)
def curate(p: dict[str, Any], started: float) -> dict[str, Any]:
    ingest_task(p)
    for position in range(1, len(p["steps"])):
        step = p["steps"][position]
        if runner._done(step):
            continue
        start = time.perf_counter()
        if step["scope"] == "document":
            n = len(runner._shards(p["steps"][position - 1]))
            futures = [shard_task.submit(p, position, i) for i in range(n)]
            for f in futures:
                f.result()
        else:
            corpus_task(p, position)
        finish_task(p, position, time.perf_counter() - start)
    return finalize_task(p, started)


def run_prefect(opts: runner.RunOptions) -> dict[str, Any]:
    # Prefect's temporary server cannot create its SQLite file in a PREFECT_HOME that does not exist
    # yet, and then fails with a connection timeout that names neither.
    home = os.environ.get("PREFECT_HOME")
    if home:
        Path(home).expanduser().mkdir(parents=True, exist_ok=True)
    return curate(runner.plan(opts), time.time())
