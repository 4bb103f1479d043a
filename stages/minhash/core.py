"""What every MinHash path shares: the hash definition, its constants, the character tables and the
Python reference. No numba here: numba compiles `fmix64`/`fmix32` into its kernel from these very
functions (stages/minhash/kernels.py), the numpy fallback applies them to arrays, and the reference
below to one-element arrays, so the hash is written once.

The shingle hash is defined explicitly so that datasketch can be given the very same function:
  word       = a maximal run of word characters of the normalized text (see `normalize_text`)
  word_hash  = FNV-1a 64 over the word's UTF-8 bytes
  shingle    = n consecutive words; shingle_hash64 = fmix64(fold of (h ^ word_hash) * FNV_PRIME)
  hashfunc   = shingle_hash64 & 0xFFFFFFFF (what datasketch's affine32 scheme is fed; it applies
               fmix32 itself before the permutations)
The 64-bit values are also the shingle sets used for exact Jaccard verification: with 64-bit
hashes a collision between two distinct shingles of one candidate pair has probability ~1e-15 per
pair (|A|*|B| / 2^64), so a verified Jaccard equals the Jaccard of the shingle strings in practice.

numba caches compiled kernels by the kernel file's timestamp only: a change here must come with a
new HASH_NAME (persisted indexes become incompatible anyway), and the datasketch-identity tests
catch a stale cache, since the reference always uses this file's current definition.
"""
from __future__ import annotations

import functools
import os
import sys
import unicodedata
from pathlib import Path
from types import ModuleType

import numpy as np

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
SHINGLE_SEED = np.uint64(0x9E3779B97F4A7C15)
MASK32 = np.uint64(0xFFFFFFFF)
HASH_NAME = "fnv1a64-words/fold/fmix64;affine32"  # recorded with persisted signatures
_M64 = (1 << 64) - 1


def fmix64(h):
    """murmur3's 64-bit finalizer, for a numba uint64 or a numpy uint64 array (not in place: the
    caller's array stays as it was). numpy *scalars* warn on the wraparound the hash relies on, so
    Python ints go through a one-element array (`shingle_hash64`)."""
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def utf8_next(buf, i):
    """(code point, index after it) of the UTF-8 character at buf[i]; the text is valid UTF-8
    (Arrow strings), so no checks. Compiled into each kernel that walks text bytes."""
    b0 = np.uint32(buf[i])
    if b0 < 0x80:
        return b0, i + 1
    if b0 < 0xE0:
        return ((b0 & 0x1F) << 6) | (np.uint32(buf[i + 1]) & 0x3F), i + 2
    if b0 < 0xF0:
        return (((b0 & 0x0F) << 12) | ((np.uint32(buf[i + 1]) & 0x3F) << 6)
                | (np.uint32(buf[i + 2]) & 0x3F)), i + 3
    return (((b0 & 0x07) << 18) | ((np.uint32(buf[i + 1]) & 0x3F) << 12)
            | ((np.uint32(buf[i + 2]) & 0x3F) << 6) | (np.uint32(buf[i + 3]) & 0x3F)), i + 4


def fmix32(h):
    """murmur3's 32-bit finalizer (datasketch's `_fmix(width=32)`) of the low 32 bits of uint64
    values, computed in uint64 with explicit masks: numba widens small integers, so uint32
    arithmetic would not wrap where the definition does. The result fits in 32 bits."""
    h = h & MASK32
    h = h ^ (h >> np.uint64(16))
    h = (h * np.uint64(0x85EBCA6B)) & MASK32
    h = h ^ (h >> np.uint64(13))
    h = (h * np.uint64(0xC2B2AE35)) & MASK32
    return h ^ (h >> np.uint64(16))


def _cache_file() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "assay"
    return root / f"char-tables-py{sys.version_info[0]}{sys.version_info[1]}-unicode{unicodedata.unidata_version}.npz"


def _build_tables() -> tuple[np.ndarray, np.ndarray]:
    size = 0x110000
    isword = np.fromiter((unicodedata.category(chr(c))[0] in "LNM" for c in range(size)), np.uint8, size)
    lower = np.arange(size, dtype=np.uint32)
    for c in range(size):
        low = chr(c).lower()
        if len(low) == 1 and low != chr(c):
            lower[c] = ord(low)
    return lower, isword


@functools.cache
def char_tables() -> tuple[np.ndarray, np.ndarray]:
    """(LOWER, ISWORD) indexed by code point, from this Python's `unicodedata`.

    A word character is a letter, number or mark (categories L*, N*, M*); everything else
    (punctuation, symbols, separators, controls) folds to a word boundary. Lowercasing is the
    one-code-point mapping of `str.lower` (the rare multi-code-point results keep the character).

    Building them walks every code point in Python (~0.6 s, a fifth of a 16 MB run's start-up), so
    they are kept in the user's cache folder, keyed by the Python and Unicode versions that define
    them; plain arrays (no pickle), rebuilt when missing, unreadable or of the wrong shape.
    """
    path = _cache_file()
    try:
        with np.load(path, allow_pickle=False) as saved:
            lower, isword = saved["lower"], saved["isword"]
        if lower.shape == isword.shape == (0x110000,) and lower.dtype == np.uint32 and isword.dtype == np.uint8:
            return lower, isword
    except (OSError, ValueError, KeyError):
        pass
    lower, isword = _build_tables()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.npz")
        np.savez(tmp, lower=lower, isword=isword)
        os.replace(tmp, path)
    except OSError:  # a read-only home: compute per process, as before
        pass
    return lower, isword


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


def shingle_hash64(shingle: bytes) -> int:
    """Reference shingle hash of `b"w1 w2 ... wn"` (words of normalized text joined by one space)."""
    h = int(SHINGLE_SEED)
    for word in shingle.split(b" "):
        w = int(FNV_OFFSET)
        for byte in word:
            w = ((w ^ byte) * int(FNV_PRIME)) & _M64
        h = ((h ^ w) * int(FNV_PRIME)) & _M64
    return int(fmix64(np.array([h], np.uint64))[0])


def shingle_hash32(shingle: bytes) -> int:
    """The `hashfunc` to give datasketch's MinHash for signatures equal to assay's."""
    return shingle_hash64(shingle) & 0xFFFFFFFF


def import_numba() -> ModuleType:
    """numba, imported without its BLAS probe. On import, `numba.np.arraymath` tries
    `scipy.linalg.cython_blas` to see whether np.dot can be compiled; loading scipy.linalg costs
    ~0.15 s of every run's start-up, and no kernel here uses linear algebra. The probe is told
    "absent" during that one import; scipy itself stays importable afterwards."""
    blocked = "scipy.linalg.cython_blas"
    if "numba.np.arraymath" not in sys.modules and blocked not in sys.modules:
        sys.modules[blocked] = None  # type: ignore[assignment]
        try:
            import numba.np.arraymath  # noqa: F401
        finally:
            del sys.modules[blocked]
    import numba

    return numba
