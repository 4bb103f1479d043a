"""Domain selection on real data: pull BBC news out of a mixed raw release with a few hundred BBC
articles as the seed, two ways, and score the selected slice against the known sources. One run.

    .venv/bin/python -m eval.bench.domain [--seed-docs 300] [--per-source 1500] [--epoch 50] [--negatives 3]

The release: the BBC articles (non-held-out split) that are not seeds, Reuters newswire, OpenWebText
and Wikipedia excerpts, real web pages as a naive crawler keeps them and as gold article text, Common
Crawl samples and NLTK web text; the in-domain documents are the BBC ones (about one in five). Seeds
are BBC articles drawn apart from the release (never evaluated). Both methods run through `assay run`:
(1) `assay quality train --positive SEEDS --negative SAMPLE --label news --epoch 50` (the sample: three
times as many documents drawn from the raw release, the general text, BBC included) then fasttext_quality
with --fasttext-quality-label news; (2) the domain stage (DSIR importance resampling) with
--domain-seed. Each is cut at 10 % and 30 % of the release (the second cut re-decides from the first
run's cached scores). Precision: BBC share of the slice; recall: share of the release's BBC articles
in it (the best possible at 10 % is a recall of 10 % / BBC share).
"""
from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import polars as pl

from eval.bench.quality import DATA, raw_web_texts, reference_texts


def release(per_source: int, n_seed: int, rng: random.Random) -> tuple[list[dict], list[str]]:
    from eval import build_raw_release as br

    ref, web = reference_texts(DATA), raw_web_texts(DATA)
    bbc = list(ref.pop("bbc"))
    rng.shuffle(bbc)
    seeds, bbc = bbc[:n_seed], bbc[n_seed:]
    parts = {"bbc": bbc, "reuters": [t for t in br.reuters(DATA) if len(t) > 200], **ref, **web}
    docs = [{"id": f"{name}-{i}", "source": name, "text": t}
            for name, texts in parts.items() for i, t in enumerate(texts[:per_source])]
    rng.shuffle(docs)
    return docs, seeds


def score(run_dir: Path, truth: set[str]) -> tuple[float, float, int]:
    kept = set(pl.read_parquet(sorted((run_dir / "curated").glob("*.parquet")), columns=["id"])["id"].to_list())
    hit = len(kept & truth)
    return hit / max(len(kept), 1), hit / len(truth), len(kept)


def main(argv: list[str] | None = None) -> None:
    from flows.cli import main as assay

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed-docs", type=int, default=300)
    ap.add_argument("--per-source", type=int, default=1500)
    ap.add_argument("--epoch", type=int, default=50, help="epochs of the domain classifier (a few hundred documents: 10 underfits)")
    ap.add_argument("--negatives", type=int, default=3, help="general documents per seed, as the classifier's negatives")
    args = ap.parse_args(argv)
    if not DATA.exists():
        raise SystemExit(f"shared data not found at {DATA} (set ASSAY_SHARED_DATA)")
    t0 = time.perf_counter()
    rng = random.Random(0)
    docs, seeds = release(args.per_source, args.seed_docs, rng)
    truth = {d["id"] for d in docs if d["source"] == "bbc"}
    counts = pl.DataFrame(docs)["source"].value_counts(sort=True)
    print(f"release: {len(docs):,} documents ({', '.join(f'{s} {n}' for s, n in counts.iter_rows())}); "
          f"BBC {len(truth) / len(docs):.1%}; {len(seeds)} BBC seed articles apart ({time.perf_counter() - t0:.0f}s)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "raw").mkdir()
        with open(root / "raw" / "release.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(d) + "\n" for d in docs)
        (root / "seed").mkdir()
        with open(root / "seed" / "bbc.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps({"text": t}) + "\n" for t in seeds)
        with open(root / "general.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps({"text": d["text"]}) + "\n" for d in rng.sample(docs, args.negatives * len(seeds)))
        t = time.perf_counter()
        model = root / "news.bin"
        if assay(["quality", "train", "--positive", str(root / "seed"), "--negative", str(root / "general.jsonl"),
                  "--out", str(model), "--label", "news", "--epoch", str(args.epoch)]) != 0:
            raise SystemExit("assay quality train failed")
        train_s = time.perf_counter() - t
        methods = {
            "fastText domain classifier": ["--stages", "fasttext_quality", "--fasttext-quality-model", str(model),
                                           "--fasttext-quality-label", "news", "--fasttext-quality-fraction"],
            "DSIR importance resampling": ["--stages", "domain", "--domain-seed", str(root / "seed"), "--domain-fraction"],
        }
        for name, flags in methods.items():
            for frac in ("0.1", "0.3"):
                t = time.perf_counter()
                out = root / name.split()[0]
                if assay(["run", str(root / "raw"), "--out", str(out), "--quiet", *flags, frac]) != 0:
                    raise SystemExit(f"assay run failed for {name}")
                p, r, n = score(out, truth)
                rows.append((name, frac, n, p, r, time.perf_counter() - t))
    print(f"\n{'method':<30}{'slice':>7}{'docs':>7}{'precision':>11}{'recall':>8}{'seconds':>9}")
    for name, frac, n, p, r, s in rows:
        print(f"{name:<30}{float(frac):>7.0%}{n:>7}{p:>11.3f}{r:>8.3f}{s:>9.1f}")
    best10 = min(1.0, 0.1 * len(docs) / len(truth))
    print(f"\nbest possible: precision 1.000 at both cuts, recall {best10:.3f} at 10 % and "
          f"{min(1.0, 0.3 * len(docs) / len(truth)):.3f} at 30 %. Classifier training {train_s:.1f}s; "
          f"the second cut of each method re-decides from cached scores. Total {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main()
