"""Seeing what was removed: `assay run --write-removed` (RUN_DIR/removed/, published with curated/),
the text in `assay show` (masked when the run had a PII stage), and the runs history of a folder."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
from conftest import write_jsonl
from gatekit import EMAIL, corpus, register, unregister

from flows import masking
from flows.cli import main
from flows.errors import InputError


@pytest.fixture(autouse=True, scope="module")
def _stages():
    register()
    yield
    unregister()


def _run(tmp: Path, *extra: str, stages: str = "exact_dup,quality,test_contam") -> Path:
    if not (tmp / "in" / "a.jsonl").exists():
        write_jsonl(tmp / "in" / "a.jsonl", corpus(30))
    assert main(["run", str(tmp / "in"), "--out", str(tmp / "run"), "--stages", stages, "--quiet", *extra]) == 0
    return tmp / "run"


def _ledger(run: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(run / "ledger.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_write_removed_publishes_every_removed_document_with_stage_and_reason(tmp_path: Path) -> None:
    run = _run(tmp_path, "--write-removed")
    removed = pl.read_parquet(sorted((run / "removed").glob("part-*.parquet")))
    expected = _ledger(run, "SELECT doc_id, final_stage, final_reason FROM documents WHERE final = 'removed' ORDER BY doc_id")
    assert sorted(zip(removed["id"], removed["stage"], removed["reason"], strict=True)) == expected
    given = {r["id"]: r["text"] for r in corpus(30)}
    assert all(given[i] == t for i, t in zip(removed["id"], removed["text"], strict=True))
    contam = removed.filter(pl.col("reason") == "contamination")
    assert json.loads(contam["evidence"][0])["benchmark"] in {"gsm8k", "mmlu"}
    marker = json.loads((run / ".assay-run.json").read_text())["published"]
    assert {p for p in marker if p.startswith("removed/")} == {f"removed/{f.name}" for f in (run / "removed").iterdir()}
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["removed_documents"] == sorted(f"removed/{f.name}" for f in (run / "removed").iterdir())
    before = {f.name: f.read_bytes() for f in (run / "removed").iterdir()}
    _run(tmp_path, "--write-removed", "--stages", "exact_dup,quality,test_contam")
    assert {f.name: f.read_bytes() for f in (run / "removed").iterdir()} == before  # same input, same bytes
    _run(tmp_path)
    assert not (run / "removed").exists()  # a run without the option leaves no stale removed/


def test_a_file_of_the_user_in_removed_is_never_replaced(tmp_path: Path) -> None:
    run = _run(tmp_path, "--write-removed")
    (run / "removed" / "notes.txt").write_text("mine")
    from flows.plan import check_out

    with pytest.raises(InputError, match="removed/notes.txt was not written by assay"):
        check_out(run)


def test_rerun_keeps_the_earlier_runs_in_history(tmp_path: Path) -> None:
    run = _run(tmp_path)
    first = json.loads((run / "manifest.json").read_text())["run_id"]
    _run(tmp_path, stages="exact_dup")
    second = json.loads((run / "manifest.json").read_text())["run_id"]
    rows = _ledger(run, "SELECT run_id, json_array_length(config -> '$.stages') FROM runs ORDER BY started_at")
    assert rows == [(first, 3), (second, 1)]


def test_show_prints_the_text_a_removing_stage_saw_and_the_released_text(tmp_path: Path, capsys) -> None:
    run = _run(tmp_path)
    rows = {r["id"]: r["text"] for r in corpus(30)}
    capsys.readouterr()
    assert main(["show", str(run), "d003", "--chars", "0"]) == 0
    out = capsys.readouterr().out
    assert "[text] text as test_contam saw it (work/02-quality-" in out and rows["d003"] in out
    assert main(["show", str(run), "d000", "--chars", "40"]) == 0
    out = capsys.readouterr().out
    assert "[text] released text (curated/)" in out and f"\n{rows['d000'][:40]}\n" in out and rows["d000"][:41] not in out
    shutil.rmtree(run / "work")
    assert main(["show", str(run), "d003"]) == 0
    assert "text not available: the step files of this run" in capsys.readouterr().out


def test_show_masks_text_when_the_run_had_a_pii_stage(tmp_path: Path, capsys, monkeypatch) -> None:
    run = _run(tmp_path, stages="exact_dup,test_contam,test_pii")
    leaked_with_email = next(r for r in corpus(30) if "LEAK-" in r["text"] and "@" in r["text"])
    monkeypatch.setattr(masking, "available", lambda: (lambda t: re.sub(EMAIL, "<EMAIL>", t)))
    capsys.readouterr()
    assert main(["show", str(run), leaked_with_email["id"], "--chars", "0"]) == 0
    out = capsys.readouterr().out
    assert "PII masked" in out and "<EMAIL>" in out and "@example.com" not in out
    monkeypatch.setattr(masking, "available", lambda: None)
    assert main(["show", str(run), leaked_with_email["id"]]) == 0
    out = capsys.readouterr().out
    assert "text withheld: this run had a pii stage" in out and "@example.com" not in out
