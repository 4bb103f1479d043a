"""Per-shard units of consecutive steps are chained shard by shard: a worker takes a shard on to the
next stage without waiting for the slowest shard of this one, and the run writes the same bytes."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import pytest
from test_execute import corpus, digest, opts

from flows.execute import LocalExecutor, execute, run_local
from flows.plan import make_plan


class ShardWise(LocalExecutor):
    """The most eager order a cluster could pick: shard 0 through every chained map, then shard 1..."""

    def __init__(self) -> None:
        super().__init__(progress=False)
        self.order: list[tuple[str, int]] = []

    def chain(self, maps):
        for i in range(len(maps[0][2])):
            for label, fn, args in maps:
                self.order.append((label, i))
                fn(*args[i])
        return [time.perf_counter()] * len(maps)


def test_a_run_taken_shard_by_shard_writes_the_same_bytes(tmp_path: Path) -> None:
    inp = corpus(tmp_path)
    stages = ("provenance", "exact_dup", "quality", "near_dup")
    local = run_local(opts(inp, tmp_path / "local", stages=stages))
    ex = ShardWise()
    chained = execute(make_plan(opts(inp, tmp_path / "chained", stages=stages)), ex)
    assert (chained["kept"], chained["removed"]) == (local["kept"], local["removed"])
    assert digest(tmp_path / "chained") == digest(tmp_path / "local")
    # three chains: up to exact_dup's judgement, up to near_dup's, and the rest; each shard-wise
    assert ex.order[:3] == [("provenance", 0), ("exact_dup-features", 0), ("provenance", 1)]
    assert ("exact_dup-split", 0) in ex.order and ex.order[ex.order.index(("exact_dup-split", 0)) + 1] == ("quality", 0)
    shards = 1 + max(i for _, i in ex.order)
    assert shards > 2 and ex.order[-1] == ("near_dup-split", shards - 1) and len(ex.order) == 6 * shards
    counts = []
    for run in ("chained", "local"):  # each step checked and marked done, with the local engine's counts
        con = duckdb.connect(str(tmp_path / run / "ledger.duckdb"), read_only=True)
        counts.append(con.execute("SELECT stage, n_in, n_kept, n_removed FROM stages ORDER BY position").fetchall())
        con.close()
    assert counts[0] == counts[1] and [c[0] for c in counts[0]] == list(stages)


def test_compact_work_runs_one_step_at_a_time(tmp_path: Path) -> None:
    """--compact-work drops a step's text once the next is done, so at most two copies exist: a chain
    of several steps would hold one copy per step until its end."""
    inp = corpus(tmp_path)
    stages = ("provenance", "exact_dup", "quality")
    ex = ShardWise()
    chains = []
    real = ex.chain
    ex.chain = lambda maps: chains.append([label for label, _, _ in maps]) or real(maps)
    execute(make_plan(opts(inp, tmp_path / "run", stages=stages, compact_work=True)), ex)
    assert chains == [["provenance"], ["exact_dup-features"], ["exact_dup-split"], ["quality"]]
    run_local(opts(inp, tmp_path / "local", stages=stages))
    assert digest(tmp_path / "run") == digest(tmp_path / "local")


def test_a_unit_whose_input_shard_is_missing_names_it(tmp_path: Path) -> None:
    from flows import steps
    from flows.errors import RunError

    inp = corpus(tmp_path)
    plan = make_plan(opts(inp, tmp_path / "run"))
    steps.run_ingest(plan)
    with pytest.raises(RunError, match="shard 0: its input .*01-provenance.*shard-00000.parquet does not exist"):
        steps.run_shard(plan, 2, 0)  # exact_dup's shard 0 before provenance wrote it


def _unit(log: list, lock: threading.Lock, name: str, shard: int, sleep: float) -> str:
    with lock:
        log.append((name, shard, "start", time.perf_counter()))
    time.sleep(sleep)
    with lock:
        log.append((name, shard, "end", time.perf_counter()))
    return f"{name}{shard}"


LOG: list = []
LOCK = threading.Lock()


def unit_a(plan, position, shard):
    if shard == 2:
        raise ValueError("unit a failed on shard 2")
    return _unit(LOG, LOCK, "a", shard, 1.0 if shard == 0 else 0.0)


def unit_b(plan, position, shard):
    return _unit(LOG, LOCK, "b", shard, 0.0)


def _two_maps(task_runner, shards: int):
    from prefect import flow

    from flows.curate import PrefectExecutor

    @flow(task_runner=task_runner)
    def two_maps(shards: int):
        return PrefectExecutor(2).chain([("a", unit_a, [(None, 1, i) for i in range(shards)]),
                                         ("b", unit_b, [(None, 2, i) for i in range(shards)])])

    LOG.clear()
    return two_maps(shards)


def test_prefect_runs_each_unit_after_its_shards_unit_before_and_raises_a_failure(prefect_harness) -> None:
    from prefect.task_runners import ThreadPoolTaskRunner

    ended = _two_maps(ThreadPoolTaskRunner(max_workers=2), 2)
    at = {(n, s, e): t for n, s, e, t in LOG}
    assert len(ended) == 2 and ended[0] <= ended[1]
    assert at[("b", 0, "start")] >= at[("a", 0, "end")] and at[("b", 1, "start")] >= at[("a", 1, "end")]
    with pytest.raises(ValueError, match="unit a failed on shard 2"):
        _two_maps(ThreadPoolTaskRunner(max_workers=2), 3)
    assert ("b", 2, "start") not in {(n, s, e) for n, s, e, _ in LOG}


@pytest.mark.slow
def test_on_dask_a_shard_goes_on_while_another_is_still_in_the_stage_before(prefect_harness) -> None:
    from prefect_dask import DaskTaskRunner

    # threads of this process, so that the units' log is shared; a worker process cluster schedules alike
    _two_maps(DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 1, "processes": False,
                                             "dashboard_address": None}), 2)
    at = {(n, s, e): t for n, s, e, t in LOG}
    assert at[("b", 1, "start")] < at[("a", 0, "end")]  # shard 1 of b ran while shard 0 of a still did
    assert at[("b", 0, "start")] >= at[("a", 0, "end")]
