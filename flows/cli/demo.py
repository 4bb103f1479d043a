"""`assay demo`: generate a small raw release with planted problems and curate it."""
from __future__ import annotations

import argparse
from pathlib import Path

ORDER = 20
HELP = "generate a small raw release with planted problems and curate it"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("demo"), help="folder for the sample and its run (default: ./demo)")
    p.add_argument("--docs", type=int, default=2000, help="documents to generate (default: 2000)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the generator (default: 0)")


def run(args: argparse.Namespace) -> int:
    from flows.demo import run_demo

    return run_demo(args.out, args.docs, args.seed)
