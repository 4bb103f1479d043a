"""The statistics must find a known effect, find none between identical recipes, and pair correctly."""
import numpy as np
import pytest

from eval.stats import NOISE, decision_accuracy, estimate, paired_difference, verdict


def simulate(rng, effect, n_seeds=3, n_items=400, seed_sd=0.05, item_sd=0.5, noise_sd=0.3):
    """Item difficulty and seed quality are shared by paired recipes; the effect shifts every cell."""
    item = rng.normal(0, item_sd, n_items)
    seed = rng.normal(0, seed_sd, n_seeds)
    base = seed[:, None] + item[None, :]
    a = base + effect + rng.normal(0, noise_sd, (n_seeds, n_items))
    b = base + rng.normal(0, noise_sd, (n_seeds, n_items))
    return a, b


def test_known_effect_is_covered_and_separated_from_zero():
    rng = np.random.default_rng(1)
    a, b = simulate(rng, effect=0.1)
    diff = paired_difference(a, b, n_boot=1000)
    assert diff.lo <= 0.1 <= diff.hi
    assert diff.lo > 0
    assert verdict(diff, higher_is_better=True).startswith("better than raw")
    assert verdict(diff, higher_is_better=False).startswith("worse than raw")


def test_identical_recipes_give_an_interval_covering_zero():
    rng = np.random.default_rng(2)
    a, b = simulate(rng, effect=0.0)
    diff = paired_difference(a, b, n_boot=1000)
    assert diff.lo <= 0 <= diff.hi
    assert NOISE in verdict(diff, higher_is_better=True)
    same = paired_difference(a, a, n_boot=200)
    assert same.mean == same.lo == same.hi == 0


def test_interval_coverage_is_roughly_nominal():
    rng = np.random.default_rng(3)
    hits = 0
    for rep in range(60):
        a, b = simulate(rng, effect=0.05, n_items=200)
        d = paired_difference(a, b, n_boot=300, seed=rep)
        hits += d.lo <= 0.05 <= d.hi
    assert hits >= 50  # nominal 95 % of 60 is 57; the bootstrap with 3 seeds is a little narrow


def test_ratio_metric_matches_pooled_bits_per_byte():
    num = np.array([[10.0, 30.0], [20.0, 20.0], [15.0, 25.0]])
    den = np.array([[10.0, 30.0], [10.0, 30.0], [10.0, 30.0]])
    est = estimate(num, den, n_boot=500)
    assert est.mean == pytest.approx(120 / 120)
    assert est.lo <= est.mean <= est.hi
    assert est.std == pytest.approx(np.std([1.0, 1.0, 1.0], ddof=1))


def test_unpaired_shapes_are_rejected():
    with pytest.raises(ValueError, match="same seeds and items"):
        paired_difference(np.zeros((3, 4)), np.zeros((3, 5)))


def test_decision_accuracy():
    large = {"raw": 1.0, "dedup": 0.9, "quality": 0.8}
    assert decision_accuracy({"raw": 2.0, "dedup": 1.9, "quality": 1.5}, large) == (1.0, 3)
    acc, n = decision_accuracy({"raw": 2.0, "dedup": 2.1, "quality": 1.5}, large)
    assert n == 3 and acc == pytest.approx(2 / 3)
