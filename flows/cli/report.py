"""`assay report`: rebuild a run's report.html and report.md (every `assay run` writes them)."""
from __future__ import annotations

import argparse
from pathlib import Path

ORDER = 35
HELP = "rebuild RUN_DIR/report.html (opens offline) and report.md"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")


def run(args: argparse.Namespace) -> int:
    from flows.report import LedgerError

    if not (args.run_dir / "manifest.json").exists():
        raise LedgerError(f"{args.run_dir} is not a finished run (no manifest.json)")
    from flows.run_report import write

    html, md = write(args.run_dir)
    print(f"report: {html}\nmarkdown: {md}")
    return 0
