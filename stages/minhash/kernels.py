"""The numba kernels: one pass over the UTF-8 bytes of a block of documents, byte -> word hash ->
n-gram hash -> fmix64 -> fmix32 -> `num_perm` affine permutations -> min.

Why a kernel: per-token Python work (splitting, hashing words, building shingle strings), not the
permutations, is what makes datasketch slow (~1,250 docs/s). This module imports numba, so it is
imported only when signatures are computed (`stages.minhash` loads it on first use): importing a
stage, or `assay --help`, never pays for numba.
"""
from __future__ import annotations

import numba
import numpy as np

from stages.minhash.core import FNV_OFFSET, FNV_PRIME, SHINGLE_SEED, fmix32, fmix64, utf8_next

_fmix64 = numba.njit(cache=True, inline="always")(fmix64)
_fmix32 = numba.njit(cache=True, inline="always")(fmix32)
_utf8_next = numba.njit(cache=True, inline="always")(utf8_next)


@numba.njit(cache=True)
def _doc_shingles(buf, start, end, n, lower, isword, words, out):
    """Shingle hashes of one document (NFKC UTF-8 bytes buf[start:end]) into `out`; returns their
    count. Decodes UTF-8, lowercases and folds non-word characters on the fly, so the words hashed
    are exactly those of `normalize_text`."""
    nw = 0
    i = start
    w = FNV_OFFSET
    in_word = False
    while i < end:
        cp, i = _utf8_next(buf, i)
        if isword[cp]:
            c = lower[cp]
            if not in_word:
                w = FNV_OFFSET
                in_word = True
            if c < 0x80:  # FNV-1a over the UTF-8 bytes of the lowercased character
                w = (w ^ np.uint64(c)) * FNV_PRIME
            elif c < 0x800:
                w = (w ^ np.uint64(0xC0 | (c >> 6))) * FNV_PRIME
                w = (w ^ np.uint64(0x80 | (c & 0x3F))) * FNV_PRIME
            elif c < 0x10000:
                w = (w ^ np.uint64(0xE0 | (c >> 12))) * FNV_PRIME
                w = (w ^ np.uint64(0x80 | ((c >> 6) & 0x3F))) * FNV_PRIME
                w = (w ^ np.uint64(0x80 | (c & 0x3F))) * FNV_PRIME
            else:
                w = (w ^ np.uint64(0xF0 | (c >> 18))) * FNV_PRIME
                w = (w ^ np.uint64(0x80 | ((c >> 12) & 0x3F))) * FNV_PRIME
                w = (w ^ np.uint64(0x80 | ((c >> 6) & 0x3F))) * FNV_PRIME
                w = (w ^ np.uint64(0x80 | (c & 0x3F))) * FNV_PRIME
        elif in_word:
            words[nw] = w
            nw += 1
            in_word = False
    if in_word:
        words[nw] = w
        nw += 1
    count = 0
    for s in range(nw - n + 1):
        h = SHINGLE_SEED
        for j in range(n):
            h = (h ^ words[s + j]) * FNV_PRIME
        out[count] = _fmix64(h)
        count += 1
    return count


@numba.njit(cache=True)
def signatures(buf, offsets, n, lower, isword, a, b, sig, n_shingles):
    """Fills sig[d, :] (uint32) and n_shingles[d] for every document of the block."""
    ndocs = offsets.shape[0] - 1
    longest = 0
    for d in range(ndocs):
        longest = max(longest, offsets[d + 1] - offsets[d])
    words = np.empty(longest // 2 + 2, np.uint64)
    hashes = np.empty(longest // 2 + 2, np.uint64)
    num_perm = a.shape[0]
    row = np.empty(num_perm, np.uint32)
    for d in range(ndocs):
        count = _doc_shingles(buf, offsets[d], offsets[d + 1], n, lower, isword, words, hashes)
        n_shingles[d] = count
        row[:] = np.uint32(0xFFFFFFFF)
        for s in range(count):
            h32 = np.uint32(_fmix32(hashes[s]))
            for k in range(num_perm):
                v = np.uint32(a[k] * h32 + b[k])
                row[k] = min(row[k], v)
        sig[d, :] = row


@numba.njit(cache=True, nogil=True)  # threads run slices of one call at once (minhash.shingle_sets)
def shingle_sets(buf, offsets, n, lower, isword, out, out_offsets):
    """Sorted, de-duplicated 64-bit shingle hashes of each document, concatenated; returns how many."""
    ndocs = offsets.shape[0] - 1
    longest = 0
    for d in range(ndocs):
        longest = max(longest, offsets[d + 1] - offsets[d])
    words = np.empty(longest // 2 + 2, np.uint64)
    hashes = np.empty(longest // 2 + 2, np.uint64)
    pos = 0
    out_offsets[0] = 0
    for d in range(ndocs):
        count = _doc_shingles(buf, offsets[d], offsets[d + 1], n, lower, isword, words, hashes)
        if count:
            srt = np.sort(hashes[:count])
            out[pos] = srt[0]
            pos += 1
            for s in range(1, count):
                if srt[s] != srt[s - 1]:
                    out[pos] = srt[s]
                    pos += 1
        out_offsets[d + 1] = pos
    return pos
