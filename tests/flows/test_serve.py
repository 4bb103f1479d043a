"""`assay serve` registers the flow's schedule and user-level parameters, tested the way Prefect
tests its own `serve`: its test harness, with the runner's start patched out."""
from __future__ import annotations

import asyncio
import datetime
from pathlib import Path
from unittest import mock

from conftest import prose, write_jsonl

from flows.cli import main


def deployment(name: str):
    from prefect.client.orchestration import get_client

    async def read():
        async with get_client() as client:
            return await client.read_deployment_by_name(f"assay-curate/{name}")

    return asyncio.run(read())


def test_serve_registers_schedule_and_parameters(tmp_path: Path, prefect_harness, monkeypatch) -> None:
    from prefect.runner import Runner

    write_jsonl(tmp_path / "in" / "a.jsonl", [{"text": prose(i)} for i in range(5)])
    cfg = tmp_path / "assay.toml"
    cfg.write_text('stages = ["exact_dup", "quality"]\nshard_size = 500\n[stage.quality]\nmin_words = 30\n')
    monkeypatch.chdir(tmp_path)
    with mock.patch.object(Runner, "start", new_callable=mock.AsyncMock) as start:
        code = main(["serve", "in", "--out", "run", "--config", str(cfg), "--quality-max-words", "900",
                     "--cron", "0 3 * * *", "--timezone", "Europe/Berlin", "--name", "nightly", "--quiet"])
    assert code == 0 and start.await_count == 1
    d = deployment("nightly")
    assert [(s.schedule.cron, s.schedule.timezone) for s in d.schedules] == [("0 3 * * *", "Europe/Berlin")]
    assert d.parameters["inputs"] == [str(tmp_path / "in")] and d.parameters["out"] == str(tmp_path / "run")
    assert d.parameters["stages"] == ["exact_dup", "quality"] and d.parameters["shard_size"] == 500
    assert d.parameters["options"] == {"quality": {"min_words": 30, "max_words": 900}}
    # an interval schedule, and a usage error before anything is registered
    with mock.patch.object(Runner, "start", new_callable=mock.AsyncMock):
        assert main(["serve", "in", "--out", "run", "--interval", "3600", "--name", "hourly", "--quiet"]) == 0
    assert [s.schedule.interval for s in deployment("hourly").schedules] == [datetime.timedelta(seconds=3600)]
    assert main(["serve", "in", "--out", "run", "--cron", "0 3 * * *", "--runner", "dask"]) == 2
