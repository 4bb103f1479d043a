"""MinHash signatures identical to datasketch 2.0's `MinHash` (scheme "affine32"), computed over a
whole block of documents' bytes at once, and the exact shingle sets that verify candidate pairs.

The family, without an import circle:
  core.py      the hash definition (one fmix64, one fmix32), constants, tables, Python reference
  kernels.py   the numba kernels (imported on first use only: importing a stage never loads numba)
  fallback.py  the pure-numpy path, the same values, for installs without numba
  this file    the public API: NFKC, block buffers and the choice of path
"""
from __future__ import annotations

import functools
import importlib.util
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType

import numpy as np
import polars as pl
import pyarrow as pa

from stages.minhash.core import (  # noqa: F401  (the public names of the family)
    HASH_NAME,
    char_tables,
    fmix32,
    fmix64,
    normalize_text,
    permutations,
    shingle_hash32,
    shingle_hash64,
)


def have_numba() -> bool:
    """Whether numba is installed (found, not imported: finding costs nothing)."""
    return importlib.util.find_spec("numba") is not None


@functools.cache
def _kernels() -> ModuleType:
    from stages.minhash.core import import_numba

    import_numba()
    from stages.minhash import kernels

    return kernels


def nfkc(texts: pl.Series) -> pl.Series:
    """Unicode NFKC, applied only to the (few) texts that are not already NFKC: an ASCII text
    always is, and Python's quick check settles most others without normalizing."""
    texts = texts.fill_null("")
    todo = texts.str.contains(r"[^\x00-\x7F]").arg_true()
    if todo.len() == 0:
        return texts
    subset = texts.gather(todo).to_list()
    changed = [(i, unicodedata.normalize("NFKC", t)) for i, t in zip(todo.to_list(), subset, strict=True)
               if not unicodedata.is_normalized("NFKC", t)]
    if not changed:
        return texts
    idx, values = zip(*changed, strict=True)
    return texts.scatter(list(idx), pl.Series(values, dtype=pl.String))


def to_buffer(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes of a string column as one uint8 buffer and int64 offsets (len n+1), no copies
    through Python objects."""
    arr = texts.fill_null("").to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_binary())
    _, offs, data = arr.buffers()
    offsets = np.frombuffer(offs, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    buf = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    return buf, offsets


def signatures(
    texts: pl.Series, ngram: int, num_perm: int, seed: int, backend: str = "auto", block: int = 20_000
) -> tuple[np.ndarray, np.ndarray]:
    """(uint32 [docs, num_perm] signatures, int64 shingle counts) of raw texts, block by block.
    A text with fewer than `ngram` words has no shingles and the empty signature (all 2^32-1)."""
    a, b = permutations(num_perm, seed)
    sig = np.empty((len(texts), num_perm), np.uint32)
    counts = np.empty(len(texts), np.int64)
    use_numba = _use_numba(backend)
    lower, isword = char_tables()
    for lo in range(0, len(texts), block):
        part = nfkc(texts.slice(lo, block))
        hi = lo + len(part)
        if use_numba:
            buf, offsets = to_buffer(part)
            _kernels().signatures(buf, offsets, ngram, lower, isword, a, b, sig[lo:hi], counts[lo:hi])
        else:
            from stages.minhash import fallback

            sig[lo:hi], counts[lo:hi] = fallback.signatures(*fallback.normalized_buffer(part), ngram, a, b)
    return sig, counts


def shingle_sets(texts: pl.Series, ngram: int, backend: str = "auto", threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique uint64 shingle hashes of each raw text, concatenated, with offsets (n+1).
    With numba, `threads` slices of about equal bytes run at once (the kernel releases the GIL);
    their results are concatenated, the same arrays as one call gives."""
    texts = nfkc(texts)
    if not _use_numba(backend):
        from stages.minhash import fallback

        return fallback.shingle_sets(*fallback.normalized_buffer(texts), ngram)
    cuts = _byte_slices(texts, threads)
    if len(cuts) <= 2:
        return _numba_sets(texts, ngram)
    with ThreadPoolExecutor(len(cuts) - 1) as pool:
        got = list(pool.map(lambda lo_hi: _numba_sets(texts.slice(lo_hi[0], lo_hi[1] - lo_hi[0]), ngram),
                            zip(cuts[:-1], cuts[1:], strict=True)))
    shift = np.cumsum([0] + [len(values) for values, _ in got[:-1]])
    offsets = np.concatenate([np.zeros(1, np.int64)] + [off[1:] + s for (_, off), s in zip(got, shift, strict=True)])
    return np.concatenate([values for values, _ in got]), offsets


def _byte_slices(texts: pl.Series, parts: int) -> list[int]:
    """Row boundaries [0, ..., n] cutting `texts` into at most `parts` slices of about equal bytes."""
    n = len(texts)
    if parts <= 1 or n < 2:
        return [0, n]
    ends = texts.str.len_bytes().cast(pl.Int64).cum_sum().to_numpy()
    inner = np.searchsorted(ends, ends[-1] * np.arange(1, parts) / parts, side="right")
    return sorted({0, n, *(int(c) for c in inner if 0 < c < n)})


def _numba_sets(texts: pl.Series, ngram: int) -> tuple[np.ndarray, np.ndarray]:
    lower, isword = char_tables()
    buf, offsets = to_buffer(texts)
    out = np.empty(max(int(offsets[-1] - offsets[0]) // 2 + 1, 1), np.uint64)
    out_offsets = np.empty(len(offsets), np.int64)
    used = _kernels().shingle_sets(buf, offsets, ngram, lower, isword, out, out_offsets)
    return out[:used].copy(), out_offsets


def _use_numba(backend: str) -> bool:
    if backend not in ("auto", "numba", "numpy"):
        raise ValueError(f"backend must be 'auto', 'numba' or 'numpy', not {backend!r}")
    if backend == "numba" and not have_numba():
        raise RuntimeError("backend='numba' requested but numba is not installed")
    return backend != "numpy" and have_numba()
