"""Would keeping polars' freed pages for a while speed up a whole `assay run`? (Measured: no; not shipped.)

    python -m eval.bench.allocator [--docs 160000] [--repeats 3]

jemalloc, which polars links, hands freed pages back to the kernel at once by default, and the
next frame faults them in again: a 160k-document run takes ~2.5M minor page faults. This runs
`python -m flows.cli run` with every default stage on eval.bench.scaling's generated corpus with
jemalloc's default (`_RJEM_MALLOC_CONF=muzzy_decay_ms:0`) and with freed pages kept 10 s as lazily
freed (`muzzy_decay_ms:10000`), interleaved, and prints each run's wall, user and system CPU, minor
page faults and peak RSS, then medians and ratios measured side by side. A user can set the
variable; assay leaves it alone (README: figures).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eval.bench.scaling import ROOT, corpus

CONFIGS = {"pages kept 10 s (muzzy_decay_ms:10000)": "muzzy_decay_ms:10000", "jemalloc default (muzzy_decay_ms:0)": "muzzy_decay_ms:0"}


def run(inp: Path, out: Path, conf: str) -> dict[str, float]:
    env = os.environ.copy()
    env["_RJEM_MALLOC_CONF"] = conf
    shutil.rmtree(out, ignore_errors=True)
    os.sync()
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "run", str(inp), "--out", str(out), "--quiet"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"assay run failed: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
    return {"wall": wall, "user": usage.ru_utime, "sys": usage.ru_stime, "faults": usage.ru_minflt,
            "rss_mb": usage.ru_maxrss / 1024}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=160_000, help="documents of the generated corpus (default 160000)")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each setting, interleaved (default 3)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="assay-alloc-") as tmp:
        nbytes = corpus(Path(tmp) / "in", args.docs)
        print(f"cores: {os.cpu_count()}; {args.docs:,} documents, {nbytes / 1e6:.1f} MB in 8 files, every default stage")
        got: dict[str, list[dict[str, float]]] = {label: [] for label in CONFIGS}
        for rep in range(args.repeats):
            for label, conf in CONFIGS.items():
                r = run(Path(tmp) / "in", Path(tmp) / "run", conf)
                got[label].append(r)
                print(f"  [{rep + 1}/{args.repeats}] {label:<36} wall {r['wall']:6.2f} s  user {r['user']:6.2f} s  "
                      f"sys {r['sys']:5.2f} s  minor faults {r['faults']:>9,.0f}  peak RSS {r['rss_mb']:6.0f} MB", flush=True)
    med = {label: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for label, runs in got.items()}
    kept, default = (med[label] for label in CONFIGS)
    for label, m in med.items():
        print(f"  median: {label:<36} wall {m['wall']:6.2f} s  sys {m['sys']:5.2f} s  faults {m['faults']:>9,.0f}  "
              f"peak RSS {m['rss_mb']:6.0f} MB")
    print(f"  kept / default: wall x{kept['wall'] / default['wall']:.3f}, user CPU x{kept['user'] / default['user']:.3f}, "
          f"system CPU x{kept['sys'] / default['sys']:.2f}, faults x{kept['faults'] / default['faults']:.2f}, "
          f"peak RSS x{kept['rss_mb'] / default['rss_mb']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
