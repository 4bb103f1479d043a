"""A rerun into the same --out replaces the ledger; the earlier runs' rows of `runs` are carried
into the new one, so `SELECT * FROM runs ORDER BY started_at` is the folder's history."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def carry_runs(con: Any, old_ledger: Path) -> int:
    """Insert the `runs` rows of `old_ledger` (the ledger this run replaces) into `con`'s `runs`
    table, by column name. Returns how many; a ledger that does not open is reported, not fatal."""
    import duckdb

    from flows.report import openable

    if not old_ledger.exists():
        return 0
    try:
        con.execute("ATTACH ? AS earlier_ledger (READ_ONLY)", [openable(old_ledger)])
    except duckdb.Error as exc:
        print(f"note: the earlier ledger {old_ledger} did not open, so its runs are not in this ledger's history "
              f"({str(exc).splitlines()[0]})", file=sys.stderr)
        return 0
    try:
        ours = [r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
                                          "AND table_name = 'runs' ORDER BY column_index").fetchall()]
        theirs = {r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE database_name = 'earlier_ledger' "
                                            "AND table_name = 'runs'").fetchall()}
        if "run_id" not in theirs:
            return 0
        cols = ", ".join(f'"{c}"' for c in ours if c in theirs)  # names from the two schemas, never from users
        before = con.execute("SELECT count(*) FROM runs").fetchone()[0]
        con.execute(f"INSERT INTO runs ({cols}) SELECT {cols} FROM earlier_ledger.main.runs "
                    "WHERE run_id NOT IN (SELECT run_id FROM runs) ORDER BY started_at")
        return con.execute("SELECT count(*) FROM runs").fetchone()[0] - before
    finally:
        con.execute("DETACH earlier_ledger")
