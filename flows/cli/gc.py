"""`assay gc`: remove from RUN_DIR/work what the finished run no longer references."""
from __future__ import annotations

import argparse
from pathlib import Path

ORDER = 70
HELP = "remove step outputs in RUN_DIR/work that the run's manifest no longer references"
DESCRIPTION = ("Remove from RUN_DIR/work the steps of earlier configurations, leftovers of interrupted runs and "
               "temporary files of processes that ended. Rerunning the same command afterwards gives the same output. "
               "With --compact, also remove the text copies kept by the steps between ingest and the last one "
               "(rebuilt from cached scores and decisions when a later run changes a stage after them).")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    p.add_argument("--compact", action="store_true",
                   help="also remove intermediate steps' text shards (the largest part of work/)")
    p.add_argument("--dry-run", action="store_true", help="list what would be removed; remove nothing")


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def run(args: argparse.Namespace) -> int:
    from flows.gc import collect

    done = collect(args.run_dir, compact=args.compact, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for rel in done["removed"]:
        print(f"{verb} {rel}")
    print(f"work/: {_mb(done['work_before'])} -> {_mb(done['work_after'])}")
    return 0
