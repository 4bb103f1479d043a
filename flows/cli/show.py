"""`assay show`: one document's whole history (ingest, every stage's decision, its edits) and its text."""
from __future__ import annotations

import argparse
from pathlib import Path

ORDER = 40
HELP = "one document's whole history and its text"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    p.add_argument("doc_id", metavar="DOC_ID")
    p.add_argument("--chars", type=int, default=2000, metavar="N",
                   help="characters of text to print (default 2000; 0 prints all). A removed document's text is "
                        "the one its removing stage saw (from RUN_DIR/work/); PII masked when the run had a pii stage")


def run(args: argparse.Namespace) -> int:
    from flows import report

    return report.show(args.run_dir, args.doc_id, args.chars)
