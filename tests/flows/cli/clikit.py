"""A tiny hand-built run folder (ledger + manifest) for the read-back commands, so that sql/show
formatting is tested without running the pipeline. Its tables have the columns flows/ledger.py writes."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb

EDIT_EVIDENCE = {"edits": [[10, 25, 10, 17], [40, 40, 32, 36]], "text_sha1_before": "a" * 40,
                 "text_sha1_after": "b" * 40, "entities": ["email"]}


def make_run(run_dir: Path) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(run_dir / "ledger.duckdb"))
    con.execute("""CREATE TABLE documents (doc_id VARCHAR, kind VARCHAR, source VARCHAR, input_file VARCHAR,
                   input_line BIGINT, final VARCHAR, final_stage VARCHAR, final_reason VARCHAR, modified_by VARCHAR)""")
    con.execute("""INSERT INTO documents VALUES
                   ('d1', 'text', 'web', 'a.jsonl', 1, 'kept', NULL, NULL, 'pii'),
                   ('d2', 'text', 'web', 'a.jsonl', 2, 'removed', 'exact_dup', 'exact_duplicate', NULL),
                   (NULL, NULL, NULL, 'a.jsonl', 3, 'quarantined', 'ingest', 'invalid_json', NULL)""")
    con.execute("""CREATE TABLE decisions (doc_id VARCHAR, stage VARCHAR, position INTEGER, stage_version INTEGER,
                   decision VARCHAR, reason VARCHAR, scores JSON, evidence JSON)""")
    con.execute("INSERT INTO decisions VALUES (?, ?, ?, 1, ?, ?, ?::JSON, ?::JSON)", ["d1", "pii", 2, "modified", "pii_redacted",
                json.dumps({"pii_spans": 2}), json.dumps(EDIT_EVIDENCE)])
    con.execute("INSERT INTO decisions VALUES (?, ?, ?, 1, ?, ?, ?::JSON, ?::JSON)", ["d2", "exact_dup", 1, "removed",
                "exact_duplicate", "{}", json.dumps({"duplicate_of": "d1"})])
    con.execute("INSERT INTO decisions VALUES (?, ?, ?, 1, ?, ?, ?::JSON, ?::JSON)", ["d1", "exact_dup", 1, "kept",
                None, json.dumps({"exact_dup_len": 0.25}), "{}"])
    con.execute("""CREATE TABLE quarantine (doc_id VARCHAR, input_file VARCHAR, input_line BIGINT, reason VARCHAR,
                   detail VARCHAR, excerpt VARCHAR)""")
    con.execute("INSERT INTO quarantine VALUES (NULL, 'a.jsonl', 3, 'invalid_json', 'Expecting value', '{oops')")
    con.execute("""CREATE VIEW funnel AS SELECT final, final_stage, final_reason, count(*) AS documents
                   FROM documents GROUP BY ALL ORDER BY final, documents DESC""")
    con.close()
    manifest = {"records": 3, "kept": 1, "removed": 1, "quarantined": 1, "file_issues": 0,
                "modified_by_stage": {"exact_dup": 0, "pii": 1}, "inputs": {"skipped": []}}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    return run_dir
