"""One run of a million documents with every default stage, on this machine: wall time, peak memory,
disk.

    python -m eval.bench.million [--docs 1000000] [--dir /path/with/disk] [--keep]

The corpus is generated (flows.demo.bench_texts: 350-650-word articles, 10 % exact and 5 % near
copies), in files of 50,000 documents, under --dir (default: the system's temporary folder), then
`assay run DIR --out RUN --quiet` runs as a user would type it (local engine, default shard size
and stages). Prints the figures the README's scale-out section states. Needs about 4 GB of disk per
million documents for the input and ~10 GB for the run folder.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from eval.bench.scaling import cli

PER_FILE = 50_000


def generate(where: Path, docs: int) -> int:
    from flows.demo import bench_texts

    where.mkdir(parents=True, exist_ok=True)
    total = 0
    for k in range(0, docs, PER_FILE):
        path = where / f"docs-{k // PER_FILE:03d}.jsonl"
        texts = bench_texts(min(PER_FILE, docs - k), seed=k // PER_FILE)
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(json.dumps({"text": t}) + "\n" for t in texts)
        total += path.stat().st_size
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path, default=None, help="where the corpus and the run go (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the corpus and the run folder")
    args = ap.parse_args()
    from flows.gc import collect, size

    base = args.dir or Path(tempfile.mkdtemp(prefix="assay-million-"))
    inp, out = base / "corpus", base / "run"
    try:
        start = time.perf_counter()
        nbytes = generate(inp, args.docs)
        print(f"corpus: {args.docs:,} documents, {nbytes / 1e9:.2f} GB of JSONL in {len(list(inp.iterdir()))} files "
              f"(generated in {time.perf_counter() - start:.0f} s); cores {len(os.sched_getaffinity(0))}, "
              f"load average before {os.getloadavg()[0]:.1f}")
        shutil.rmtree(out, ignore_errors=True)
        wall, rss = cli(["run", str(inp), "--out", str(out), "--quiet"])
        manifest = json.loads((out / "manifest.json").read_text())
        work = size(out / "work")
        after = collect(out, compact=True)["work_after"]
        gb = nbytes / 1e9
        print(f"`assay run` (local engine, default shards and stages: {', '.join(s['name'] for s in manifest['steps'][1:])})")
        print(f"  wall {wall:.0f} s = {args.docs / wall:,.0f} documents/s, {nbytes / 1e6 / wall:.2f} MB/s; "
              f"peak RSS {rss / 2**30:.2f} GiB; load average after {os.getloadavg()[0]:.1f}")
        print(f"  kept {manifest['kept']:,}, removed {manifest['removed']:,}, quarantined {manifest['quarantined']:,}")
        print(f"  disk: work/ {work / 1e9:.2f} GB ({work / 1e9 / gb:.2f} per input GB), after `assay gc --compact` "
              f"{after / 1e9:.2f} GB ({after / 1e9 / gb:.2f}); curated/ {size(out / 'curated') / 1e9:.2f} GB; "
              f"ledger.duckdb {(out / 'ledger.duckdb').stat().st_size / 1e9:.2f} GB")
    finally:
        if not args.keep:
            shutil.rmtree(base if args.dir is None else out, ignore_errors=True)
            if args.dir is not None:
                shutil.rmtree(inp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
