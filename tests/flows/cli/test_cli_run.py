"""`assay run`, `assay demo` and the read-back commands on real runs: the funnel, notes on skipped
files, a modified document's edits in `assay show`, JSON columns of a real ledger."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import prose, write_jsonl
from stagekit import SECRET, Mask

from flows.cli import main
from stages import catalog


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    recs = [{"id": f"r{i}", "text": prose(i), "email_note": "x"} for i in range(20)] + [{"id": "dup", "text": prose(3)}]
    write_jsonl(tmp / "in.jsonl", recs, [b"not json\n"])
    assert main(["run", str(tmp / "in.jsonl"), "--out", str(tmp / "run"), "--stages", "exact_dup,quality", "--quiet"]) == 0
    return tmp / "run"


def test_run_prints_skipped_files_then_the_funnel(tmp_path: Path, capsys) -> None:
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": f"r{i}", "text": prose(i)} for i in range(5)])
    (tmp_path / "in" / "crawl.pdf").write_bytes(b"%PDF-1.7 not a data file we read")
    assert main(["run", str(tmp_path / "in"), "--out", str(tmp_path / "run"), "--stages", "quality"]) == 0
    captured = capsys.readouterr()
    notes = [line for line in captured.err.splitlines() if line.startswith("note: skipped")]
    assert len(notes) == 1 and "crawl.pdf" in notes[0], captured.err
    assert "documents in: 5" in captured.out and "kept:        5" in captured.out
    skipped = json.loads((tmp_path / "run" / "manifest.json").read_text())["inputs"]["skipped"]
    assert [s["path"].endswith("crawl.pdf") for s in skipped] == [True]


def test_quiet_run_still_notes_skipped_files(tmp_path: Path, capsys, monkeypatch) -> None:
    import flows.execute

    skipped = [{"path": f"in/f{i}.pdf", "why": "not a data file (.pdf)"} for i in range(12)]
    monkeypatch.setattr(flows.execute, "run_local", lambda _opts: {"inputs": {"skipped": skipped}})
    assert main(["run", "in", "--out", str(tmp_path / "o"), "--stages", "", "--engine", "local", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines[0] == "note: skipped in/f0.pdf: not a data file (.pdf)"
    assert len(lines) == 11 and lines[-1].startswith("note: and 2 more skipped files")


def test_real_ledger_json_columns_are_json_values(run_dir: Path, capsys) -> None:
    assert main(["sql", str(run_dir), "SELECT final, count(*) AS n FROM documents GROUP BY final ORDER BY final",
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"final": "kept", "n": 20}, {"final": "quarantined", "n": 1},
                                                   {"final": "removed", "n": 1}]
    assert main(["sql", str(run_dir), "SELECT evidence, scores FROM decisions WHERE doc_id = 'dup' AND stage = 'exact_dup'",
                 "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["evidence"]["duplicate_of"] == "r3" and isinstance(row["scores"], dict)
    assert main(["sql", str(run_dir), "SELECT stage, config, stats FROM stages ORDER BY position", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["stage"] for r in rows] == ["exact_dup", "quality"] and rows[1]["config"]["min_words"] == 50


def test_show_on_a_real_run(run_dir: Path, capsys) -> None:
    assert main(["show", str(run_dir), "dup"]) == 0
    out = capsys.readouterr().out
    assert "[exact_dup] removed: exact_duplicate" in out and "duplicate_of=r3" in out
    assert main(["show", str(run_dir), "r1"]) == 0
    out = capsys.readouterr().out
    assert "[quality] kept" in out and "quality_words=" in out


def test_show_prints_the_edits_of_a_modifying_stage(tmp_path: Path, capsys) -> None:
    text = f"card {SECRET} on file"
    write_jsonl(tmp_path / "in.jsonl", [{"id": "m1", "text": text}, {"id": "k1", "text": "nothing to mask here"}])
    catalog.register(Mask)
    try:
        assert main(["run", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "run"), "--stages", "test_mask"]) == 0
        assert "modified by test_mask: 1" in capsys.readouterr().out
        assert main(["show", str(tmp_path / "run"), "m1"]) == 0
    finally:
        catalog.unregister(Mask.name)
    out = capsys.readouterr().out
    start, end = text.index(SECRET), text.index(SECRET) + len(SECRET)
    assert "[test_mask] modified: masked" in out
    assert f"changed chars {start}..{end} -> {start}..{start + len('<X>')}" in out
    assert "text sha1: " in out and SECRET not in out


def test_demo_end_to_end(tmp_path: Path, capsys) -> None:
    assert main(["demo", "--out", str(tmp_path / "demo"), "--docs", "400"]) == 0
    out = capsys.readouterr().out
    assert "documents in: 404" in out and "exact_dup/exact_duplicate" in out
    assert "quarantined: 4" in out and "ledger.duckdb" in out
    manifest = json.loads((tmp_path / "demo" / "run" / "manifest.json").read_text())
    assert manifest["records"] == manifest["kept"] + manifest["removed"] + manifest["quarantined"] == 404
    # every planted leak of the demo's own benchmark (GSM8K layout) is found, and the report is written
    planted = int(out.split("leaked ")[1].split()[0])
    assert planted > 0 and manifest["removed_by_stage"]["contamination"] == planted
    assert (tmp_path / "demo" / "run" / "report.html").stat().st_size > 100_000
