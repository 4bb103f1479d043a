"""Reading a run back: the funnel, read-only SQL on the ledger, one document's history.

duckdb is imported inside the functions that use it: the CLI imports LedgerError for every command,
and `assay --help` should not pay for a database engine.
"""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

_REFUSED = ("read-only", "read_only", "external access", "disabled by configuration", "lock_configuration")


class LedgerError(Exception):
    pass


def _openable(path: Path) -> str:
    """A path DuckDB opens as written. It reads a `?` in a database path as the start of options and
    a backslash as a separator (after resolving links), so a ledger under such a folder is read from
    a private copy, removed at exit; any name the OS allows works for a run folder."""
    if not {"?", "\\"} & set(str(path.resolve())):
        return str(path)
    import atexit
    import shutil
    import tempfile

    via = Path(tempfile.mkdtemp(prefix="assay-ledger-"))
    atexit.register(shutil.rmtree, via, True)
    shutil.copyfile(path, via / path.name)
    return str(via / path.name)


openable = _openable  # also for check.duckdb (flows/diff.py attaches ledgers by parameter)


def _attach_check(con: Any, run_dir: Path) -> None:
    """The tables `assay check` wrote to RUN_DIR/check.duckdb (flows/diff.py: diff_documents,
    diff_reasons, diff_summary, gates, check_run), as views next to the ledger's own tables."""
    import duckdb

    from flows.diff import CHECK_DB, TABLES

    if not (run_dir / CHECK_DB).exists():
        return
    try:
        con.execute("ATTACH ? AS assay_check (READ_ONLY)", [_openable(run_dir / CHECK_DB)])
        names = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'assay_check'").fetchall()}
        for name in sorted(names & set(TABLES)):
            con.execute(f"CREATE TEMP VIEW {name} AS SELECT * FROM assay_check.main.{name}")
        checked = con.execute("SELECT run_id FROM assay_check.main.check_run").fetchone() if "check_run" in names else None
        latest = con.execute("SELECT run_id FROM runs ORDER BY finished_at DESC LIMIT 1").fetchone()
        if checked and latest and checked[0] != latest[0]:
            print(f"note: {run_dir / CHECK_DB} checked an earlier run ({checked[0]}); rerun assay check", file=sys.stderr)
    except duckdb.Error as exc:
        print(f"note: {run_dir / CHECK_DB} not attached: {str(exc).splitlines()[0]}", file=sys.stderr)


def connect(run_dir: Path) -> Any:
    import duckdb

    path = run_dir / "ledger.duckdb"
    if not path.exists():
        raise LedgerError(f"no ledger at {path} (is {run_dir} a finished run directory?)")
    con = duckdb.connect(_openable(path), read_only=True)
    _attach_check(con, run_dir)
    # Read-only is not enough: COPY ... TO and ATTACH could still write files elsewhere.
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def query(run_dir: Path, sql: str) -> tuple[list[str], list[str], list[tuple[Any, ...]]]:
    """(column names, column types, rows) of one read-only statement."""
    import duckdb

    con = connect(run_dir)
    try:
        rel = con.execute(sql)
        desc = rel.description or []
        rows = rel.fetchall()
    except duckdb.Error as exc:
        # The whole message: DuckDB's second line is often the fix ('Did you mean "decisions"?',
        # 'Candidate bindings: ...') and the LINE/caret lines point at the spot.
        msg = "\n".join(line for line in str(exc).splitlines() if line.strip())
        if any(word in msg.splitlines()[0].lower() for word in _REFUSED):  # not in the echoed query
            raise LedgerError(f"the ledger is read-only through `assay sql`; statement refused: {msg}") from None
        raise LedgerError(f"SQL error: {msg}") from None
    finally:
        con.close()
    return [d[0] for d in desc], [str(d[1]) for d in desc], rows


def run_sql(run_dir: Path, sql: str, fmt: str) -> int:
    cols, types, rows = query(run_dir, sql)
    if fmt == "json":
        # JSON columns (scores, evidence, config, stats) as JSON values, not as strings to parse again
        is_json = [t == "JSON" for t in types]
        records = [{c: (json.loads(v) if j and isinstance(v, str) else v) for c, v, j in zip(cols, r, is_json, strict=True)}
                   for r in rows]
        print(json.dumps(records, default=str, indent=1))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(cols)
        writer.writerows(rows)
    else:
        _table(cols, rows)
    return 0


def _table(cols: list[str], rows: list[tuple[Any, ...]], width: int = 60) -> None:
    cells = [[("NULL" if v is None else str(v)).replace("\n", " ")[:width] for v in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


def show(run_dir: Path, doc_id: str, chars: int = 2000) -> int:
    con = connect(run_dir)
    try:
        written = doc_id
        doc = con.execute("SELECT * FROM documents WHERE doc_id = ?", [written]).fetchall()
        if not doc:  # the ledger writes an id holding PII in its safe form (stages/pii_engine/masker.py)
            from stages.pii_engine.masker import id_key, safe_id

            written = safe_id(doc_id, id_key(run_dir, create=False))
            doc = con.execute("SELECT * FROM documents WHERE doc_id = ?", [written]).fetchall()
        doc_cols = [d[0] for d in con.description]
        if not doc:
            raise LedgerError(f"no document {doc_id!r} in {run_dir / 'ledger.duckdb'}")
        decisions = con.execute("SELECT stage, decision, reason, scores, evidence FROM decisions "
                                "WHERE doc_id = ? ORDER BY position", [written]).fetchall()
        quarantine = con.execute("SELECT reason, detail, excerpt FROM quarantine WHERE doc_id = ?", [written]).fetchall()
    finally:
        con.close()
    for col, val in zip(doc_cols, doc[0], strict=True):
        print(f"{col:>13}: {val}")
    for reason, detail, excerpt in quarantine:
        print(f"\n[ingest] quarantined: {reason} ({detail})\n  excerpt: {excerpt}")
    for stage, decision, reason, scores, evidence in decisions:
        print(f"\n[{stage}] {decision}" + (f": {reason}" if reason else ""))
        ev = {k: v for k, v in json.loads(evidence or "{}").items() if v is not None}
        for line in edit_lines(ev):
            print(f"  {line}")
        for label, data in (("scores", json.loads(scores or "{}")), ("evidence", ev)):
            data = {k: v for k, v in data.items() if v is not None}
            if data:
                print(f"  {label}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in data.items()))
    from flows.doc_text import print_text

    print_text(run_dir, doc_id, dict(zip(doc_cols, doc[0], strict=True)), chars)
    return 0


def edit_lines(evidence: dict[str, Any]) -> list[str]:
    """A modified decision's edits, readably; removes them from `evidence` (printed separately).
    Offsets are [start, end) in the text before and after the edit, as stages.edits records them."""
    edits = evidence.pop("edits", None)
    before, after = evidence.pop("text_sha1_before", None), evidence.pop("text_sha1_after", None)
    lines = []
    for start, end, new_start, new_end in edits or []:
        what = "inserted at" if start == end else ("deleted" if new_start == new_end else "changed")
        if what == "inserted at":
            lines.append(f"inserted chars {new_start}..{new_end} at char {start}")
        elif what == "deleted":
            lines.append(f"deleted chars {start}..{end} (now at {new_start})")
        else:
            lines.append(f"changed chars {start}..{end} -> {new_start}..{new_end}")
    if before or after:
        lines.append(f"text sha1: {before} -> {after}")
    return lines


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else (json.dumps(v) if isinstance(v, dict | list) else str(v))


def print_funnel(run_dir: Path) -> None:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    con = connect(run_dir)
    try:
        rows = con.execute("SELECT final, final_stage, final_reason, documents FROM funnel").fetchall()
    finally:
        con.close()
    print(f"\ndocuments in: {manifest['records']}")
    print(f"  kept:        {manifest['kept']}")
    modified = {s: n for s, n in manifest.get("modified_by_stage", {}).items() if n}
    for stage, n in modified.items():
        print(f"    modified by {stage}: {n}")
    print(f"  removed:     {manifest['removed']}")
    for final, stage, reason, n in rows:
        if final == "removed":
            print(f"    {stage}/{reason}: {n}")
    print(f"  quarantined: {manifest['quarantined']}")
    for final, _stage, reason, n in rows:
        if final == "quarantined":
            print(f"    {reason}: {n}")
    if manifest.get("file_issues"):
        print(f"  file-level issues (see the quarantine table): {manifest['file_issues']}")
    print(f"\ncurated documents: {run_dir / 'curated'}")
    print(f"ledger:            {run_dir / 'ledger.duckdb'}")
    print(f"try:  assay sql {run_dir} \"SELECT * FROM funnel\"")
