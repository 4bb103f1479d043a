"""The Prefect flow runs without a configured server and writes exactly what the local engine writes."""
from __future__ import annotations

import os
from pathlib import Path

from conftest import prose, write_jsonl
from test_execute import digest

from flows.execute import run_local
from flows.plan import RunOptions


def test_prefect_flow_matches_local_engine(tmp_path: Path, prefect_harness) -> None:
    from flows.curate import run_prefect

    recs = [{"text": prose(i)} for i in range(150)] + [{"text": prose(i)} for i in range(0, 150, 5)]
    write_jsonl(tmp_path / "in" / "a.jsonl", recs, [b"{bad\n"])
    make = lambda out: RunOptions(inputs=(str(tmp_path / "in"),), out=out, shard_size=40, progress=False,  # noqa: E731
                                  stages=("provenance", "exact_dup", "quality"), write_removed=True)
    local = run_local(make(tmp_path / "local"))
    flowed = run_prefect(make(tmp_path / "prefect"))
    assert (flowed["kept"], flowed["removed"], flowed["quarantined"]) == (local["kept"], local["removed"], local["quarantined"]) == (150, 30, 1)
    assert digest(tmp_path / "prefect") == digest(tmp_path / "local")
    removed = lambda run: {f.name: f.read_bytes() for f in (run / "removed").iterdir()}  # noqa: E731  --write-removed reaches the flow
    assert removed(tmp_path / "prefect") == removed(tmp_path / "local") and len(removed(tmp_path / "local")) == 1
    # a rerun resumes from the step markers and changes nothing
    again = run_prefect(make(tmp_path / "prefect"))
    assert again["kept"] == 150 and digest(tmp_path / "prefect") == digest(tmp_path / "local")


def test_flow_plans_from_user_parameters_on_any_task_runner(tmp_path: Path, prefect_harness) -> None:
    """The flow is what a deployment calls: user-level parameters in (a config file too), the plan
    made inside it, the task runner swapped without another code path, the same bytes out."""
    from prefect.task_runners import ThreadPoolTaskRunner

    from flows.curate import curate

    write_jsonl(tmp_path / "in" / "a.jsonl", [{"text": prose(i)} for i in range(60)] + [{"text": prose(3)}])
    cfg = tmp_path / "assay.toml"
    cfg.write_text('stages = ["exact_dup", "quality"]\nshard_size = 25\n[stage.quality]\nmin_words = 30\n')
    local = run_local(RunOptions(inputs=(str(tmp_path / "in"),), out=tmp_path / "local", stages=("exact_dup", "quality"),
                                 stage_options={"quality": {"min_words": 30}}, shard_size=25, progress=False))
    flowed = curate.with_options(task_runner=ThreadPoolTaskRunner(max_workers=3))(
        inputs=[str(tmp_path / "in")], out=str(tmp_path / "flow"), config=str(cfg))
    assert flowed["config_hash"] == local["config_hash"] and (flowed["kept"], flowed["removed"]) == (60, 1)
    assert digest(tmp_path / "flow") == digest(tmp_path / "local")


def test_the_temporary_server_reports_no_usage_unless_the_user_says_so(monkeypatch) -> None:
    import types

    import prefect.settings

    from flows.curate import private_server

    def configured(url):
        monkeypatch.setattr(prefect.settings, "get_current_settings", lambda: types.SimpleNamespace(api=types.SimpleNamespace(url=url)))

    configured("http://prefect.example:4200/api")  # the user's own server: its settings are the user's
    monkeypatch.delenv("PREFECT_SERVER_ANALYTICS_ENABLED", raising=False)
    private_server()
    assert "PREFECT_SERVER_ANALYTICS_ENABLED" not in os.environ
    configured(None)  # Prefect will start a temporary server for this process
    private_server()
    assert os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "true")
    private_server()
    assert os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] == "true"
