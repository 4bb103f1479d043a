"""The one orchestrator: `execute(plan, executor)` walks the plan's steps and hands each unit of work
(flows/steps.py) to an executor. The local engine runs them in this process; the Prefect flow
(flows/curate.py) submits them as tasks on whatever task runner it was given. Neither knows the
other's details, and both produce the same bytes.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from tqdm import tqdm

from flows import gc, ingest_parallel, ledger_parts, steps
from flows.ledger import finalize
from flows.plan import Plan, RunOptions, make_plan
from flows.runfolder import claim_out


class Executor(Protocol):
    def call(self, label: str, fn: Callable[..., Any], *args: Any) -> Any: ...

    def map(self, label: str, fn: Callable[..., Any], args: Sequence[tuple[Any, ...]]) -> list[Any]: ...


class LocalExecutor:
    """Runs every unit in this process, in order, with a progress bar per stage."""

    workers = 1  # how many units an executor runs at once: more than one reads input files in parallel

    def __init__(self, progress: bool = True) -> None:
        self.progress = progress

    def call(self, label: str, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)

    def map(self, label: str, fn: Callable[..., Any], args: Sequence[tuple[Any, ...]]) -> list[Any]:
        bar = tqdm(args, desc=label, unit="shard", disable=not self.progress or None, leave=False)
        return [fn(*a) for a in bar]


def execute(plan: Plan, ex: Executor) -> dict[str, Any]:
    started = time.time()
    try:
        return _execute(plan, ex, started)
    finally:
        steps.release(plan)


def _ingest(plan: Plan, ex: Executor) -> None:
    """One unit per input file when the executor runs several at once (same shards either way)."""
    if steps.done(plan.steps[0]) is None and ingest_parallel.use_parallel(plan, getattr(ex, "workers", 1)):
        claim_out(plan)
        start = time.perf_counter()
        ex.map("ingest-read", ingest_parallel.read_part, [(plan, i) for i in range(len(plan.inputs))])
        shards = ex.call("ingest-ids", ingest_parallel.resolve, plan)
        if shards is not None:
            ex.map("ingest-write", ingest_parallel.write_shard, [(plan, k) for k in range(shards)])
            ex.call("ingest-finish", ingest_parallel.finish, plan, shards, start)
            return
        ingest_parallel.discard(plan)
    ex.call("ingest", steps.run_ingest, plan)


def _execute(plan: Plan, ex: Executor, started: float) -> dict[str, Any]:
    _ingest(plan, ex)
    for step in plan.stages:
        if steps.done(step):
            continue
        gc.restore(plan, ex, step.position - 1)  # its input, if `assay gc --compact` removed it
        start = time.perf_counter()
        units = [(plan, step.position, i) for i in range(len(steps.shards_of(plan.steps[step.position - 1])))]
        if step.scope == "document":
            ex.map(step.name, steps.run_shard, units)
        else:
            ex.map(f"{step.name}-features", steps.run_features, units)
            ex.call(f"{step.name}-judge", steps.run_judge, plan, step.position)
            ex.map(f"{step.name}-split", steps.run_split, units)
        ex.call(f"{step.name}-finish", steps.finish_stage, plan, step.position, time.perf_counter() - start)
        if plan.compact_work:
            gc.drop_text(plan, step.position - 1)
    gc.restore(plan, ex, len(plan.steps) - 1)
    if plan.write_removed:  # removed/ takes each removing stage's input text
        for step in plan.stages:
            gc.restore(plan, ex, step.position - 1)
    token = uuid.uuid4().hex[:12]  # this finalize's ledger parts (a killed one's are removed by the next)
    ex.map("publish-parts", ledger_parts.prepare_shard, ledger_parts.units(plan, token))
    return ex.call("finalize", finalize, plan, started, token)


def run_local(opts: RunOptions) -> dict[str, Any]:
    """Plan and run every step in this process; returns the manifest."""
    return execute(make_plan(opts), LocalExecutor(progress=opts.progress))
