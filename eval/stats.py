"""Statistics over seeds and evaluation items: point estimates, a two-level bootstrap, paired differences
against a baseline recipe, and decision accuracy between model sizes.

A metric is Σ num / Σ den over the (seed, item) cells: a ratio for bits per byte (bits over bytes) and a
plain mean when den is 1. The bootstrap resamples seeds and items independently, with replacement, and
weights every cell by how often its seed and its item were drawn; a paired difference applies the same
draws to both recipes, which share seeds (initialization) and items.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

NOISE = "not distinguishable from noise"


@dataclass(frozen=True)
class Estimate:
    mean: float
    std: float  # across seeds, of each seed's metric
    lo: float
    hi: float
    n_seeds: int
    n_items: int


def _ratio(weights_s: np.ndarray, weights_i: np.ndarray, num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return ((weights_s @ num) * weights_i).sum(1) / ((weights_s @ den) * weights_i).sum(1)


def _draws(n_seeds: int, n_items: int, n_boot: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # a multinomial count vector is exactly how often each index is drawn in n draws with replacement
    ws = rng.multinomial(n_seeds, np.full(n_seeds, 1 / n_seeds), size=n_boot).astype(float)
    wi = rng.multinomial(n_items, np.full(n_items, 1 / n_items), size=n_boot).astype(float)
    return ws, wi


def _check(num: np.ndarray, den: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    num = np.asarray(num, dtype=float)
    if num.ndim != 2 or num.size == 0:
        raise ValueError(f"expected a non-empty seeds × items matrix, got shape {num.shape}")
    den = np.ones_like(num) if den is None else np.asarray(den, dtype=float)
    if den.shape != num.shape:
        raise ValueError(f"num {num.shape} and den {den.shape} differ")
    return num, den


def estimate(num: np.ndarray, den: np.ndarray | None = None, n_boot: int = 2000, seed: int = 0,
             level: float = 0.95) -> Estimate:
    num, den = _check(num, den)
    S, n_items = num.shape
    per_seed = num.sum(1) / den.sum(1)
    ws, wi = _draws(S, n_items, n_boot, np.random.default_rng(seed))
    boot = _ratio(ws, wi, num, den)
    a = (1 - level) / 2
    return Estimate(mean=float(num.sum() / den.sum()), std=float(per_seed.std(ddof=1)) if S > 1 else 0.0,
                    lo=float(np.quantile(boot, a)), hi=float(np.quantile(boot, 1 - a)), n_seeds=S, n_items=n_items)


def paired_difference(num_a: np.ndarray, num_b: np.ndarray, den_a: np.ndarray | None = None,
                      den_b: np.ndarray | None = None, n_boot: int = 2000, seed: int = 0,
                      level: float = 0.95) -> Estimate:
    """metric(A) − metric(B), resampling the same seeds and items for both."""
    num_a, den_a = _check(num_a, den_a)
    num_b, den_b = _check(num_b, den_b)
    if num_a.shape != num_b.shape:
        raise ValueError(f"paired recipes need the same seeds and items: {num_a.shape} vs {num_b.shape}")
    S, n_items = num_a.shape
    ws, wi = _draws(S, n_items, n_boot, np.random.default_rng(seed))
    boot = _ratio(ws, wi, num_a, den_a) - _ratio(ws, wi, num_b, den_b)
    per_seed = num_a.sum(1) / den_a.sum(1) - num_b.sum(1) / den_b.sum(1)
    a = (1 - level) / 2
    return Estimate(mean=float(num_a.sum() / den_a.sum() - num_b.sum() / den_b.sum()),
                    std=float(per_seed.std(ddof=1)) if S > 1 else 0.0,
                    lo=float(np.quantile(boot, a)), hi=float(np.quantile(boot, 1 - a)), n_seeds=S, n_items=n_items)


def verdict(diff: Estimate, higher_is_better: bool, baseline: str = "raw") -> str:
    """Plain words for a paired difference: the interval, not the point estimate, decides."""
    if diff.lo <= 0 <= diff.hi:
        return f"{NOISE} (95% CI of the difference [{diff.lo:+.4f}, {diff.hi:+.4f}] includes 0)"
    better = (diff.lo > 0) == higher_is_better
    return f"{'better' if better else 'worse'} than {baseline} (95% CI [{diff.lo:+.4f}, {diff.hi:+.4f}])"


def decision_accuracy(small: dict[str, float], large: dict[str, float]) -> tuple[float, int]:
    """Share of recipe pairs that the small size orders the same way as the large one (DataDecide).
    Returns (accuracy, number of pairs); a tie on either side counts as a disagreement."""
    names = sorted(set(small) & set(large))
    pairs = list(itertools.combinations(names, 2))
    if not pairs:
        return float("nan"), 0
    agree = sum(np.sign(small[a] - small[b]) == np.sign(large[a] - large[b]) != 0 for a, b in pairs)
    return agree / len(pairs), len(pairs)
