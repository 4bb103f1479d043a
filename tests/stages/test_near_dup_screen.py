"""near_dup's screening: candidate pairs sharing too few signature values are not verified, and
no decision changes for it."""
from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import make_docs
from test_near_dup import edit, publish, true_jaccard, words

from stages import lsh, minhash
from stages.base import Inputs
from stages.near_dup import NearDup


def exact_tail(threshold: Fraction, n: int, k: int) -> Fraction:
    return sum((math.comb(n, i) * threshold**i * (1 - threshold) ** (n - i) for i in range(k + 1)), Fraction(0))


@pytest.mark.parametrize(("threshold", "num_perm"), [("0.8", 128), ("0.5", 64), ("0.9", 256), ("0.7", 32)])
def test_the_cut_is_where_the_binomial_tail_passes_the_miss_rate(threshold, num_perm):
    cut = lsh.screen_cut(float(threshold), num_perm)
    t, miss = Fraction(threshold), Fraction(lsh.SCREEN_MISS)
    assert cut >= 0 and exact_tail(t, num_perm, cut) <= miss < exact_tail(t, num_perm, cut + 1)


def test_too_few_permutations_screen_nothing_and_a_threshold_of_one_wants_every_value():
    assert lsh.screen_cut(0.8, 16) == -1  # P(all 16 differ | J=0.8) alone is 0.2^16 = 6.6e-12
    assert lsh.screen_cut(1.0, 128) == 127


def graded_corpus(groups: int = 25) -> list[str]:
    """Twins of every similarity: 1 to 60 of 150 words replaced (Jaccard ~0.95 down to ~0.1)."""
    rng = np.random.default_rng(11)
    texts = []
    for g in range(groups):
        base = words(300 + g, 150)
        texts.append(" ".join(base))
        for v, k in enumerate((1, 3, 6, 9, 12, 20, 35, 60)):
            texts.append(" ".join(edit(base, sorted(rng.choice(150, k, replace=False).tolist()), f"g{g}v{v}")))
    return texts


def test_screening_changes_no_decision_and_is_counted(monkeypatch):
    docs = make_docs(graded_corpus())
    screened = NearDup().apply(docs)
    monkeypatch.setattr(lsh, "screen_cut", lambda threshold, num_perm: -1)
    every = NearDup().apply(docs)
    assert screened.decisions.equals(every.decisions)
    s, e = screened.stats, every.stats
    assert s["candidate_pairs"] == e["candidate_pairs"] == s["candidate_pairs_screened_out"] + s["candidate_pairs_verified"]
    assert s["candidate_pairs_screened_out"] > 0 and e["candidate_pairs_screened_out"] == 0
    assert s["candidate_pairs_above_threshold"] == e["candidate_pairs_above_threshold"] > 25


def test_the_screen_decides_what_is_verified(monkeypatch):
    """A cut that screens everything out verifies nothing and removes nothing: the screen gates
    verification, and the real cut only ever skips pairs below the threshold."""
    docs = make_docs(graded_corpus(8))
    monkeypatch.setattr(lsh, "screen_cut", lambda threshold, num_perm: num_perm)
    result = NearDup().apply(docs)
    assert result.stats["candidate_pairs_verified"] == 0 and result.kept.height == docs.height


def test_pairs_at_or_above_the_threshold_share_far_more_values_than_the_cut():
    texts = graded_corpus()
    sig, _ = minhash.signatures(make_docs(texts)["text"], 5, 128, 1)
    cut = lsh.screen_cut(0.8, 128)
    shared = [int((sig[a] == sig[b]).sum()) for a in range(0, len(texts), 9) for b in range(a + 1, a + 9)
              if true_jaccard(texts[a], texts[b]) >= 0.8]
    assert len(shared) >= 50 and min(shared) > cut + 20


def test_earlier_releases_are_screened_with_their_own_signatures(tmp_path: Path, monkeypatch):
    texts = graded_corpus(10)
    old = NearDup().apply(make_docs(texts[::3], ids=[f"o{i}" for i in range(len(texts[::3]))]))
    earlier = (publish(old, tmp_path / "r1", "r1"),)
    stage = NearDup(against=("r1",))
    docs = make_docs([t for i, t in enumerate(texts) if i % 3], ids=[f"n{i}" for i in range(len(texts) - len(texts[::3]))])
    res = stage.setup(Inputs(runs={"against": earlier}))
    screened = stage.apply(docs, res)
    monkeypatch.setattr(lsh, "screen_cut", lambda threshold, num_perm: -1)
    every = stage.apply(docs, res)
    assert screened.decisions.equals(every.decisions)
    assert screened.stats["removed_against_earlier_runs"] > 0 and screened.stats["candidate_pairs_screened_out"] > 0


@pytest.mark.parametrize("threads", [2, 5])
def test_bands_in_threads_give_the_same_pairs(threads):
    """Bands run `threads` at a time; the pairs (and so every decision) are the one-thread pairs."""
    sig, counts = minhash.signatures(make_docs(graded_corpus())["text"], 5, 128, 1)
    bands, rows = lsh.choose_bands(0.8, 128)
    eligible = counts > 0
    one = lsh.banded_pairs(lambda b: lsh.band_key(sig, b, rows), bands, eligible, threads=1)
    many = lsh.banded_pairs(lambda b: lsh.band_key(sig, b, rows), bands, eligible, threads=threads)
    assert len(one[0]) > 100 and all(np.array_equal(a, b) for a, b in zip(one, many, strict=True))
    keys = lsh.band_keys(sig, bands, rows)
    assert all(np.array_equal(a, b) for a, b in zip(one, lsh.candidate_pairs(keys, eligible), strict=True))
    # one pair per band, each sharing that band's values alone: every band's pairs must be in
    rng = np.random.default_rng(3)
    sig = rng.integers(0, 2**32, size=(2 * bands, 128), dtype=np.uint32)
    for b in range(bands):
        sig[2 * b + 1, b * rows:(b + 1) * rows] = sig[2 * b, b * rows:(b + 1) * rows]
    hi, lo = lsh.banded_pairs(lambda b: lsh.band_key(sig, b, rows), bands, np.ones(2 * bands, bool), threads=threads)
    assert (hi.tolist(), lo.tolist()) == (list(range(0, 2 * bands, 2)), list(range(1, 2 * bands, 2)))


def test_bands_paired_at_once_stay_within_the_memory_budget():
    assert lsh.band_threads(160_000, 2) == 2 and lsh.band_threads(160_000, 64) == 41
    assert lsh.band_threads(7_000_000, 16) == 1 and lsh.band_threads(0, 4) == 4
    assert all(lsh.band_threads(n, 16) * 160 * n <= lsh.BAND_MEMORY or lsh.band_threads(n, 16) == 1
               for n in (1, 10**4, 10**5, 10**6, 3 * 10**6, 10**8))
