"""The command line as users meet it: help, exit codes, read-only SQL, history, the demo."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import prose, write_jsonl

from flows.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    recs = [{"id": f"r{i}", "text": prose(i), "email_note": "x"} for i in range(20)] + [{"id": "dup", "text": prose(3)}]
    write_jsonl(tmp / "in.jsonl", recs, [b"not json\n"])
    assert main(["run", str(tmp / "in.jsonl"), "--out", str(tmp / "run"), "--stages", "exact_dup,quality", "--quiet"]) == 0
    return tmp / "run"


@pytest.mark.parametrize("cmd", [[], ["run"], ["demo"], ["sql"], ["show"], ["ablate"]])
def test_help_everywhere(cmd: list[str]) -> None:
    out = subprocess.run([sys.executable, "-m", "flows.cli", *cmd, "--help"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and "usage: assay" in out.stdout


def test_usage_errors_exit_2(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", "--out", str(tmp_path)])  # no input
    assert exc.value.code == 2
    f = write_jsonl(tmp_path / "a.jsonl", [{"text": prose(0)}])
    assert main(["run", str(f), "--out", str(tmp_path / "o"), "--stages", "nope"]) == 2
    assert "unknown stage 'nope'" in capsys.readouterr().err


def test_sql_formats(run_dir: Path, capsys) -> None:
    assert main(["sql", str(run_dir), "SELECT final, count(*) AS n FROM documents GROUP BY final ORDER BY final", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"final": "kept", "n": 20}, {"final": "quarantined", "n": 1}, {"final": "removed", "n": 1}]
    assert main(["sql", str(run_dir), "SELECT doc_id FROM documents WHERE final = 'removed'", "--format", "csv"]) == 0
    assert capsys.readouterr().out == "doc_id\ndup\n"
    assert main(["sql", str(run_dir), "SELECT * FROM funnel"]) == 0
    assert "exact_duplicate" in capsys.readouterr().out


@pytest.mark.parametrize("stmt", ["DELETE FROM documents", "CREATE TABLE t AS SELECT 1",
                                  "COPY documents TO '/tmp/assay-leak.csv'", "ATTACH '/tmp/assay-other.db' AS o"])
def test_sql_refuses_writes(run_dir: Path, capsys, stmt: str) -> None:
    assert main(["sql", str(run_dir), stmt]) == 1
    err = capsys.readouterr().err
    assert "read-only" in err and "Traceback" not in err
    assert not Path("/tmp/assay-leak.csv").exists()


def test_sql_on_missing_run_fails_cleanly(tmp_path: Path, capsys) -> None:
    assert main(["sql", str(tmp_path), "SELECT 1"]) == 1
    assert "no ledger" in capsys.readouterr().err


def test_show_prints_whole_history(run_dir: Path, capsys) -> None:
    assert main(["show", str(run_dir), "dup"]) == 0
    out = capsys.readouterr().out
    assert "[exact_dup] removed: exact_duplicate" in out and "duplicate_of=r3" in out and "removed" in out
    assert main(["show", str(run_dir), "r1"]) == 0
    out = capsys.readouterr().out
    assert "[quality] kept" in out and "quality_words=" in out
    assert main(["show", str(run_dir), "no-such-doc"]) == 1


def test_demo_end_to_end(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "flows.cli", "demo", "--out", str(tmp_path / "demo")], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "documents in: 2004" in out.stdout and "exact_dup/exact_duplicate" in out.stdout
    assert "quarantined: 4" in out.stdout and "ledger.duckdb" in out.stdout
    manifest = json.loads((tmp_path / "demo" / "run" / "manifest.json").read_text())
    assert manifest["records"] == manifest["kept"] + manifest["removed"] + manifest["quarantined"] == 2004


def test_a_bug_is_not_reported_as_a_usage_error(tmp_path: Path, monkeypatch, capsys) -> None:
    import flows.runner

    def broken(_opts):
        return {}["missing"]  # a KeyError from a bug, not from the user's input

    monkeypatch.setattr(flows.runner, "run_local", broken)
    f = write_jsonl(tmp_path / "a.jsonl", [{"text": prose(0)}])
    assert main(["run", str(f), "--out", str(tmp_path / "o"), "--engine", "local", "--quiet"]) == 1
    assert "KeyError" in capsys.readouterr().err
