"""Build a realistic raw release from the shared data, for ablations that should show something real.

Web text as published (Reuters, the BBC training split, real pages as tag-stripped boilerplate-heavy text and
as gold article text, Common Crawl samples, NLTK web text), then what real crawls add: documents copied many
times with heavy-tailed counts, near-duplicates, pages quoting benchmark test items with their answers (a part
of each test set; the rest stays unleaked), and personal data. Writes `raw/part-*.jsonl.gz`,
`leaked_items.jsonl` (benchmark, item_id: what the evaluation splits on), `eval.toml` (an `--eval-config`
pointing at it) and `release_stats.json`. Nothing from the held-out evaluation text enters the release.

    python -m eval.build_raw_release OUT_DIR [--docs-per-source N] [--leak-fraction 0.3] [--seed 0]
"""
from __future__ import annotations

import argparse
import gzip
import html
import json
import random
import re
import tarfile
import zipfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

from eval import sources

LEAK_BENCHMARKS = ("arc_easy", "piqa", "winogrande", "lambada")
FIRST = ("James", "Maria", "Wei", "Fatima", "John", "Olga", "Carlos", "Aisha")
LAST = ("Smith", "Garcia", "Chen", "Okafor", "Novak", "Rossi", "Kim", "Silva")


class _Text(HTMLParser):
    """Every visible string of a page, menus and footers included: what a naive crawler keeps."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style", "noscript")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style", "noscript") and self._skip > 0

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def html_text(raw: str) -> str:
    parser = _Text()
    parser.feed(raw)
    return "\n".join(parser.parts)


def reuters(root: Path) -> Iterator[str]:
    for path in sorted((root / "web" / "reuters21578").glob("*.sgm")):
        raw = path.read_bytes().decode("latin-1")
        for body in re.findall(r"<BODY>(.*?)</BODY>", raw, flags=re.S):
            yield html.unescape(body.replace("\x03", "")).strip()


def web_pages(root: Path, limit: int) -> Iterator[tuple[str, str]]:
    """(source, text): trafilatura's evaluation pages raw, article pages raw and as gold text."""
    pages = {}
    # read in archive order: jumping around a .tar.gz re-decompresses it from the start every time
    with tarfile.open(root / "web" / "trafilatura_eval_pages.tar.gz", mode="r|gz") as tar:
        for m in tar:
            if m.isfile() and m.name.endswith(".html"):
                pages[m.name] = tar.extractfile(m).read().decode("utf-8", errors="replace")
    for name in sorted(pages)[:limit]:
        yield "web_raw", html_text(pages[name])
    base = root / "web" / "article_extraction_benchmark"
    gold = json.loads((base / "ground-truth.json").read_text(encoding="utf-8"))
    for key in sorted(gold)[:limit]:
        page = base / "html" / f"{key}.html.gz"
        if page.exists():
            yield "web_raw", html_text(gzip.decompress(page.read_bytes()).decode("utf-8", errors="replace"))
        yield "web_gold", gold[key]["articleBody"]


def common_crawl(root: Path) -> Iterator[str]:
    base = root / "web" / "dolma_cc"
    for path in sorted(base.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield json.loads(line)["text"]
    with gzip.open(base / "provided__documents__000.json.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)["text"]


def nltk_webtext(root: Path, lines_per_doc: int = 40) -> Iterator[str]:
    with zipfile.ZipFile(root / "web" / "nltk_corpora" / "webtext.zip") as z:
        for name in sorted(n for n in z.namelist() if n.endswith(".txt")):
            lines = z.read(name).decode("latin-1").splitlines()
            for i in range(0, len(lines), lines_per_doc):
                yield "\n".join(lines[i:i + lines_per_doc])


def base_documents(root: Path, per_source: int) -> list[dict]:
    streams: dict[str, Iterator[str]] = {
        "reuters": reuters(root),
        "bbc_train": (text for _, text in sources.bbc_articles(root, heldout=False)),
        "common_crawl": common_crawl(root),
        "nltk_webtext": nltk_webtext(root),
    }
    docs = []
    for name, stream in streams.items():
        for i, text in enumerate(t for t in stream if len(t) > 100):
            if i >= per_source:
                break
            docs.append({"source": name, "text": text})
    pages: dict[str, int] = {}
    for name, text in web_pages(root, per_source):
        if len(text) > 100 and pages.get(name, 0) < per_source:
            pages[name] = pages.get(name, 0) + 1
            docs.append({"source": name, "text": text})
    return docs


def near_duplicate(rng: random.Random, text: str) -> str:
    """A re-post: a few words changed, a line dropped, or a site footer added."""
    words = text.split(" ")
    for _ in range(max(1, len(words) // 50)):
        words[rng.randrange(len(words))] = rng.choice(("the", "a", "this", "our", "new"))
    out = " ".join(words)
    kind = rng.random()
    if kind < 0.3 and "\n" in out:
        lines = out.split("\n")
        del lines[rng.randrange(len(lines))]
        out = "\n".join(lines)
    elif kind < 0.6:
        out += "\n\nShare this article. Subscribe to our newsletter. © 2024 All rights reserved."
    return out


def with_pii(rng: random.Random, text: str) -> str:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    contact = rng.choice((
        f"Contact {first} {last} at {first.lower()}.{last.lower()}@example.com.",
        f"Call {first} on +1 (555) {rng.randint(100, 999)}-{rng.randint(1000, 9999)} for details.",
        f"{first} {last}, SSN {rng.randint(100, 899)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}.",
        f"Card 4111 1111 1111 {rng.randint(1000, 9999)}, holder {first} {last}.",
    ))
    return f"{text}\n{contact}"


def leaked_pages(rng: random.Random, root: Path, fraction: float) -> tuple[list[dict], list[dict]]:
    """Quiz and answer-key pages quoting test items with their answers, five to a page."""
    pages, leaked = [], []
    for name in LEAK_BENCHMARKS:
        items = sources.benchmark(name, root)
        chosen = sorted(rng.sample(range(len(items)), int(len(items) * fraction)))
        for start in range(0, len(chosen), 5):
            group = [items[i] for i in chosen[start:start + 5]]
            pages.append({"source": f"leak_{name}",
                          "text": "\n\n".join(sources.benchmark_text(name, it) for it in group)})
            leaked += [{"benchmark": name, "item_id": it.item_id} for it in group]
    return pages, leaked


def build(root: Path, out: Path, per_source: int, leak_fraction: float, seed: int) -> dict:
    rng = random.Random(seed)
    docs = base_documents(root, per_source)
    n_base = len(docs)
    copies = []
    for doc in rng.sample(docs, len(docs) // 5):
        # Pareto(1.1) counts: most duplicated documents appear a few times, a few appear hundreds of times
        copies += [dict(doc)] * min(300, int(rng.paretovariate(1.1)))
    near = [{"source": d["source"], "text": near_duplicate(rng, d["text"])} for d in rng.sample(docs, len(docs) // 10)]
    pages, leaked = leaked_pages(rng, root, leak_fraction)
    pages += [dict(p) for p in rng.sample(pages, len(pages) // 3)]  # answer keys get reposted too
    release = docs + copies + near + pages
    for doc in rng.sample(release, len(release) // 20):
        doc["text"] = with_pii(rng, doc["text"])
    rng.shuffle(release)
    raw = out / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for k in range(0, len(release), 20_000):
        with gzip.open(raw / f"part-{k // 20_000:05d}.jsonl.gz", "wt", encoding="utf-8") as fh:
            for i, doc in enumerate(release[k:k + 20_000], start=k):
                fh.write(json.dumps({"id": f"r{i:07d}", **doc}, ensure_ascii=False) + "\n")
    with open(out / "leaked_items.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(row) + "\n" for row in leaked)
    (out / "eval.toml").write_text(f'[eval]\nleaked_items = "{(out / "leaked_items.jsonl").resolve().as_posix()}"\n')
    stats = {"documents": len(release), "base_documents": n_base, "exact_copies": len(copies),
             "near_duplicates": len(near), "leak_pages": len(pages), "leaked_items": len(leaked),
             "leak_fraction": leak_fraction, "seed": seed,
             "sources": {s: sum(d["source"] == s for d in release) for s in sorted({d["source"] for d in release})}}
    (out / "release_stats.json").write_text(json.dumps(stats, indent=2))
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--docs-per-source", type=int, default=3000)
    parser.add_argument("--leak-fraction", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    root = sources.shared_data_root()
    if not root.exists():
        parser.error(f"shared data not found at {root} (set ASSAY_SHARED_DATA)")
    print(json.dumps(build(root, args.out, args.docs_per_source, args.leak_fraction, args.seed), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
