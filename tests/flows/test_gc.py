"""`assay gc`: what a finished run no longer references goes; reruns still give the same bytes."""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import prose, write_jsonl
from test_execute import digest

from flows.cli import main
from flows.errors import InputError
from flows.execute import run_local
from flows.gc import collect, size
from flows.plan import RunOptions

STAGES = ("provenance", "exact_dup", "quality", "near_dup")


def corpus(tmp_path: Path) -> Path:
    docs = [{"text": prose(i)} for i in range(120)] + [{"text": prose(i)} for i in range(0, 120, 6)]
    docs += [{"text": f"a short note {i} about the river and the town"} for i in range(6)]
    write_jsonl(tmp_path / "in" / "a.jsonl", docs, [b"{bad\n"])
    return tmp_path / "in"


def opts(inp: Path, out: Path, **quality) -> RunOptions:
    return RunOptions(inputs=(str(inp),), out=out, shard_size=40, progress=False, stages=STAGES,
                      stage_options={"quality": quality} if quality else {})


def mtimes(out: Path) -> dict[str, int]:
    return {p.relative_to(out).as_posix(): p.stat().st_mtime_ns for p in (out / "work").rglob("_done.json")}


def test_gc_removes_earlier_configurations_and_a_rerun_changes_nothing(tmp_path: Path) -> None:
    inp, out = corpus(tmp_path), tmp_path / "run"
    first = run_local(opts(inp, out, min_words=5))
    second = run_local(opts(inp, out))  # quality re-decides: a new quality and near_dup step
    clean = digest(out)
    named = lambda m: {s["dir"] for s in m["steps"]} | {s["scores"] for s in m["steps"] if "scores" in s}  # noqa: E731
    old = named(first) - named(second)  # quality's scores are reused; near_dup's input changed
    assert sorted(Path(d).name.split("-", 1)[1][:-17] for d in old) == ["near_dup", "near_dup-scores", "quality"]
    (out / "work" / "00-ingest-x" / "parts").mkdir(parents=True)  # an interrupted run's leftovers
    done = collect(out)
    assert set(done["removed"]) == {*old, "work/00-ingest-x"}
    assert done["work_after"] == size(out / "work") < done["work_before"]
    assert sorted(f"work/{p.name}" for p in (out / "work").iterdir()) == sorted(named(second))
    before = mtimes(out)
    run_local(opts(inp, out))
    assert mtimes(out) == before  # every step reused, none recomputed
    assert digest(out) == clean


def test_compact_keeps_what_reruns_need(tmp_path: Path) -> None:
    inp, out = corpus(tmp_path), tmp_path / "run"
    manifest = run_local(opts(inp, out))
    clean = digest(out)
    middle = [out / s["dir"] for s in manifest["steps"][1:-1]]
    done = collect(out, compact=True)
    assert all(not list(d.glob("shard-*.parquet")) for d in middle)
    assert done["work_after"] < 0.75 * done["work_before"]
    before = mtimes(out)
    run_local(opts(inp, out))  # the same command: nothing to rebuild
    assert mtimes(out) == before and digest(out) == clean
    assert all(not list(d.glob("shard-*.parquet")) for d in middle)
    # a changed quality threshold needs exact_dup's shards: rebuilt from its judgement
    run_local(opts(inp, out, min_words=5))
    run_local(opts(inp, tmp_path / "fresh", min_words=5))
    assert digest(out) == digest(tmp_path / "fresh")


def test_compact_work_during_the_run_gives_the_same_bytes(tmp_path: Path) -> None:
    """--compact-work: only ingest's and the last step's text stay; same output, same removed/, and a
    changed stage later still gives what a fresh run gives."""
    import dataclasses

    inp = corpus(tmp_path)
    plain = run_local(dataclasses.replace(opts(inp, tmp_path / "plain"), write_removed=True))
    compact = run_local(dataclasses.replace(opts(inp, tmp_path / "compact"), write_removed=True, compact_work=True))
    assert digest(tmp_path / "compact") == digest(tmp_path / "plain")
    removed = lambda run: {f.name: f.read_bytes() for f in (run / "removed").iterdir()}  # noqa: E731
    assert removed(tmp_path / "compact") == removed(tmp_path / "plain") and removed(tmp_path / "plain")
    run_local(dataclasses.replace(opts(inp, tmp_path / "lean"), compact_work=True))
    steps = [tmp_path / "lean" / s["dir"] for s in compact["steps"]]
    assert [bool(list(d.glob("shard-*.parquet"))) for d in steps] == [True, False, False, False, True]
    assert size(tmp_path / "lean" / "work") < 0.75 * size(tmp_path / "plain" / "work")
    run_local(dataclasses.replace(opts(inp, tmp_path / "lean", min_words=5), compact_work=True))
    run_local(opts(inp, tmp_path / "fresh", min_words=5))
    assert digest(tmp_path / "lean") == digest(tmp_path / "fresh")
    assert plain["kept"] == compact["kept"]


def test_gc_refuses_a_folder_without_a_finished_run(tmp_path: Path, capsys) -> None:
    (tmp_path / "run" / "work").mkdir(parents=True)
    with pytest.raises(InputError, match="no finished run"):
        collect(tmp_path / "run")
    inp, out = corpus(tmp_path), tmp_path / "ok"
    run_local(opts(inp, out))
    assert main(["gc", str(out), "--compact", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "would remove work/01-provenance-" in printed and "work/: " in printed
    assert list((out / next(out.glob("work/01-provenance-*"))).glob("shard-*.parquet"))  # dry run: nothing removed
    assert main(["gc", str(tmp_path / "run")]) == 1
