"""near_dup --against, streamed: earlier releases' signatures are read in batches, and only the
rows that can pair with a current document are kept.

An earlier document matters to this run only when it shares an LSH bucket with a current document
in some band, or (short documents) the normalized text of one: pairs between two earlier documents
were settled in their own run. Every member of a bucket that holds a current document shares that
bucket's key, so it is kept, and keeping the earlier rows in their order keeps every rank order the
judge relies on: the same pairs, the same decisions, with memory that follows the matches instead
of the size of every release (512 bytes of signature per earlier document with 128 permutations).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from stages import lsh

BATCH = 1 << 18  # earlier index rows per batch: 128 MB of signatures at 128 permutations
_COLUMNS = ("doc_id", "n_shingles", "short_norm")


def _member(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), bool)
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[at] == keys


def relevant(earlier: tuple[Any, ...], cur_sig: np.ndarray, cur_eligible: np.ndarray, cur_short: pl.Series,
             bands: int, rows: int, num_perm: int, batch: int = BATCH) -> tuple[pl.DataFrame, np.ndarray, int]:
    """(earlier rows that can pair with a current document: doc_id, n_shingles, short_norm, run;
    their signatures [rows, num_perm]; how many earlier documents there were)."""
    schema = {"doc_id": pl.String, "n_shingles": pl.Int64, "short_norm": pl.String, "run": pl.Int64}
    if not earlier:  # hashing every current band for nothing was a fifth of the judgement's time
        return pl.DataFrame(schema=schema), np.zeros((0, num_perm), np.uint32), 0
    cur = cur_sig[cur_eligible]
    wanted = [np.unique(lsh.band_key(cur, b, rows)) for b in range(bands)]
    shorts = cur_short.drop_nulls().unique()
    frames, sigs, total = [], [], 0
    for pos, run in enumerate(earlier):
        height = run.index.select(pl.len()).collect().item()
        for start in range(0, height, batch):
            chunk = run.index.select(*_COLUMNS, "signature").slice(start, batch).collect()
            total += chunk.height
            sig = np.asarray(chunk["signature"].cast(pl.Array(pl.UInt32, num_perm)).to_numpy(), np.uint32) \
                if chunk.height else np.zeros((0, num_perm), np.uint32)
            k = lsh.band_keys(sig, bands, rows)
            hit = np.zeros(chunk.height, bool)
            for b in range(bands):
                hit |= _member(k[:, b], wanted[b])
            hit &= chunk["n_shingles"].to_numpy() > 0
            hit |= chunk["short_norm"].is_in(shorts.implode()).fill_null(False).to_numpy()
            if hit.any():
                frames.append(chunk.filter(pl.Series(hit)).select(*_COLUMNS, run=pl.lit(pos, pl.Int64)))
                sigs.append(sig[hit])
    frame = pl.concat([pl.DataFrame(schema=schema), *(f.cast(schema) for f in frames)], how="vertical")
    return frame, (np.concatenate(sigs) if sigs else np.zeros((0, num_perm), np.uint32)), total
