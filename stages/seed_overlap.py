"""Overlap of generated instructions with the seed tasks they were generated from: ROUGE-L F1 of
the instruction against every seed instruction, removed at >= 0.7 as self-instruct (Wang et al.
2023) filtered its own generations.

Part of the `assay validate` recipe (`--seeds FILE`). Tokens are rouge-score's (lower case, runs of
letters and digits, no stemming), so scores equal `rouge_score.rouge_scorer.RougeScorer(["rougeL"])`.
The longest common subsequence runs in a numba kernel over every (record, seed) pair that the
length bound leaves (ROUGE-L F1 <= 2 min(m, n) / (m + n)); 175 seeds x 16,000 records take about
a second. Evidence names the closest seed by its line and id, never its text.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import orjson
import polars as pl

from stages.base import Inputs, Scope, StageResult, decide
from stages.options import option
from stages.synthetic import parts

_TOKEN = re.compile(r"[a-z0-9]+")
_SEED_KEYS = ("instruction", "prompt", "text", "question")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


@functools.cache
def _kernel() -> Any:
    from stages.minhash.core import import_numba

    numba = import_numba()

    @numba.njit(cache=True, nogil=True)
    def best_rouge(doc: np.ndarray, seeds: np.ndarray, offsets: np.ndarray, cands: np.ndarray) -> tuple[float, int]:
        m = doc.shape[0]
        best, arg = 0.0, -1
        prev = np.zeros(m + 1, np.int32)
        cur = np.zeros(m + 1, np.int32)
        for s in cands:
            a, b = offsets[s], offsets[s + 1]
            n = b - a
            if m == 0 or n == 0 or 2.0 * min(m, n) / (m + n) <= best:
                continue
            prev[:] = 0
            for j in range(a, b):
                cur[0] = 0
                t = seeds[j]
                for i in range(1, m + 1):
                    if doc[i - 1] == t:
                        cur[i] = prev[i - 1] + 1
                    else:
                        cur[i] = cur[i - 1] if cur[i - 1] > prev[i] else prev[i]
                prev, cur = cur, prev
            f = 2.0 * prev[m] / (m + n)
            if f > best:
                best, arg = f, s
        return best, arg

    return best_rouge


def _seed_text(rec: Any) -> str | None:
    if isinstance(rec, str):
        return rec
    if isinstance(rec, dict):
        return next((rec[k] for k in _SEED_KEYS if isinstance(rec.get(k), str) and rec[k].strip()), None)
    return None


def load_seeds(path: Path) -> list[tuple[str, str]]:
    """[(label, instruction)] from JSONL or a JSON array (self-instruct seed_tasks.jsonl, Alpaca
    records, or plain strings); the label is the seed's id, else its line."""
    data = path.read_bytes()
    recs = orjson.loads(data) if data.lstrip().startswith(b"[") else [orjson.loads(x) for x in data.splitlines() if x.strip()]
    out = []
    for i, rec in enumerate(recs, start=1):
        text = _seed_text(rec)
        if text:
            label = str(rec["id"]) if isinstance(rec, dict) and isinstance(rec.get("id"), str | int) else f"line {i}"
            out.append((label, text))
    return out


_LSH = {"num_perm": 64, "seed": 1, "threshold": 0.5}


def _lsh_index(texts: list[str]) -> tuple[int, int, list[dict[int, list[int]]]]:
    """Band buckets of the seeds' word-set MinHash signatures (stages/minhash, unigrams)."""
    from stages import lsh, minhash

    sig, _ = minhash.signatures(pl.Series(texts, dtype=pl.String), 1, _LSH["num_perm"], _LSH["seed"])
    bands, rows = lsh.choose_bands(_LSH["threshold"], _LSH["num_perm"])
    keys = lsh.band_keys(sig, bands, rows)
    buckets: list[dict[int, list[int]]] = [{} for _ in range(bands)]
    for i, row in enumerate(keys.tolist()):
        for b, key in enumerate(row):
            buckets[b].setdefault(key, []).append(i)
    return bands, rows, buckets


def _lsh_candidates(index: tuple[int, int, list[dict[int, list[int]]]], texts: list[str | None]) -> list[np.ndarray]:
    from stages import lsh, minhash

    bands, rows, buckets = index
    sig, _ = minhash.signatures(pl.Series([t or "" for t in texts], dtype=pl.String), 1, _LSH["num_perm"], _LSH["seed"])
    out = []
    for row in lsh.band_keys(sig, bands, rows).tolist():
        found = {i for b, key in enumerate(row) for i in buckets[b].get(key, ())}
        out.append(np.array(sorted(found), np.int64))
    return out


@dataclass(frozen=True)
class SeedOverlap:
    """Generated instructions that restate a seed task (ROUGE-L F1 against the seed instructions)."""
    name: ClassVar[str] = "seed_overlap"
    recipes: ClassVar[tuple[str, ...]] = ("validate",)  # not part of a plain `assay run`
    version: ClassVar[int] = 1
    reasons: ClassVar[frozenset[str]] = frozenset({"seed_overlap"})
    scope: ClassVar[Scope] = "document"
    seeds: str | None = option(None, "JSONL or JSON file of seed tasks (instruction, prompt, text or question field)",
                               input="file")
    exact_up_to: int = option(5000, "seed sets up to this size are compared with every record; larger ones only with "
                                    "MinHash LSH candidates (word-set Jaccard around 0.5 and up, which ROUGE-L >= 0.7 implies "
                                    "for texts without repeated words)", minimum=0)
    threshold: float = option(0.7, "ROUGE-L F1 with a seed instruction at which a record is removed (self-instruct: 0.7)",
                              role="decide", minimum=0, maximum=1)

    def unconfigured(self) -> str | None:
        return None if self.seeds else "seed tasks (assay validate --seeds FILE)"

    def setup(self, inputs: Inputs) -> tuple[Any, ...]:
        seeds = [s for f in inputs.files.get("seeds", ()) for p in f.paths for s in load_seeds(Path(p))]
        index = _lsh_index([t for _, t in seeds]) if len(seeds) > self.exact_up_to else None
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(t, len(vocab)) for t in tokens(text)] for _, text in seeds]
        offsets = np.zeros(len(ids) + 1, np.int64)
        offsets[1:] = np.cumsum([len(x) for x in ids]) if ids else []
        flat = np.array([t for x in ids for t in x], np.int32)
        return tuple(label for label, _ in seeds), vocab, flat, offsets, index

    def score(self, docs: pl.DataFrame, res: Any = None) -> pl.DataFrame:
        labels, vocab, flat, offsets, index = res or ((), {}, np.zeros(0, np.int32), np.zeros(1, np.int64), None)
        every = np.arange(len(labels), dtype=np.int64)
        best, which = [], []
        kernel = _kernel() if labels and docs.height else None
        cols = ["kind", "instruction", "input", "output", "messages", "prompt", "completion"]
        insts = [r["instruction"] if r["kind"] == "instruction" else parts(r["kind"], r)[4]
                 for r in docs.select(cols).iter_rows(named=True)]
        cands = _lsh_candidates(index, insts) if index is not None and kernel is not None else None
        for k, inst in enumerate(insts):
            if kernel is None:
                best.append(None)
                which.append(None)
                continue
            # Unknown words get ids no seed holds (negative), so they never match.
            doc = np.array([vocab.get(t, -1 - j) for j, t in enumerate(tokens(inst or ""))], np.int32)
            f, arg = kernel(doc, flat, offsets, every if cands is None else cands[k])
            best.append(round(float(f), 6))
            which.append(labels[arg] if arg >= 0 else None)
        return pl.DataFrame({"doc_id": docs["doc_id"], "seed_overlap_rouge_l": pl.Series(best, dtype=pl.Float64),
                             "seed_overlap_seed": pl.Series(which, dtype=pl.String)})

    def choose(self, scored: pl.DataFrame, res: Any = None) -> StageResult:
        f = pl.col("seed_overlap_rouge_l")
        reason = pl.when(f >= self.threshold).then(pl.lit("seed_overlap")).otherwise(pl.lit(None, pl.String))
        return decide(scored, reason=reason, scores={"seed_overlap_rouge_l": f},
                      evidence={"seed": pl.col("seed_overlap_seed"), "rouge_l": f})

    def apply(self, docs: pl.DataFrame, res: Any = None) -> StageResult:
        return self.choose(docs.join(self.score(docs, res), on="doc_id", how="left", maintain_order="left"))
