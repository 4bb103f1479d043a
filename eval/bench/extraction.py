"""Main-text extraction quality and speed on two public benchmarks (../shared/data/web), one run.

    .venv/bin/python -m eval.bench.extraction [--bootstrap 1000] [--limit N]

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
(`time.process_time`, extraction calls only): pages/s per core, less sensitive to other processes
on a shared machine than wall time.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import tarfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from flows.ingest.warc import _decode
from stages.extract import EXTRACTORS, extractor_version

DATA = Path(os.environ.get("ASSAY_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")) / "web"
_TOKEN = re.compile(r"\w+", re.UNICODE)
_WS = re.compile(r"\s+")


def _raw_text() -> Callable[[str], str | None]:
    from resiliparse.extract.html2text import extract_plain_text

    return lambda html: extract_plain_text(html, main_content=False)


SYSTEMS: dict[str, tuple[str, Callable[[], Callable[[str], str | None]]]] = {
    "trafilatura (default)": ("trafilatura", lambda: EXTRACTORS["trafilatura"](False)),
    "trafilatura fallback=true": ("trafilatura", lambda: EXTRACTORS["trafilatura"](True)),
    "resiliparse (fast mode)": ("resiliparse", lambda: EXTRACTORS["resiliparse"](False)),
    "raw text (baseline)": ("resiliparse", _raw_text),
}


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


def bootstrap_std(counts: list, metric: Callable[[list], tuple[float, float, float]], n: int, seed: int = 0) -> float:
    """Standard deviation of F1 over `n` resamples of the pages (a fixed seed: one run, one figure)."""
    if n < 2:
        return 0.0
    rng = random.Random(seed)
    values = [metric([counts[rng.randrange(len(counts))] for _ in counts])[0] for _ in range(n)]
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


def run(system: Callable[[str], str | None], htmls: list[str]) -> tuple[list[str | None], float, int]:
    """(outputs, CPU seconds of the extraction calls, errors)."""
    outputs, seconds, errors = [], 0.0, 0
    for html in htmls:
        start = time.process_time()
        try:
            out = system(html)
        except Exception:  # noqa: BLE001 - counted as a miss, as both benchmarks do
            out, errors = None, errors + 1
        seconds += time.process_time() - start
        outputs.append(out)
    return outputs, seconds, errors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the ± figures")
    ap.add_argument("--limit", type=int, default=None, help="first N pages of each set (a quick look)")
    args = ap.parse_args()
    if not DATA.exists():
        raise SystemExit(f"shared data {DATA} is absent (set ASSAY_SHARED_DATA)")
    sets = {"article_extraction_benchmark": zyte_pages(args.limit)}
    tpages, missing = trafilatura_pages(args.limit)
    sets["trafilatura_eval_pages"] = tpages
    print(f"pages: {len(sets['article_extraction_benchmark'])} (Zyte benchmark), {len(tpages)} (trafilatura set; "
          f"{missing} listed pages missing from the archive)")
    print(f"{'set':<30} {'extractor':<27} {'version':<19} {'F1':>14} {'precision':>9} {'recall':>7} "
          f"{'pages/s/core':>12} {'errors':>6}")
    for set_name, pages in sets.items():
        htmls = [html for html, _ in pages]
        for label, (package, make) in SYSTEMS.items():
            system = make()
            system("<html><body><p>warm-up: lazy imports and caches</p></body></html>")
            outputs, seconds, errors = run(system, htmls)
            if set_name == "article_extraction_benchmark":
                counts: list = [shingle_counts(gold, out) for (_, gold), out in zip(pages, outputs, strict=True)]
                metric = zyte_metrics
            else:
                counts = [chunk_counts(item, out) for (_, item), out in zip(pages, outputs, strict=True)]
                metric = chunk_metrics
            f1, p, r = metric(counts)
            std = bootstrap_std(counts, metric, args.bootstrap)
            speed = len(htmls) / seconds if seconds else float("inf")
            print(f"{set_name:<30} {label:<27} {extractor_version(package):<19} {f1:>7.3f} ± {std:.3f} "
                  f"{p:>9.3f} {r:>7.3f} {speed:>12.1f} {errors:>6}", flush=True)


if __name__ == "__main__":
    main()
