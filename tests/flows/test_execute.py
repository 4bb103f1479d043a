"""Run guarantees: conservation, ledger shape, determinism, resume after a kill, step caching."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest
from conftest import prose, write_jsonl

from flows.execute import run_local
from flows.plan import RunOptions

ROOT = Path(__file__).resolve().parents[2]


def corpus(tmp_path: Path) -> Path:
    docs = [{"text": prose(i), "url": f"https://www.site{i % 5}.org/{i}"} for i in range(300)]
    docs += [{"text": prose(i)} for i in range(0, 300, 7)]  # exact duplicates without ids
    docs += [{"text": f"a short note number {i} about the river and the town"} for i in range(5)]
    d = tmp_path / "in"
    write_jsonl(d / "a.jsonl", docs[:200], [b"{broken\n"])
    write_jsonl(d / "b.jsonl", docs[200:])
    return d


def opts(inp: Path, out: Path, **kw) -> RunOptions:
    kw.setdefault("stages", ("provenance", "exact_dup", "quality"))
    return RunOptions(inputs=(str(inp),), out=out, shard_size=64, progress=False, **kw)


def digest(run: Path) -> dict[str, str]:
    """Bytes of the curated output and the content of the ledger's decision tables."""
    out = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((run / "curated").glob("*.parquet"))}
    con = duckdb.connect(str(run / "ledger.duckdb"), read_only=True)
    for table in ("documents", "decisions", "quarantine"):
        rows = con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
        out[table] = hashlib.sha256(repr(rows).encode()).hexdigest()
    con.close()
    return out


def test_conservation_and_ledger_tables(tmp_path: Path) -> None:
    m = run_local(opts(corpus(tmp_path), tmp_path / "run"))
    assert m["records"] == 300 + 43 + 5 + 1
    assert (m["kept"], m["removed"], m["quarantined"]) == (300, 48, 1)
    con = duckdb.connect(str(tmp_path / "run" / "ledger.duckdb"), read_only=True)
    cols = {t: [r[0] for r in con.execute(f"DESCRIBE {t}").fetchall()] for t in ("documents", "decisions", "quarantine", "runs", "stages")}
    assert {"doc_id", "source", "input_file", "input_line", "final", "final_stage", "final_reason"} <= set(cols["documents"])
    assert {"doc_id", "stage", "decision", "reason", "scores", "evidence"} <= set(cols["decisions"])
    assert {"input_file", "input_line", "reason", "excerpt"} <= set(cols["quarantine"])
    assert {"run_id", "started_at", "finished_at", "config", "config_hash", "code_version", "package_versions", "input_files"} <= set(cols["runs"])
    # one decision per stage per document that reached the stage; scores for kept documents too
    assert con.execute("SELECT count(*) FROM decisions WHERE stage = 'provenance'").fetchone()[0] == 348
    kept_scores = con.execute("SELECT count(*) FROM decisions WHERE stage = 'quality' AND decision = 'kept' AND scores->>'quality_words' IS NOT NULL").fetchone()[0]
    assert kept_scores == 300
    # evidence names the kept twin, joinable by doc_id
    twin = con.execute("""SELECT count(*) FROM decisions d JOIN documents k ON k.doc_id = d.evidence->>'duplicate_of'
                          WHERE d.reason = 'exact_duplicate' AND k.final = 'kept'""").fetchone()[0]
    assert twin == 43
    versions = json.loads(con.execute("SELECT package_versions FROM runs").fetchone()[0])
    assert versions["duckdb"] == duckdb.__version__ and versions["polars"] == pl.__version__
    assert pl.read_parquet(tmp_path / "run" / "curated").height == 300


def test_ledger_opens_from_any_directory(tmp_path: Path) -> None:
    run_local(opts(corpus(tmp_path), tmp_path / "run"))
    moved = tmp_path / "elsewhere" / "ledger.duckdb"
    moved.parent.mkdir()
    moved.write_bytes((tmp_path / "run" / "ledger.duckdb").read_bytes())
    out = subprocess.run([sys.executable, "-c", "import duckdb; print(duckdb.connect('ledger.duckdb', read_only=True).execute('SELECT count(*) FROM documents').fetchall())"],
                         cwd=moved.parent, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[(349,)]"


def test_same_input_same_config_gives_identical_output(tmp_path: Path) -> None:
    inp = corpus(tmp_path)
    run_local(opts(inp, tmp_path / "r1"))
    run_local(opts(inp, tmp_path / "r2", ))
    run_local(RunOptions(inputs=(str(inp),), out=tmp_path / "r3", stages=("provenance", "exact_dup", "quality"), shard_size=1000, progress=False))
    assert digest(tmp_path / "r1") == digest(tmp_path / "r2")
    d1, d3 = digest(tmp_path / "r1"), digest(tmp_path / "r3")  # other shard size: same ledger content
    assert all(d1[t] == d3[t] for t in ("documents", "decisions", "quarantine"))


def test_changing_one_stage_reruns_only_it_and_later(tmp_path: Path) -> None:
    inp, out = corpus(tmp_path), tmp_path / "run"
    first = run_local(opts(inp, out))
    before = {s["name"]: (out / s["dir"] / "_done.json").stat().st_mtime_ns for s in first["steps"]}
    second = run_local(opts(inp, out, stage_options={"quality": {"min_words": 5}}))
    after = {s["name"]: (out / s["dir"] / "_done.json").stat().st_mtime_ns for s in second["steps"]}
    assert [before[n] == after[n] for n in ("ingest", "provenance", "exact_dup")] == [True, True, True]
    assert second["steps"][-1]["dir"] != first["steps"][-1]["dir"]
    assert second["kept"] == 305  # 'too short' now passes the lower threshold


CRASH_POINTS = ["ingest:shard", "ingest:before_done", "provenance:between_files", "exact_dup:judged", "exact_dup:shard",
                "quality:scored", "quality:between_files", "near_dup:features", "near_dup:shard", "finalize:curated",
                "finalize:ledger", "finalize:before_manifest"]
ALL = ("provenance", "exact_dup", "quality", "near_dup")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """One uninterrupted run that every kill test compares against."""
    tmp = tmp_path_factory.mktemp("reference")
    inp = corpus(tmp)
    run_local(opts(inp, tmp / "clean", stages=ALL))
    return inp, digest(tmp / "clean")


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_kill_and_rerun_gives_the_uninterrupted_output(tmp_path: Path, point: str, reference) -> None:
    inp, clean = reference
    cmd = [sys.executable, "-m", "flows.cli", "run", str(inp), "--out", str(tmp_path / "run"), "--quiet",
           "--engine", "local", "--shard-size", "64", "--stages", ",".join(ALL)]
    env = os.environ | {"ASSAY_CRASH_AT": point}
    killed = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    assert not (tmp_path / "run" / "manifest.json").exists()
    env.pop("ASSAY_CRASH_AT")
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
    assert digest(tmp_path / "run") == clean


def test_toml_config_and_flags(tmp_path: Path) -> None:
    from flows.cli import main

    inp = corpus(tmp_path)
    cfg = tmp_path / "assay.toml"
    cfg.write_text('stages = ["exact_dup", "quality"]\n[stage.quality]\nmin_words = 5\n')
    assert main(["run", str(inp), "--out", str(tmp_path / "a"), "--config", str(cfg), "--quiet"]) == 0
    assert json.loads((tmp_path / "a" / "manifest.json").read_text())["kept"] == 305
    # a flag overrides the file
    assert main(["run", str(inp), "--out", str(tmp_path / "b"), "--config", str(cfg), "--quality-min-words", "50", "--quiet"]) == 0
    m = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert m["kept"] == 300 and [s["name"] for s in m["config"]["stages"]] == ["exact_dup", "quality"]
    assert main(["run", str(inp), "--out", str(tmp_path / "c"), "--stages", "exact_dup", "--quality-min-words", "3", "--quiet"]) == 2


def test_published_index_holds_only_finally_kept_documents(tmp_path: Path) -> None:
    inp = corpus(tmp_path)
    m = run_local(opts(inp, tmp_path / "run", stages=("near_dup", "quality")))
    files = sorted((tmp_path / "run" / "index" / "near_dup").glob("signatures-*.parquet"))
    assert [f.name for f in files] == [f"signatures-{k:05d}.parquet" for k in range(6)]  # one per shard of 64
    index = pl.read_parquet(files)
    curated = pl.read_parquet(tmp_path / "run" / "curated")
    assert index["doc_id"].to_list() == curated["id"].to_list() and index.height == m["kept"] == 300


def test_output_folder_inside_the_input_folder_is_not_ingested(tmp_path: Path) -> None:
    inp = corpus(tmp_path)
    first = run_local(opts(inp, inp / "run"))
    second = run_local(opts(inp, inp / "run"))
    assert second["records"] == first["records"] == 349
    other = run_local(opts(inp, tmp_path / "elsewhere"))  # an earlier run folder inside the input is skipped too
    assert other["records"] == 349


def test_sharded_corpus_stage_equals_whole_frame_apply(tmp_path: Path) -> None:
    """near_dup runs from per-shard features in the runner; the result must be what `apply` on every
    document at once gives, whatever the shard size."""
    from stages.near_dup import NearDup

    base = [prose(i, 200) for i in range(40)]
    near = [t.replace("number", "numero", 1) for t in base[::3]]  # one word changed: J well above 0.8
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": f"b{i}", "text": t} for i, t in enumerate(base)]
                + [{"id": f"n{i}", "text": t} for i, t in enumerate(near)])
    outs = []
    for size in (7, 1000):
        run_local(RunOptions(inputs=(str(tmp_path / "in"),), out=tmp_path / f"r{size}", stages=("near_dup",),
                             shard_size=size, progress=False))
        con = duckdb.connect(str(tmp_path / f"r{size}" / "ledger.duckdb"), read_only=True)
        outs.append(con.execute("SELECT doc_id, decision, reason, scores, evidence FROM decisions ORDER BY doc_id").fetchall())
        assert len(list((tmp_path / f"r{size}" / "work").glob("01-near_dup-scores-*/features-*.parquet"))) == -(-54 // size)
    assert outs[0] == outs[1]
    docs = pl.read_parquet(sorted((tmp_path / "r1000" / "work").glob("00-ingest-*/shard-*.parquet")))
    whole = NearDup().apply(docs).decisions.sort("doc_id")
    assert [tuple(r) for r in whole.iter_rows()] == [(a, b, c, json.dumps(json.loads(d), separators=(",", ":")), json.dumps(json.loads(e), separators=(",", ":"))) for a, b, c, d, e in outs[0]]
    assert sum(1 for r in outs[0] if r[2] == "near_duplicate") == len(near)


def test_against_an_earlier_release_through_the_cli(tmp_path: Path) -> None:
    from flows.cli import main

    release1 = [{"id": f"a{i}", "text": prose(i, 200)} for i in range(20)]
    release2 = [{"id": f"b{i}", "text": prose(i, 200).replace("number", "numero", 1)} for i in range(5)]
    release2 += [{"id": f"c{i}", "text": prose(100 + i, 200)} for i in range(5)]
    write_jsonl(tmp_path / "r1" / "a.jsonl", release1)
    write_jsonl(tmp_path / "r2" / "b.jsonl", release2)
    assert main(["run", str(tmp_path / "r1"), "--out", str(tmp_path / "run1"), "--stages", "near_dup", "--quiet"]) == 0
    assert main(["run", str(tmp_path / "r2"), "--out", str(tmp_path / "run2"), "--stages", "near_dup",
                 "--against", str(tmp_path / "run1"), "--quiet"]) == 0
    con = duckdb.connect(str(tmp_path / "run2" / "ledger.duckdb"), read_only=True)
    rows = con.execute("""SELECT doc_id, evidence->>'duplicate_of', evidence->>'duplicate_of_run', (evidence->>'jaccard')::DOUBLE
                          FROM decisions WHERE reason = 'near_duplicate' ORDER BY doc_id""").fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [(f"b{i}", f"a{i}", str(tmp_path / "run1")) for i in range(5)]
    assert all(r[3] >= 0.8 for r in rows)
    assert main(["run", str(tmp_path / "r2"), "--out", str(tmp_path / "run3"), "--stages", "near_dup",
                 "--against", str(tmp_path / "missing"), "--quiet"]) == 1  # never "keep everything"


def test_against_a_run_rebuilt_in_place_is_not_served_from_cache(tmp_path: Path) -> None:
    """The earlier run's manifest hash is in the step key: rebuilding it with other content under
    the same path must change the later release's result."""
    write_jsonl(tmp_path / "old" / "a.jsonl", [{"id": f"a{i}", "text": prose(i, 200)} for i in range(10)])
    write_jsonl(tmp_path / "other" / "a.jsonl", [{"id": f"z{i}", "text": prose(500 + i, 200)} for i in range(10)])
    write_jsonl(tmp_path / "new" / "b.jsonl", [{"id": f"b{i}", "text": prose(i, 200).replace("number", "numero", 1)} for i in range(10)])
    release = lambda inp: RunOptions(inputs=(str(tmp_path / inp),), out=tmp_path / "earlier", stages=("near_dup",), progress=False)  # noqa: E731
    later = RunOptions(inputs=(str(tmp_path / "new"),), out=tmp_path / "later", stages=("near_dup",), progress=False,
                       stage_options={"near_dup": {"against": [str(tmp_path / "earlier")]}})
    run_local(release("old"))
    assert run_local(later)["removed"] == 10
    run_local(release("other"))  # the earlier release rebuilt in place with other documents
    again = run_local(later)
    assert again["removed"] == 0 and again["inputs"]["options"]["near_dup.against"][0]["given"] == str(tmp_path / "earlier")
