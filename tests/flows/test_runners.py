"""Scale-out: per-file ingest writes the serial loop's shards byte for byte, and the flow on a local
Dask cluster of two worker processes writes the local engine's curated bytes and ledger tables."""
from __future__ import annotations

import importlib.util

import hashlib
import json
from pathlib import Path

import pytest
from conftest import prose, write_jsonl
from test_execute import digest

from flows.execute import LocalExecutor, execute, run_local
from flows.plan import RunOptions, make_plan
from flows.runners import check, parallelism, task_runner
from stages.options import ConfigError


class TwoAtOnce(LocalExecutor):
    """The local engine, claiming two workers: takes the per-file ingest path in this process."""

    workers = 2

    def __init__(self) -> None:
        super().__init__(progress=False)
        self.labels: list[str] = []

    def call(self, label, fn, *args):
        self.labels.append(label)
        return super().call(label, fn, *args)

    def map(self, label, fn, args):
        self.labels.append(label)
        return super().map(label, fn, args)


def corpus(root: Path) -> Path:
    """Four files, with texts repeated within and across files (content ids numbered across the
    run), bad lines, a blank line and an empty file; shards cut across file boundaries."""
    d = root / "in"
    write_jsonl(d / "a.jsonl", [{"text": prose(i)} for i in range(70)] + [{"text": prose(3)}], [b"{bad\n", b"\n"])
    write_jsonl(d / "b.jsonl", [{"text": prose(i)} for i in range(60, 130)] + [{"text": prose(3)}, {"text": ""}])
    write_jsonl(d / "c.jsonl", [])
    write_jsonl(d / "d.jsonl", [{"text": prose(i), "url": f"https://s{i % 3}.org/{i}"} for i in range(125, 200)])
    return d


def ingest_bytes(run: Path) -> dict[str, str]:
    step = next((run / "work").glob("00-ingest-*"))
    marker = json.loads((step / "_done.json").read_text())
    marker.pop("seconds")
    out = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(step.glob("*.parquet"))}
    return out | {"marker": json.dumps(marker, sort_keys=True), "leftovers": str(sorted(p.name for p in step.iterdir() if p.is_dir()))}


def opts(inp: Path, out: Path, stages=("provenance", "exact_dup", "quality", "near_dup")) -> RunOptions:
    return RunOptions(inputs=(str(inp),), out=out, shard_size=37, progress=False, stages=stages)


def test_per_file_ingest_writes_the_serial_shards(tmp_path: Path) -> None:
    inp = corpus(tmp_path)
    serial = run_local(opts(inp, tmp_path / "serial"))
    ex = TwoAtOnce()
    split = execute(make_plan(opts(inp, tmp_path / "split")), ex)
    assert ex.labels[:5] == ["ingest-read", "ingest-ids", "ingest-write", "ingest-finish", "provenance"]
    assert (split["records"], split["quarantined"]) == (serial["records"], serial["quarantined"]) == (219, 2)
    assert ingest_bytes(tmp_path / "split") == ingest_bytes(tmp_path / "serial")
    assert ingest_bytes(tmp_path / "split")["leftovers"] == "[]"  # the per-file parts are removed
    assert digest(tmp_path / "split") == digest(tmp_path / "serial")
    assert split["removed_by_stage"]["exact_dup"] == serial["removed_by_stage"]["exact_dup"] == 17  # prose(3) twice, 10 shared by a and b, 5 by b and d


def test_a_repeated_given_id_falls_back_to_the_serial_loop(tmp_path: Path) -> None:
    d = tmp_path / "in"
    write_jsonl(d / "a.jsonl", [{"id": f"x{i}", "text": prose(i)} for i in range(30)])
    write_jsonl(d / "b.jsonl", [{"id": f"x{i}", "text": prose(i + 100)} for i in range(25, 40)])
    serial = run_local(opts(d, tmp_path / "serial", stages=("quality",)))
    ex = TwoAtOnce()
    split = execute(make_plan(opts(d, tmp_path / "split", stages=("quality",))), ex)
    assert ex.labels[:3] == ["ingest-read", "ingest-ids", "ingest"]  # no shards written from the parts
    assert split["quarantined"] == serial["quarantined"] == 5  # x25..x29 seen twice
    assert ingest_bytes(tmp_path / "split") == ingest_bytes(tmp_path / "serial")
    assert digest(tmp_path / "split") == digest(tmp_path / "serial")


def test_ids_that_clash_only_after_numbering_match_the_serial_loop(tmp_path: Path) -> None:
    """A given id equal to a repeated text's numbered content id (`<id>-2`) is refused as the serial
    book refuses it (the parts are dropped, the serial loop runs), and a quarantine id that a given id
    took is suffixed the same way."""
    import hashlib

    from flows.fsutil import text_sha256
    from schemas.render import hex_id

    twice = hex_id(hashlib.sha1(prose(1).encode()).hexdigest())
    d = tmp_path / "in"
    write_jsonl(d / "a.jsonl", [{"text": prose(1)}, {"text": prose(1)}, {"text": prose(2)}])
    write_jsonl(d / "b.jsonl", [{"id": f"{twice}-2", "text": prose(3)}, {"text": prose(4)}])
    serial = run_local(opts(d, tmp_path / "serial", stages=("quality",)))
    ex = TwoAtOnce()
    execute(make_plan(opts(d, tmp_path / "split", stages=("quality",))), ex)
    assert ex.labels[:3] == ["ingest-read", "ingest-ids", "ingest"] and serial["quarantined"] == 1
    assert ingest_bytes(tmp_path / "split") == ingest_bytes(tmp_path / "serial")

    e = tmp_path / "in2"
    bad = f"q-{text_sha256('in2/a.jsonl')[:8]}-3"  # the quarantine id of a.jsonl's bad third line (named from the folder)
    write_jsonl(e / "a.jsonl", [{"text": prose(1)}, {"text": prose(1)}], [b"{bad\n"])
    write_jsonl(e / "b.jsonl", [{"id": bad, "text": prose(3)}, {"text": prose(1)}])
    serial = run_local(opts(e, tmp_path / "serial2", stages=("quality",)))
    ex = TwoAtOnce()
    execute(make_plan(opts(e, tmp_path / "split2", stages=("quality",))), ex)
    assert ex.labels[:4] == ["ingest-read", "ingest-ids", "ingest-write", "ingest-finish"]
    assert ingest_bytes(tmp_path / "split2") == ingest_bytes(tmp_path / "serial2")
    import polars as pl
    q = pl.read_parquet(next((tmp_path / "split2" / "work").glob("00-ingest-*")) / "quarantine.parquet")
    assert q["doc_id"].to_list() == [f"{bad}-q"]
    assert digest(tmp_path / "split2") == digest(tmp_path / "serial2")


def test_runner_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="--runner accepts one of local, threads, dask, ray"):
        check("spark", None, None)
    with pytest.raises(ConfigError, match="--runner-address .* needs --runner dask or ray"):
        check("threads", "tcp://127.0.0.1:8786", None)
    with pytest.raises(ConfigError, match="--workers"):
        check("dask", None, 0)
    assert parallelism(task_runner("threads", workers=3)) == 3
    assert parallelism(task_runner("dask", workers=2)) == 2
    assert parallelism(task_runner("local")) == 1


def test_an_existing_ray_cluster_counts_its_cpus(monkeypatch) -> None:
    pytest.importorskip("prefect_ray", reason="prefect-ray is not installed (pip install 'assay[ray]')")
    import ray

    runner = task_runner("ray", address="ray://127.0.0.1:10001")
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    assert parallelism(runner) == 1  # not connected yet: nothing known
    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 48.0, "memory": 1e11})
    assert parallelism(runner) == 48


def test_local_cluster_workers_report_to_this_process_api(prefect_harness) -> None:
    """A worker process that inherits no PREFECT_API_URL starts a temporary Prefect server of its own."""
    from prefect.client.orchestration import get_client

    from flows.runners import share_api

    url = str(get_client(sync_client=True).api_url)
    dask = share_api(task_runner("dask", workers=2))
    assert dask.cluster_kwargs["env"]["PREFECT_API_URL"] == url
    assert dask.cluster_kwargs["env"]["POLARS_MAX_THREADS"]  # the thread share is kept
    remote = share_api(task_runner("dask", address="tcp://10.0.0.1:8786"))
    assert "env" not in (remote.cluster_kwargs or {})  # an existing cluster's workers have their own settings
    threads = task_runner("threads", workers=2)
    assert share_api(threads) is threads
    if importlib.util.find_spec("prefect_ray") is not None:
        ray_runner = share_api(task_runner("ray", workers=2))
        env_vars = ray_runner.init_kwargs["runtime_env"]["env_vars"]
        assert env_vars["PREFECT_API_URL"] == url and env_vars["NUMBA_NUM_THREADS"]


def test_runner_usage_errors_on_the_command_line(tmp_path: Path, capsys) -> None:
    from flows.cli import main

    write_jsonl(tmp_path / "in" / "a.jsonl", [{"text": prose(1)}])
    base = ["run", str(tmp_path / "in"), "--out", str(tmp_path / "run"), "--quiet"]
    assert main([*base, "--runner", "threads", "--runner-address", "tcp://127.0.0.1:8786"]) == 2
    assert "--runner-address" in capsys.readouterr().err
    assert main([*base, "--runner", "dask", "--engine", "local"]) == 2
    assert main([*base, "--runner", "ray", "--runner-address", "ray://127.0.0.1:10001", "--workers", "2"]) == 2
    assert main([*base, "--runner", "spark"]) == 2
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_dask_cluster_of_two_workers_matches_the_local_engine(tmp_path: Path, prefect_harness) -> None:
    from flows.curate import run_prefect

    inp = corpus(tmp_path)
    local = run_local(opts(inp, tmp_path / "local"))
    runner = task_runner("dask", workers=2)
    dask = run_prefect(opts(inp, tmp_path / "dask"), runner)
    assert runner.cluster_kwargs["env"]["PREFECT_API_URL"]  # its workers started no Prefect server of their own
    assert (dask["kept"], dask["removed"], dask["quarantined"]) == (local["kept"], local["removed"], local["quarantined"])
    assert ingest_bytes(tmp_path / "dask") == ingest_bytes(tmp_path / "local")
    assert digest(tmp_path / "dask") == digest(tmp_path / "local")


@pytest.mark.slow
def test_ray_with_two_workers_matches_the_local_engine(tmp_path: Path, prefect_harness) -> None:
    pytest.importorskip("prefect_ray", reason="prefect-ray is not installed (pip install 'assay[ray]')")
    from flows.curate import run_prefect

    inp = corpus(tmp_path)
    local = run_local(opts(inp, tmp_path / "local"))
    runner = task_runner("ray", workers=2)
    assert parallelism(runner) == 2
    ray_run = run_prefect(opts(inp, tmp_path / "ray"), runner)
    assert (ray_run["kept"], ray_run["removed"], ray_run["quarantined"]) == (local["kept"], local["removed"], local["quarantined"])
    assert ingest_bytes(tmp_path / "ray") == ingest_bytes(tmp_path / "local")
    assert digest(tmp_path / "ray") == digest(tmp_path / "local")


def _thread_pools() -> tuple[int, int]:
    import numba
    import polars

    return polars.thread_pool_size(), numba.get_num_threads()


@pytest.mark.slow
def test_local_cluster_workers_share_the_cores_instead_of_each_taking_all(monkeypatch) -> None:
    from distributed import Client, LocalCluster

    from flows import runners

    monkeypatch.setattr(runners, "default_workers", lambda: 2)  # as on this 2-core machine
    with LocalCluster(**runners.local_cluster_kwargs(2)) as cluster, Client(cluster) as client:
        pools = client.run(_thread_pools)
    assert sorted(pools.values()) == [(1, 1), (1, 1)]  # each would start one per core
