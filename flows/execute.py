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
from flows.plan import Plan, RunOptions, StepPlan, make_plan
from flows.runfolder import claim_out


Map = tuple[str, Callable[..., Any], Sequence[tuple[Any, ...]]]  # (label, fn, one args tuple per shard)


class Executor(Protocol):
    def call(self, label: str, fn: Callable[..., Any], *args: Any) -> Any: ...

    def map(self, label: str, fn: Callable[..., Any], args: Sequence[tuple[Any, ...]]) -> list[Any]: ...

    # Optional: `chain(maps)` runs maps whose unit i needs only unit i of the map before it, and
    # returns when each map ended (time.perf_counter). Without it, the maps run one after another.


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


def chain(ex: Executor, maps: list[Map]) -> list[float]:
    """Run `maps` in order; unit i of a map needs only unit i of the one before (the same shard one
    step earlier). An executor with workers runs them shard-wise (its `chain`): a worker goes on to
    the next stage of a shard instead of waiting at every stage for the slowest shard."""
    if hasattr(ex, "chain"):
        return ex.chain(maps)  # type: ignore[attr-defined]
    ended = []
    for label, fn, args in maps:
        ex.map(label, fn, args)
        ended.append(time.perf_counter())
    return ended


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


class _Chain:
    """The per-shard maps of consecutive steps, run together up to the next corpus-wide unit (a
    judgement, or the end); then each step whose every unit ran is checked and marked done, in order.
    A step's seconds: its maps' share of the chains' wall time (each map until its last shard ended)
    and its judgement."""

    def __init__(self, plan: Plan, ex: Executor) -> None:
        self.plan, self.ex = plan, ex
        self.maps: list[Map] = []
        self.owners: list[StepPlan] = []  # the step of each map
        self.whole: list[StepPlan] = []  # steps whose last map is in the chain: finished by `run`
        self.seconds: dict[str, float] = {}

    def add(self, label: str, fn: Callable[..., Any], step: StepPlan) -> None:
        if not self.maps:
            gc.restore(self.plan, self.ex, step.position - 1)  # its input, if `assay gc --compact` removed it
        self.maps.append((label, fn, [(self.plan, step.position, i) for i in range(steps.shard_count(self.plan))]))
        self.owners.append(step)

    def judge(self, step: StepPlan) -> None:
        start = time.perf_counter()
        self.ex.call(f"{step.name}-judge", steps.run_judge, self.plan, step.position)
        self.seconds[step.key] = self.seconds.get(step.key, 0.0) + time.perf_counter() - start

    def run(self) -> None:
        start = time.perf_counter()
        ended = chain(self.ex, self.maps) if self.maps else []
        for step, t0, t1 in zip(self.owners, [start, *ended], ended, strict=False):
            self.seconds[step.key] = self.seconds.get(step.key, 0.0) + t1 - t0
        for step in self.whole:
            self.ex.call(f"{step.name}-finish", steps.finish_stage, self.plan, step.position, self.seconds.pop(step.key, 0.0))
            if self.plan.compact_work:
                gc.drop_text(self.plan, step.position - 1)
        self.maps, self.owners, self.whole = [], [], []


def _execute(plan: Plan, ex: Executor, started: float) -> dict[str, Any]:
    _ingest(plan, ex)
    pending = _Chain(plan, ex)
    for step in plan.stages:
        if steps.done(step):
            continue
        if step.scope == "document":
            pending.add(step.name, steps.run_shard, step)
        else:
            pending.add(f"{step.name}-features", steps.run_features, step)
            pending.run()
            pending.judge(step)
            pending.add(f"{step.name}-split", steps.run_split, step)
        pending.whole.append(step)
        if plan.compact_work:  # one step at a time: its input text is dropped before the next runs (2 copies at most)
            pending.run()
    pending.run()
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
