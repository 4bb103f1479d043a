"""The run folder: a run replaces only what it can prove it wrote, publishes as a whole, cleans what
killed runs left, and works under any name the OS allows."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import prose, write_jsonl
from test_execute import ROOT, corpus, digest, opts

from flows.errors import InputError
from flows.execute import run_local
from flows.plan import RUN_MARKER, make_plan
from flows.runfolder import clean_leftovers


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder`, byte for byte."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def user_folder(out: Path) -> dict[str, str]:
    (out / "curated").mkdir(parents=True)
    (out / "index" / "mine").mkdir(parents=True)
    (out / "curated" / "my-data.jsonl").write_text('{"text": "mine"}\n')
    (out / "index" / "mine" / "notes.parquet").write_bytes(b"not assay's")
    (out / "thesis.tex").write_text("\\section{mine}\n")
    return snapshot(out)


def test_a_folder_assay_did_not_create_is_refused_before_any_work(tmp_path: Path) -> None:
    inp, out = corpus(tmp_path), tmp_path / "mine"
    before = user_folder(out)
    with pytest.raises(InputError) as err:
        run_local(opts(inp, out))
    assert str(err.value) == (f"--out {out} is a folder that assay did not create (it holds 'curated'); "
                              "give a new or empty folder, or an earlier assay run's folder")
    assert snapshot(out) == before and not (out / RUN_MARKER).exists() and not (out / "work").exists()


def test_an_empty_or_missing_folder_is_fine(tmp_path: Path) -> None:
    inp = corpus(tmp_path)
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "empty", tmp_path / "new" / "deeper"):
        assert run_local(opts(inp, out))["records"] == 349
        assert json.loads((out / RUN_MARKER).read_text())["assay"] == "run folder"


def test_an_out_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("mine")
    with pytest.raises(InputError, match="^--out .*out exists and is not a folder$"):
        make_plan(opts(corpus(tmp_path), tmp_path / "out"))
    assert (tmp_path / "out").read_text() == "mine"


@pytest.mark.parametrize("where", ["curated/notes.txt", "curated/part-00099.parquet", "index/near_dup/extra.parquet",
                                   "index/mine.parquet"])
def test_a_file_dropped_into_a_run_folder_is_never_deleted(tmp_path: Path, where: str) -> None:
    inp, out = corpus(tmp_path), tmp_path / "run"
    run_local(opts(inp, out, stages=("near_dup",)))
    (out / where).write_bytes(b"the user's own bytes")
    with pytest.raises(InputError) as err:
        run_local(opts(inp, out, stages=("near_dup", "quality")))
    top = where.split("/")[0]
    assert str(err.value) == (f"--out {out}: {out / where} was not written by assay, and a run replaces "
                              f"{out / top}; move it away or give another --out")
    assert (out / where).read_bytes() == b"the user's own bytes"
    (out / where).unlink()
    assert run_local(opts(inp, out, stages=("near_dup", "quality")))["records"] == 349


def test_a_curated_part_changed_by_hand_is_not_replaced(tmp_path: Path) -> None:
    inp, out = corpus(tmp_path), tmp_path / "run"
    run_local(opts(inp, out))
    part = out / "curated" / "part-00000.parquet"
    part.write_bytes(part.read_bytes() + b"edited")
    with pytest.raises(InputError, match="part-00000.parquet was not written by assay"):
        run_local(opts(inp, out))
    assert part.read_bytes().endswith(b"edited")


@pytest.mark.parametrize("given", ["curated/part-00000.parquet", "curated", "index/near_dup/signatures-00000.parquet"])
def test_an_input_inside_the_run_folder_is_refused(tmp_path: Path, given: str) -> None:
    inp, out = corpus(tmp_path), tmp_path / "run"
    run_local(opts(inp, out, stages=("near_dup",)))
    before = snapshot(out)
    with pytest.raises(InputError) as err:
        run_local(opts(out / given, out, stages=("near_dup",)))
    first = out / (given if given.endswith(".parquet") else f"{given}/part-00000.parquet")
    assert str(err.value) == (f"input {first} lies inside this run's --out folder {out}; "
                              "a run replaces what it writes there: move the file or give another --out")
    assert snapshot(out) == before
    if given.startswith("curated"):  # reading an earlier run's curated parts into another run is fine
        assert run_local(opts(out / given, tmp_path / "second", stages=("exact_dup",)))["records"] > 0


def test_an_input_linked_from_outside_into_the_run_folder_is_refused(tmp_path: Path) -> None:
    inp, out = corpus(tmp_path), tmp_path / "run"
    run_local(opts(inp, out))
    link = tmp_path / "elsewhere" / "data.parquet"
    link.parent.mkdir()
    link.symlink_to(out / "curated" / "part-00000.parquet")
    with pytest.raises(InputError) as err:
        make_plan(opts(link, out))
    assert str(err.value).startswith(f"input {out / 'curated' / 'part-00000.parquet'} lies inside this run's --out folder {out};")


def test_a_run_folder_of_an_older_assay_is_still_a_run_folder(tmp_path: Path) -> None:
    inp, out = corpus(tmp_path), tmp_path / "run"
    first = digest(out) if run_local(opts(inp, out)) else None
    (out / RUN_MARKER).unlink()  # as written before the marker existed
    assert run_local(opts(inp, out))["records"] == 349 and digest(out) == first
    (out / RUN_MARKER).unlink()
    (out / "curated" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="notes.txt was not written by assay"):
        run_local(opts(inp, out))
    assert (out / "curated" / "notes.txt").read_text() == "mine"


PUBLISH_POINTS = ["finalize:curated", "finalize:ledger", "finalize:staged", "finalize:swapped_curated",
                  "finalize:swapped_index", "finalize:before_manifest"]


@pytest.mark.parametrize("point", PUBLISH_POINTS)
def test_a_kill_while_publishing_a_changed_input_leaves_no_manifest_and_reruns_clean(tmp_path: Path, point: str) -> None:
    inp = corpus(tmp_path)
    stages = "provenance,exact_dup,near_dup"

    def cmd(out: Path) -> list[str]:
        return [sys.executable, "-m", "flows.cli", "run", str(inp), "--out", str(out), "--quiet", "--engine", "local",
                "--shard-size", "64", "--stages", stages]

    env = {k: v for k, v in os.environ.items() if k != "ASSAY_CRASH_AT"}
    out = tmp_path / "run"
    subprocess.run(cmd(out), cwd=ROOT, env=env, check=True, capture_output=True)
    old = digest(out)
    write_jsonl(inp / "c.jsonl", [{"text": prose(1000 + i)} for i in range(47)])  # the input changed
    subprocess.run(cmd(tmp_path / "clean"), cwd=ROOT, env=env, check=True, capture_output=True)
    clean = digest(tmp_path / "clean")
    assert clean != old
    killed = subprocess.run(cmd(out), cwd=ROOT, env=env | {"ASSAY_CRASH_AT": point}, capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    assert not (out / "manifest.json").exists()  # visibly unfinished, whatever was swapped already
    subprocess.run(cmd(out), cwd=ROOT, env=env, check=True, capture_output=True)
    assert digest(out) == clean
    assert json.loads((out / "manifest.json").read_text())["records"] == 349 + 47
    assert sorted(p.name for p in out.iterdir()) == [RUN_MARKER, "curated", "index", "ledger.duckdb", "manifest.json", "report.html", "report.md", "work"]
    assert not [p for p in (out / "work").rglob(".*")]


def test_leftovers_of_dead_processes_are_removed_and_of_live_ones_kept(tmp_path: Path) -> None:
    inp, out = corpus(tmp_path), tmp_path / "run"
    run_local(opts(inp, out))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    live = str(os.getppid())
    step = next((out / "work").glob("00-ingest-*"))
    leftovers = [out / ".curated.tmp", out / ".curated.old", out / f".curated.tmp-{dead}", out / f".index.old-{dead}",
                 out / f".ledger.duckdb.tmp-{dead}", step / f".shard-00000.parquet.tmp-{dead}",
                 step / "judgement" / f".decisions.parquet.tmp-{dead}"]
    for path in leftovers:
        if path.name.startswith((".curated", ".index")):
            (path / "x").mkdir(parents=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"half")
    kept = [out / f".ledger.duckdb.tmp-{live}", step / f".shard-00001.parquet.tmp-{live}", out / "notes.tmp-1"]
    for path in kept:
        path.write_bytes(b"in use")
    assert sorted(clean_leftovers(out)) == sorted(leftovers)
    assert all(not p.exists() for p in leftovers) and all(p.read_bytes() == b"in use" for p in kept)


def plain_copy(run: Path, to: Path) -> Path:
    """The run's curated parts and ledger under a plain name: DuckDB itself cannot open a database
    whose path holds `?` or a backslash, whoever wrote it."""
    shutil.rmtree(to, ignore_errors=True)
    shutil.copytree(run / "curated", to / "curated")
    shutil.copyfile(run / "ledger.duckdb", to / "ledger.duckdb")
    return to


NAMES = ["out'dir", 'say "hi"', "with spaces", "naïve-δεδομένα-データ", "a[1]", "glob*?{a,b}", "back\\slash[x]"]


@pytest.mark.parametrize("name", NAMES)
def test_any_name_works_for_the_run_folder_and_the_inputs(tmp_path: Path, name: str) -> None:
    stages = ("exact_dup", "near_dup")
    plain = run_local(opts(corpus(tmp_path / "plain"), tmp_path / "plain" / "run", stages=stages))
    (tmp_path / "a1").mkdir()  # what `a[1]` would read as a glob
    inp = corpus(tmp_path / name)  # tmp/<name>/in: the same input names, under a folder of that name
    out = tmp_path / name / f"run {name}"
    m = run_local(opts(inp, out, stages=stages))
    assert (m["records"], m["kept"]) == (plain["records"], plain["kept"])
    assert digest(plain_copy(out, tmp_path / "view")) == digest(tmp_path / "plain" / "run")
    assert run_local(opts(inp, out, stages=stages))["kept"] == m["kept"]  # a rerun in place
    # the input folder's own name is part of every input_file
    os.replace(inp, inp.with_name(name))
    m = run_local(opts(inp.with_name(name), out, stages=stages))
    con = duckdb.connect(str(plain_copy(out, tmp_path / "view") / "ledger.duckdb"), read_only=True)
    assert con.execute("SELECT DISTINCT input_file FROM documents ORDER BY 1").fetchall() == [(f"{name}/a.jsonl",), (f"{name}/b.jsonl",)]
    assert m["kept"] == plain["kept"]


@pytest.mark.parametrize("name", ["glob*?{a,b}", "back\\slash[x]", "out'dir"])
def test_assay_sql_reads_a_ledger_under_any_name(tmp_path: Path, name: str) -> None:
    from flows.report import query

    out = tmp_path / name / "run"
    m = run_local(opts(corpus(tmp_path / "src"), out, stages=("exact_dup",)))
    cols, _, rows = query(out, "SELECT count(*) AS n FROM documents")
    assert cols == ["n"] and rows == [(m["records"],)]
