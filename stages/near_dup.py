"""Near-duplicate removal: MinHash + LSH candidates, every removal verified with exact Jaccard.

1. Features, per shard (stages/minhash): signatures of word n-grams of normalized text,
   datasketch-identical values. They depend on the scoring options only (ngram, num_perm, seed,
   keep), so a new threshold or banding re-decides from cached signatures.
2. Candidates (stages/lsh.py): band keys hashed from the signatures and grouped in polars, band by
   band.
3. Verification: exact Jaccard of the 64-bit shingle-hash sets of both documents, for the pairs
   that share enough signature values to possibly reach the threshold (lsh.screen_cut: the chance
   of screening out a pair at the threshold is below 1e-12; most LSH candidates are screened out).
4. Keep rule, no chaining: documents are visited in keep-policy order (first seen, longest, or
   highest score column); a document is removed only when its own verified Jaccard with a document
   that is *kept* reaches the threshold, and it names that document. Similar-to-similar chains
   never remove anything: a document only resembling a removed one stays.
Documents with fewer than `ngram` words have no shingles; they are matched explicitly, by equality
of their normalized text (Jaccard 1.0), never through LSH and never silently passed over.

Incremental releases: `against` names earlier runs. The runner hands them to `setup` as EarlierRuns
(the index this stage published there, and the texts that release shipped); their documents rank
before every current document, so a current document that near-duplicates one of them is removed
naming the earlier doc_id and the run as the user gave it. The stage never opens run folders.
"""
from __future__ import annotations

import dataclasses
import functools
import time
import unicodedata
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import polars as pl

from stages import lsh, minhash, near_dup_against
from stages.base import ConfigError, EarlierRun, Inputs, Judgement, Scope, StageResult, decide, split
from stages.options import coerce, option

_INDEX = ("doc_id", "signature", "n_shingles", "short_norm")  # what the published index holds per document


def _check_threshold(value: float) -> str | None:
    return None if 0.0 < value <= 1.0 else "accepts a number in (0, 1]"


def _check_seed(value: int) -> str | None:
    return None if value < 2**32 else "accepts an integer below 2^32"


def _check_keep(value: str) -> str | None:
    if value in ("first", "longest") or (value.startswith("score:") and len(value) > len("score:")):
        return None
    return "accepts first, longest or score:<column> (the highest value of that numeric column is kept)"


@dataclass(frozen=True)
class NearDup:
    name: ClassVar[str] = "near_dup"
    version: ClassVar[int] = 4
    reasons: ClassVar[frozenset[str]] = frozenset({"near_duplicate"})
    scope: ClassVar[Scope] = "corpus"
    threshold: float = option(0.8, "verified Jaccard of word n-grams, in (0, 1], at which a document is a near-duplicate",
                              role="decide", check=_check_threshold)
    ngram: int = option(5, "words per shingle", minimum=1)
    num_perm: int = option(128, "MinHash permutations per signature", minimum=1)
    bands: int | None = option(None, "LSH bands (set with rows; unset: chosen from threshold for 99.5 % recall)",
                               role="decide", minimum=1)
    rows: int | None = option(None, "signature rows per LSH band (set with bands)", role="decide", minimum=1)
    keep: str = option("first", "which document of a group stays: first, longest or score:<column> (highest wins, ties: first)",
                       check=_check_keep)
    against: tuple[str, ...] = option((), "earlier run folders: also remove near-duplicates of the documents they shipped",
                                      role="decide", input="runs", alias="--against")
    seed: int = option(1, "seed of the MinHash permutations (numpy's RandomState, as datasketch)", minimum=0,
                       check=_check_seed)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # the same checks as the CLI and TOML, for direct construction
            coerce(type(self), self.name, f.name, getattr(self, f.name))
        if (self.bands is None) != (self.rows is None):
            raise ValueError("stage 'near_dup': set both options bands and rows, or neither")
        if self.bands is not None and self.rows is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"stage 'near_dup': bands x rows = {self.bands} x {self.rows} does not fit num_perm = {self.num_perm}")

    def banding(self) -> tuple[int, int]:
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        return lsh.choose_bands(self.threshold, self.num_perm)

    def params(self) -> dict[str, object]:
        """What signatures depend on: an earlier run's index is usable only when these match."""
        return {"ngram": self.ngram, "num_perm": self.num_perm, "seed": self.seed, "hash": minhash.HASH_NAME}

    def setup(self, inputs: Inputs) -> tuple[EarlierRun, ...]:
        """The earlier releases, checked before any signature is computed (their params only)."""
        earlier = tuple(inputs.runs.get("against", ()))
        self._earlier_index(earlier, columns=())
        return earlier

    def features(self, docs: pl.DataFrame, res: Any = None) -> pl.DataFrame:
        """Per shard: signature, shingle count, keep-policy key, and the normalized text of short
        documents. No full text: `judge` works on these and fetches only candidates' text."""
        sig, counts = minhash.signatures(docs["text"], self.ngram, self.num_perm, self.seed)
        short = np.flatnonzero(counts == 0)
        norm = [None] * docs.height
        for i, text in zip(short.tolist(), docs["text"].gather(short).to_list(), strict=True):
            norm[i] = minhash.normalize_text(unicodedata.normalize("NFKC", text or ""))
        return pl.DataFrame({
            "doc_id": docs["doc_id"], "ord": docs["ord"], "priority": priority_key(docs, self.keep),
            "n_shingles": counts.astype(np.int64), "short_norm": pl.Series(norm, dtype=pl.String),
            "signature": pl.Series(sig).cast(pl.Array(pl.UInt32, self.num_perm)),
        })

    def judge(self, features: pl.LazyFrame, docs: pl.LazyFrame, res: Any = None) -> Judgement:
        t0 = time.perf_counter()
        earlier_runs = tuple(res or ())
        self._earlier_index(earlier_runs, columns=())
        feats = features.select("ord", "priority", "doc_id", "n_shingles", "short_norm").collect()
        # Signatures are held only for the candidate search, as the features' row order (the same
        # lazy frame read twice keeps its order); earlier releases are streamed, keeping only the
        # rows that can pair with a current document, as band keys.
        bands, rows = self.banding()
        cur_sig = _matrix(features.select("signature").collect().to_series(), self.num_perm)
        earlier, old_sig, n_earlier = near_dup_against.relevant(
            earlier_runs, cur_sig, feats["n_shingles"].to_numpy() > 0, feats["short_norm"], bands, rows, self.num_perm)
        m = earlier.height
        order = feats.with_row_index("_row").sort(["priority", "ord"], descending=[True, False], nulls_last=True)["_row"].to_numpy()
        n = m + feats.height
        rank_of_row = np.empty(feats.height, np.int64)
        rank_of_row[order] = np.arange(m, n)
        ids = earlier["doc_id"].to_list() + feats["doc_id"].gather(order).to_list()
        runs = [earlier_runs[r].given for r in earlier["run"].to_list()] + [None] * feats.height
        counts = np.concatenate([earlier["n_shingles"].to_numpy(), feats["n_shingles"].to_numpy()[order]]).astype(np.int64)

        # Candidates band by band: one uint64 key column in memory at a time, hashed here (not with the
        # features) so that a new threshold or banding reuses the signatures.
        threads = lsh.band_threads(n, pl.thread_pool_size())  # a pinned Dask worker has 1
        hi, lo = lsh.banded_pairs(functools.partial(lsh.ranked_band_key, old_sig, cur_sig, rank_of_row, rows),
                                  bands, counts > 0, threads)
        hi, lo = hi[lo >= m], lo[lo >= m]  # earlier documents were settled in their own run
        # Screening: a pair sharing too few signature values cannot reach the threshold (lsh.screen_cut);
        # most candidates are such pairs, and verifying them read and shingled their texts for nothing.
        n_candidates = len(hi)
        passed = lsh.shared_values(old_sig, cur_sig, order, hi, lo) > lsh.screen_cut(self.threshold, self.num_perm)
        hi, lo = hi[passed], lo[passed]
        del old_sig, cur_sig
        t_cand = time.perf_counter()
        involved = np.unique(np.concatenate([hi, lo]))
        texts = _texts_of(involved, ids, m, earlier["run"], earlier_runs, docs)
        jac = _verify(involved, texts, hi, lo, self.ngram)
        ok = jac >= self.threshold
        s_hi, s_lo = _short_pairs(pl.concat([earlier["short_norm"], feats["short_norm"].gather(order)]), m)
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
        frame = pl.DataFrame({
            "doc_id": feats["doc_id"],
            "_dup_of": [ids[h] if r else None for h, r in zip(heads, removed.tolist(), strict=True)],
            "_dup_run": [runs[h] if r else None for h, r in zip(heads, removed.tolist(), strict=True)],
            "_jaccard": np.where(removed, jac[np.maximum(named[rank_of_row], 0)] if len(jac) else 0.0, np.nan),
            "near_dup_cluster_id": [f"{runs[h]}#{ids[h]}" if runs[h] is not None else ids[h] for h in heads],
            "near_dup_cluster_size": size[head].astype(np.int64),
        }, schema_overrides={"_dup_of": pl.String, "_dup_run": pl.String}).with_columns(pl.col("_jaccard").fill_nan(None))
        evidence = {"duplicate_of": pl.col("_dup_of"), "jaccard": pl.col("_jaccard"),
                    "cluster_id": pl.col("near_dup_cluster_id"), "cluster_size": pl.col("near_dup_cluster_size")}
        if earlier_runs:
            evidence["duplicate_of_run"] = pl.col("_dup_run")
        scores = {"near_dup_cluster_id": pl.col("near_dup_cluster_id"), "near_dup_cluster_size": pl.col("near_dup_cluster_size")}
        decided = decide(frame, reason=pl.when(pl.col("_dup_of").is_not_null()).then(pl.lit("near_duplicate")),
                         scores=scores, evidence=evidence)
        stats = {
            "bands": bands, "rows": rows, "short_documents": int((feats["n_shingles"] == 0).sum()),
            "candidate_pairs": n_candidates, "candidate_pairs_screened_out": n_candidates - len(ok),
            "candidate_pairs_verified": len(ok), "candidate_pairs_above_threshold": int(ok.sum()),
            "removed_against_earlier_runs": int(frame["_dup_run"].is_not_null().sum()), "earlier_documents": n_earlier,
            "removed_by_reason": dict(decided.stats["removed_by_reason"]),
            "seconds_candidates": round(t_cand - t0, 3), "seconds_verify_cluster": round(time.perf_counter() - t_cand, 3),
        }
        return Judgement(decisions=decided.decisions, columns=frame.select("doc_id", *scores), stats=stats)

    def shard_artifacts(self, features: pl.DataFrame) -> dict[str, pl.DataFrame]:
        """The index a later release reads with --against (the runner keeps the kept documents' rows)."""
        return {"signatures": features.select(_INDEX).with_columns(
            **{key: pl.lit(value) for key, value in self.params().items()})}

    def apply(self, docs: pl.DataFrame, res: Any = None) -> StageResult:
        features = self.features(docs, res)
        result = split(docs, self.judge(features.lazy(), docs.lazy(), res))
        kept = result.kept.select("doc_id")
        return dataclasses.replace(result, artifacts={
            name: frame.join(kept, on="doc_id", how="semi", maintain_order="left")
            for name, frame in self.shard_artifacts(features).items()})

    def _earlier_index(self, earlier: tuple[EarlierRun, ...], columns: tuple[str, ...]) -> pl.DataFrame:
        """The index rows of the earlier releases (`columns` + run: position in `earlier`). Fails
        loudly, naming the run, when a release has no index, an unreadable one, or one built with
        other signature parameters: silently keeping everything would publish the duplicates the
        user asked to remove."""
        given = tuple(r.given for r in earlier)
        if given != self.against:
            raise RuntimeError(f"near_dup: against={list(self.against)} but the earlier runs handed over are {list(given)} "
                               "(setup(inputs) gives judge and apply the runs they need)")
        params = self.params()
        frames = []
        for pos, run in enumerate(earlier):
            where = f"stage 'near_dup' option 'against': {run.given}"
            if run.index is None:
                raise ConfigError(f"{where} has no near_dup index (near_dup did not run there); "
                                  "name a run made with near_dup")
            try:
                missing = sorted(set(params) - set(run.index.collect_schema().names()))
                query = run.index.select(*columns, *params.keys() - set(missing))
                frame = (query if columns else query.unique()).collect()  # a check alone: one row per distinct value
            except (pl.exceptions.PolarsError, OSError) as err:  # a corrupt index must stop the run, naming it
                raise RuntimeError(f"near_dup --against {run.given}: cannot read its near_dup index: {err}") from err
            for key, value in params.items():
                if key in missing or (frame.height and frame[key].unique().to_list() != [value]):
                    raise ConfigError(f"{where} was built with another {key} than {value!r} (its index is "
                                      f"incompatible); use that run's {key} or rerun it with this one")
            frames.append(frame.select(*columns, run=pl.lit(pos, pl.Int64)))
        schema = {"doc_id": pl.String, "signature": pl.Array(pl.UInt32, self.num_perm), "n_shingles": pl.Int64,
                  "short_norm": pl.String}
        empty = pl.DataFrame(schema={c: schema[c] for c in columns} | {"run": pl.Int64})
        return pl.concat([empty, *(f.cast(empty.schema) for f in frames)], how="vertical")


def priority_key(docs: pl.DataFrame, keep: str) -> pl.Series:
    """Higher is kept first; null for 'first' (ties, and nulls, go to the first seen)."""
    if keep == "first":
        return pl.Series("priority", [None] * docs.height, dtype=pl.Float64)
    if keep == "longest":
        return docs["text"].str.len_chars().cast(pl.Float64).alias("priority")
    column = keep.removeprefix("score:")
    if column not in docs.columns:
        raise ConfigError(f"stage 'near_dup' option 'keep' = {keep!r}: the documents have no column {column!r} (columns: {docs.columns})")
    if not docs.schema[column].is_numeric():
        raise ConfigError(f"stage 'near_dup' option 'keep' = {keep!r}: column {column!r} is {docs.schema[column]}, not numeric")
    return docs[column].cast(pl.Float64).fill_nan(None).alias("priority")


def _matrix(signatures: pl.Series, num_perm: int) -> np.ndarray:
    if signatures.is_empty():
        return np.zeros((0, num_perm), np.uint32)
    return np.asarray(signatures.cast(pl.Array(pl.UInt32, num_perm)).to_numpy(), np.uint32)


def _texts_of(ranks: np.ndarray, ids: list[str], m: int, run_of: pl.Series, earlier: tuple[EarlierRun, ...],
              docs: pl.LazyFrame) -> pl.Series:
    """Texts of the given ranks (sorted), read lazily: current documents from this stage's input,
    earlier ones from what their release shipped."""
    want = pl.DataFrame({"rank": ranks, "doc_id": [ids[r] for r in ranks.tolist()]}, schema={"rank": pl.Int64, "doc_id": pl.String})
    cur = want.filter(pl.col("rank") >= m)
    found = [_only(docs, cur).select("rank", "text")]
    old = want.filter(pl.col("rank") < m).with_columns(run=run_of.gather(ranks[ranks < m]))
    for (pos,), part in old.partition_by("run", as_dict=True).items():
        texts = _only(earlier[pos].texts, part)
        if texts.height != part.height:
            raise RuntimeError(f"near_dup --against {earlier[pos].given}: {part.height - texts.height} documents of its "
                               "near_dup index are not among the documents it shipped")
        found.append(texts.select("rank", "text"))
    texts = pl.concat(found).sort("rank")
    if texts.height != len(ranks):
        raise RuntimeError(f"near_dup: {len(ranks) - texts.height} candidate documents have no text to verify against")
    return texts["text"]


def _only(texts: pl.LazyFrame, want: pl.DataFrame) -> pl.DataFrame:
    """The texts of `want`'s doc_ids, joined to it. A filter, not a join, is pushed into the Parquet
    scan: only the candidates' texts are held (a join read every text of the corpus first, which was
    most of this stage's peak memory)."""
    found = texts.select("doc_id", "text").filter(pl.col("doc_id").is_in(want["doc_id"].implode())).collect()
    return found.join(want, on="doc_id", how="inner")


def _verify(ranks: np.ndarray, texts: pl.Series, hi: np.ndarray, lo: np.ndarray, ngram: int) -> np.ndarray:
    """Exact Jaccard of the shingle-hash sets of each candidate pair, recomputed for the
    documents involved only (no Python sets, no per-document storage for the whole corpus)."""
    if len(hi) == 0:
        return np.zeros(0)
    values, offsets = minhash.shingle_sets(texts, ngram, threads=pl.thread_pool_size())
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
