"""The Prefect flow runs without a configured server and writes exactly what the local engine writes."""
from __future__ import annotations

from pathlib import Path

from conftest import prose, write_jsonl
from test_runner import digest

from flows.runner import RunOptions, run_local


def test_prefect_flow_matches_local_engine(tmp_path: Path, prefect_harness) -> None:
    from flows.curate import run_prefect

    recs = [{"text": prose(i)} for i in range(150)] + [{"text": prose(i)} for i in range(0, 150, 5)]
    write_jsonl(tmp_path / "in" / "a.jsonl", recs, [b"{bad\n"])
    make = lambda out: RunOptions(inputs=(str(tmp_path / "in"),), out=out, shard_size=40, progress=False,  # noqa: E731
                                  stages=("provenance", "exact_dup", "quality"))
    local = run_local(make(tmp_path / "local"))
    flowed = run_prefect(make(tmp_path / "prefect"))
    assert (flowed["kept"], flowed["removed"], flowed["quarantined"]) == (local["kept"], local["removed"], local["quarantined"]) == (150, 30, 1)
    assert digest(tmp_path / "prefect") == digest(tmp_path / "local")
    # a rerun resumes from the step markers and changes nothing
    again = run_prefect(make(tmp_path / "prefect"))
    assert again["kept"] == 150 and digest(tmp_path / "prefect") == digest(tmp_path / "local")
