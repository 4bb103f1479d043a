"""eval/bench/scaling.py's accounting: where a plain-Dask run's wall and CPU time went, and the best a
second worker could do with the serial part that run measured."""
from __future__ import annotations

from pathlib import Path

import pytest

from eval.bench.scaling import _CPU, corpus, plain_dask, print_units
from flows.plan import RunOptions


def test_the_bound_keeps_the_serial_part_and_halves_the_rest(capsys) -> None:
    per_unit = {1: {"quality": 30.0, "finalize": 1.0, _CPU: {"client": 6.0, "workers": 30.0, "serial": 6.0}},
                2: {"quality": 16.0, "finalize": 1.0, _CPU: {"client": 5.0, "workers": 36.0, "serial": 4.0}}}
    print_units(per_unit, {"dask without Prefect, 1 worker": 40.0, "dask without Prefect, 2 workers": 24.0})
    out = capsys.readouterr().out
    assert "30.00 ->  16.00  x1.88" in out
    assert "1 worker(s) (cluster start/stop, planning, workers idle in chains): 9.00" in out  # 40 - 31: no unit's
    # the 2-worker run's serial 4 s stays, the other 36 s of the 1-worker run halve: 40 / 22
    assert "4.0 + (40.0 - 4.0) / 2 s = x1.82" in out and "CPU grew x1.20" in out


def test_a_plain_dask_run_reports_its_cpu_and_serial_time(tmp_path: Path) -> None:
    corpus(tmp_path / "in", 400, files=2)
    per_unit: dict = {}
    plain_dask(RunOptions(inputs=(str(tmp_path / "in"),), out=tmp_path / "run", shard_size=100, progress=False), 1, per_unit, 1)
    cpu = per_unit[1][_CPU]
    assert cpu["workers"] > 0.1 and cpu["client"] > 0.1  # a worker ran the per-shard units; the client the rest
    units = {k: v for k, v in per_unit[1].items() if k != _CPU}
    calls = sum(v for k, v in units.items() if k in ("ingest", "finalize") or k.endswith(("-judge", "-finish")))
    # serial: the units run in this process (calls), plus what no unit accounts for (cluster start, planning)
    assert cpu["serial"] == pytest.approx(cpu["wall"] - sum(units.values()) + calls, abs=0.01)
    serial_units = per_unit[1]["ingest"] + per_unit[1]["near_dup-judge"] + per_unit[1]["finalize"]
    assert per_unit[1]["quality *"] > 0 and per_unit[1]["near_dup-split *"] > 0  # chained units, timed by their own seconds
    assert serial_units < cpu["serial"] < sum(v for k, v in per_unit[1].items() if k != _CPU) + cpu["serial"]
    assert (tmp_path / "run" / "ledger.duckdb").exists()
