"""numba kernels of the contamination stage: UTF-8 bytes -> word hashes -> prefix hashes -> lookups.

A word is a maximal run of letters, numbers and marks (stages.minhash.core.char_tables), lowercased
on the fly; everything else is a boundary, so case, punctuation, whitespace and line wrapping fold
away on both sides (contraction endings join the word before: `tokenize`). The hash of any run of words [i, i+L) is one subtraction over prefix hashes
(`key`), so n-grams, whole short items and anchors all cost O(1) per position. Tables are open
addressing over uint64 keys (0 = empty; every key has its low bit set).
"""
from __future__ import annotations

import numpy as np

from stages.minhash.core import FNV_OFFSET, FNV_PRIME, fmix64, import_numba, utf8_next

numba = import_numba()
_fmix64 = numba.njit(cache=True, inline="always")(fmix64)
_utf8_next = numba.njit(cache=True, inline="always")(utf8_next)
MULT = np.uint64(0x9E3779B97F4A7C15)
GOLD = np.uint64(0xBF58476D1CE4E5B9)
JOIN = 8  # bytes between a word and a contraction ending that still join ("Earth \u00a0, s")


@numba.njit(cache=True)
def tokenize(buf, offsets, lower, isword, tok, bstart, bend, doc_tok):
    """Word hashes of every document of the block (UTF-8 bytes buf[offsets[d]:offsets[d+1]]), with
    their byte offsets; doc_tok[d] is the first word of document d. Returns the number of words.

    An apostrophe is dropped or spaced out in copies, so both sides join the same way whatever stands
    between (up to JOIN bytes): a contraction ending (s t d m ll re ve) joins the word before, and
    "Earth's", "Earths" and "Earth , s" are all one word "earths" ("U.S." and "US" too). Numbers are
    not joined ("2.16 ÷ 0.06. 36" on one line would run into its answer): index.segments looks for
    short items both ways instead."""
    nt = 0
    for d in range(offsets.shape[0] - 1):
        doc_tok[d] = nt
        i = offsets[d]
        end = offsets[d + 1]
        in_word = False
        w = FNV_OFFSET
        wc = FNV_OFFSET  # the word continued from the previous one, in case it joins
        prev = FNV_OFFSET
        c0 = 0
        c1 = 0
        n = 0
        while i <= end:
            at = i
            cp = 0
            word = False
            if i < end:
                cp, i = _utf8_next(buf, i)
                word = isword[cp]
            else:
                i += 1
            if word:
                lc = np.uint64(lower[cp])
                if not in_word:
                    w = FNV_OFFSET
                    wc = prev
                    in_word = True
                    bstart[nt] = at
                    n = 0
                if n == 0:
                    c0 = lower[cp]
                elif n == 1:
                    c1 = lower[cp]
                n += 1
                w = (w ^ lc) * FNV_PRIME
                wc = (wc ^ lc) * FNV_PRIME
            elif in_word:
                in_word = False
                suffix = (n == 1 and (c0 == 115 or c0 == 116 or c0 == 100 or c0 == 109)) or (n == 2 and (
                    (c0 == 108 and c1 == 108) or (c0 == 114 and c1 == 101) or (c0 == 118 and c1 == 101)))
                if suffix and nt > doc_tok[d] and bstart[nt] - bend[nt - 1] <= JOIN:
                    tok[nt - 1] = _fmix64(wc)
                    bend[nt - 1] = min(at, end)
                    prev = wc
                else:
                    tok[nt] = _fmix64(w)
                    bend[nt] = min(at, end)
                    nt += 1
                    prev = w
    doc_tok[offsets.shape[0] - 1] = nt
    return nt


@numba.njit(cache=True)
def prefix(tok, n):
    p = np.empty(n + 1, np.uint64)
    p[0] = 0
    for j in range(n):
        p[j + 1] = p[j] * MULT + tok[j]
    return p


@numba.njit(cache=True, inline="always")
def _key(p, pw, i, length):
    return _fmix64(p[i + length] - p[i] * pw[length] + np.uint64(length)) | np.uint64(1)


@numba.njit(cache=True)
def keys_at(p, pw, starts, length):
    out = np.empty(starts.shape[0], np.uint64)
    for j in range(starts.shape[0]):
        out[j] = _key(p, pw, starts[j], length[j])
    return out


@numba.njit(cache=True)
def build_table(keys):
    """Open-addressing table of distinct keys -> their position in `keys`."""
    cap = 1
    while cap < 2 * keys.shape[0] + 2:
        cap *= 2
    tk = np.zeros(cap, np.uint64)
    tv = np.full(cap, -1, np.int64)
    mask = np.uint64(cap - 1)
    for j in range(keys.shape[0]):
        s = (keys[j] * GOLD) >> np.uint64(24) & mask
        while tk[s] != 0 and tk[s] != keys[j]:
            s = (s + np.uint64(1)) & mask
        tk[s] = keys[j]
        tv[s] = j
    return tk, tv


@numba.njit(cache=True, inline="always")
def _find(tk, tv, key):
    mask = np.uint64(tk.shape[0] - 1)
    s = (key * GOLD) >> np.uint64(24) & mask
    while tk[s] != 0:
        if tk[s] == key:
            return tv[s]
        s = (s + np.uint64(1)) & mask
    return -1


@numba.njit(cache=True)
def scan(p, pw, doc_tok, n, ltk, ltv, atk, atv, aptr, aprobe, aoff, ks, plen, phash, out_doc, out_pos, out_kind, out_ref):
    """Every hit of the block: an indexed n-gram (kind 0, ref = its row in the n-gram index) or a
    whole short item found through its anchor (kind 1, ref = the probe, pos = where it starts).
    Returns the number of hits, or -1 when the output arrays are too small (the caller grows them)."""
    m = 0
    cap = out_doc.shape[0]
    for d in range(doc_tok.shape[0] - 1):
        a = doc_tok[d]
        b = doc_tok[d + 1]
        for i in range(a, b):
            if ltk.shape[0] > 1 and i + n <= b:
                u = _find(ltk, ltv, _key(p, pw, i, n))
                if u >= 0:
                    if m == cap:
                        return -1
                    out_doc[m], out_pos[m], out_kind[m], out_ref[m] = d, i, 0, u
                    m += 1
            for k in ks:
                if i + k > b:
                    continue
                u = _find(atk, atv, _key(p, pw, i, k))
                if u < 0:
                    continue
                for j in range(aptr[u], aptr[u + 1]):
                    q = aprobe[j]
                    s = i - aoff[j]
                    length = plen[q]
                    if s >= a and s + length <= b and _key(p, pw, s, length) == phash[q]:
                        if m == cap:
                            return -1
                        out_doc[m], out_pos[m], out_kind[m], out_ref[m] = d, s, 1, q
                        m += 1
    return m


def powers(upto: int) -> np.ndarray:
    out, v = [], 1
    for _ in range(upto + 1):
        out.append(v)
        v = (v * int(MULT)) & ((1 << 64) - 1)
    return np.array(out, np.uint64)
