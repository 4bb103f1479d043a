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
from stages.base import Scope, StageResult, decide


@dataclass(frozen=True)
class NearDup:
    name: ClassVar[str] = "near_dup"
    version: ClassVar[int] = 1
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

    def apply(self, docs: pl.DataFrame) -> StageResult:
        t0 = time.perf_counter()
        earlier = load_against(self.against, self.params())
        m = earlier.height
        order = priority_order(docs, self.keep)  # input row of each rank (current documents)
        texts = pl.concat([earlier["text"], docs["text"].gather(order)])
        ids = earlier["doc_id"].to_list() + docs["doc_id"].gather(order).to_list()
        runs = earlier["run"].to_list() + [None] * docs.height

        sig_cur, counts_cur = minhash.signatures(docs["text"], self.ngram, self.num_perm, self.seed)
        sig_old, counts_old = _stored_signatures(earlier, self.num_perm)
        sig = np.vstack([sig_old, sig_cur[order]])
        counts = np.concatenate([counts_old, counts_cur[order]])
        t_sig = time.perf_counter()

        bands, rows = self.banding()
        hi, lo = lsh.candidate_pairs(lsh.band_keys(sig, bands, rows), counts > 0)
        hi, lo = hi[lo >= m], lo[lo >= m]  # earlier documents were settled in their own run
        jac = _verify(texts, hi, lo, self.ngram)
        ok = jac >= self.threshold
        s_hi, s_lo = _short_pairs(texts, counts, m)
        hi = np.concatenate([hi[ok], s_hi])
        lo = np.concatenate([lo[ok], s_lo])
        jac = np.concatenate([jac[ok], np.ones(len(s_hi))])
        srt = np.lexsort((hi, lo))
        hi, lo, jac = hi[srt], lo[srt], jac[srt]
        keeper, named = lsh.keep_rule(len(ids), hi, lo)
        t_lsh = time.perf_counter()

        # back to input rows
        rank_of_row = np.empty(docs.height, np.int64)
        rank_of_row[order] = np.arange(m, m + docs.height)
        k = keeper[rank_of_row]
        removed = k >= 0
        head = np.where(removed, k, rank_of_row)
        size = np.bincount(keeper[keeper >= 0], minlength=len(ids)) + 1
        cluster_names = [f"{runs[h]}#{ids[h]}" if runs[h] is not None else ids[h] for h in range(len(ids))]
        cols = pl.DataFrame(
            {
                "_dup_of": [ids[h] if r else None for h, r in zip(head.tolist(), removed.tolist(), strict=True)],
                "_dup_run": [runs[h] if r else None for h, r in zip(head.tolist(), removed.tolist(), strict=True)],
                "_jaccard": np.where(removed, jac[np.maximum(named[rank_of_row], 0)] if len(jac) else 0.0, np.nan),
                "_cluster": [cluster_names[h] for h in head.tolist()],
                "_size": size[head].astype(np.int64),
            },
            schema={"_dup_of": pl.String, "_dup_run": pl.String, "_jaccard": pl.Float64, "_cluster": pl.String, "_size": pl.Int64},
        ).with_columns(pl.col("_jaccard").fill_nan(None))
        frame = pl.concat([docs, cols], how="horizontal")
        evidence = {
            "duplicate_of": pl.col("_dup_of"),
            "jaccard": pl.col("_jaccard"),
            "cluster_id": pl.col("_cluster"),
            "cluster_size": pl.col("_size"),
        }
        if self.against:
            evidence["duplicate_of_run"] = pl.col("_dup_run")
        kept_rows = np.flatnonzero(~removed)
        artifact = pl.DataFrame(
            {
                "doc_id": docs["doc_id"].gather(kept_rows),
                "text": docs["text"].gather(kept_rows),
                "signature": sig_cur[kept_rows],
                "n_shingles": counts_cur[kept_rows],
                **{key: pl.repeat(value, len(kept_rows), eager=True) for key, value in self.params().items()},
            }
        )
        stats = {
            "bands": bands,
            "rows": rows,
            "short_documents": int((counts_cur == 0).sum()),
            "candidate_pairs_verified": int(len(ok)),
            "candidate_pairs_above_threshold": int(ok.sum()),
            "removed_against_earlier_runs": int(cols["_dup_run"].is_not_null().sum()),
            "earlier_documents": m,
            "seconds_signatures": round(t_sig - t0, 3),
            "seconds_candidates_verify_cluster": round(t_lsh - t_sig, 3),
        }
        result = decide(
            frame,
            reason=pl.when(pl.col("_dup_of").is_not_null()).then(pl.lit("near_duplicate")),
            scores={"near_dup_cluster_id": pl.col("_cluster"), "near_dup_cluster_size": pl.col("_size")},
            evidence=evidence,
            stats=stats,
            artifacts={"signatures": artifact},
        )
        return StageResult(result.kept.drop(cols.columns), result.decisions, result.stats, result.artifacts)


def priority_order(docs: pl.DataFrame, keep: str) -> np.ndarray:
    """Input rows in keep-policy order: the first is the most preferred; ties go to first seen."""
    if keep == "first":
        keys, desc = [pl.col("ord")], [False]
    elif keep == "longest":
        keys, desc = [pl.col("text").str.len_chars(), pl.col("ord")], [True, False]
    else:
        column = keep.removeprefix("score:")
        if column not in docs.columns:
            raise KeyError(f"near_dup keep={keep!r}: no column {column!r} (columns: {docs.columns})")
        if not docs.schema[column].is_numeric():
            raise TypeError(f"near_dup keep={keep!r}: column {column!r} is {docs.schema[column]}, not numeric")
        keys, desc = [pl.col(column).fill_nan(None), pl.col("ord")], [True, False]
    ranked = docs.with_row_index("_row").sort(keys, descending=desc, nulls_last=True)
    return ranked["_row"].to_numpy().astype(np.int64)


def load_against(run_dirs: tuple[str, ...], params: dict[str, object]) -> pl.DataFrame:
    """Kept documents of earlier runs (doc_id, text, signature, run). Fails loudly when a run
    directory or its index is missing, unreadable or built with other signature parameters:
    silently keeping everything would publish the duplicates the user asked to remove."""
    frames = []
    for run in run_dirs:
        folder = Path(run) / "index" / "near_dup"
        files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
        if not files:
            raise FileNotFoundError(f"near_dup --against {run}: no near_dup index at {folder} (was near_dup run there?)")
        try:
            frame = pl.concat([pl.read_parquet(f) for f in files], how="vertical")
        except Exception as err:  # re-raised with the path: a corrupt index must stop the run
            raise RuntimeError(f"near_dup --against {run}: cannot read {folder}: {err}") from err
        for key, value in params.items():
            if key not in frame.columns or (frame.height and frame[key].unique().to_list() != [value]):
                raise ValueError(f"near_dup --against {run}: index built with other {key} than {value!r}; rebuild it or match the config")
        frames.append(frame.select("doc_id", "text", "signature", "n_shingles", run=pl.lit(str(run))))
    if not frames:
        return pl.DataFrame(schema={"doc_id": pl.String, "text": pl.String, "signature": pl.List(pl.UInt32),
                                   "n_shingles": pl.Int64, "run": pl.String})
    return pl.concat(frames, how="vertical_relaxed")


def _stored_signatures(earlier: pl.DataFrame, num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    if earlier.is_empty():
        return np.zeros((0, num_perm), np.uint32), np.zeros(0, np.int64)
    sig = np.asarray(earlier["signature"].cast(pl.Array(pl.UInt32, num_perm)).to_numpy(), np.uint32)
    return sig, earlier["n_shingles"].to_numpy().astype(np.int64)


def _verify(texts: pl.Series, hi: np.ndarray, lo: np.ndarray, ngram: int) -> np.ndarray:
    """Exact Jaccard of the shingle-hash sets of each candidate pair, recomputed for the
    documents involved only (no Python sets, no per-document storage for the whole corpus)."""
    if len(hi) == 0:
        return np.zeros(0)
    involved = np.unique(np.concatenate([hi, lo]))
    where = np.empty(len(texts), np.int64)
    where[involved] = np.arange(len(involved))
    values, offsets = minhash.shingle_sets(texts.gather(involved), ngram)
    return lsh.jaccard(values, offsets, where[hi], where[lo])


def _short_pairs(texts: pl.Series, counts: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Documents with fewer than n words: pairs (best rank, other rank) of equal normalized text."""
    short = np.flatnonzero(counts == 0)
    if len(short) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    norm = [minhash.normalize_text(unicodedata.normalize("NFKC", t or "")) for t in texts.gather(short).to_list()]
    table = pl.DataFrame({"rank": short, "norm": norm}).with_columns(head=pl.col("rank").min().over("norm"))
    pairs = table.filter((pl.col("rank") != pl.col("head")) & (pl.col("rank") >= m))
    return pairs["head"].to_numpy().astype(np.int64), pairs["rank"].to_numpy().astype(np.int64)
