"""Main-text extraction quality and speed on two public benchmarks (../shared/data/web), one run.

    .venv/bin/python -m eval.bench.extraction [--bootstrap 1000] [--limit N] [--compare OLD.py]

(a) article_extraction_benchmark (Zyte, 181 article pages, gold article bodies), scored with that
    benchmark's own method (its evaluate.py): word 4-gram shingles over `\\w+` tokens, TP/FP/FN per
    page normalised to sum to 1, precision and recall averaged over pages, F1 of the two means,
    ± the standard deviation over bootstrap resamples of the pages. Its README publishes, on the
    same pages: trafilatura 2.0.0 F1 0.958, readability 0.922, jusText 0.804, BeautifulSoup's
    raw text 0.665.
(b) trafilatura's evaluation set (~1,000 multilingual pages, each with up to 6 text chunks that
    must be in the main text and up to 6 that must not), scored with trafilatura's own method
    (tests/eval_common.py): whitespace-normalised substring matching, TP/FP/FN/TN summed over the
    corpus, precision, recall and F1 of the sums (± by bootstrap over pages, added here).

Every extractor gets the same decoded string, as the `extract` stage does (ingest decodes with the
HTTP/meta charset or resiliparse's detection). Speed is pages per CPU-second of this process
(`time.process_time` around each extraction call, POLARS_MAX_THREADS=1, one thread): pages/s per
core. The extractors take turns every 25 pages, so a burst of load from other processes on a shared
machine slows all of them alike and their ratios hold; the absolute figures still drop when the
core is shared (SMT siblings, caches). Each set also prints the default's F1 minus trafilatura's
full mode (fallback=always), ± a paired bootstrap over pages. `--compare OLD.py` (another version of
stages/extract_engines.py, e.g. `git show HEAD~1:stages/extract_engines.py > /tmp/old.py`) runs its three
trafilatura modes in the same turns and prints, per mode, on how many pages the two give the same text
and their CPU ratio: a speed change measured on one machine in one run, and whether it kept the text.
"""
from __future__ import annotations

import argparse
import gc
import gzip
import importlib.util
import json
import os
import random
import re
import tarfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "1")  # before polars is imported (through stages): one core

from flows.ingest.warc import _decode  # noqa: E402
from stages.extract import EXTRACTORS, extractor_version  # noqa: E402

DATA = Path(os.environ.get("ASSAY_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")) / "web"
_TOKEN = re.compile(r"\w+", re.UNICODE)
_WS = re.compile(r"\s+")


def _raw_text() -> Callable[[str], str | None]:
    from resiliparse.extract.html2text import extract_plain_text

    return lambda html: extract_plain_text(html, main_content=False)


SYSTEMS: dict[str, tuple[str, Callable[[], Callable[[str], str | None]]]] = {
    "trafilatura (default, auto)": ("trafilatura", lambda: EXTRACTORS["trafilatura"]("auto")),
    "trafilatura fallback=never": ("trafilatura", lambda: EXTRACTORS["trafilatura"]("never")),
    "trafilatura fallback=always": ("trafilatura", lambda: EXTRACTORS["trafilatura"]("always")),
    "resiliparse (fast mode)": ("resiliparse", lambda: EXTRACTORS["resiliparse"]("never")),
    "raw text (baseline)": ("resiliparse", _raw_text),
}
DEFAULT, FULL = "trafilatura (default, auto)", "trafilatura fallback=always"
MODES = {DEFAULT: "auto", "trafilatura fallback=never": "never", FULL: "always"}  # the ones --compare runs
OLD = " [compare]"
# Run by every system before the timings: lazy imports and once-per-process caches are not per-page
# costs. Its text is short, so trafilatura's `auto` and `always` take it through the full mode and
# jusText, whose stoplists (all languages, ~0.07 s) are built once per process.
WARM_UP = ("<html><body><p>warm-up: lazy imports and caches</p><p>a second paragraph</p></body></html>",)


# (a) the Zyte benchmark's method ------------------------------------------------------------------
def _shingles(text: str | None, n: int = 4) -> Counter:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i:i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i:i + n])


def shingle_counts(true: str, pred: str | None) -> tuple[float, float, float]:
    a, b = _shingles(true), _shingles(pred)
    tp, fp, fn = sum((a & b).values()), sum((b - a).values()), sum((a - b).values())
    s = tp + fp + fn
    return (tp / s, fp / s, fn / s) if s else (0.0, 0.0, 0.0)


def zyte_metrics(counts: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """(F1, precision, recall) as the benchmark's metrics_from_tp_fp_fns computes them."""
    def prec(tp: float, fp: float, fn: float) -> float:
        return 1.0 if fp == fn == 0 else 0.0 if tp == fp == 0 else tp / (tp + fp)

    def rec(tp: float, fp: float, fn: float) -> float:
        return 1.0 if fp == fn == 0 else 0.0 if tp == fn == 0 else tp / (tp + fn)
    ps = [prec(*c) for c in counts if c[0] + c[1] > 0]
    rs = [rec(*c) for c in counts if c[0] + c[2] > 0]
    p, r = sum(ps) / len(ps), sum(rs) / len(rs)
    return (2 * p * r / (p + r) if p + r else 0.0), p, r


# (b) trafilatura's method -------------------------------------------------------------------------
def _norm(text: str) -> str:
    return _WS.sub(" ", text).strip()


def chunk_counts(item: dict, pred: str | None) -> tuple[int, int, int, int]:
    got = _norm(pred) if isinstance(pred, str) else None
    tp = sum(1 for w in item["with"] if got is not None and _norm(w) in got)
    fp = sum(1 for w in item["without"] if got is not None and _norm(w) in got)
    return tp, fp, len(item["with"]) - tp, len(item["without"]) - fp


def chunk_metrics(counts: list[tuple[int, int, int, int]]) -> tuple[float, float, float]:
    tp, fp, fn, _ = (sum(c[i] for c in counts) for i in range(4))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return (2 * tp / (2 * tp + fp + fn) if tp else 0.0), p, r


def bootstrap_std(counts: list, metric: Callable[[list], tuple[float, float, float]], n: int, seed: int = 0,
                  minus: list | None = None) -> float:
    """Standard deviation of F1 over `n` resamples of the pages (a fixed seed: one run, one figure);
    with `minus`, of F1(counts) - F1(minus) on the same resampled pages (a paired difference)."""
    if n < 2:
        return 0.0
    rng = random.Random(seed)
    values = []
    for _ in range(n):
        idx = [rng.randrange(len(counts)) for _ in counts]
        f1 = metric([counts[i] for i in idx])[0]
        values.append(f1 - metric([minus[i] for i in idx])[0] if minus is not None else f1)
    mean = sum(values) / n
    return (sum((v - mean) ** 2 for v in values) / (n - 1)) ** 0.5


# data ---------------------------------------------------------------------------------------------
def zyte_pages(limit: int | None) -> list[tuple[str, str]]:
    root = DATA / "article_extraction_benchmark"
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    keys = sorted(truth)[:limit]
    return [(_decode(gzip.decompress((root / "html" / f"{k}.html.gz").read_bytes()), "utf-8")[0],
             truth[k].get("articleBody") or "") for k in keys]


def trafilatura_pages(limit: int | None) -> tuple[list[tuple[str, dict]], int]:
    """(pages with their chunks, pages whose file is missing from the archive)."""
    files: dict[tuple[str, ...], bytes] = {}
    with tarfile.open(DATA / "trafilatura_eval_pages.tar.gz", "r|gz") as tar:  # one pass: no seeks in gzip
        for member in tar:
            if member.isfile():
                files[Path(member.name).parts[-2:]] = tar.extractfile(member).read()
    evaldata = json.loads(files[("tests", "evaldata.json")])
    pages, missing = [], 0
    for url in sorted(evaldata)[:limit]:
        item = evaldata[url]
        body = files.get(("cache", item["file"])) or files.get(("eval", item["file"]))
        if body is None:
            missing += 1
            continue
        pages.append((_decode(body, None)[0], item))
    return pages, missing


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "unknown CPU")
    except OSError:
        return "unknown CPU"


def _compared(path: str) -> dict[str, Callable[[str], str | None]]:
    spec = importlib.util.spec_from_file_location("compared_extract_engines", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {label + OLD: module.EXTRACTORS["trafilatura"](mode) for label, mode in MODES.items()}


def run(systems: dict[str, Callable[[str], str | None]], htmls: list[str], block: int = 25
        ) -> dict[str, tuple[list, float, int]]:
    """Per system: (outputs, CPU seconds of its extraction calls, errors). The systems take turns
    every `block` pages: load from other processes falls on all of them alike, and each still runs
    with warm caches, as it does over a shard (page-by-page turns slow the C extractors by a third)."""
    outputs: dict[str, list] = {k: [] for k in systems}
    seconds = dict.fromkeys(systems, 0.0)
    errors = dict.fromkeys(systems, 0)
    for lo in range(0, len(htmls), block):
        for name, system in systems.items():
            for html in htmls[lo:lo + block]:
                start = time.process_time()
                try:
                    out = system(html)
                except Exception:  # noqa: BLE001 - counted as a miss, as both benchmarks do
                    out = None
                    errors[name] += 1
                seconds[name] += time.process_time() - start
                outputs[name].append(out)
    return {k: (outputs[k], seconds[k], errors[k]) for k in systems}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the ± figures")
    ap.add_argument("--limit", type=int, default=None, help="first N pages of each set (a quick look)")
    ap.add_argument("--compare", metavar="FILE", help="another extract_engines.py: its trafilatura modes run too")
    args = ap.parse_args()
    if not DATA.exists():
        raise SystemExit(f"shared data {DATA} is absent (set ASSAY_SHARED_DATA)")
    sets = {"article_extraction_benchmark": zyte_pages(args.limit)}
    tpages, missing = trafilatura_pages(args.limit)
    sets["trafilatura_eval_pages"] = tpages
    print(f"pages: {len(sets['article_extraction_benchmark'])} (Zyte benchmark), {len(tpages)} (trafilatura set; "
          f"{missing} listed pages missing from the archive)")
    print(f"machine: {_cpu_model()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (pages/s per core "
          "differ between machines: compare figures of one machine)")
    systems = {label: make() for label, (_, make) in SYSTEMS.items()}
    if args.compare:
        systems.update(_compared(args.compare))
    width = max(map(len, systems))
    for system in systems.values():
        for page in WARM_UP:
            system(page)
    gc.collect()
    gc.freeze()  # the loaded pages are not garbage: keep the collector from rescanning them in the timings
    print(f"{'set':<30} {'extractor':<{width}} {'version':<19} {'F1':>14} {'precision':>9} {'recall':>7} "
          f"{'pages/s/core':>12} {'errors':>6}")
    for set_name, pages in sets.items():
        results = run(systems, [html for html, _ in pages])
        per_system = {}
        for label, (outputs, seconds, errors) in results.items():
            if set_name == "article_extraction_benchmark":
                counts: list = [shingle_counts(gold, out) for (_, gold), out in zip(pages, outputs, strict=True)]
                metric = zyte_metrics
            else:
                counts = [chunk_counts(item, out) for (_, item), out in zip(pages, outputs, strict=True)]
                metric = chunk_metrics
            per_system[label] = counts
            f1, p, r = metric(counts)
            std = bootstrap_std(counts, metric, args.bootstrap)
            speed = len(pages) / seconds if seconds else float("inf")
            package = SYSTEMS[label.removesuffix(OLD)][0]
            print(f"{set_name:<30} {label:<{width}} {extractor_version(package):<19} {f1:>7.3f} ± {std:.3f} "
                  f"{p:>9.3f} {r:>7.3f} {speed:>12.1f} {errors:>6}", flush=True)
        delta = metric(per_system[DEFAULT])[0] - metric(per_system[FULL])[0]
        paired = bootstrap_std(per_system[DEFAULT], metric, args.bootstrap, minus=per_system[FULL])
        same = sum(a == b for a, b in zip(results[DEFAULT][0], results[FULL][0], strict=True))
        print(f"{set_name:<30} default - fallback=always: F1 {delta:+.4f} ± {paired:.4f} (paired bootstrap); "
              f"same text on {same}/{len(pages)} pages; CPU ratio "
              f"{results[DEFAULT][1] / results[FULL][1]:.2f}", flush=True)
        for label in MODES if args.compare else ():
            same = sum(a == b for a, b in zip(results[label][0], results[label + OLD][0], strict=True))
            print(f"{set_name:<30} {label} vs{OLD}: same text on {same}/{len(pages)} pages; CPU ratio "
                  f"{results[label][1] / results[label + OLD][1]:.3f}", flush=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
