"""Scale-out and footprint of a run, measured in one go on this machine.

    python -m eval.bench.scaling [--docs 5000] [--parts throughput,memory,prefect]

- throughput: the local engine; the same units on a plain Dask cluster (no Prefect) of 1 and of 2
  worker processes; the Prefect flow on a local Dask cluster of 1 and of 2 (cluster start-up included,
  Prefect's temporary server already up); --docs x 2 generated documents (~3 KB, planted exact and
  near duplicates) in 8 files, shards of 1/8 of them, every default stage. For the plain Dask runs it
  prints each unit's time, the CPU of the client and of the workers, the serial wall time, and the
  best a second worker could do with that serial part (Amdahl).
- memory: peak RSS of `assay run --engine local` at 1x and 10x --docs, same shard size (--docs), and
  work/ bytes per input GB before and after `assay gc --compact`.
- prefect: what the Prefect engine adds to a small run: with its temporary server (empty
  PREFECT_HOME, as a first run or CI sees it; then warm) and against a running local server.
Figures vary with what else runs on the machine: compare only figures of one run. Polars and numba
already use every core inside one process, so one worker alone is not one core's worth of work: to
see what a second worker process adds, pin each worker to one thread (`--worker-threads 1`; the
client, which runs the corpus-wide units, keeps its threads), or every process with
POLARS_MAX_THREADS=1 NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 python -m eval.bench.scaling ...
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eval.bench.prefect_server import prefect_env

ROOT = Path(__file__).resolve().parents[2]


def corpus(out: Path, n: int, files: int = 8, seed: int = 0) -> int:
    from flows.demo import bench_texts

    texts = bench_texts(n, seed)
    out.mkdir(parents=True, exist_ok=True)
    for k in range(files):
        with open(out / f"docs-{k:02d}.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps({"text": t}) + "\n" for t in texts[k * n // files:(k + 1) * n // files])
    return sum(len(t.encode()) for t in texts)


def cli(args: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """(wall seconds, peak RSS in bytes) of one `python -m flows.cli` process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", *args], cwd=ROOT, env=env or os.environ.copy(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"assay {' '.join(args)} failed: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
    return wall, usage.ru_maxrss * 1024


def _pinned(kwargs: dict, threads: int | None) -> dict:
    """Cluster kwargs whose workers run `threads` polars/numba threads each (None: the default share of
    the cores). Only the workers: the client, which runs the corpus-wide units, keeps its own."""
    if threads is not None:
        kwargs["env"] = {"POLARS_MAX_THREADS": str(threads), "NUMBA_NUM_THREADS": str(threads)}
    return kwargs


def _dask_runner(workers: int, threads: int | None):
    from flows.runners import task_runner

    runner = task_runner("dask", workers=workers)
    _pinned(runner.cluster_kwargs, threads)
    return runner


def throughput(tmp: Path, docs: int, with_prefect: bool = True, threads: int | None = None, repeats: int = 1) -> None:
    os.environ.update(prefect_env(tmp / "prefect-home"))  # before Prefect is imported: it reads them once
    from flows.curate import run_prefect
    from flows.execute import run_local
    from flows.plan import RunOptions
    from flows.runners import quiet_prefect

    quiet_prefect()
    n = docs * 2
    nbytes = corpus(tmp / "tp", n)
    opts = lambda out: RunOptions(inputs=(str(tmp / "tp"),), out=out, shard_size=max(1, n // 8), progress=False)  # noqa: E731
    if with_prefect:
        corpus(tmp / "warm", 40, files=2)
        run_prefect(RunOptions(inputs=(str(tmp / "warm"),), out=tmp / "warm-run", progress=False))  # server up, imports done
    print(f"\nthroughput: {n:,} documents, {nbytes / 1e6:.1f} MB in 8 files, shards of {max(1, n // 8):,}, every default stage")
    configs = (("local engine (1 process)", lambda o, pu: run_local(o)),
               ("dask without Prefect, 1 worker", lambda o, pu: plain_dask(o, 1, pu, threads)),
               ("dask without Prefect, 2 workers", lambda o, pu: plain_dask(o, 2, pu, threads)),
               ("dask, 1 worker", lambda o, pu: run_prefect(o, _dask_runner(1, threads))),
               ("dask, 2 workers", lambda o, pu: run_prefect(o, _dask_runner(2, threads))))[:None if with_prefect else 3]
    times: dict[str, list[float]] = {label: [] for label, _ in configs}
    units: list[dict[int, dict[str, float]]] = []
    for rep in range(repeats):  # configurations interleaved, so that drifts in the machine fall on all of them
        units.append({})
        for label, run in configs:
            out = tmp / "tp-run"
            shutil.rmtree(out, ignore_errors=True)
            os.sync()  # the previous run's writes are not flushed to disk during this one
            start = time.perf_counter()
            run(opts(out), units[-1])
            times[label].append(time.perf_counter() - start)
            print(f"  [{rep + 1}/{repeats}] {label:<32} {times[label][-1]:7.2f} s  {n / times[label][-1]:8.0f} docs/s  "
                  f"{nbytes / 1e6 / times[label][-1]:6.2f} MB/s", flush=True)
    shutil.rmtree(tmp / "tp-run", ignore_errors=True)
    med = {label: statistics.median(t) for label, t in times.items()}
    if repeats > 1:
        for label, t in med.items():
            print(f"  median of {repeats}: {label:<32} {t:7.2f} s  (range {min(times[label]):.2f}-{max(times[label]):.2f})")
    one, two = "dask without Prefect, 1 worker", "dask without Prefect, 2 workers"
    pairs = [a / b for a, b in zip(times[one], times[two], strict=True)]
    with_it = f"x{med['dask, 1 worker'] / med['dask, 2 workers']:.2f} with Prefect, " if with_prefect else ""
    print(f"  2 workers / 1 worker (medians): {with_it}x{med[one] / med[two]:.2f} without; per repeat without: "
          + ", ".join(f"x{r:.2f}" for r in pairs) + " (goal >= 1.7 on 2 cores)")
    print_units({w: {k: _median([u[w][k] for u in units]) for k in units[0][w]} for w in (1, 2)}, med)


def _median(values: list):
    if isinstance(values[0], dict):
        return {k: statistics.median(v[k] for v in values) for k in values[0]}
    return statistics.median(values)


_CPU = "_cpu"  # per_unit key of a run's CPU seconds (client, workers) and its serial wall seconds


def print_units(per_unit: dict[int, dict[str, float]], times: dict[str, float]) -> None:
    """Where the plain-Dask runs' wall time went, unit by unit: what a second worker shortens and what
    it cannot (the rest is the cluster's start and stop), where the CPU went, and the best a second
    worker could do (Amdahl: the 1-worker run's serial part unchanged, everything else halved)."""
    cpu = {w: per_unit[w].pop(_CPU) for w in (1, 2)}
    one, two = per_unit[1], per_unit[2]
    print("  per unit, plain Dask, wall seconds (* chained units: their own seconds / workers): 1 worker -> 2 workers")
    for label in sorted(one.keys() | two.keys(), key=lambda k: -max(one.get(k, 0.0), two.get(k, 0.0))):
        a, b = one.get(label, 0.0), two.get(label, 0.0)
        print(f"    {label:<24} {a:6.2f} -> {b:6.2f}" + (f"  x{a / b:.2f}" if a and b else ""))
    for w, d in ((1, one), (2, two)):
        total = times[f"dask without Prefect, {w} worker" + ("s" if w > 1 else "")]
        print(f"    the rest, {w} worker(s) (cluster start/stop, planning, workers idle in chains): {total - sum(d.values()):.2f}")
    for w in (1, 2):
        c = cpu[w]
        print(f"  {w} worker(s): CPU seconds client {c['client']:.1f} (planning, corpus-wide units, Dask's scheduler), "
              f"workers {c['workers']:.1f}; serial wall (the client's units, cluster start, planning) {c['serial']:.1f} s")
    t1, s2 = times["dask without Prefect, 1 worker"], cpu[2]["serial"]  # what the 2-worker run did in one process
    print(f"  the best 2 workers could do with that serial part: {s2:.1f} + ({t1:.1f} - {s2:.1f}) / 2 s = "
          f"x{t1 / (s2 + (t1 - s2) / 2):.2f}; "
          f"the workers' CPU grew x{cpu[2]['workers'] / cpu[1]['workers']:.2f} from 1 to 2 (ingest moves to them; "
          "two busy processes each run slower)")


class _DaskUnits:
    """The same units on a plain Dask client, without Prefect: what the workers themselves scale to,
    apart from Prefect's per-task-run API calls."""

    def __init__(self, client, workers: int) -> None:
        self.client, self.workers = client, workers
        self.seconds: dict[str, float] = {}  # wall seconds per unit label ("quality", "finalize"...)
        self.serial = 0.0  # wall seconds of the units run once for the whole corpus, in this process

    def _timed(self, label, run):
        start = time.perf_counter()
        try:
            return run()
        finally:
            self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start

    def call(self, label, fn, *args):
        start = time.perf_counter()
        try:
            return self._timed(label, lambda: fn(*args))
        finally:
            self.serial += time.perf_counter() - start

    def map(self, label, fn, args):
        return self._timed(label, lambda: self.client.gather([self.client.submit(fn, *a, pure=False) for a in args]))

    def chain(self, maps):
        """As the Prefect executor: unit i of a map waits only for unit i of the map before. Chained
        maps overlap, so each is timed by its units' own seconds divided by the workers (an estimate
        of its share of the wall time; the table marks it *)."""
        submitted = []
        for _, fn, args in maps:
            before = submitted[-1] if submitted else [None] * len(args)
            submitted.append([self.client.submit(_after, fn, a, b, pure=False) for a, b in zip(args, before, strict=True)])
        ended = []
        for (label, _, _), futures in zip(maps, submitted, strict=True):
            busy = sum(seconds for _, seconds in self.client.gather(futures))
            ended.append(time.perf_counter())
            self.seconds[label + " *"] = self.seconds.get(label + " *", 0.0) + busy / self.workers
        return ended


def _after(fn, args, upstream):
    """(fn(*args), its seconds), run by Dask once `upstream` (a future, or None) is done."""
    start = time.perf_counter()
    return fn(*args), time.perf_counter() - start


def plain_dask(opts, workers: int, per_unit: dict[int, dict[str, float]] | None = None,
               threads: int | None = None) -> None:
    from distributed import Client, LocalCluster

    from flows.execute import execute
    from flows.plan import make_plan
    from flows.runners import local_cluster_kwargs, quiet_prefect

    quiet_prefect()  # distributed set its loggers' levels when imported just now
    start, cpu = time.perf_counter(), time.process_time()
    with LocalCluster(**_pinned(local_cluster_kwargs(workers), threads)) as cluster, \
            Client(cluster) as client:
        units = _DaskUnits(client, workers)
        execute(make_plan(opts), units)
        worker_cpu = sum(client.run(time.process_time).values())  # each worker process is new: its whole CPU
    if per_unit is not None:
        wall = time.perf_counter() - start
        per_unit[workers] = units.seconds | {_CPU: {"client": time.process_time() - cpu, "workers": worker_cpu,
                                                    "serial": wall - sum(units.seconds.values()) + units.serial, "wall": wall}}


def memory(tmp: Path, docs: int) -> None:
    from flows.gc import collect, size

    print(f"\nmemory and disk: `assay run --engine local`, shards of {docs:,} documents, every default stage")
    for scale in (1, 10):
        inp = tmp / f"mem-{scale}x"
        nbytes = corpus(inp, docs * scale, seed=scale)
        out = tmp / f"mem-{scale}x-run"
        wall, rss = cli(["run", str(inp), "--out", str(out), "--engine", "local", "--quiet", "--shard-size", str(docs)])
        before = size(out / "work")
        after = collect(out, compact=True)["work_after"]
        gb = nbytes / 1e9
        print(f"  {scale:>2}x: {docs * scale:>8,} docs {nbytes / 1e6:7.1f} MB  {wall:7.1f} s  peak RSS {rss / 2**20:7.0f} MiB"
              f"  work/ {before / 1e6:7.1f} MB = {before / 1e9 / gb:.2f} GB per input GB; after gc --compact "
              f"{after / 1e6:7.1f} MB = {after / 1e9 / gb:.2f} GB per input GB")
        if scale == 1:
            base = rss
    print(f"  peak RSS 10x / 1x: x{rss / base:.2f} (goal < 1.5)")


def prefect_cost(tmp: Path) -> None:
    from eval.bench.prefect_server import start_server, stop_server

    inp = tmp / "small"
    corpus(inp, 300, files=2)
    base = ["run", str(inp), "--quiet", "--stages", "exact_dup,quality"]
    local, _ = cli([*base, "--out", str(tmp / "p-local"), "--engine", "local"])
    cold, _ = cli([*base, "--out", str(tmp / "p-cold"), "--engine", "prefect"], prefect_env(tmp / "cold-home"))
    warm, _ = cli([*base, "--out", str(tmp / "p-warm"), "--engine", "prefect"], prefect_env(tmp / "cold-home"))
    print("\nprefect: one small run (300 documents), whole process")
    print(f"  local engine                          {local:6.1f} s")
    print(f"  prefect, temporary server, cold home  {cold:6.1f} s  (+{cold - local:.1f} s)")
    print(f"  prefect, temporary server, warm home  {warm:6.1f} s  (+{warm - local:.1f} s)")
    start = time.perf_counter()
    server, port = start_server(tmp / "server-home")
    up = time.perf_counter() - start
    try:
        env = prefect_env(tmp / "server-home") | {"PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}
        served, _ = cli([*base, "--out", str(tmp / "p-served"), "--engine", "prefect"], env)
    finally:
        stop_server(server)
    print(f"  prefect, running local server         {served:6.1f} s  (+{served - local:.1f} s; the server took {up:.1f} s to be healthy)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=5000, help="documents of the 1x corpus (default 5000)")
    ap.add_argument("--parts", default="throughput,memory,prefect", help="any of throughput, units (throughput "
                    "without the Prefect rows), memory, prefect; comma-separated")
    ap.add_argument("--worker-threads", type=int, default=None, help="polars/numba threads of each Dask worker "
                    "(default: the cores' share, so one worker alone already uses every core; 1: a worker is one "
                    "core's worth of work, what adding a worker adds). The client keeps its own threads")
    ap.add_argument("--repeats", type=int, default=1, help="runs of every configuration, interleaved; medians "
                    "reported (run-to-run spread on the 2-core machine is ~10 %%)")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    with tempfile.TemporaryDirectory(prefix="assay-scaling-") as d:
        tmp = Path(d)
        print(f"cores: {len(os.sched_getaffinity(0))}; load average before: {os.getloadavg()[0]:.1f}")
        if "memory" in parts:
            memory(tmp, args.docs)
        if "prefect" in parts:
            prefect_cost(tmp)
        if "throughput" in parts or "units" in parts:  # units: without the Prefect rows
            throughput(tmp, args.docs, with_prefect="throughput" in parts, threads=args.worker_threads,
                       repeats=args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
