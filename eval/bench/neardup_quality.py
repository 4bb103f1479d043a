"""near_dup precision and recall on real data (../shared/data), one run.

    .venv/bin/python -m eval.bench.neardup_quality [--threshold 0.8] [--groups 2000]

(a) OpenWebText + Wikipedia excerpts, each original with 10 shuffled/truncated variants;
(b) Clough-Stevenson: cut and light revisions are duplicates of their source, non-plagiarised
    answers are not (heavy revisions are reported apart);
(c) near-duplicates planted in Reuters/BBC documents at controlled word-edit rates, recall per
    true-Jaccard bucket.
Precision is against the threshold: a removed document's true Jaccard (on the word 5-gram strings
of the normalized text, computed here in plain Python) with the document it names is >= threshold.
Recall counts pairs with true Jaccard >= threshold: a pair is caught unless both stay in the corpus.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import tarfile
from pathlib import Path

import numpy as np
import polars as pl

from stages.minhash import normalize_text
from stages.near_dup import NearDup

DATA = Path(os.environ.get("ASSAY_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


def shingles(text: str, n: int = 5) -> frozenset[str]:
    w = [x for x in normalize_text(text).split(" ") if x]
    return frozenset(" ".join(w[i : i + n]) for i in range(len(w) - n + 1)) or frozenset([" ".join(w)])


def jac(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def frame(texts: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"doc_id": [f"d{i}" for i in range(len(texts))], "ord": np.arange(len(texts), dtype=np.int64), "text": texts})


def evaluate(name: str, texts: list[str], pairs: list[tuple[int, int]], threshold: float, bucket_of=None) -> None:
    """Run the stage; report precision against the threshold and recall over `pairs` (index pairs
    whose true Jaccard the caller computed: only those >= threshold count for recall)."""
    result = NearDup(threshold=threshold).apply(frame(texts))
    kept = np.zeros(len(texts), bool)
    kept[[int(d[1:]) for d in result.kept["doc_id"].to_list()]] = True
    removed = result.decisions.filter(pl.col("decision") == "removed")
    ev = removed["evidence"].str.json_decode()
    sets = {}
    def s(i: int) -> frozenset[str]:
        if i not in sets:
            sets[i] = shingles(texts[i])
        return sets[i]
    bad = sum(jac(s(int(d[1:])), s(int(t[1:]))) < threshold for d, t in zip(removed["doc_id"], ev.struct.field("duplicate_of"), strict=True))
    n_rm = removed.height
    print(f"[{name}] {len(texts)} docs, removed {n_rm}; precision vs threshold {1 - bad / max(n_rm, 1):.4f} ({bad} below)")
    buckets: dict[str, list[int]] = {}
    for a, b in pairs:
        j = jac(s(a), s(b))
        label = bucket_of(j) if bucket_of else ("J>=thr" if j >= threshold else None)
        if label is not None:
            buckets.setdefault(label, []).append(int(not (kept[a] and kept[b])))
    for label in sorted(buckets):
        hits = buckets[label]
        print(f"[{name}]   recall {label}: {np.mean(hits):.4f} of {len(hits)} pairs")


def schelling(threshold: float, groups: int) -> None:
    texts, pairs = [], []
    for name in ("owt_5.jsonl", "wikipedia_5.jsonl"):
        with open(DATA / "web" / "openai_evals_schelling" / name, encoding="utf-8") as fh:
            for line, _ in zip(fh, range(groups // 2), strict=False):
                rec, base = json.loads(line), len(texts)
                texts += [rec[str(k)] for k in range(11)]
                pairs += [(base + i, base + j) for i in range(11) for j in range(i + 1, 11)]
    evaluate("a: owt+wikipedia variants", texts, pairs, threshold)


def clough_stevenson(threshold: float) -> None:
    folder = DATA / "neardup" / "clough_stevenson_plagiarism"
    rows = list(csv.DictReader(open(folder / "file_information.csv", encoding="utf-8")))
    origs = sorted(folder.glob("orig_task*.txt"))
    texts = [p.read_text(encoding="latin-1") for p in origs] + [(folder / r["File"]).read_text(encoding="latin-1") for r in rows]
    task_of_orig = {p.stem[-1]: i for i, p in enumerate(origs)}
    result = NearDup(threshold=threshold).apply(frame(texts))
    removed = set(result.decisions.filter(pl.col("decision") == "removed")["doc_id"].to_list())
    by_cat: dict[str, list[int]] = {}
    for k, r in enumerate(rows):
        i = len(origs) + k
        by_cat.setdefault(r["Category"], []).append(int(f"d{i}" in removed))
        j = jac(shingles(texts[i]), shingles(texts[task_of_orig[r["Task"]]]))
        by_cat.setdefault(r["Category"] + "_trueJ", []).append(j)
    dup = by_cat["cut"] + by_cat["light"]
    fp = sum(by_cat["non"]) + sum(by_cat.get("heavy", []))
    print(f"[b: clough-stevenson] threshold {threshold}: recall cut+light {np.mean(dup):.3f} ({sum(dup)}/{len(dup)}); "
          f"removed non {sum(by_cat['non'])}/{len(by_cat['non'])}, heavy {sum(by_cat['heavy'])}/{len(by_cat['heavy'])}; "
          f"precision {sum(dup) / max(sum(dup) + fp, 1):.3f}")
    for cat in ("cut", "light", "heavy", "non"):
        js = by_cat[cat + "_trueJ"]
        print(f"[b: clough-stevenson]   {cat:5s} true J with source: median {np.median(js):.2f}, max {max(js):.2f}, >= {threshold}: {sum(j >= threshold for j in js)}/{len(js)}")


def planted(threshold: float, per_rate: int = 400) -> None:
    bodies = []
    for path in sorted((DATA / "web" / "reuters21578").glob("reut2-*.sgm")):
        bodies += re.findall(r"<BODY>(.*?)</BODY>", path.read_bytes().decode("latin-1"), re.S)
    with tarfile.open(DATA / "web" / "bbc_news_2225.tar.gz") as tar:
        for m in tar.getmembers():
            if m.isfile() and m.name.endswith(".txt"):
                bodies.append(tar.extractfile(m).read().decode("latin-1"))
    bodies = [b for b in dict.fromkeys(bodies) if len(b.split()) >= 150]
    rng = np.random.default_rng(0)
    picks = rng.permutation(len(bodies))
    texts, pairs, k = [], [], 0
    for rate in (0.005, 0.01, 0.02, 0.03, 0.05, 0.1):
        for _ in range(per_rate):
            words = bodies[picks[k]].split()
            k += 1
            for p in sorted(rng.choice(len(words), max(1, int(rate * len(words))), replace=False).tolist(), reverse=True):
                op = rng.integers(3)
                if op == 0:
                    words[p] = f"edit{int(rng.integers(1_000_000))}"
                elif op == 1:
                    del words[p]
                else:
                    words.insert(p, f"ins{int(rng.integers(1_000_000))}")
            texts += [bodies[picks[k - 1]], " ".join(words)]
            pairs.append((len(texts) - 2, len(texts) - 1))
    edges = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.01]
    def bucket(j: float) -> str | None:
        for lo, hi in zip(edges, edges[1:], strict=False):
            if lo <= j < hi:
                return f"true J [{lo:.2f}, {min(hi, 1.0):.2f}{']' if hi > 1 else ')'}"
        return None
    evaluate("c: planted in reuters+bbc", texts, pairs, threshold, bucket)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--groups", type=int, default=2000)
    args = ap.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"shared data not found at {DATA} (set ASSAY_SHARED_DATA)")
    schelling(args.threshold, args.groups)
    clough_stevenson(args.threshold)
    planted(args.threshold)


if __name__ == "__main__":
    main()
