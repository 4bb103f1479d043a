"""Domain selection by importance resampling (DSIR, Xie et al. 2023): keep the documents of a raw corpus
that look like a small set of in-domain seed documents.

Each document is a bag of hashed unigrams and bigrams (lowercased words, `buckets` hash buckets, as
DSIR's 10,000). Two bag-of-n-gram models are estimated, one from the seed documents and one from the
whole raw corpus (add-one smoothing); a document's log importance weight is the sum over its n-grams
of count x (log p_seed - log p_raw). The target number of documents (a count, or a fraction of the
corpus) is then drawn without replacement with probability proportional to the weights, by the Gumbel
top-k trick (key = log weight + Gumbel noise), or taken as the top weights (`method = top`).

The noise of a document is a hash of the sampling seed and its doc_id, never of its position, so the
selection is the same whatever the shard size. The per-shard features (hashed n-gram counts) depend
on `buckets` only: new seed documents, a new target or another sampling seed re-decide from them.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import polars as pl
import pyarrow as pa

from stages.base import ConfigError, Inputs, Judgement, Scope, StageResult, judgement, split
from stages.options import option

WEIGHT = "domain_log_weight"
_MIX = np.uint64(0x9E3779B97F4A7C15)  # golden-ratio multiplier: orders the two words of a bigram
_SLICE = 100_000  # documents' features read at a time by judge


def _check_fraction(value: float | None) -> str | None:
    return None if value is None or 0.0 < value <= 1.0 else "accepts a number in (0, 1]"


def _word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


def hashed_ngrams(texts: pl.Series, buckets: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sparse counts of hashed unigrams and bigrams: (row, bucket, count), sorted by row then
    bucket. Word hashes are BLAKE2b of each distinct word, so values never depend on a library's
    hash seed or CPU."""
    words = pl.DataFrame({"w": texts.fill_null("").str.to_lowercase().str.extract_all(r"\w+")})
    tok = words.with_row_index("row").explode("w").drop_nulls("w")
    if tok.is_empty():
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    uniq = tok["w"].unique()
    hashes = pl.Series([_word_hash(w) for w in uniq.to_list()], dtype=pl.UInt64)
    h = tok["w"].replace_strict(uniq, hashes, return_dtype=pl.UInt64).to_numpy()
    row = tok["row"].to_numpy().astype(np.int64)
    same = row[1:] == row[:-1]
    with np.errstate(over="ignore"):
        bigram = h[:-1][same] * _MIX + h[1:][same]
    rows = np.concatenate([row, row[:-1][same]])
    keys = rows * buckets + (np.concatenate([h, bigram]) % np.uint64(buckets)).astype(np.int64)
    uniq_keys, counts = np.unique(keys, return_counts=True)
    return uniq_keys // buckets, uniq_keys % buckets, counts.astype(np.int64)


def gumbel(doc_ids: list[str], seed: int) -> np.ndarray:
    """Standard Gumbel noise per document from a hash of (seed, doc_id): the same for a document
    wherever it lies."""
    prefix = f"{seed}\0".encode()
    u = np.array([int.from_bytes(hashlib.blake2b(prefix + d.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                                 "little") for d in doc_ids], dtype=np.float64)
    u = (u + 0.5) / 2.0**64
    return -np.log(-np.log(u))


@dataclass(frozen=True)
class Domain:
    name: ClassVar[str] = "domain"
    version: ClassVar[int] = 1
    reasons: ClassVar[frozenset[str]] = frozenset({"not_selected"})
    scope: ClassVar[Scope] = "corpus"
    ledger_views: ClassVar[dict[str, str]] = {
        "domain_weights": "SELECT doc_id, decision, "
        f"CAST(json_extract(scores, '$.{WEIGHT}') AS DOUBLE) AS log_weight, "
        "CAST(json_extract(evidence, '$.rank') AS BIGINT) AS rank FROM decisions WHERE stage = '{stage}'"}
    seed: tuple[str, ...] = option((), "files or folders of in-domain seed documents (the formats 'assay run' reads)",
                                   role="decide", input="path")
    fraction: float | None = option(None, "fraction of the corpus to select (default 0.1 when count is unset)",
                                    role="decide", minimum=0, maximum=1, check=_check_fraction)
    count: int | None = option(None, "number of documents to select, instead of a fraction", role="decide", minimum=1)
    method: str = option("resample", "resample: draw without replacement by weight (DSIR); top: the highest weights",
                         role="decide", choices=("resample", "top"))
    sample_seed: int = option(0, "seed of the resampling noise", role="decide", minimum=0)
    buckets: int = option(10_000, "hash buckets of the unigram and bigram features (DSIR: 10,000)", minimum=16,
                          maximum=1 << 24)

    def __post_init__(self) -> None:
        if self.fraction is not None and self.count is not None:
            raise ValueError("stage 'domain': set fraction or count, not both")

    def unconfigured(self) -> str | None:
        return None if self.seed else "in-domain seed documents (--domain-seed PATH: files or a folder)"

    def setup(self, inputs: Inputs) -> np.ndarray | None:
        """Smoothed log-probabilities of the buckets under the seed documents."""
        files = [p for f in inputs.files.get("seed", ()) for p in f.paths]
        if not files:
            return None
        from flows.ingest.discover import data_format
        from flows.ingest.texts import read_texts

        data = [p for p in files if data_format(p) is not None]
        if not data:
            raise ConfigError(f"stage 'domain' option 'seed': no data files among {len(files)} file(s) "
                              "(.jsonl, .json, .parquet, plain or .gz/.zst)")
        texts = read_texts(data, "stage 'domain' option 'seed'").texts
        _, b, c = hashed_ngrams(pl.Series(texts, dtype=pl.String), self.buckets)
        counts = np.bincount(b, weights=c, minlength=self.buckets)
        return np.log((counts + 1.0) / (counts.sum() + self.buckets))

    def _resources(self, res: Any) -> np.ndarray | None:
        if res is not None or not self.seed:
            return res
        from flows.inputs import materialize, resolve_option

        return self.setup(materialize(self.name, {"seed": resolve_option(self.name, "seed", "path", self.seed)}))

    def features(self, docs: pl.DataFrame, res: Any = None) -> pl.DataFrame:
        row, b, c = hashed_ngrams(docs["text"], self.buckets)
        offsets = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=docs.height))]).astype(np.int32)
        lists = {name: pl.from_arrow(pa.ListArray.from_arrays(pa.array(offsets), pa.array(v.astype(np.uint32))))
                 for name, v in (("buckets", b), ("counts", c))}
        return pl.DataFrame({"doc_id": docs["doc_id"], "ord": docs["ord"], "domain_buckets": lists["buckets"],
                             "domain_counts": lists["counts"]})

    def _log_weights(self, features: pl.LazyFrame, n: int, log_seed: np.ndarray) -> np.ndarray:
        flat = features.select(b=pl.col("domain_buckets").explode(), c=pl.col("domain_counts").explode()).drop_nulls()
        raw = flat.group_by("b").agg(pl.col("c").cast(pl.Int64).sum()).collect()
        counts = np.zeros(self.buckets)
        counts[raw["b"].to_numpy().astype(np.int64)] = raw["c"].to_numpy()
        ratio = log_seed - np.log((counts + 1.0) / (counts.sum() + self.buckets))
        out = np.zeros(n)
        for lo in range(0, n, _SLICE):  # a slice of documents at a time: the features never all in memory
            part = features.slice(lo, _SLICE).select("domain_buckets", "domain_counts").collect()
            lens = part["domain_buckets"].list.len().fill_null(0).to_numpy()
            b = part["domain_buckets"].explode().drop_nulls().to_numpy().astype(np.int64)
            c = part["domain_counts"].explode().drop_nulls().to_numpy().astype(np.float64)
            rows = np.repeat(np.arange(part.height), lens)
            out[lo:lo + part.height] = np.bincount(rows, weights=c * ratio[b], minlength=part.height)
        return out

    def judge(self, features: pl.LazyFrame, docs: pl.LazyFrame, res: Any = None) -> Judgement:
        log_seed = self._resources(res)
        feats = features.select("doc_id", "ord").collect()
        n = feats.height
        if log_seed is None:  # no seed documents: nothing to select by (the runner never gets here)
            return judgement(feats, reason=pl.lit(None, pl.String), scores={WEIGHT: pl.lit(None, pl.Float64)},
                             stats={"selected": n, "documents": n, "seed": False})
        weights = self._log_weights(features, n, log_seed)
        key = weights + gumbel(feats["doc_id"].to_list(), self.sample_seed) if self.method == "resample" else weights
        target = self.count if self.count is not None else math.floor((0.1 if self.fraction is None else self.fraction) * n + 0.5)
        n_keep = min(target, n)
        # Highest key first; equal keys (method top) go to the first seen (ord is global).
        order = np.lexsort((feats["ord"].to_numpy(), -key))
        rank = np.empty(n, np.int64)
        rank[order] = np.arange(1, n + 1)
        frame = feats.with_columns(**{WEIGHT: pl.Series(weights, dtype=pl.Float64)}, _rank=pl.Series(rank))
        return judgement(frame, reason=pl.when(pl.col("_rank") > n_keep).then(pl.lit("not_selected")),
                         scores={WEIGHT: pl.col(WEIGHT)}, evidence={"rank": pl.col("_rank"), "selected": pl.lit(n_keep)},
                         stats={"selected": n_keep, "documents": n, "method": self.method, "buckets": self.buckets})

    def apply(self, docs: pl.DataFrame, res: Any = None) -> StageResult:
        res = self._resources(res)
        return split(docs, self.judge(self.features(docs, res).lazy(), docs.lazy(), res))
