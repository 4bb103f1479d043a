"""The plan: keys follow content and options, never bytes-on-disk settings; work compression."""
from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import prose, write_jsonl

from flows import plan as plan_mod
from flows.execute import run_local
from flows.plan import RunOptions, make_plan
from stages.options import ConfigError


def opts(tmp: Path, **kw) -> RunOptions:
    write_jsonl(tmp / "in" / "a.jsonl", [{"text": prose(i)} for i in range(30)])
    return RunOptions(inputs=(str(tmp / "in"),), out=tmp / "run", stages=("exact_dup", "quality"), progress=False, **kw)


def test_auto_work_compression_depends_on_input_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert make_plan(opts(tmp_path)).work_compression == "none"
    monkeypatch.setattr(plan_mod, "AUTO_LZ4_BYTES", 100)
    assert make_plan(opts(tmp_path)).work_compression == "lz4"
    assert make_plan(opts(tmp_path, work_compression="zstd")).work_compression == "zstd"
    with pytest.raises(ConfigError, match="work_compression accepts one of auto, none, lz4, zstd"):
        make_plan(opts(tmp_path, work_compression="brotli"))


def test_work_compression_changes_no_key_and_no_output(tmp_path: Path) -> None:
    a, b = make_plan(opts(tmp_path, work_compression="none")), make_plan(opts(tmp_path, work_compression="lz4"))
    assert [s.key for s in a.steps] == [s.key for s in b.steps] and a.config_hash == b.config_hash
    run_local(opts(tmp_path, work_compression="zstd"))
    first = {p.name: p.read_bytes() for p in (tmp_path / "run" / "curated").iterdir()}
    shard = next((tmp_path / "run" / "work").glob("00-ingest-*/shard-00000.parquet"))
    assert pq.ParquetFile(shard).metadata.row_group(0).column(2).compression == "ZSTD"  # the text column
    (tmp_path / "run2").mkdir()
    run_local(RunOptions(inputs=(str(tmp_path / "in"),), out=tmp_path / "run2", stages=("exact_dup", "quality"),
                         progress=False, work_compression="none"))
    assert {p.name: p.read_bytes() for p in (tmp_path / "run2" / "curated").iterdir()} == first


def test_inputs_are_hashed_in_threads_each_to_its_own_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan's input digests, hashed a few files at a time, are each file's own, in input order."""
    import hashlib

    from flows import fsutil

    d = tmp_path / "in"
    sizes = [5_000_000, 10, 3_000_000, 0, 9_000_001, 77]  # uneven: the small ones finish first
    for i, n in enumerate(sizes):
        (d / f"f{i}.jsonl").parent.mkdir(exist_ok=True)
        (d / f"f{i}.jsonl").write_bytes((b'{"text": "%d"}\n' % i) * (n // 14 + 1))
    monkeypatch.setattr(fsutil.os, "cpu_count", lambda: 4)
    plan = make_plan(RunOptions(inputs=(str(d),), out=tmp_path / "run", stages=("quality",), progress=False))
    assert [i.sha256 for i in plan.inputs] == [hashlib.sha256(Path(i.path).read_bytes()).hexdigest() for i in plan.inputs]
    assert [Path(i.path).name for i in plan.inputs] == [f"f{i}.jsonl" for i in range(len(sizes))]
