"""The signature kernel: datasketch-identical values, numba == numpy, chunking-independent."""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from datasketch import MinHash

from stages import minhash


def varied_docs(count: int = 1000, seed: int = 7) -> list[str | None]:
    """Unicode, short, empty, repeated-word, punctuation-heavy and ordinary documents."""
    rng = np.random.default_rng(seed)
    vocab = ["the", "river", "Straße", "ÉCOLE", "école", "naïve", "ﬁne", "ｆｕｌｌ", "Σίσυφος", "καλά", "日本語",
             "emoji😀", "x\u200by", "a\u00a0b", "e\u0301", "İstanbul", "don't", "U.S.A.", "3.14", "$100", "--", "“quoted”",
             "tab\tsep", "new\nline", "𝔘𝔫𝔦", "ǅ", "Ⅻ", "x²"]
    docs: list[str | None] = ["", None, "one", "two words", "a b c d", "a b c d e", "word " * 300, "!!! ??? ...", "ÉCOLE école"]
    while len(docs) < count:
        n = int(rng.choice([1, 3, 4, 5, 6, 20, 80, 200]))
        words = rng.choice(vocab, n).tolist() + [f"w{int(k)}" for k in rng.integers(0, 50, n // 2)]
        rng.shuffle(words)
        seps = rng.choice([" ", "  ", ", ", ". ", " — ", "\n", "-"], len(words))
        docs.append("".join(w + s for w, s in zip(words, seps, strict=True)))
    return docs


def datasketch_signature(text: str | None, n: int, num_perm: int, seed: int) -> np.ndarray:
    words = minhash.normalize_text(text or "").split(" ")
    words = [w for w in words if w]
    shingles = [" ".join(words[i : i + n]).encode() for i in range(len(words) - n + 1)]
    m = MinHash(num_perm=num_perm, seed=seed, hashfunc=minhash.shingle_hash32)
    if shingles:
        m.update_batch(shingles)
    return m.hashvalues


def test_signatures_equal_datasketch_value_for_value_on_1000_varied_docs():
    docs = varied_docs()
    sig, counts = minhash.signatures(pl.Series(docs, dtype=pl.String), 5, 128, 1)
    expected = np.stack([datasketch_signature(t, 5, 128, 1) for t in docs])
    assert expected.dtype == np.uint32
    mismatched = np.flatnonzero((sig != expected).any(axis=1))
    assert mismatched.size == 0, f"{mismatched.size} documents differ, first: {docs[mismatched[0]]!r}"
    assert (counts == 0).sum() > 10 and (counts > 100).sum() > 10  # short and long documents were covered


@pytest.mark.parametrize(("n", "num_perm", "seed"), [(3, 64, 42), (1, 16, 0)])
def test_signatures_equal_datasketch_for_other_parameters(n, num_perm, seed):
    docs = varied_docs(150, seed=3)
    sig, _ = minhash.signatures(pl.Series(docs, dtype=pl.String), n, num_perm, seed)
    expected = np.stack([datasketch_signature(t, n, num_perm, seed) for t in docs])
    assert np.array_equal(sig, expected)


def test_permutations_are_datasketch_affine32():
    a, b = minhash.permutations(128, 1)
    ref = MinHash(num_perm=128, seed=1)
    assert ref.scheme == "affine32"
    assert np.array_equal(a, ref.permutations[0]) and np.array_equal(b, ref.permutations[1])


@pytest.mark.skipif(not minhash.have_numba(), reason="numba not installed: only the numpy path exists")
def test_numpy_path_equals_numba_path():
    docs = pl.Series(varied_docs(400, seed=11), dtype=pl.String)
    s1, c1 = minhash.signatures(docs, 5, 128, 1, backend="numba")
    s2, c2 = minhash.signatures(docs, 5, 128, 1, backend="numpy")
    assert np.array_equal(s1, s2) and np.array_equal(c1, c2)
    v1, o1 = minhash.shingle_sets(docs, 5, backend="numba")
    v2, o2 = minhash.shingle_sets(docs, 5, backend="numpy")
    assert np.array_equal(o1, o2) and np.array_equal(v1, v2)


def test_shingle_sets_are_the_reference_hashes():
    docs = varied_docs(200, seed=5)
    values, offsets = minhash.shingle_sets(pl.Series(docs, dtype=pl.String), 5)
    for i, text in enumerate(docs):
        words = [w for w in minhash.normalize_text(text or "").split(" ") if w]
        ref = sorted({minhash.shingle_hash64(" ".join(words[j : j + 5]).encode()) for j in range(len(words) - 4)})
        assert values[offsets[i] : offsets[i + 1]].tolist() == ref


@pytest.mark.skipif(not minhash.have_numba(), reason="numba not installed: shingle sets run in one call")
@pytest.mark.parametrize("threads", [2, 3, 7])
def test_shingle_sets_in_threads_equal_one_call(threads):
    """Slices of about equal bytes run at once; concatenated, they are the one call's arrays (the
    slices are uneven here: a 300-word document among short ones, empty and null texts)."""
    docs = pl.Series(varied_docs(500, seed=13), dtype=pl.String)
    v1, o1 = minhash.shingle_sets(docs, 5)
    vt, ot = minhash.shingle_sets(docs, 5, threads=threads)
    assert len(minhash._byte_slices(docs, threads)) == threads + 1
    assert np.array_equal(o1, ot) and np.array_equal(v1, vt) and len(v1) > 10_000
    one, _ = minhash.shingle_sets(docs[:1], 5, threads=threads)  # fewer documents than threads
    assert np.array_equal(one, v1[: o1[1]])


def test_signatures_do_not_depend_on_block_size():
    docs = pl.Series(varied_docs(300, seed=9), dtype=pl.String)
    whole, _ = minhash.signatures(docs, 5, 128, 1, block=1000)
    pieces, _ = minhash.signatures(docs, 5, 128, 1, block=7)
    assert np.array_equal(whole, pieces)


def test_normalization_folds_case_nfkc_punctuation_and_whitespace():
    assert minhash.normalize_text("  Hello,\tWORLD!!  ﬁne—ｆｕｌｌ\u00a0stop. ") == "hello world fine full stop"
    assert minhash.normalize_text("É") == minhash.normalize_text("E\u0301") == "é"
    assert minhash.normalize_text("?!...") == ""


def test_the_hash_definition_is_pinned():
    """Earlier releases' indexes hold signatures: a change of the hash, however small, must come
    with a new HASH_NAME (and so a loud mismatch), never silently other values."""
    assert minhash.HASH_NAME == "fnv1a64-words/fold/fmix64;affine32"
    assert minhash.fmix64(np.array([1, 0xDEADBEEF], np.uint64)).tolist() == [0xB456BCFC34C2CB2C, 0xD24BD59F862A1DAC]
    assert minhash.shingle_hash64(b"the quick brown fox jumps") == 0xE8E576E5BD291CF6
    sig, _ = minhash.signatures(pl.Series(["The quick brown fox jumps over the lazy dog."]), 5, 4, 1)
    assert sig.tolist() == [[758007637, 34756378, 170168321, 439086429]]


def test_fmix64_leaves_its_argument_unchanged():
    h = np.array([1, 2, 3], np.uint64)
    minhash.fmix64(h)
    assert h.tolist() == [1, 2, 3]


def test_char_tables_cache_round_trips_and_survives_a_corrupt_file(tmp_path, monkeypatch) -> None:
    from stages.minhash import core

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    core.char_tables.cache_clear()
    try:
        built = core.char_tables()
        assert core._cache_file().is_file() and core._cache_file().is_relative_to(tmp_path)
        core._cache_file().write_bytes(b"not an npz file")  # damaged: rebuilt, never trusted
        core.char_tables.cache_clear()
        again = core.char_tables()
        assert (again[0] == built[0]).all() and (again[1] == built[1]).all()
        assert again[0][ord("Ä")] == ord("ä") and again[1][ord("-")] == 0 and again[1][ord("é")] == 1
    finally:
        core.char_tables.cache_clear()


def test_numba_loads_without_scipy_linalg_and_scipy_still_imports() -> None:
    import subprocess
    import sys

    code = ("import sys; import polars as pl; from stages import minhash, lsh; "
            "minhash.signatures(pl.Series(['a b c d e f']), 5, 16, 1); lsh._kernels(); "
            "assert 'scipy.linalg' not in sys.modules, 'BLAS probe ran'; "
            "import scipy.linalg.cython_blas; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
