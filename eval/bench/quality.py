"""fastText quality classifier against the heuristic rules, on 780 human-labeled Common Crawl documents
(DCLM's annotations in ../shared/data/quality/), and its scoring speed. One run.

    .venv/bin/python -m eval.bench.quality [--trainings 3] [--speed-docs 20000]

Training split (nothing from the labeled documents): the GPT-3 recipe for a quality classifier,
curated reference text against raw web text. Positives: OpenWebText and Wikipedia excerpts and BBC
news articles (the non-held-out split). Negatives: real web pages as a naive crawler keeps them
(every visible string, menus and footers included: trafilatura's 1,030 evaluation pages and the 181
article-extraction pages), Common Crawl samples and NLTK web text (forums, chat, ads). Training goes
through `assay quality train` (files in, model and sidecar out), several times: this fastText build
does not train reproducibly, so the spread over trainings is part of the figure.

Heuristics: the `quality` stage's keep/remove as a score (AUC of a yes/no), and, as an upper bound
for any one rule, the best AUC of a single heuristic score with the direction chosen on these labels;
and the AUC of document length alone, since these labels favour long documents.
Speed: documents per CPU-second (one core: fastText predicts on one thread) on 3,000-character
windows of OpenWebText/Wikipedia text, preparation (newlines, lowercase) included.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

DATA = Path(os.environ.get("ASSAY_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


def reference_texts(root: Path) -> dict[str, list[str]]:
    from eval import sources

    read = lambda rel: [json.loads(line)["0"] for line in open(root / rel, encoding="utf-8") if line.strip()]  # noqa: E731
    return {"owt": read("web/openai_evals_schelling/owt_5.jsonl"),
            "wikipedia": read("web/openai_evals_schelling/wikipedia_5.jsonl"),
            "bbc": [t for _, t in sources.bbc_articles(root, heldout=False)]}


def raw_web_texts(root: Path) -> dict[str, list[str]]:
    from eval import build_raw_release as br

    pages = list(br.web_pages(root, 10_000))
    return {"web_raw": [t for s, t in pages if s == "web_raw" and len(t) > 200],
            "web_gold": [t for s, t in pages if s == "web_gold"],
            "common_crawl": list(br.common_crawl(root)), "nltk_webtext": list(br.nltk_webtext(root))}


def human_labels(root: Path) -> tuple[list[str], np.ndarray]:
    rows = []
    for name in ("agreement_data", "majority_data"):
        with open(root / "quality" / "dclm_human_annotations" / f"{name}.jsonl", encoding="utf-8") as fh:
            rows += [json.loads(line) for line in fh if line.strip()]
    return [r["text"] for r in rows], np.array([r["label"] == 1 for r in rows])


def write_jsonl(path: Path, texts: list[str]) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps({"text": t}) + "\n" for t in texts)
    return path


def heuristics(texts: list[str], labels: np.ndarray) -> dict[str, float]:
    from stages.fasttext_model import auc
    from stages.quality import SCORES, Quality

    n = len(texts)
    docs = pl.DataFrame({"doc_id": [f"h{i}" for i in range(n)], "text": texts})
    stage = Quality()
    kept = stage.choose(docs.join(stage.score(docs), on="doc_id")).decisions["decision"].to_numpy() == "kept"
    scored = stage.score(docs)
    best = max((max(auc(scored[s].cast(pl.Float64).to_numpy(), labels), auc(-scored[s].cast(pl.Float64).to_numpy(), labels)), s)
               for s in SCORES)
    return {"auc": auc(kept.astype(float), labels), "accuracy": float((kept == labels).mean()),
            "kept": float(kept.mean()), "best_single_auc": best[0], "best_single": best[1],
            "words_auc": auc(scored["quality_words"].cast(pl.Float64).to_numpy(), labels)}


def speed(model: Path, texts: list[str], n: int, batches: int = 5) -> dict[str, float]:
    """Documents per CPU-second over all `n` documents, and in the least disturbed of `batches`
    equal batches (as timeit reports the minimum: on a shared machine the other processes only
    ever slow a batch down)."""
    from stages import fasttext_model as fm

    text = " ".join(texts)
    span = len(text) - 3000
    docs = pl.Series([text[(i * 7919) % span:(i * 7919) % span + 3000] for i in range(n)])
    clf = fm.load(str(model), str(fm.sidecar_path(model)), "hq", "bench")
    clf.scores(docs.head(200))  # warm-up (and numba's compilation, when not cached yet)
    size = n // batches
    times = []
    wall = time.perf_counter()
    for b in range(batches):
        cpu = time.process_time()
        clf.scores(docs.slice(b * size, size))
        times.append(time.process_time() - cpu)
    wall = time.perf_counter() - wall
    return {"docs": size * batches, "chars": float(docs.str.len_chars().mean()), "docs_per_cpu_s": size * batches / sum(times),
            "best_batch_docs_per_cpu_s": size / min(times), "docs_per_s_wall": size * batches / wall,
            "kernel": clf.kernel is not None}


def main(argv: list[str] | None = None) -> None:
    from flows.cli import main as assay
    from stages import fasttext_model as fm

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trainings", type=int, default=2)
    ap.add_argument("--speed-docs", type=int, default=20_000)
    args = ap.parse_args(argv)
    if not DATA.exists():
        raise SystemExit(f"shared data not found at {DATA} (set ASSAY_SHARED_DATA)")
    t0 = time.perf_counter()
    ref, raw = reference_texts(DATA), raw_web_texts(DATA)
    texts, labels = human_labels(DATA)
    print(f"data read in {time.perf_counter() - t0:.0f}s: positives " + ", ".join(f"{k} {len(v)}" for k, v in ref.items())
          + "; negatives " + ", ".join(f"{k} {len(v)}" for k, v in raw.items() if k != "web_gold")
          + f"; human-labeled {len(labels)} ({int(labels.sum())} good)")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        pos = write_jsonl(Path(tmp) / "positive.jsonl", [t for v in ref.values() for t in v])
        neg = write_jsonl(Path(tmp) / "negative.jsonl", raw["web_raw"] + raw["common_crawl"] + raw["nltk_webtext"])
        for k in range(args.trainings):
            model = Path(tmp) / f"quality-{k}.bin"
            t = time.perf_counter()
            if assay(["quality", "train", "--positive", str(pos), "--negative", str(neg), "--out", str(model)]) != 0:
                raise SystemExit("assay quality train failed")
            took = time.perf_counter() - t
            s = fm.load(str(model), str(fm.sidecar_path(model)), "hq", "bench").scores(texts)
            meta = json.loads(fm.sidecar_path(model).read_text())
            results.append({"auc": fm.auc(s, labels), "accuracy": float(((s >= 0.5) == labels).mean()),
                            "holdout_auc": meta["holdout"]["auc"], "seconds": took, "bytes": meta["model"]["bytes"]})
        fast = speed(Path(tmp) / "quality-0.bin", ref["owt"] + ref["wikipedia"], args.speed_docs)
    h = heuristics(texts, labels)
    aucs = [r["auc"] for r in results]
    print(f"\n{'method':<44}{'AUC':>18}{'accuracy':>10}")
    print(f"{'fastText classifier (' + str(len(results)) + ' trainings)':<44}"
          f"{np.mean(aucs):>8.3f} [{min(aucs):.3f}-{max(aucs):.3f}]{np.mean([r['accuracy'] for r in results]):>10.3f}")
    print(f"{'heuristic rules (quality stage keep/remove)':<44}{h['auc']:>18.3f}{h['accuracy']:>10.3f}")
    print(f"{'best single heuristic score (' + h['best_single'] + ')':<44}{h['best_single_auc']:>18.3f}{'':>10}")
    print(f"{'document length in words (no rule: a confound)':<44}{h['words_auc']:>18.3f}{'':>10}")
    print(f"\nclassifier holdout AUC {np.mean([r['holdout_auc'] for r in results]):.3f}; training "
          f"{np.mean([r['seconds'] for r in results]):.1f}s; model {results[0]['bytes'] / 1e6:.1f} MB; heuristics keep "
          f"{h['kept']:.0%} of the labeled documents ({labels.mean():.0%} are labeled good)")
    print(f"scoring ({'numba forward pass' if fast['kernel'] else 'fastText predict'}): {fast['docs_per_cpu_s']:,.0f} "
          f"documents per CPU-second (one core) on {fast['docs']:,} documents of {fast['chars']:,.0f} characters, "
          f"{fast['best_batch_docs_per_cpu_s']:,.0f} in the best of 5 batches; {fast['docs_per_s_wall']:,.0f}/s wall; goal 10,000 "
          f"(load average here {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"ratio classifier/heuristics AUC: {np.mean(aucs) / h['auc']:.2f}; total {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main()
