"""The one orchestrator: `execute(plan, executor)` walks the plan's steps and hands each unit of work
(flows/steps.py) to an executor. The local engine runs them in this process; the Prefect flow
(flows/curate.py) submits them as tasks on whatever task runner it was given. Neither knows the
other's details, and both produce the same bytes.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from tqdm import tqdm

from flows import steps
from flows.ledger import finalize
from flows.plan import Plan, RunOptions, make_plan


class Executor(Protocol):
    def call(self, label: str, fn: Callable[..., Any], *args: Any) -> Any: ...

    def map(self, label: str, fn: Callable[..., Any], args: Sequence[tuple[Any, ...]]) -> list[Any]: ...


class LocalExecutor:
    """Runs every unit in this process, in order, with a progress bar per stage."""

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


def _execute(plan: Plan, ex: Executor, started: float) -> dict[str, Any]:
    ex.call("ingest", steps.run_ingest, plan)
    for step in plan.stages:
        if steps.done(step):
            continue
        start = time.perf_counter()
        units = [(plan, step.position, i) for i in range(len(steps.shards_of(plan.steps[step.position - 1])))]
        if step.scope == "document":
            ex.map(step.name, steps.run_shard, units)
        else:
            ex.map(f"{step.name}-features", steps.run_features, units)
            ex.call(f"{step.name}-judge", steps.run_judge, plan, step.position)
            ex.map(f"{step.name}-split", steps.run_split, units)
        ex.call(f"{step.name}-finish", steps.finish_stage, plan, step.position, time.perf_counter() - start)
    return ex.call("finalize", finalize, plan, started)


def run_local(opts: RunOptions) -> dict[str, Any]:
    """Plan and run every step in this process; returns the manifest."""
    return execute(make_plan(opts), LocalExecutor(progress=opts.progress))
