"""fastText's supervised forward pass in numba, for scoring many documents on one core.

fastText's own predictor looks every word up in a 30-million-slot table (120 MB, a cache miss per
word) and reads text through a C++ stream one character at a time; this kernel keeps the model's
words in a table sized to them and reads UTF-8 bytes straight from an Arrow buffer. It computes what
fastText computes (fastText 0.9 sources: Dictionary::getLine, addWordNgrams, Model::computeHidden,
SoftmaxLoss): tokens split at ' ', \\n, \\r, \\t, \\v, \\f, \\0; an end-of-sentence token "</s>" at the
end of the line; FNV-1a word hashes over signed chars; tokens with the label prefix skipped; word
n-gram buckets (h * 116049371 + h_next) % bucket from sign-extended 32-bit hashes; the mean of the
word rows then the n-gram rows; a softmax over the labels. Probabilities agree with fastText's to
float32 rounding (tests compare them); fastText reports p + 1e-5 (it returns exp(log(p + 1e-5))), and
so does this.
"""
from __future__ import annotations

import numba
import numpy as np

_PRIME = np.uint64(16777619)
_OFFSET = np.uint64(2166136261)
_MASK32 = np.uint64(0xFFFFFFFF)
_NGRAM = np.uint64(116049371)
_LABEL = np.frombuffer(b"__label__", dtype=np.uint8)


@numba.njit(cache=True, inline="always")
def _ws(c: int) -> bool:
    return c == 32 or c == 10 or c == 13 or c == 9 or c == 11 or c == 12 or c == 0


@numba.njit(cache=True)
def fnv(buf, s, e):
    """fastText's Dictionary::hash: FNV-1a over the bytes as signed chars, 32 bits."""
    h = _OFFSET
    for i in range(s, e):
        c = np.uint64(buf[i])
        if buf[i] >= 128:
            c = c | np.uint64(0xFFFFFF00)
        h = ((h ^ c) * _PRIME) & _MASK32
    return h


@numba.njit(cache=True)
def build_table(words, offsets, size):
    """Open-addressing table of word ids by hash (size: a power of two above the word count)."""
    table = np.full(size, -1, np.int64)
    for w in range(offsets.shape[0] - 1):
        slot = np.int64(fnv(words, offsets[w], offsets[w + 1]) & np.uint64(size - 1))
        while table[slot] >= 0:
            slot = (slot + 1) & (size - 1)
        table[slot] = w
    return table


@numba.njit(cache=True)
def _lookup(buf, s, e, h, table, words, offsets):
    size = table.shape[0]
    slot = np.int64(h & np.uint64(size - 1))
    while table[slot] >= 0:
        w = table[slot]
        a, b = offsets[w], offsets[w + 1]
        if b - a == e - s:
            same = True
            for k in range(e - s):
                if words[a + k] != buf[s + k]:
                    same = False
                    break
            if same:
                return w
        slot = (slot + 1) & (size - 1)
    return -1


@numba.njit(cache=True)
def _is_label(buf, s, e, label):
    if e - s < label.shape[0]:
        return False
    for k in range(label.shape[0]):
        if buf[s + k] != label[k]:
            return False
    return True


@numba.njit(cache=True)
def probabilities(buf, offsets, table, words, word_offsets, eos_id, eos_hash, nwords, bucket, ngrams, win, wout, want, out):
    """out[d] = P(label `want`) of each document buf[offsets[d]:offsets[d+1]] (one line, no newline);
    NaN for a document with no input at all (fastText predicts nothing for it)."""
    dim, nlabels = win.shape[1], wout.shape[0]
    longest = 0
    for d in range(offsets.shape[0] - 1):
        longest = max(longest, offsets[d + 1] - offsets[d])
    ids = np.empty((longest // 2 + 2) * (ngrams + 1), np.int64)
    hashes = np.empty(longest // 2 + 2, np.int64)
    hidden = np.empty(dim, np.float32)
    logits = np.empty(nlabels, np.float32)
    for d in range(offsets.shape[0] - 1):
        s, e = offsets[d], offsets[d + 1]
        nw = nh = 0
        i = s
        while True:
            while i < e and _ws(buf[i]):
                i += 1
            if i >= e:
                break
            j = i
            while j < e and not _ws(buf[j]):
                j += 1
            if not _is_label(buf, i, j, _LABEL):
                h = fnv(buf, i, j)
                w = _lookup(buf, i, j, h, table, words, word_offsets)
                if w >= 0 and w < nwords:
                    ids[nw] = w
                    nw += 1
                hashes[nh] = np.int64(h) - (np.int64(1) << 32) if h >= np.uint64(1 << 31) else np.int64(h)
                nh += 1
            i = j
        if eos_id >= 0:
            ids[nw] = eos_id
            nw += 1
        hashes[nh] = eos_hash
        nh += 1
        n = nw
        for a in range(nh):
            hh = np.uint64(hashes[a])
            for b in range(a + 1, min(nh, a + ngrams)):
                hh = hh * _NGRAM + np.uint64(hashes[b])
                ids[n] = nwords + np.int64(hh % np.uint64(bucket))
                n += 1
        if n == 0:
            out[d] = np.nan
            continue
        hidden[:] = 0
        for k in range(n):
            row = ids[k]
            for c in range(dim):
                hidden[c] += win[row, c]
        scale = np.float32(1.0 / n)
        for c in range(dim):
            hidden[c] *= scale
        top = np.float32(-np.inf)
        for lab in range(nlabels):
            acc = np.float32(0.0)
            for c in range(dim):
                acc += wout[lab, c] * hidden[c]
            logits[lab] = acc
            top = max(top, acc)
        z = np.float32(0.0)
        for lab in range(nlabels):
            logits[lab] = np.exp(logits[lab] - top)
            z += logits[lab]
        out[d] = np.float64(logits[want] / z) + 1e-5
