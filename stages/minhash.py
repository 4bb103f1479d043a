"""MinHash signatures identical to datasketch 2.0's `MinHash` (scheme "affine32"), computed over a
whole block of documents' bytes at once.

Why a kernel: per-token Python work (splitting, hashing words, building shingle strings), not the
permutations, is what makes datasketch slow (~1,250 docs/s). Here one numba function walks the
UTF-8 bytes of a block: byte -> word hash -> n-gram hash -> fmix32 -> 128 affine permutations -> min.
A pure-numpy path computes the same values (tested equal) where numba is unavailable.

The shingle hash is defined explicitly so that datasketch can be given the very same function:
  word       = a maximal run of word characters of the normalized text (see `normalize_text`)
  word_hash  = FNV-1a 64 over the word's UTF-8 bytes
  shingle    = n consecutive words; shingle_hash64 = fmix64(fold of (h ^ word_hash) * FNV_PRIME)
  hashfunc   = shingle_hash64 & 0xFFFFFFFF (what the affine32 scheme is fed)
`shingle_hash64` (on the shingle's bytes, words joined by one space) is the Python reference.
The 64-bit values are also the shingle sets used for exact Jaccard verification: with 64-bit
hashes a collision between two distinct shingles of one candidate pair has probability ~1e-15 per
pair (|A|*|B| / 2^64), so a verified Jaccard equals the Jaccard of the shingle strings in practice.
"""
from __future__ import annotations

import functools
import unicodedata

import numpy as np
import polars as pl
import pyarrow as pa

try:  # numba is a declared dependency; the numpy path keeps assay usable without a compiler.
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only on installs without numba
    numba = None
    HAVE_NUMBA = False

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
SHINGLE_SEED = np.uint64(0x9E3779B97F4A7C15)
MASK32 = np.uint64(0xFFFFFFFF)
HASH_NAME = "fnv1a64-words/fold/fmix64;affine32"  # recorded with persisted signatures
_M64 = (1 << 64) - 1


@functools.cache
def char_tables() -> tuple[np.ndarray, np.ndarray]:
    """(LOWER, ISWORD) indexed by code point, from this Python's `unicodedata` (~0.6 s, once).

    A word character is a letter, number or mark (categories L*, N*, M*); everything else
    (punctuation, symbols, separators, controls) folds to a word boundary. Lowercasing is the
    one-code-point mapping of `str.lower` (the rare multi-code-point results keep the character).
    """
    size = 0x110000
    isword = np.fromiter((unicodedata.category(chr(c))[0] in "LNM" for c in range(size)), np.uint8, size)
    lower = np.arange(size, dtype=np.uint32)
    for c in range(size):
        low = chr(c).lower()
        if len(low) == 1 and low != chr(c):
            lower[c] = ord(low)
    return lower, isword


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


def normalize_text(text: str) -> str:
    """Reference normalization: NFKC, lowercase, punctuation/symbols/whitespace folded; the words
    joined by one space. The kernel computes the same words straight from the NFKC bytes."""
    lower, isword = char_tables()
    cps = np.frombuffer(unicodedata.normalize("NFKC", text).encode("utf-32-le"), "<u4")
    mapped = np.where(isword[cps] == 1, lower[cps], np.uint32(32)).astype("<u4")
    return " ".join(w for w in mapped.tobytes().decode("utf-32-le").split(" ") if w)


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch 2.0 `MinHash._init_permutations` for scheme affine32, reproduced exactly."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


# ---------------------------------------------------------------- Python reference (for tests)
def _fmix64_py(h: int) -> int:
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _M64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _M64
    return h ^ (h >> 33)


def shingle_hash64(shingle: bytes) -> int:
    """Reference shingle hash of `b"w1 w2 ... wn"` (words of normalized text joined by one space)."""
    h = int(SHINGLE_SEED)
    for word in shingle.split(b" "):
        w = int(FNV_OFFSET)
        for byte in word:
            w = ((w ^ byte) * int(FNV_PRIME)) & _M64
        h = ((h ^ w) * int(FNV_PRIME)) & _M64
    return _fmix64_py(h)


def shingle_hash32(shingle: bytes) -> int:
    """The `hashfunc` to give datasketch's MinHash for signatures equal to assay's."""
    return shingle_hash64(shingle) & 0xFFFFFFFF


# ---------------------------------------------------------------- block buffers
def to_buffer(norm: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes of a string column as one uint8 buffer and int64 offsets (len n+1), no copies
    through Python objects."""
    arr = norm.fill_null("").to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_binary())
    _, offs, data = arr.buffers()
    offsets = np.frombuffer(offs, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    buf = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    return buf, offsets


# ---------------------------------------------------------------- numba kernel
def _fmix64(h):
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def _doc_shingles(buf, start, end, n, lower, isword, words, out):
    """Shingle hashes of one document (NFKC UTF-8 bytes buf[start:end]) into `out`; returns their
    count. Decodes UTF-8, lowercases and folds non-word characters on the fly, so the words hashed
    are exactly those of `normalize_text`."""
    nw = 0
    i = start
    w = FNV_OFFSET
    in_word = False
    while i < end:
        b0 = np.uint32(buf[i])
        if b0 < 0x80:
            cp = b0
            i += 1
        elif b0 < 0xE0:
            cp = ((b0 & 0x1F) << 6) | (np.uint32(buf[i + 1]) & 0x3F)
            i += 2
        elif b0 < 0xF0:
            cp = ((b0 & 0x0F) << 12) | ((np.uint32(buf[i + 1]) & 0x3F) << 6) | (np.uint32(buf[i + 2]) & 0x3F)
            i += 3
        else:
            cp = (((b0 & 0x07) << 18) | ((np.uint32(buf[i + 1]) & 0x3F) << 12)
                  | ((np.uint32(buf[i + 2]) & 0x3F) << 6) | (np.uint32(buf[i + 3]) & 0x3F))
            i += 4
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


def _signatures_kernel(buf, offsets, n, lower, isword, a, b, sig, n_shingles):
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
            # murmur3 fmix32 as datasketch's _fmix(width=32); numba widens small ints, so the
            # 32-bit wraparound is explicit (mask / truncating cast)
            hv = hashes[s] & MASK32
            hv ^= hv >> np.uint64(16)
            hv = (hv * np.uint64(0x85EBCA6B)) & MASK32
            hv ^= hv >> np.uint64(13)
            hv = (hv * np.uint64(0xC2B2AE35)) & MASK32
            h32 = np.uint32(hv ^ (hv >> np.uint64(16)))
            for k in range(num_perm):
                v = np.uint32(a[k] * h32 + b[k])
                row[k] = min(row[k], v)
        sig[d, :] = row


def _sets_kernel(buf, offsets, n, lower, isword, out, out_offsets):
    """Sorted, de-duplicated 64-bit shingle hashes of each document, concatenated."""
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


if HAVE_NUMBA:
    _fmix64 = numba.njit(cache=True, inline="always")(_fmix64)
    _doc_shingles = numba.njit(cache=True)(_doc_shingles)
    _signatures_kernel = numba.njit(cache=True)(_signatures_kernel)
    _sets_kernel = numba.njit(cache=True)(_sets_kernel)


# ---------------------------------------------------------------- public API
def signatures(
    texts: pl.Series, ngram: int, num_perm: int, seed: int, backend: str = "auto", block: int = 20_000
) -> tuple[np.ndarray, np.ndarray]:
    """(uint32 [docs, num_perm] signatures, int64 shingle counts) of raw texts, block by block.
    A text with fewer than `ngram` words has no shingles and the empty signature (all 2^32-1)."""
    a, b = permutations(num_perm, seed)
    sig = np.empty((len(texts), num_perm), np.uint32)
    counts = np.empty(len(texts), np.int64)
    numba_ok = _use_numba(backend)
    lower, isword = char_tables()
    for lo in range(0, len(texts), block):
        part = nfkc(texts.slice(lo, block))
        hi = lo + len(part)
        if numba_ok:
            buf, offsets = to_buffer(part)
            _signatures_kernel(buf, offsets, ngram, lower, isword, a, b, sig[lo:hi], counts[lo:hi])
        else:
            from stages.minhash_numpy import normalized_buffer, signatures_numpy

            sig[lo:hi], counts[lo:hi] = signatures_numpy(*normalized_buffer(part), ngram, a, b)
    return sig, counts


def shingle_sets(texts: pl.Series, ngram: int, backend: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique uint64 shingle hashes of each raw text, concatenated, with offsets (n+1)."""
    texts = nfkc(texts)
    if _use_numba(backend):
        lower, isword = char_tables()
        buf, offsets = to_buffer(texts)
        out = np.empty(max(int(offsets[-1] - offsets[0]) // 2 + 1, 1), np.uint64)
        out_offsets = np.empty(len(offsets), np.int64)
        used = _sets_kernel(buf, offsets, ngram, lower, isword, out, out_offsets)
        return out[:used].copy(), out_offsets
    from stages.minhash_numpy import normalized_buffer, shingles_numpy

    buf, offsets = normalized_buffer(texts)
    h64, doc = shingles_numpy(buf, offsets, ngram)
    pairs = np.unique(np.stack([doc.astype(np.uint64), h64], axis=1), axis=0) if len(h64) else np.zeros((0, 2), np.uint64)
    out_offsets = np.zeros(len(offsets), np.int64)
    np.cumsum(np.bincount(pairs[:, 0].astype(np.int64), minlength=len(offsets) - 1), out=out_offsets[1:])
    return pairs[:, 1].copy(), out_offsets


def _use_numba(backend: str) -> bool:
    if backend not in ("auto", "numba", "numpy"):
        raise ValueError(f"backend must be 'auto', 'numba' or 'numpy', not {backend!r}")
    if backend == "numba" and not HAVE_NUMBA:
        raise RuntimeError("backend='numba' requested but numba is not importable")
    return HAVE_NUMBA and backend != "numpy"
