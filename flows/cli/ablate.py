"""`assay ablate`: train proxy models on curation recipes and compare them. The arguments and the
work live in eval/ablate.py, which imports torch only when it trains."""
from __future__ import annotations

import argparse

ORDER = 60
HELP = "train proxy models on curation recipes and compare them"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from eval import ablate

    ablate.add_arguments(p)


def run(args: argparse.Namespace) -> int:
    from eval import ablate

    return ablate.run(args)
