"""The pure-numpy MinHash path: the same values as the numba kernels (tested equal), for installs
without numba. Vectorized over a block of documents' bytes, but its per-byte FNV loop makes it ~15x
slower than the kernel: a fallback, not a fast path."""
from __future__ import annotations

import numpy as np
import polars as pl

from stages.minhash.core import FNV_OFFSET, FNV_PRIME, SHINGLE_SEED, char_tables, fmix32, fmix64


def normalized_buffer(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """The normalized words of each (NFKC) text, one space between, as one byte buffer + offsets."""
    lower, isword = char_tables()
    out = []
    for text in texts.to_list():
        cps = np.frombuffer(text.encode("utf-32-le"), "<u4")
        mapped = np.where(isword[cps] == 1, lower[cps], np.uint32(32)).astype("<u4")
        out.append(mapped.tobytes().decode("utf-32-le").encode("utf-8"))
    offsets = np.zeros(len(out) + 1, np.int64)
    np.cumsum([len(o) for o in out], out=offsets[1:])
    return np.frombuffer(b"".join(out), np.uint8), offsets


def shingles(buf: np.ndarray, offsets: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """64-bit shingle hashes of every document of a normalized buffer (in order, with repeats) and
    the index of the document each belongs to."""
    nbytes = int(offsets[-1] - offsets[0])
    data = buf[offsets[0] : offsets[-1]]
    is_space = data == 32
    boundary = np.zeros(nbytes + 1, bool)  # positions where a document starts
    starts_rel = offsets[:-1] - offsets[0]
    boundary[starts_rel[starts_rel < nbytes]] = True
    prev_space = np.concatenate([[True], is_space[:-1]])
    word_start = np.flatnonzero(~is_space & (prev_space | boundary[:nbytes]))
    # a word ends at the next space or document boundary
    stop = np.flatnonzero(np.concatenate([is_space, [True]]) | boundary)
    word_end = stop[np.searchsorted(stop, word_start, side="right")]
    word_doc = np.searchsorted(starts_rel, word_start, side="right") - 1
    lengths = word_end - word_start
    wh = np.full(len(word_start), FNV_OFFSET, np.uint64)
    active = np.arange(len(word_start))
    k = 0
    while active.size:  # one step per byte position: FNV-1a over all words at once
        wh[active] = (wh[active] ^ data[word_start[active] + k].astype(np.uint64)) * FNV_PRIME
        k += 1
        active = active[lengths[active] > k]
    nsh = max(len(wh) - n + 1, 0)
    ok = word_doc[:nsh] == word_doc[n - 1 : n - 1 + nsh]  # shingles that do not cross documents
    h = np.full(nsh, SHINGLE_SEED, np.uint64)
    for j in range(n):
        h = (h ^ wh[j : j + nsh]) * FNV_PRIME
    return fmix64(h[ok]), word_doc[:nsh][ok]


def signatures(buf: np.ndarray, offsets: np.ndarray, n: int, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ndocs = len(offsets) - 1
    h64, doc = shingles(buf, offsets, n)
    hv = fmix32(h64).astype(np.uint32)
    sig = np.full((ndocs, len(a)), 0xFFFFFFFF, np.uint32)
    counts = np.bincount(doc, minlength=ndocs).astype(np.int64)
    step = 1 << 14  # shingles per block: bounds the (block x num_perm) temporary
    for lo in range(0, len(hv), step):
        part = a[None, :] * hv[lo : lo + step, None] + b[None, :]
        d = doc[lo : lo + step]
        firsts = np.flatnonzero(np.concatenate([[True], d[1:] != d[:-1]]))
        mins = np.minimum.reduceat(part, firsts, axis=0)
        rows = d[firsts]
        sig[rows] = np.minimum(sig[rows], mins)
    return sig, counts


def shingle_sets(buf: np.ndarray, offsets: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    h64, doc = shingles(buf, offsets, n)
    pairs = np.unique(np.stack([doc.astype(np.uint64), h64], axis=1), axis=0) if len(h64) else np.zeros((0, 2), np.uint64)
    out_offsets = np.zeros(len(offsets), np.int64)
    np.cumsum(np.bincount(pairs[:, 0].astype(np.int64), minlength=len(offsets) - 1), out=out_offsets[1:])
    return pairs[:, 1].copy(), out_offsets
