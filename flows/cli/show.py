"""`assay show`: one document's whole history (ingest, every stage's decision, its edits)."""
from __future__ import annotations

import argparse
from pathlib import Path

ORDER = 40
HELP = "one document's whole history"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    p.add_argument("doc_id", metavar="DOC_ID")


def run(args: argparse.Namespace) -> int:
    from flows import report

    return report.show(args.run_dir, args.doc_id)
