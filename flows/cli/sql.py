"""`assay sql`: read-only SQL on a run's ledger."""
from __future__ import annotations

import argparse
from pathlib import Path

ORDER = 30
HELP = "read-only SQL on a run's ledger"
DESCRIPTION = ("Read-only SQL on RUN_DIR/ledger.duckdb. Tables: documents, decisions, quarantine, stages, runs; "
               "view: funnel. Example: assay sql RUN_DIR \"SELECT * FROM funnel\"")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    p.add_argument("query", metavar="SQL")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table",
                   help="table (default; long cells cut), csv, or json (JSON columns as JSON values)")


def run(args: argparse.Namespace) -> int:
    from flows import report

    return report.run_sql(args.run_dir, args.query, args.format)
