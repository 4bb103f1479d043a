"""`assay demo`: writes a small raw release with planted problems, then curates it.

Everything is generated here from a seeded RNG (no text is copied from anywhere): topical prose,
exact and near duplicates, boilerplate and junk pages, fake e-mail addresses and phone numbers,
passages copied from a small generated benchmark, and a few broken records for the quarantine.
"""
from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import polars as pl
import zstandard

TOPICS = {
    "rivers": ("river", "delta", "flood", "bank", "current", "valley", "bridge", "harbour", "barge", "estuary"),
    "cooking": ("recipe", "oven", "flour", "garlic", "sauce", "kitchen", "spice", "dough", "broth", "skillet"),
    "astronomy": ("planet", "orbit", "comet", "telescope", "galaxy", "nebula", "moon", "eclipse", "star", "crater"),
    "gardening": ("garden", "soil", "seedling", "compost", "orchard", "hedge", "bulb", "greenhouse", "root", "blossom"),
    "trains": ("railway", "station", "carriage", "signal", "timetable", "platform", "engine", "junction", "track", "freight"),
}
ADJ = ("quiet", "ancient", "bright", "narrow", "heavy", "gentle", "remote", "busy", "careful", "modern", "famous", "small")
VERB = ("crosses", "follows", "reveals", "shapes", "supports", "changes", "describes", "reaches", "protects", "measures")
LINK = ("and", "while", "because", "although", "so", "but")
PLACE = ("the north", "the old town", "the coast", "the hills", "the capital", "the valley floor", "the market square")


def sentence(rng: random.Random, nouns: tuple[str, ...]) -> str:
    a, b = rng.sample(nouns, 2)
    s = f"the {rng.choice(ADJ)} {a} {rng.choice(VERB)} the {b} near {rng.choice(PLACE)}"
    if rng.random() < 0.5:
        c = rng.choice(nouns)
        s += f" {rng.choice(LINK)} the {c} of the region is {rng.choice(ADJ)} with {rng.choice(ADJ)} {rng.choice(nouns)}s"
    return s[0].upper() + s[1:] + "."


def article(rng: random.Random, words: int) -> str:
    nouns = TOPICS[rng.choice(sorted(TOPICS))]
    paras, n = [], 0
    while n < words:
        para = " ".join(sentence(rng, nouns) for _ in range(rng.randint(3, 6)))
        paras.append(para)
        n += len(para.split())
    return "\n\n".join(paras)


def near_copy(rng: random.Random, text: str, rate: float) -> str:
    words = text.split(" ")
    for i in rng.sample(range(len(words)), max(1, int(len(words) * rate))):
        words[i] = rng.choice(ADJ)
    return " ".join(words)


def junk(rng: random.Random, kind: int) -> str:
    if kind == 0:
        return "\n".join(f"Home | About | Contact | Login | Page {i}" for i in range(rng.randint(5, 20)))
    if kind == 1:
        return " ".join(rng.choice(("#####", "$$$", "@@", "%%%%", "&&", "###")) for _ in range(rng.randint(60, 200)))
    if kind == 2:
        return "\n".join(f"- {rng.choice(ADJ)} {rng.choice(TOPICS['trains'])} deal {i}" for i in range(rng.randint(60, 120)))
    if kind == 3:
        return "Lorem ipsum dolor sit amet. " * rng.randint(20, 40)
    return f"Click here. {rng.choice(ADJ)} offer!"


def bench_texts(n: int, seed: int = 0) -> list[str]:
    """A generated corpus for benchmarks: articles of 350-650 words, 10 % exact and 5 % near copies."""
    rng = random.Random(seed)
    texts: list[str] = []
    for _ in range(n):
        r = rng.random()
        if texts and r < 0.1:
            texts.append(rng.choice(texts))
        elif texts and r < 0.15:
            texts.append(near_copy(rng, rng.choice(texts), 0.03))
        else:
            texts.append(article(rng, rng.randint(350, 650)))
    return texts


def benchmark(rng: random.Random, n: int = 40) -> list[dict[str, str]]:
    items = []
    for i in range(n):
        nouns = TOPICS[rng.choice(sorted(TOPICS))]
        q = f"In the survey of {rng.choice(PLACE)}, which {rng.choice(ADJ)} {rng.choice(nouns)} {rng.choice(VERB)} the {rng.choice(nouns)} first, and why was it recorded as {rng.choice(ADJ)}?"
        # GSM8K's published layout, so that the contamination stage reads it as `--benchmark gsm8k=...`
        items.append({"question": q, "answer": f"It was the {rng.choice(nouns)}.\n#### {i + 1}"})
    return items


def generate(out: Path, docs: int = 2000, seed: int = 0) -> dict[str, int]:
    rng = random.Random(seed)
    raw, bench_dir = out / "raw", out / "benchmark"
    raw.mkdir(parents=True, exist_ok=True)
    bench_dir.mkdir(parents=True, exist_ok=True)
    bench = benchmark(rng)
    (bench_dir / "test.jsonl").write_text("".join(json.dumps(b) + "\n" for b in bench))
    records, planted = [], {"clean": 0, "exact": 0, "near": 0, "junk": 0, "pii": 0, "leaked": 0}
    originals: list[str] = []
    for i in range(docs):
        roll = rng.random()
        if originals and roll < 0.08:
            text, kind = rng.choice(originals), "exact"
            if rng.random() < 0.5:
                text = text.upper() if rng.random() < 0.3 else text.replace(". ", ".  ")
        elif originals and roll < 0.13:
            text, kind = near_copy(rng, rng.choice(originals), rng.choice((0.003, 0.01, 0.02))), "near"
        elif roll < 0.20:
            text, kind = junk(rng, rng.randrange(5)), "junk"
        else:
            text, kind = article(rng, rng.randint(80, 400)), "clean"
            if roll < 0.25:
                who = f"{rng.choice(ADJ)}.{rng.choice(TOPICS['rivers'])}{rng.randint(1, 99)}@example.org"
                text += f"\n\nWrite to {who} or call +1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)} for details."
                kind = "pii"
            elif roll < 0.27:
                text += "\n\n" + rng.choice(bench)["question"]
                kind = "leaked"
            originals.append(text)
        planted[kind] += 1
        records.append({"id": f"doc-{i:05d}", "text": text, "url": f"https://www.{kind if kind != 'clean' else 'news'}{i % 13}.example/{i}"})
    third = len(records) // 3
    with open(raw / "crawl-000.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in records[:third])
        f.write('{"id": "broken-1", "text": "unterminated\n')  # invalid JSON
        f.write(json.dumps({"id": "empty-1", "text": "   "}) + "\n")
        f.write(json.dumps({"id": "doc-00001", "text": "a record reusing an id"}) + "\n")
    with gzip.open(raw / "crawl-001.jsonl.gz", "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in records[third : 2 * third])
        f.write(json.dumps({"id": "notext-1", "body": "no text field here"}) + "\n")
    body = "".join(json.dumps(r) + "\n" for r in records[2 * third : 2 * third + third // 2]).encode()
    (raw / "forum-000.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(body))
    pl.DataFrame(records[2 * third + third // 2 :]).write_parquet(raw / "forum-001.parquet")
    return planted


def run_demo(out: Path, docs: int, seed: int) -> int:
    from flows import report
    from flows.execute import run_local
    from flows.plan import RunOptions

    planted = generate(out, docs, seed)
    print(f"wrote a raw release of {docs} documents (+4 broken records) to {out / 'raw'}")
    print("planted: " + ", ".join(f"{k} {v}" for k, v in planted.items()))
    bench = (out / "benchmark" / "test.jsonl").as_posix()
    manifest = run_local(RunOptions(inputs=(str(out / "raw"),), out=out / "run", shard_size=500,
                                    stage_options={"contamination": {"benchmarks": (f"gsm8k={bench}",)}}))
    from flows.cli.run import note_skipped

    from flows.run_report import write_quietly

    note_skipped(manifest)
    write_quietly(out / "run")
    report.print_funnel(out / "run")
    print(f"report:            {out / 'run' / 'report.html'} (opens offline)")
    return 0
