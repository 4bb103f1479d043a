"""`assay run` against a real Prefect server (started here on the loopback address, then stopped):
one flow run with user-level parameters and task runs named after stage and shard, the local
engine's bytes, and no Prefect log lines with --quiet."""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from conftest import prose, write_jsonl
from test_execute import digest

from eval.bench.prefect_server import prefect_env, start_server, stop_server
from flows.execute import run_local
from flows.plan import RunOptions

ROOT = Path(__file__).resolve().parents[2]


def api(port: int, path: str, body: dict) -> list[dict]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


@pytest.mark.slow
def test_run_on_a_real_prefect_server_is_one_flow_run_with_named_tasks(tmp_path: Path) -> None:
    d = tmp_path / "in"
    write_jsonl(d / "a.jsonl", [{"text": prose(i)} for i in range(90)] + [{"text": prose(4)}])
    write_jsonl(d / "b.jsonl", [{"text": prose(i)} for i in range(80, 120)])
    stages = ("exact_dup", "quality")
    run_local(RunOptions(inputs=(str(d),), out=tmp_path / "local", stages=stages, shard_size=50, progress=False))
    server, port = start_server(tmp_path / "home")
    try:
        env = prefect_env(tmp_path / "home", level="INFO") | {"PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}
        cmd = [sys.executable, "-m", "flows.cli", "run", str(d), "--out", str(tmp_path / "served"), "--stages",
               ",".join(stages), "--shard-size", "50", "--runner", "threads", "--workers", "2", "--quiet"]
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "| INFO" not in done.stdout + done.stderr  # --quiet: no Prefect log lines
        flows = api(port, "flow_runs/filter", {})
        assert len(flows) == 1 and flows[0]["state_type"] == "COMPLETED"
        params = flows[0]["parameters"]
        assert params["inputs"] == [str(d)] and params["stages"] == list(stages) and params["shard_size"] == 50
        tasks = sorted(t["name"] for t in api(port, "task_runs/filter", {"flow_runs": {"id": {"any_": [flows[0]["id"]]}}}))
        assert {"ingest-read-file-00000", "ingest-read-file-00001", "ingest-ids", "ingest-write-shard-00002",
                "exact_dup-judge", "exact_dup-split-shard-00001", "quality-shard-00002", "finalize"} <= set(tasks)
    finally:
        stop_server(server)
    assert digest(tmp_path / "served") == digest(tmp_path / "local")
