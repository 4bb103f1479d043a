"""Near-duplicate removal: MinHash + LSH candidates, every removal verified with exact Jaccard.

1. Signatures (stages/minhash.py): word n-grams of normalized text, datasketch-identical values.
2. Candidates (stages/lsh.py): band buckets grouped in polars, band by band.
3. Verification: exact Jaccard of the 64-bit shingle-hash sets of both documents.
4. Keep rule, no chaining: documents are visited in keep-policy order (first seen, longest, or
   highest score column); a document is removed only when its own verified Jaccard with a document
   that is *kept* reaches the threshold, and it names that document. Similar-to-similar chains
   never remove anything: a document only resembling a removed one stays.
Documents with fewer than `ngram` words have no shingles; they are matched explicitly, by equality
of their normalized text (Jaccard 1.0), never through LSH and never silently passed over.

Incremental releases: `against` names earlier run directories; the documents this stage kept
there (RUN_DIR/index/near_dup/*.parquet, written by the runner from the `signatures` artifact)
rank before every current document, so a current document that near-duplicates one of them is
removed naming the earlier doc_id and run.
"""
from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import polars as pl

from stages import lsh, minhash
from stages.base import ConfigError, Judgement, Scope, StageResult, decide, split


@dataclass(frozen=True)
class NearDup:
    name: ClassVar[str] = "near_dup"
    version: ClassVar[int] = 2
    reasons: ClassVar[frozenset[str]] = frozenset({"near_duplicate"})
    scope: ClassVar[Scope] = "corpus"
    threshold: float = 0.8
    ngram: int = 5
    num_perm: int = 128
    bands: int | None = None  # bands x rows chosen from threshold when both are None
    rows: int | None = None
    keep: str = "first"  # "first" | "longest" | "score:<column>" (highest wins, ties -> first)
    against: tuple[str, ...] = ()  # earlier run directories
    seed: int = 1

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"near_dup: threshold must be in (0, 1], got {self.threshold}")
        if self.ngram < 1 or self.num_perm < 1:
            raise ValueError("near_dup: ngram and num_perm must be positive")
        if (self.bands is None) != (self.rows is None):
            raise ValueError("near_dup: set both bands and rows, or neither")
        if self.bands is not None and (self.bands < 1 or self.rows < 1 or self.bands * self.rows > self.num_perm):
            raise ValueError(f"near_dup: {self.bands} bands x {self.rows} rows does not fit {self.num_perm} permutations")
        if self.keep not in ("first", "longest") and not (self.keep.startswith("score:") and len(self.keep) > 6):
            raise ValueError(f"near_dup: keep must be 'first', 'longest' or 'score:<column>', got {self.keep!r}")

    def banding(self) -> tuple[int, int]:
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        return lsh.choose_bands(self.threshold, self.num_perm)

    def params(self) -> dict[str, object]:
        """What signatures depend on: an earlier run's index is usable only when these match."""
        return {"ngram": self.ngram, "num_perm": self.num_perm, "seed": self.seed, "hash": minhash.HASH_NAME}

    def features(self, docs: pl.DataFrame) -> pl.DataFrame:
        """Per shard: signature, band keys, shingle count, keep-policy key, and the normalized text
        of short documents. No full text: `judge` works on these and fetches only candidates' text."""
        sig, counts = minhash.signatures(docs["text"], self.ngram, self.num_perm, self.seed)
        keys = lsh.band_keys(sig, *self.banding())
        short = np.flatnonzero(counts == 0)
        norm = [None] * docs.height
        for i, text in zip(short.tolist(), docs["text"].gather(short).to_list(), strict=True):
            norm[i] = minhash.normalize_text(unicodedata.normalize("NFKC", text or ""))
        return pl.DataFrame({
            "doc_id": docs["doc_id"], "ord": docs["ord"], "priority": priority_key(docs, self.keep),
            "n_shingles": counts.astype(np.int64), "short_norm": pl.Series(norm, dtype=pl.String),
            "signature": pl.Series(sig).cast(pl.Array(pl.UInt32, self.num_perm)),
            **{f"band_{b}": keys[:, b] for b in range(keys.shape[1])},
        })

    def judge(self, features: pl.LazyFrame, docs: pl.LazyFrame) -> Judgement:
        t0 = time.perf_counter()
        earlier = load_against(self.against, self.params())
        m = earlier.height
        meta = features.select("doc_id", "ord", "priority", "n_shingles", "short_norm").collect()
        order = meta.with_row_index("_row").sort(["priority", "ord"], descending=[True, False], nulls_last=True)["_row"].to_numpy()
        n = m + meta.height
        rank_of_row = np.empty(meta.height, np.int64)
        rank_of_row[order] = np.arange(m, n)
        ids = earlier["doc_id"].to_list() + meta["doc_id"].gather(order).to_list()
        runs = earlier["run"].to_list() + [None] * meta.height
        counts = np.concatenate([earlier["n_shingles"].to_numpy(), meta["n_shingles"].to_numpy()[order]]).astype(np.int64)

        # Candidates band by band: one uint64 column in memory at a time, read from the features.
        bands, rows = self.banding()
        old_keys = lsh.band_keys(_stored_signatures(earlier, self.num_perm), bands, rows)
        found = []
        for b in range(bands):
            key = np.empty(n, np.uint64)
            key[:m] = old_keys[:, b]
            key[rank_of_row] = features.select(f"band_{b}").collect().to_series().to_numpy()
            found.append(lsh.band_pairs(key, counts > 0))
        hi, lo = lsh.unique_pairs(found)
        hi, lo = hi[lo >= m], lo[lo >= m]  # earlier documents were settled in their own run
        t_cand = time.perf_counter()
        involved = np.unique(np.concatenate([hi, lo]))
        jac = _verify(involved, _texts_of(involved, ids, m, earlier, docs), hi, lo, self.ngram)
        ok = jac >= self.threshold
        norm = pl.concat([earlier["short_norm"], meta["short_norm"].gather(order)])
        s_hi, s_lo = _short_pairs(norm, m)
        hi, lo = np.concatenate([hi[ok], s_hi]), np.concatenate([lo[ok], s_lo])
        jac = np.concatenate([jac[ok], np.ones(len(s_hi))])
        srt = np.lexsort((hi, lo))
        hi, lo, jac = hi[srt], lo[srt], jac[srt]
        keeper, named = lsh.keep_rule(n, hi, lo)

        k = keeper[rank_of_row]  # back to feature rows
        removed = k >= 0
        head = np.where(removed, k, rank_of_row)
        size = np.bincount(keeper[keeper >= 0], minlength=n) + 1
        heads = head.tolist()
        cluster = [f"{runs[h]}#{ids[h]}" if runs[h] is not None else ids[h] for h in heads]
        frame = pl.DataFrame({
            "doc_id": meta["doc_id"],
            "_dup_of": [ids[h] if r else None for h, r in zip(heads, removed.tolist(), strict=True)],
            "_dup_run": [runs[h] if r else None for h, r in zip(heads, removed.tolist(), strict=True)],
            "_jaccard": np.where(removed, jac[np.maximum(named[rank_of_row], 0)] if len(jac) else 0.0, np.nan),
            "near_dup_cluster_id": cluster,
            "near_dup_cluster_size": size[head].astype(np.int64),
        }, schema_overrides={"_dup_of": pl.String, "_dup_run": pl.String}).with_columns(pl.col("_jaccard").fill_nan(None))
        evidence = {"duplicate_of": pl.col("_dup_of"), "jaccard": pl.col("_jaccard"),
                    "cluster_id": pl.col("near_dup_cluster_id"), "cluster_size": pl.col("near_dup_cluster_size")}
        if self.against:
            evidence["duplicate_of_run"] = pl.col("_dup_run")
        decided = decide(frame, reason=pl.when(pl.col("_dup_of").is_not_null()).then(pl.lit("near_duplicate")),
                         scores={"near_dup_cluster_id": pl.col("near_dup_cluster_id"), "near_dup_cluster_size": pl.col("near_dup_cluster_size")},
                         evidence=evidence)
        kept_ids = frame.filter(pl.col("_dup_of").is_null()).select("doc_id")
        artifact = (features.select("doc_id", "signature", "n_shingles", "short_norm").collect()
                    .join(kept_ids, on="doc_id", how="semi", maintain_order="left")
                    .with_columns(**{key: pl.lit(value) for key, value in self.params().items()}))
        stats = {
            "bands": bands, "rows": rows, "short_documents": int((meta["n_shingles"] == 0).sum()),
            "candidate_pairs_verified": int(len(ok)), "candidate_pairs_above_threshold": int(ok.sum()),
            "removed_against_earlier_runs": int(frame["_dup_run"].is_not_null().sum()), "earlier_documents": m,
            "removed_by_reason": dict(decided.stats["removed_by_reason"]),
            "seconds_candidates": round(t_cand - t0, 3), "seconds_verify_cluster": round(time.perf_counter() - t_cand, 3),
        }
        return Judgement(decisions=decided.decisions, columns=frame.select("doc_id", "near_dup_cluster_id", "near_dup_cluster_size"),
                         stats=stats, artifacts={"signatures": artifact})

    def apply(self, docs: pl.DataFrame) -> StageResult:
        return split(docs, self.judge(self.features(docs).lazy(), docs.lazy()))


def priority_key(docs: pl.DataFrame, keep: str) -> pl.Series:
    """Higher is kept first; null for 'first' (ties, and nulls, go to the first seen)."""
    if keep == "first":
        return pl.Series("priority", [None] * docs.height, dtype=pl.Float64)
    if keep == "longest":
        return docs["text"].str.len_chars().cast(pl.Float64).alias("priority")
    column = keep.removeprefix("score:")
    if column not in docs.columns:
        raise ConfigError(f"near_dup keep={keep!r}: no column {column!r} (columns: {docs.columns})")
    if not docs.schema[column].is_numeric():
        raise TypeError(f"near_dup keep={keep!r}: column {column!r} is {docs.schema[column]}, not numeric")
    return docs[column].cast(pl.Float64).fill_nan(None).alias("priority")


def load_against(run_dirs: tuple[str, ...], params: dict[str, object]) -> pl.DataFrame:
    """Index rows of the documents earlier releases shipped (doc_id, signature, n_shingles,
    short_norm, run). Fails loudly when a run directory, its index or its curated documents are
    missing, unreadable or built with other signature parameters: silently keeping everything would
    publish the duplicates the user asked to remove."""
    frames = []
    for run in run_dirs:
        folder = Path(run) / "index" / "near_dup"
        files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
        if not files:
            raise FileNotFoundError(f"near_dup --against {run}: no near_dup index at {folder} (was near_dup run there?)")
        if not sorted((Path(run) / "curated").glob("*.parquet")):
            raise FileNotFoundError(f"near_dup --against {run}: no curated documents in {Path(run) / 'curated'}")
        try:
            frame = pl.concat([pl.read_parquet(f) for f in files], how="vertical")
        except Exception as err:  # re-raised with the path: a corrupt index must stop the run
            raise RuntimeError(f"near_dup --against {run}: cannot read {folder}: {err}") from err
        for key, value in params.items():
            if key not in frame.columns or (frame.height and frame[key].unique().to_list() != [value]):
                raise ValueError(f"near_dup --against {run}: index built with other {key} than {value!r}; rebuild it or match the config")
        frames.append(frame.select("doc_id", "signature", "n_shingles", "short_norm", run=pl.lit(str(run))))
    if not frames:
        return pl.DataFrame(schema={"doc_id": pl.String, "signature": pl.List(pl.UInt32), "n_shingles": pl.Int64,
                                   "short_norm": pl.String, "run": pl.String})
    return pl.concat(frames, how="vertical_relaxed")


def _stored_signatures(earlier: pl.DataFrame, num_perm: int) -> np.ndarray:
    if earlier.is_empty():
        return np.zeros((0, num_perm), np.uint32)
    return np.asarray(earlier["signature"].cast(pl.Array(pl.UInt32, num_perm)).to_numpy(), np.uint32)


def _texts_of(ranks: np.ndarray, ids: list[str], m: int, earlier: pl.DataFrame, docs: pl.LazyFrame) -> pl.Series:
    """Texts of the given ranks (sorted), read lazily: current documents from this stage's input,
    earlier ones from the curated output of their release (what was shipped)."""
    want = pl.DataFrame({"rank": ranks, "doc_id": [ids[r] for r in ranks.tolist()]}, schema={"rank": pl.Int64, "doc_id": pl.String})
    cur = want.filter(pl.col("rank") >= m)
    found = [docs.select("doc_id", "text").join(cur.lazy(), on="doc_id", how="inner").collect().select("rank", "text")]
    old = want.filter(pl.col("rank") < m).with_columns(run=pl.Series(earlier["run"].gather(ranks[ranks < m]), dtype=pl.String))
    for (run,), part in old.partition_by("run", as_dict=True).items():
        curated = pl.scan_parquet(Path(run) / "curated" / "*.parquet").select(doc_id="id", text="text")
        found.append(curated.join(part.lazy(), on="doc_id", how="inner").collect().select("rank", "text"))
    texts = pl.concat(found).sort("rank")
    if texts.height != len(ranks):
        raise RuntimeError(f"near_dup: {len(ranks) - texts.height} candidate documents have no text to verify against")
    return texts["text"]


def _verify(ranks: np.ndarray, texts: pl.Series, hi: np.ndarray, lo: np.ndarray, ngram: int) -> np.ndarray:
    """Exact Jaccard of the shingle-hash sets of each candidate pair, recomputed for the
    documents involved only (no Python sets, no per-document storage for the whole corpus)."""
    if len(hi) == 0:
        return np.zeros(0)
    values, offsets = minhash.shingle_sets(texts, ngram)
    return lsh.jaccard(values, offsets, np.searchsorted(ranks, hi), np.searchsorted(ranks, lo))


def _short_pairs(norm: pl.Series, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Documents with fewer than n words (norm not null, indexed by rank): pairs (best rank, other
    rank) of equal normalized text."""
    table = pl.DataFrame({"rank": np.arange(len(norm), dtype=np.int64), "norm": norm}).drop_nulls("norm")
    if table.is_empty():
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    table = table.with_columns(head=pl.col("rank").min().over("norm"))
    pairs = table.filter((pl.col("rank") != pl.col("head")) & (pl.col("rank") >= m))
    return pairs["head"].to_numpy().astype(np.int64), pairs["rank"].to_numpy().astype(np.int64)
