"""Throughput of the curation pipeline, per stage and end to end, on one core.

    python -m eval.bench.throughput [--generated-docs 20000] [--cli-runs 3] [--against-checkout DIR]

Corpora: (1) real text from ../shared/data/web — Reuters-21578 bodies, BBC News (all 2,225) and the
article benchmark's gold text; (2) a generated corpus (flows.demo prose, ~3 KB documents with
planted duplicates). The process pins itself to one CPU and one Polars/Numba thread before
importing them, so the figures are per core. Prints MB/s of input text for each step, then the
whole `assay run` command with every default stage, process start-up included, as a user runs it
(median of --cli-runs). With --against-checkout (another checkout of assay, e.g. a worktree of an
earlier commit), the same command runs there too, interleaved with this one, and the ratio is
printed: on a shared machine only figures taken side by side compare.
"""
from __future__ import annotations

import argparse
import os
import sys

if os.environ.get("_ASSAY_BENCH_PINNED") != "1":  # re-exec with one thread everywhere, set before imports
    env = os.environ | {"_ASSAY_BENCH_PINNED": "1", "POLARS_MAX_THREADS": "1", "NUMBA_NUM_THREADS": "1",
                        "OMP_NUM_THREADS": "1", "RAYON_NUM_THREADS": "1"}
    os.execve(sys.executable, [sys.executable, "-m", "eval.bench.throughput", *sys.argv[1:]], env)

import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from eval.build_raw_release import reuters  # noqa: E402
from eval.sources import bbc_articles, shared_data_root  # noqa: E402
from flows.demo import bench_texts  # noqa: E402
from flows.execute import run_local  # noqa: E402
from flows.plan import RunOptions  # noqa: E402
from stages.catalog import plain_run_stages  # noqa: E402


def real_corpus(root: Path, out: Path) -> int:
    texts = list(reuters(root))
    texts += [t for _, t in bbc_articles(root, heldout=False)] + [t for _, t in bbc_articles(root, heldout=True)]
    gold = json.loads((root / "web" / "article_extraction_benchmark" / "ground-truth.json").read_text(encoding="utf-8"))
    texts += [gold[k]["articleBody"] for k in sorted(gold)]
    return _write(out, [t for t in texts if t.strip()])


def generated_corpus(out: Path, n: int) -> int:
    return _write(out, bench_texts(n))


def _write(out: Path, texts: list[str]) -> int:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "docs.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"text": t}) + "\n" for t in texts)
    return sum(len(t.encode()) for t in texts)


def measure(inp: Path, out: Path, stages: tuple[str, ...]) -> dict:
    start = time.perf_counter()
    manifest = run_local(RunOptions(inputs=(str(inp),), out=out, stages=stages, progress=False))
    wall = time.perf_counter() - start
    steps = {}
    for s in manifest["steps"]:
        done = json.loads((out / s["dir"] / "_done.json").read_text())
        steps[s["name"]] = done["seconds"]
    return {"wall": wall, "steps": steps, "docs": manifest["records"]}


def report(label: str, nbytes: int, inp: Path, tmp: Path) -> None:
    mb = nbytes / 1e6
    full = measure(inp, tmp / f"{label}-full", plain_run_stages())
    core = measure(inp, tmp / f"{label}-core", ("exact_dup", "quality"))
    print(f"\n{label}: {full['docs']:,} documents, {mb:.1f} MB of text (one core)")
    print(f"  {'step':<12} {'seconds':>8} {'MB/s':>8}")
    for name, secs in full["steps"].items():
        print(f"  {name:<12} {secs:>8.2f} {mb / max(secs, 1e-9):>8.1f}")
    print(f"  {'end to end':<12} {full['wall']:>8.2f} {mb / full['wall']:>8.1f}   (stages: {', '.join(plain_run_stages())}; incl. ledger + curated output)")
    print(f"  ingest + exact_dup + quality, end to end: {core['wall']:.2f} s = {mb / core['wall']:.1f} MB/s (goal >= 10 MB/s)")


def cli_run(checkout: Path, inp: Path, out: Path, stages: str | None) -> float:
    """Wall seconds of `python -m flows.cli run` in `checkout`, start-up included."""
    cmd = [sys.executable, "-m", "flows.cli", "run", str(inp), "--out", str(out), "--quiet", "--engine", "local"]
    if stages:
        cmd += ["--stages", stages]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=checkout, check=True, capture_output=True, env=os.environ | {"PYTHONPATH": str(checkout)})
    return time.perf_counter() - start


def report_cli(label: str, nbytes: int, inp: Path, tmp: Path, runs: int, other: Path | None) -> None:
    here = Path(__file__).resolve().parents[2]
    mb = nbytes / 1e6
    print(f"\n{label}: whole `assay run`, process start-up included (median of {runs}, one core)")
    for stages, what in ((None, "every default stage"), ("exact_dup,quality", "ingest + exact_dup + quality")):
        times: dict[str, list[float]] = {"this checkout": [], "other": []}
        for i in range(runs):
            times["this checkout"].append(cli_run(here, inp, tmp / f"cli-{i}", stages))
            if other is not None:
                times["other"].append(cli_run(other, inp, tmp / f"cli-other-{i}", stages))
        line = f"  {what:<30} {statistics.median(times['this checkout']):6.2f} s = {mb / statistics.median(times['this checkout']):5.1f} MB/s"
        if other is not None:
            base = statistics.median(times["other"])
            line += f"   {other}: {base:6.2f} s = {mb / base:5.1f} MB/s   speed-up x{base / statistics.median(times['this checkout']):.2f}"
        print(line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generated-docs", type=int, default=20_000)
    parser.add_argument("--cli-runs", type=int, default=3, help="whole `assay run` commands to time (0: none)")
    parser.add_argument("--against-checkout", type=Path, help="another assay checkout to time side by side")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    root = shared_data_root()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if (root / "web").exists():
            nbytes = real_corpus(root, tmp / "real")
            report("shared web (Reuters + BBC + gold web text)", nbytes, tmp / "real", tmp)
            if args.cli_runs:
                report_cli("shared web", nbytes, tmp / "real", tmp, args.cli_runs, args.against_checkout)
        else:
            print(f"skipping the real corpus: {root / 'web'} is absent")
        report(f"generated ({args.generated_docs:,} docs)", generated_corpus(tmp / "gen", args.generated_docs), tmp / "gen", tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
