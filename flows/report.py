"""Reading a run back: the funnel, read-only SQL on the ledger, one document's history."""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import duckdb


class LedgerError(Exception):
    pass


def connect(run_dir: Path) -> duckdb.DuckDBPyConnection:
    path = run_dir / "ledger.duckdb"
    if not path.exists():
        raise LedgerError(f"no ledger at {path} (is {run_dir} a finished run directory?)")
    con = duckdb.connect(str(path), read_only=True)
    # Read-only is not enough: COPY ... TO and ATTACH could still write files elsewhere.
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def run_sql(run_dir: Path, query: str, fmt: str) -> int:
    con = connect(run_dir)
    try:
        rel = con.execute(query)
        cols = [d[0] for d in rel.description] if rel.description else []
        rows = rel.fetchall()
    except duckdb.Error as exc:
        msg = str(exc).splitlines()[0]
        if "read-only" in msg or "read_only" in msg or "external access" in msg.lower() or "disabled by configuration" in msg or "lock_configuration" in msg:
            raise LedgerError(f"the ledger is read-only through `assay sql`; statement refused: {msg}") from None
        raise LedgerError(f"SQL error: {msg}") from None
    finally:
        con.close()
    if fmt == "json":
        print(json.dumps([dict(zip(cols, r, strict=True)) for r in rows], default=str, indent=1))
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
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))
    print(line)
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


def show(run_dir: Path, doc_id: str) -> int:
    con = connect(run_dir)
    try:
        doc = con.execute("SELECT * FROM documents WHERE doc_id = ?", [doc_id]).fetchall()
        doc_cols = [d[0] for d in con.description]
        if not doc:
            raise LedgerError(f"no document {doc_id!r} in {run_dir / 'ledger.duckdb'}")
        decisions = con.execute("SELECT stage, decision, reason, scores, evidence FROM decisions WHERE doc_id = ? ORDER BY position", [doc_id]).fetchall()
        quarantine = con.execute("SELECT reason, detail, excerpt FROM quarantine WHERE doc_id = ?", [doc_id]).fetchall()
    finally:
        con.close()
    for col, val in zip(doc_cols, doc[0], strict=True):
        print(f"{col:>13}: {val}")
    for reason, detail, excerpt in quarantine:
        print(f"\n[ingest] quarantined: {reason} ({detail})\n  excerpt: {excerpt}")
    for stage, decision, reason, scores, evidence in decisions:
        print(f"\n[{stage}] {decision}" + (f": {reason}" if reason else ""))
        for label, blob in (("scores", scores), ("evidence", evidence)):
            data = {k: v for k, v in json.loads(blob).items() if v is not None}
            if data:
                print(f"  {label}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in data.items()))
    return 0


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def print_funnel(run_dir: Path) -> None:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    con = connect(run_dir)
    try:
        rows = con.execute("SELECT final, final_stage, final_reason, documents FROM funnel").fetchall()
    finally:
        con.close()
    print(f"\ndocuments in: {manifest['records']}")
    print(f"  kept:        {manifest['kept']}")
    print(f"  removed:     {manifest['removed']}")
    for final, stage, reason, n in rows:
        if final == "removed":
            print(f"    {stage}/{reason}: {n}")
    print(f"  quarantined: {manifest['quarantined']}")
    for final, stage, reason, n in rows:
        if final == "quarantined":
            print(f"    {reason}: {n}")
    if manifest.get("file_issues"):
        print(f"  file-level issues (see the quarantine table): {manifest['file_issues']}")
    print(f"\ncurated documents: {run_dir / 'curated'}")
    print(f"ledger:            {run_dir / 'ledger.duckdb'}")
    print(f"try:  assay sql {run_dir} \"SELECT * FROM funnel\"")
