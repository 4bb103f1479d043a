"""`--runner local|threads|dask|ray`: which Prefect task runner runs a run's units of work.

Every unit (flows/steps.py, flows/ingest_parallel.py) takes the plan and indexes and returns a path,
so a worker in another process or on another machine of the cluster needs only the same file
system, never frames sent through the scheduler (Prefect's users saw memory grow and Dask's
scheduler hang near 22k tasks when data travelled with the tasks).
"""
from __future__ import annotations

import importlib.util
import os
from typing import Any

RUNNERS = ("local", "threads", "dask", "ray")
_QUIET = False


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def check(runner: str, address: str | None, workers: int | None) -> None:
    """Usage errors before anything starts, one line naming the option."""
    from stages.options import ConfigError

    if runner not in RUNNERS:
        raise ConfigError(f"--runner accepts one of {', '.join(RUNNERS)}; got {runner!r}")
    if address is not None and runner not in ("dask", "ray"):
        raise ConfigError("--runner-address names a Dask scheduler (tcp://HOST:PORT) or a Ray cluster (ray://HOST:PORT) "
                          f"and needs --runner dask or ray; got --runner {runner}")
    if address is not None and workers is not None:
        raise ConfigError(f"--workers sizes the local cluster that --runner {runner} starts; an existing cluster "
                          "(--runner-address) has its own workers")
    if runner == "ray" and importlib.util.find_spec("prefect_ray") is None:
        raise ConfigError("--runner ray needs prefect-ray: pip install 'assay[ray]'")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers accepts an integer >= 1; got {workers!r}")


def task_runner(runner: str, address: str | None = None, workers: int | None = None) -> Any:
    """The Prefect task runner for `runner` (None: the flow's own, one unit at a time)."""
    check(runner, address, workers)
    if runner == "local":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=1)
    if runner == "threads":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=workers or default_workers())
    if runner == "ray":
        return _ray(address, workers)
    from prefect_dask import DaskTaskRunner

    if _QUIET:  # distributed sets its loggers' levels when it is first imported, just now
        quiet_prefect()
    if address is not None:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(cluster_kwargs=local_cluster_kwargs(workers or default_workers()))


def local_cluster_kwargs(workers: int) -> dict[str, Any]:
    """A local Dask cluster of `workers` processes of one thread each: the units hold the GIL in
    Python code (ingest, rules), and a process per core is what scales them. Polars and numba
    would each start a thread per core in every worker, so N workers ran N x cores threads on
    the cores there are: each worker gets its share instead, unless the user set them (an existing
    cluster is its owner's)."""
    return {"n_workers": workers, "threads_per_worker": 1, "processes": True, "dashboard_address": None,
            "env": _thread_share(workers)}


def _thread_share(workers: int) -> dict[str, str]:
    share = str(max(1, default_workers() // workers))
    return {name: os.environ.get(name, share) for name in ("POLARS_MAX_THREADS", "NUMBA_NUM_THREADS")}


def _ray(address: str | None, workers: int | None) -> Any:
    from prefect_ray import RayTaskRunner

    if address is not None:
        return RayTaskRunner(address=address)
    n = workers or default_workers()
    # Units exchange paths, never data: Ray's object store needs next to nothing (its default is
    # 30 % of the machine's memory, in /dev/shm); one CPU per unit, as Ray schedules them.
    return RayTaskRunner(init_kwargs={
        "num_cpus": n, "include_dashboard": False, "object_store_memory": 128 * 2**20, "log_to_driver": False,
        "runtime_env": {"env_vars": _thread_share(n)}})


def _ray_cpus() -> int:
    import ray

    try:
        return int(ray.cluster_resources().get("CPU", 0)) if ray.is_initialized() else 0
    except Exception:  # a cluster that does not answer: let the caller assume one unit at a time
        return 0


def share_api(runner: Any) -> Any:
    """Point the worker processes of a cluster this run starts at the Prefect API this process
    reports to. A process that inherits no PREFECT_API_URL starts a temporary server of its own:
    with none configured (Prefect's temporary server, or settings given in this process only), every
    Dask or Ray worker did, so each worker ran a busy server process beside it on the same cores and
    its task runs were recorded where nobody saw them. An existing cluster (an address) is left as
    it is: its workers have their own settings."""
    if getattr(runner, "address", None) not in (None, "auto") or not (
            isinstance(getattr(runner, "cluster_kwargs", None), dict) or isinstance(getattr(runner, "init_kwargs", None), dict)):
        return runner
    from prefect.client.orchestration import get_client

    env = {"PREFECT_API_URL": str(get_client(sync_client=True).api_url)}  # starts the temporary server if it must
    if isinstance(getattr(runner, "cluster_kwargs", None), dict):
        kw = runner.cluster_kwargs
        runner.cluster_kwargs = {**kw, "env": {**kw.get("env", {}), **env}}
    else:
        kw = runner.init_kwargs
        renv = dict(kw.get("runtime_env") or {})
        renv["env_vars"] = {**renv.get("env_vars", {}), **env}
        runner.init_kwargs = {**kw, "runtime_env": renv}
    return runner


def quiet_prefect() -> None:
    """Prefect's and Dask's log lines below warnings off (`--quiet`): the level Prefect reads when it
    is first imported, and its loggers' levels where it already was."""
    import logging

    global _QUIET
    _QUIET = True
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    for name in ("prefect", "distributed"):
        logging.getLogger(name).setLevel(logging.WARNING)


def parallelism(runner: Any) -> int:
    """How many units the task runner runs at once (for choosing the per-file ingest), best known."""
    max_workers = getattr(runner, "_max_workers", None)
    if isinstance(max_workers, int):
        return max_workers
    init = getattr(runner, "init_kwargs", None)
    if isinstance(init, dict) and isinstance(init.get("num_cpus"), int):
        return init["num_cpus"]
    kwargs = getattr(runner, "cluster_kwargs", None)
    if isinstance(kwargs, dict) and isinstance(kwargs.get("n_workers"), int):
        return kwargs["n_workers"] * int(kwargs.get("threads_per_worker", 1) or 1)
    if type(runner).__name__ == "RayTaskRunner":  # an existing Ray cluster: its CPUs, once connected
        cpus = _ray_cpus()
        if cpus:
            return cpus
    client = getattr(runner, "_client", None)
    if client is not None:
        try:
            return max(1, sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values()))
        except Exception:  # a scheduler that does not answer: assume a cluster runs units in parallel
            return 2
    return 1
