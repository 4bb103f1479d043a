"""LSH banding, exact-Jaccard verification and the no-chaining keep rule for `near_dup`.

Documents are identified here by their *priority rank* (0 = the one a keep policy prefers most),
so every pair is stored as (hi, lo) with hi < lo: the preferred document first.

Candidates come from grouping band hashes in polars, one band at a time (a band is one column of
the signature matrix: it can come from memory or from Parquet shards alike). A bucket of k
documents yields the pairs (one of its `window` best-ranked members, any later member) instead of
all k*(k-1)/2, so a bucket of 100,000 near-identical boilerplate pages costs 100,000 * window
pairs, not 5e9; a document that would only pair with a member past the window can at worst be
missed, never wrongly removed (every removal is verified).
"""
from __future__ import annotations

import functools
import importlib.util
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl


def choose_bands(threshold: float, num_perm: int, min_recall: float = 0.995) -> tuple[int, int]:
    """The (bands, rows) with the most rows per band (fewest false candidates) whose chance of
    making a pair at exactly `threshold` a candidate is at least `min_recall`.

    128 perms at 0.8 gives 21 x 6: P(candidate | J=0.8) = 0.998, P(candidate | J=0.5) = 0.28.
    (datasketch's default 9 x 13 misses ~28 % of the pairs at J=0.8.)"""
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if 1.0 - (1.0 - threshold**rows) ** bands >= min_recall:
            best = (bands, rows)
    return best


def band_key(sig: np.ndarray, band: int, rows: int) -> np.ndarray:
    """uint64 [docs]: a 64-bit hash of band `band`'s `rows` values of each signature (a collision
    only adds a candidate, which verification then rejects). One band at a time, so that the
    caller holds one uint64 column, not a [docs, bands] matrix."""
    if (band + 1) * rows > sig.shape[1]:
        raise ValueError(f"band {band} of {rows} rows needs {(band + 1) * rows} permutations, signatures have {sig.shape[1]}")
    block = sig[:, band * rows:(band + 1) * rows].astype(np.uint64)  # one pass over the rows, not one per column
    h = np.full(sig.shape[0], np.uint64(0x9E3779B97F4A7C15 ^ band), np.uint64)
    for r in range(rows):
        h ^= block[:, r]
        h *= np.uint64(0x100000001B3)
        h ^= h >> np.uint64(29)
    return h


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """uint64 [docs, bands]: `band_key` of every band."""
    if bands * rows > sig.shape[1]:
        raise ValueError(f"{bands} bands x {rows} rows needs {bands * rows} permutations, signatures have {sig.shape[1]}")
    keys = np.empty((sig.shape[0], bands), np.uint64)
    for band in range(bands):
        keys[:, band] = band_key(sig, band, rows)
    return keys


def band_pairs(key: np.ndarray, eligible: np.ndarray, window: int = 64) -> pl.DataFrame:
    """(hi, lo) rank pairs sharing a bucket in one band; `key[i]` is the band hash of rank i.
    Only this band's column is in memory: the caller may read it from Parquet band by band."""
    ranks = np.flatnonzero(eligible).astype(np.int64)
    table = pl.DataFrame({"key": key[ranks], "rank": ranks}).filter(pl.len().over("key") > 1)
    if table.is_empty():
        return pl.DataFrame(schema={"hi": pl.Int64, "lo": pl.Int64})
    table = table.with_columns(pos=pl.col("rank").rank("ordinal").over("key"))
    heads = table.filter(pl.col("pos") <= window).rename({"rank": "hi", "pos": "hpos"})
    pairs = heads.join(table, on="key").filter(pl.col("hpos") < pl.col("pos"))
    return pairs.select("hi", lo="rank")


def unique_pairs(found: list[pl.DataFrame]) -> tuple[np.ndarray, np.ndarray]:
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pairs = pl.concat(found).unique().sort("lo", "hi")
    return pairs["hi"].to_numpy().astype(np.int64), pairs["lo"].to_numpy().astype(np.int64)


BAND_MEMORY = 1 << 30  # bytes of band keys and pairing frames that bands paired at once may hold together


def band_threads(n: int, threads: int) -> int:
    """How many bands to pair at once: up to `threads`, while the peak of hashing and pairing one band
    (140 bytes a document, measured at 5M documents; 160 counted) stays within BAND_MEMORY for all of
    them together. At 160k documents that is every thread; from ~6.7M documents one band at a time,
    as before threads were used."""
    return max(1, min(threads, BAND_MEMORY // max(1, 160 * n)))


def banded_pairs(key_of, bands: int, eligible: np.ndarray, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Unique (hi, lo) rank pairs sharing a bucket in any band; `key_of(b)` gives band b's keys.
    `threads` bands at a time (numpy and polars release the GIL), each holding one key column;
    the result does not depend on the order the bands finish in."""
    def one(band: int) -> pl.DataFrame:
        return band_pairs(key_of(band), eligible)

    if threads <= 1 or bands <= 1:
        return unique_pairs([one(b) for b in range(bands)])
    with ThreadPoolExecutor(min(threads, bands)) as pool:
        return unique_pairs(list(pool.map(one, range(bands))))


def candidate_pairs(keys: np.ndarray, eligible: np.ndarray, window: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Unique (hi, lo) rank pairs that share a bucket in any band of an in-memory key matrix."""
    return unique_pairs([band_pairs(keys[:, b], eligible, window) for b in range(keys.shape[1])])


SCREEN_MISS = 1e-12  # the chance, per pair at the threshold, that screening skips a pair verification would keep


def screen_cut(threshold: float, num_perm: int, miss: float = SCREEN_MISS) -> int:
    """The most signature values a candidate pair may share and still be skipped unverified.

    Each of num_perm MinHash values of two documents agrees with probability (about) their
    Jaccard, so a pair at or above `threshold` shares k or fewer only with the binomial tail
    P(Binomial(num_perm, threshold) <= k), and the cut is the largest k where that tail stays
    below `miss`. With 128 permutations at 0.8 it skips pairs that share 66 values or fewer
    (an estimated Jaccard of 0.52 at most), most candidates of real corpora; the exact Jaccard of the rest is
    computed as before, so screening never removes a document, it only spares verifying pairs
    that could not pass. -1 (screen nothing) when num_perm is too small to be that sure."""
    if threshold >= 1.0:  # identical shingle sets have identical signatures
        return num_perm - 1
    log_p, log_q = math.log(threshold), math.log1p(-threshold)
    tail, cut = 0.0, -1
    for k in range(num_perm + 1):
        tail += math.exp(math.lgamma(num_perm + 1) - math.lgamma(k + 1) - math.lgamma(num_perm - k + 1)
                         + k * log_p + (num_perm - k) * log_q)
        if tail > miss:
            return cut
        cut = k
    return cut


def agreements(rows_of, hi: np.ndarray, lo: np.ndarray, chunk: int = 1 << 15) -> np.ndarray:
    """int64 [pairs]: how many signature values each pair shares; `rows_of(ranks)` gives the
    signature rows of ranks. In chunks, so that a million pairs never hold two [pairs, num_perm]
    matrices at once."""
    out = np.empty(len(hi), np.int64)
    for start in range(0, len(hi), chunk):
        end = start + chunk
        out[start:end] = (rows_of(hi[start:end]) == rows_of(lo[start:end])).sum(axis=1)
    return out


def ranked_band_key(old_sig: np.ndarray, cur_sig: np.ndarray, rank_of_row: np.ndarray, rows: int, band: int) -> np.ndarray:
    """Band `band`'s keys by rank: earlier documents first, then current ones in priority order."""
    key = np.empty(len(old_sig) + len(cur_sig), np.uint64)
    key[:len(old_sig)] = band_key(old_sig, band, rows)
    key[rank_of_row] = band_key(cur_sig, band, rows)
    return key


def shared_values(old_sig: np.ndarray, cur_sig: np.ndarray, order: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Signature values each (hi, lo) rank pair shares: ranks below len(old_sig) are earlier
    documents, the rest current ones in priority order (`order`: rank - m -> feature row)."""
    m = len(old_sig)

    def rows(ranks: np.ndarray) -> np.ndarray:
        out, old = np.empty((len(ranks), cur_sig.shape[1]), np.uint32), ranks < m
        out[old] = old_sig[ranks[old]]
        out[~old] = cur_sig[order[ranks[~old] - m]]
        return out

    return agreements(rows, hi, lo)


def _jaccard_kernel(values, offsets, a, b, out):
    """Exact Jaccard of sorted unique sets values[offsets[i]:offsets[i+1]] for pairs (a[k], b[k])."""
    for k in range(a.shape[0]):
        i, iend = offsets[a[k]], offsets[a[k] + 1]
        j, jend = offsets[b[k]], offsets[b[k] + 1]
        na, nb = iend - i, jend - j
        inter = 0
        while i < iend and j < jend:
            if values[i] == values[j]:
                inter += 1
                i += 1
                j += 1
            elif values[i] < values[j]:
                i += 1
            else:
                j += 1
        union = na + nb - inter
        out[k] = inter / union if union else 1.0


def _keep_kernel(n, hi, lo, keeper, named):
    """The no-chaining rule over verified pairs sorted by (lo, hi): a document is removed only in
    favour of the best-ranked *kept* document it verified against; `keeper[lo]` = that document,
    `named[lo]` = the pair's index. Ranks are processed in order, so a document's own fate is
    settled before any worse-ranked document looks at it."""
    for k in range(n):
        keeper[k] = -1
        named[k] = -1
    for e in range(hi.shape[0]):
        if keeper[lo[e]] == -1 and keeper[hi[e]] == -1:
            keeper[lo[e]] = hi[e]
            named[lo[e]] = e


@functools.cache
def _kernels() -> tuple:
    """(jaccard, keep) compiled on first use, so that importing this module never loads numba;
    plain Python (slow, same results) where numba is not installed."""
    if importlib.util.find_spec("numba") is None:  # pragma: no cover - installs without numba
        return _jaccard_kernel, _keep_kernel
    from stages.minhash.core import import_numba

    numba = import_numba()

    return numba.njit(cache=True)(_jaccard_kernel), numba.njit(cache=True)(_keep_kernel)


def jaccard(values: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.empty(len(a), np.float64)
    _kernels()[0](values, offsets, a.astype(np.int64), b.astype(np.int64), out)
    return out


def keep_rule(n: int, hi: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(keeper rank or -1, index of the naming pair or -1) per rank; pairs must be verified and
    sorted by (lo, hi), with hi < lo."""
    if len(hi) and not (np.all(hi < lo) and np.all(np.diff(lo * (n + 1) + hi) > 0)):
        raise ValueError("pairs must satisfy hi < lo and be sorted by (lo, hi) without repeats")
    keeper = np.empty(n, np.int64)
    named = np.empty(n, np.int64)
    _kernels()[1](n, hi.astype(np.int64), lo.astype(np.int64), keeper, named)
    return keeper, named
