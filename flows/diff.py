"""The release diff and the check's own database, RUN_DIR/check.duckdb.

Documents are compared by id and by the SHA-256 of their released text (the curated parts of both
runs): added, removed (with why, from this run's ledger: removed by a stage, or no longer in the
input) and changed (same id, other text). Removal and quarantine reasons are compared as counts and
rates. `assay check` writes these tables and the gate results to check.duckdb; `assay sql RUN_DIR`
attaches it, so `SELECT * FROM diff_documents` works next to the ledger's own tables.

check.duckdb is written under a temporary name and renamed: it is complete or absent. The run's
ledger is never changed by a check (it is published as a whole by `assay run`).
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHECK_DB = "check.duckdb"
TABLES = ("diff_documents", "diff_reasons", "diff_summary", "gates", "check_run")
EXAMPLES = 3


def _curated(run_dir: Path, manifest: dict[str, Any]) -> Any:
    """id + text of the released documents, ids in the ledger's written form: an id holding PII is
    masked with a keyed hash there (stages/pii_engine/masker.py), and check.duckdb holds no raw PII either."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    files = [(run_dir / rel).as_posix() for rel in manifest.get("curated", [])]
    if not files:
        return None
    table = ds.dataset(files, format="parquet").to_table(columns=["id", "text"])
    try:
        from stages.pii_engine.masker import key_provider, safe_ids
    except ImportError:
        return table
    return table.set_column(0, "id", pa.array(safe_ids(table.column("id").to_pylist(), key_provider(run_dir)), pa.string()))


def _attach(con: Any, run_dir: Path, alias: str) -> None:
    from flows.report import openable

    # A parameter, never a path inside SQL text; odd names are read from a private copy.
    con.execute(f"ATTACH ? AS {alias} (READ_ONLY)", [openable(run_dir / "ledger.duckdb")])


def build_diff(con: Any, run_dir: Path, prev_dir: Path, manifest: dict[str, Any], prev_manifest: dict[str, Any]) -> dict[str, Any]:
    """Create diff_documents, diff_reasons and diff_summary in `con` (the check database being
    written); returns the summary with a few example ids per change."""
    import pyarrow as pa

    empty = pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())})
    cur, prev = _curated(run_dir, manifest), _curated(prev_dir, prev_manifest)
    con.register("cur_curated", cur if cur is not None else empty)
    con.register("prev_curated", prev if prev is not None else empty)
    _attach(con, run_dir, "cur")
    _attach(con, prev_dir, "prev")
    try:
        con.execute("""
            CREATE TABLE diff_documents AS
            WITH c AS (SELECT id AS doc_id, sha256(text) AS h FROM cur_curated),
                 p AS (SELECT id AS doc_id, sha256(text) AS h FROM prev_curated),
                 j AS (SELECT coalesce(c.doc_id, p.doc_id) AS doc_id, p.h AS previous_sha256, c.h AS sha256
                       FROM c FULL JOIN p ON c.doc_id = p.doc_id
                       WHERE p.doc_id IS NULL OR c.doc_id IS NULL OR p.h <> c.h)
            SELECT j.doc_id,
                   CASE WHEN j.previous_sha256 IS NULL THEN 'added' WHEN j.sha256 IS NULL THEN 'removed' ELSE 'changed' END AS change,
                   j.previous_sha256, j.sha256,
                   coalesce(d.final, 'not in input') AS final, d.final_stage, d.final_reason
            FROM j LEFT JOIN cur.documents d ON d.doc_id = j.doc_id
            ORDER BY change, j.doc_id""")
        con.execute("""
            CREATE TABLE diff_reasons AS
            WITH c AS (SELECT final, final_stage AS stage, final_reason AS reason, count(*) AS n
                       FROM cur.documents WHERE final <> 'kept' GROUP BY ALL),
                 p AS (SELECT final, final_stage AS stage, final_reason AS reason, count(*) AS n
                       FROM prev.documents WHERE final <> 'kept' GROUP BY ALL),
                 tc AS (SELECT count(*) AS t FROM cur.documents), tp AS (SELECT count(*) AS t FROM prev.documents)
            SELECT coalesce(c.final, p.final) AS final, coalesce(c.stage, p.stage) AS stage,
                   coalesce(c.reason, p.reason) AS reason,
                   coalesce(p.n, 0) AS previous, coalesce(c.n, 0) AS current, coalesce(c.n, 0) - coalesce(p.n, 0) AS change,
                   round(coalesce(p.n, 0) / nullif(tp.t, 0), 6) AS previous_rate, round(coalesce(c.n, 0) / nullif(tc.t, 0), 6) AS current_rate,
                   CASE WHEN coalesce(c.n, 0) > coalesce(p.n, 0) THEN 'grew'
                        WHEN coalesce(c.n, 0) < coalesce(p.n, 0) THEN 'shrank' ELSE 'same' END AS trend
            FROM c FULL JOIN p ON c.final = p.final AND c.stage IS NOT DISTINCT FROM p.stage AND c.reason IS NOT DISTINCT FROM p.reason,
                 tc, tp
            ORDER BY abs(change) DESC, final, stage, reason""")
        con.execute("""
            CREATE TABLE diff_summary AS
            SELECT (SELECT count(*) FROM prev_curated) AS previous_documents, (SELECT count(*) FROM cur_curated) AS documents,
                   count(*) FILTER (change = 'added') AS added, count(*) FILTER (change = 'removed') AS removed,
                   count(*) FILTER (change = 'changed') AS changed
            FROM diff_documents""")
        row = con.execute("SELECT * FROM diff_summary").fetchone()
        summary = dict(zip(("previous_documents", "documents", "added", "removed", "changed"), row, strict=True))
        for change in ("added", "removed", "changed"):
            summary[f"{change}_examples"] = [r[0] for r in con.execute(
                f"SELECT doc_id FROM diff_documents WHERE change = ? ORDER BY doc_id LIMIT {EXAMPLES}", [change]).fetchall()]
        summary["reasons"] = con.execute("SELECT final, stage, reason, previous, current, change, trend FROM diff_reasons "
                                         "WHERE trend <> 'same' ORDER BY abs(change) DESC, final, stage, reason").fetchall()
    finally:
        con.execute("DETACH cur")
        con.execute("DETACH prev")
        con.unregister("cur_curated")
        con.unregister("prev_curated")
    return summary


@contextlib.contextmanager
def check_db(run_dir: Path) -> Iterator[Any]:
    """A new check database, renamed to RUN_DIR/check.duckdb when the block ends without error."""
    import duckdb

    from flows.fsutil import tmp_name
    from flows.ledger import _duckdb_path

    final = run_dir / CHECK_DB
    tmp = tmp_name(final)
    tmp.unlink(missing_ok=True)
    try:
        with _duckdb_path(tmp) as where:
            con = duckdb.connect(where)
            try:
                yield con
                con.execute("CHECKPOINT")
            finally:
                con.close()
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_gates(con: Any, results: list[Any], run_id: str, against_run_id: str | None, code: int) -> None:
    con.execute("CREATE TABLE gates (name VARCHAR, level VARCHAR, status VARCHAR, value DOUBLE, value_text VARCHAR, "
                "threshold VARCHAR, examples JSON, note VARCHAR)")
    for r in results:
        num = float(r.value) if isinstance(r.value, int | float) and not isinstance(r.value, bool) else None
        con.execute("INSERT INTO gates VALUES (?, ?, ?, ?, ?, ?, ?::JSON, ?)",
                    [r.name, r.level, r.status, num, str(r.value), str(r.threshold), json.dumps(r.examples), r.note])
    con.execute("CREATE TABLE check_run (run_id VARCHAR, against_run_id VARCHAR, checked_at TIMESTAMPTZ, exit_code INTEGER)")
    con.execute("INSERT INTO check_run VALUES (?, ?, to_timestamp(?), ?)", [run_id, against_run_id, time.time(), code])
