"""Reading a run back: `assay sql` formats and errors, `assay show` with edits, the funnel, and a
reader that goes away (`| head`)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from clikit import EDIT_EVIDENCE, make_run

from flows.cli import main
from flows.report import print_funnel

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("cli") / "run")


def test_sql_json_emits_json_columns_as_values(run_dir: Path, capsys) -> None:
    sql = "SELECT doc_id, decision, scores, evidence, evidence->'edits' AS edits FROM decisions WHERE stage = 'pii'"
    assert main(["sql", str(run_dir), sql, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [{"doc_id": "d1", "decision": "modified", "scores": {"pii_spans": 2}, "evidence": EDIT_EVIDENCE,
                     "edits": EDIT_EVIDENCE["edits"]}]


def test_sql_json_keeps_strings_that_look_like_json_as_strings(run_dir: Path, capsys) -> None:
    assert main(["sql", str(run_dir), "SELECT '{\"a\": 1}' AS s, NULL::JSON AS j", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"s": '{"a": 1}', "j": None}]


def test_sql_csv_and_table(run_dir: Path, capsys) -> None:
    assert main(["sql", str(run_dir), "SELECT doc_id FROM documents WHERE final = 'removed'", "--format", "csv"]) == 0
    assert capsys.readouterr().out == "doc_id\nd2\n"
    assert main(["sql", str(run_dir), "SELECT final, documents FROM funnel ORDER BY final"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "final        documents", "-----------  ---------", "kept         1", "quarantined  1", "removed      1", "(3 rows)"]


@pytest.mark.parametrize(("sql", "hint"), [
    ("SELECT * FROM decision", 'Did you mean "decisions"'),
    ("SELECT reasn FROM decisions", 'Candidate bindings: "reason"'),
])
def test_sql_errors_keep_duckdbs_hint(run_dir: Path, capsys, sql: str, hint: str) -> None:
    assert main(["sql", str(run_dir), sql]) == 1
    err = capsys.readouterr().err
    assert err.startswith("assay: error: SQL error: ") and hint in err and "LINE 1:" in err and "Traceback" not in err


@pytest.mark.parametrize("stmt", ["DELETE FROM documents", "CREATE TABLE t AS SELECT 1",
                                  "COPY documents TO '{tmp}/leak.csv'", "ATTACH '{tmp}/other.db' AS o"])
def test_sql_refuses_writes(run_dir: Path, tmp_path: Path, capsys, stmt: str) -> None:
    assert main(["sql", str(run_dir), stmt.format(tmp=tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "read-only" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_sql_on_missing_run_fails_cleanly(tmp_path: Path, capsys) -> None:
    assert main(["sql", str(tmp_path), "SELECT 1"]) == 1
    assert "no ledger" in capsys.readouterr().err


def test_sql_into_head_ends_quietly(run_dir: Path, tmp_path: Path) -> None:
    """More output than a pipe buffer holds, read by `head -1`: no BrokenPipeError, exit 0."""
    err = tmp_path / "err.txt"
    cmd = (f"set -o pipefail; {sys.executable} -m flows.cli sql {run_dir} 'SELECT range AS n FROM range(200000)' "
           f"--format csv 2>{err} | head -1")
    out = subprocess.run(["bash", "-c", cmd], check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout == "n\n"
    assert err.read_text() == "" and out.returncode == 0


def test_show_prints_whole_history_with_edits(run_dir: Path, capsys) -> None:
    assert main(["show", str(run_dir), "d1"]) == 0
    out = capsys.readouterr().out
    assert "modified_by: pii" in out and "[exact_dup] kept" in out and "exact_dup_len=0.250" in out
    assert "[pii] modified: pii_redacted" in out
    assert "  changed chars 10..25 -> 10..17\n" in out
    assert "  inserted chars 32..36 at char 40\n" in out
    assert f"  text sha1: {'a' * 40} -> {'b' * 40}\n" in out
    assert '  evidence: entities=["email"]\n' in out and "edits=" not in out
    assert out.index("[exact_dup]") < out.index("[pii]")  # in stage order


def test_show_removed_and_missing(run_dir: Path, capsys) -> None:
    assert main(["show", str(run_dir), "d2"]) == 0
    out = capsys.readouterr().out
    assert "[exact_dup] removed: exact_duplicate" in out and "duplicate_of=d1" in out
    assert main(["show", str(run_dir), "no-such-doc"]) == 1
    assert "no document 'no-such-doc'" in capsys.readouterr().err


def test_funnel_counts_modified_documents(run_dir: Path, capsys) -> None:
    print_funnel(run_dir)
    out = capsys.readouterr().out
    assert "documents in: 3" in out and "    modified by pii: 1\n" in out and "modified by exact_dup" not in out
    assert "    exact_dup/exact_duplicate: 1" in out and "    invalid_json: 1" in out
