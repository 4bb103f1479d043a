"""MinHash speed: datasketch (reference) vs rensa vs assay, documents per CPU-second, one run.

    .venv/bin/python -m eval.bench.minhash [--docs 20000] [--reference-docs 2000]

Corpus: ~3 KB documents made by concatenating Reuters-21578 stories and OpenWebText/Wikipedia
excerpts from ../shared/data/web, then generated documents (random vocabulary, 10 % of them planted
near-duplicates) up to --docs. Each engine runs on one thread (POLARS_MAX_THREADS=1, numba
single-threaded) and is timed in process CPU seconds, so the figures are per core. The slow
reference engines run on the first --reference-docs documents (their rate is per document).
"""
from __future__ import annotations

import os

os.environ.setdefault("POLARS_MAX_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

DATA = Path(os.environ.get("ASSAY_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


def web_texts() -> list[str]:
    out: list[str] = []
    reuters = DATA / "web" / "reuters21578"
    for path in sorted(reuters.glob("reut2-*.sgm")):
        raw = path.read_bytes().decode("latin-1")
        out += [re.sub(r"&#\d+;|&lt;|&gt;|&amp;", " ", b) for b in re.findall(r"<BODY>(.*?)</BODY>", raw, re.S)]
    schelling = DATA / "web" / "openai_evals_schelling"
    for name in ("owt_5.jsonl", "wikipedia_5.jsonl"):
        if (schelling / name).is_file():
            with open(schelling / name, encoding="utf-8") as fh:
                out += [json.loads(line)["0"] for line in fh]
    return out


def corpus(n_docs: int, seed: int = 0, size: int = 3000) -> list[str]:
    """~`size`-character documents: real web text first, then generated text with planted twins."""
    rng = np.random.default_rng(seed)
    docs, cur = [], ""
    for text in web_texts():
        cur += text.strip() + "\n\n"
        if len(cur) >= size:
            docs.append(cur)
            cur = ""
    if not docs:
        print(f"(no shared data under {DATA}: the corpus is all generated)")
    docs = docs[:n_docs]
    vocab = np.array(["".join(rng.choice(list("etaoinshrdlucmfwypvbgk"), int(k))) for k in rng.integers(2, 10, 30_000)])
    while len(docs) < n_docs:
        if docs and rng.random() < 0.1:  # a planted near-duplicate of an earlier document
            words = docs[int(rng.integers(len(docs)))].split()
            for p in rng.integers(0, len(words), max(1, len(words) // 50)):
                words[p] = str(rng.choice(vocab))
            docs.append(" ".join(words))
        else:
            docs.append(" ".join(rng.choice(vocab, 520)) + ".")
    return docs


def shingles(text: str, n: int = 5) -> list[str]:
    w = text.lower().split()
    return [" ".join(w[i : i + n]) for i in range(len(w) - n + 1)]


def rate(count: int, fn) -> float:
    t0 = time.process_time()
    fn()
    return count / (time.process_time() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=20_000)
    ap.add_argument("--reference-docs", type=int, default=2_000)
    args = ap.parse_args()
    docs = corpus(args.docs)
    ref = docs[: args.reference_docs]
    print(f"corpus: {len(docs)} documents, mean {np.mean([len(d.encode()) for d in docs]):.0f} bytes")
    results: dict[str, float] = {}

    from datasketch import MinHash

    def run_datasketch() -> None:
        for d in ref:
            MinHash(num_perm=128, seed=1).update_batch([s.encode() for s in shingles(d)])

    results["datasketch update_batch"] = rate(len(ref), run_datasketch)
    results["python 5-gram shingling alone"] = rate(len(ref), lambda: [shingles(d) for d in ref])
    try:
        import rensa

        def run_rensa() -> None:
            for d in ref:
                rensa.RMinHash(num_perm=128, seed=1).update(shingles(d))

        results["rensa RMinHash"] = rate(len(ref), run_rensa)
    except ImportError:
        print("rensa not importable: skipped (pip install rensa, for this benchmark only)")

    from stages import minhash
    from stages.near_dup import NearDup

    series = pl.Series(docs, dtype=pl.String)
    minhash.signatures(series.head(50), 5, 128, 1)  # load/compile the kernel and tables outside the clock
    results["assay signatures (numba)"] = rate(len(docs), lambda: minhash.signatures(series, 5, 128, 1))
    results["assay signatures (numpy fallback)"] = rate(len(ref), lambda: minhash.signatures(series.head(len(ref)), 5, 128, 1, backend="numpy"))
    frame = pl.DataFrame({"doc_id": [f"d{i}" for i in range(len(docs))], "ord": np.arange(len(docs)), "text": docs})
    holder = {}
    results["assay whole near_dup stage"] = rate(len(docs), lambda: holder.setdefault("r", NearDup().apply(frame)))
    stats = holder["r"].stats

    base = results["datasketch update_batch"]
    print(f"{'engine':38s} {'docs/s/core':>12s} {'x datasketch':>13s} {'x rensa':>8s}")
    for name, value in results.items():
        vs_rensa = f"{value / results['rensa RMinHash']:.1f}" if "rensa RMinHash" in results else "-"
        print(f"{name:38s} {value:12,.0f} {value / base:13.1f} {vs_rensa:>8s}")
    print(f"stage: removed {stats['removed_by_reason']}, {stats['bands']}x{stats['rows']} bands, "
          f"{stats['candidate_pairs']} candidate pairs, {stats['candidate_pairs_screened_out']} screened out by their signatures, "
          f"{stats['candidate_pairs_verified']} verified, {stats['candidate_pairs_above_threshold']} >= threshold")


if __name__ == "__main__":
    main()
