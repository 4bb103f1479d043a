"""What contamination does to a model: the `contamination` ablation recipe, a raw release built so that a
small CPU model can memorize leaked test items, and the leaked-vs-unleaked table.

The release is clean news (BBC training split, then Reuters) plus answer-key pages: test items of the
evaluation suite with their correct answers, in the very form the evaluation scores them
(eval.sources.benchmark_text), five to a page, each page reposted `copies` times as answer keys are on the
web. Half of the evaluated items (at most) leak; the rest never appear. Under `raw` the model trains on
the leaks; the `contamination` recipe runs the stage on the same release with the evaluation's own
benchmark files (`--benchmark` of the same items), so what it removes is exactly what leaked, if it finds it.

    python -m eval.contamination_release build OUT --leak-items 10 --copies 30 --clean-docs 40 --max-items 60 \
        --micro-batch 4 --heldout-max-tokens 20000      # sized so that a tiny CPU model memorizes the leaks
    assay ablate OUT/raw --out ABL --recipes raw,contamination --eval-config OUT/eval.toml --size tiny --seeds 3 \
        --tokens 200000 --device cpu
    python -m eval.contamination_release summary ABL
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
from pathlib import Path
from typing import Any

import numpy as np

from eval import sources

LEAK_BENCHMARKS = ("arc_easy", "piqa", "lambada")


def benchmark_specs(root: Path, names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """`--benchmark NAME=PATH` values naming the files the evaluation reads these sets from."""
    return tuple("{}={}".format(*sources.benchmark_file(n, root)) for n in names if n in sources._FILES)


def _root(config: dict[str, Any]) -> Path:
    return Path(config.get("data", {}).get("root") or sources.shared_data_root())


def contamination_available(available: tuple[str, ...], config: dict[str, Any]) -> tuple[str, ...]:
    """The ablation's stages plus contamination, whose input (the evaluation suite's own test sets) an
    ablation always has: `with_benchmarks` gives it to every recipe that runs the stage."""
    from eval.ablate import BENCHMARKS
    from stages import catalog

    names = config.get("eval", {}).get("benchmarks", BENCHMARKS)
    have = [spec for spec in benchmark_specs(_root(config), names) if Path(spec.split("=", 1)[1]).exists()]
    if "contamination" in available or "contamination" not in catalog.all_stages() or not have:
        return available
    return catalog.ordered([*available, "contamination"])


def with_benchmarks(recipes: list, config: dict[str, Any]) -> list:
    """Recipes that run the contamination stage without benchmarks of their own look for the evaluation
    suite's test sets: decontaminating against exactly what the models are scored on."""
    from eval.ablate import BENCHMARKS, Recipe

    specs = benchmark_specs(_root(config), config.get("eval", {}).get("benchmarks", BENCHMARKS))
    out = []
    for r in recipes:
        if "contamination" in r.stages and "benchmarks" not in r.options.get("contamination", {}):
            options = {**r.options, "contamination": {**r.options.get("contamination", {}), "benchmarks": specs}}
            r = Recipe(r.name, r.stages, options)
        out.append(r)
    return out


def build(root: Path, out: Path, leak_items: int, copies: int, clean_docs: int, max_items: int, seed: int,
          train: dict[str, int] | None = None) -> dict:
    from eval.build_raw_release import reuters

    rng = random.Random(seed)
    clean = [text for _, text in sources.bbc_articles(root, heldout=False)]
    clean += [t for t in reuters(root) if len(t) > 300][: max(0, clean_docs - len(clean))]
    docs = [{"source": "news", "text": t} for t in clean[:clean_docs]]
    leaked, pages = [], []
    for name in LEAK_BENCHMARKS:
        # leak among the items the evaluation keeps (its first `max_items`), so leaked and unleaked are both scored
        items = sources.benchmark(name, root)[:max_items]
        chosen = sorted(rng.sample(range(len(items)), min(leak_items, len(items) // 2)))
        for start in range(0, len(chosen), 5):
            group = [items[i] for i in chosen[start:start + 5]]
            page = "\n\n".join(sources.benchmark_text(name, it) for it in group)
            pages += [{"source": f"leak_{name}", "text": page}] * copies
            leaked += [{"benchmark": name, "item_id": it.item_id} for it in group]
    release = docs + pages
    rng.shuffle(release)
    (out / "raw").mkdir(parents=True, exist_ok=True)
    with gzip.open(out / "raw" / "part-00000.jsonl.gz", "wt", encoding="utf-8") as fh:
        for i, doc in enumerate(release):
            fh.write(json.dumps({"id": f"c{i:07d}", **doc}, ensure_ascii=False) + "\n")
    with open(out / "leaked_items.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(row) + "\n" for row in leaked)
    bench = ", ".join(f'"{b}"' for b in LEAK_BENCHMARKS)
    (out / "eval.toml").write_text(
        f'[eval]\nleaked_items = "{(out / "leaked_items.jsonl").resolve().as_posix()}"\nbenchmarks = [{bench}]\n'
        f"max_items = {max_items}\n" + ("\n[train]\n" + "".join(f"{k} = {int(v)}\n" for k, v in sorted(train.items()))
                                        if train else ""))
    stats = {"documents": len(release), "clean_documents": len(docs), "leak_pages": len(pages) // copies,
             "copies_per_page": copies, "leaked_items": len(leaked), "seed": seed}
    (out / "release_stats.json").write_text(json.dumps(stats, indent=2))
    return stats


def _cells(con, recipe: str, size: str, split_leaked: bool) -> tuple[np.ndarray, list[str]]:
    rows = con.execute(
        "SELECT r.seed, i.item_id, i.num FROM ablation_items i JOIN ablation_runs r USING (run_id) "
        "WHERE r.recipe = ? AND r.size = ? AND i.leaked = ? AND i.den = 1 ORDER BY r.seed, i.eval_set, i.item_id",
        [recipe, size, split_leaked]).fetchall()
    seeds = sorted({r[0] for r in rows})
    ids = sorted({r[1] for r in rows})
    pos = {k: j for j, k in enumerate(ids)}
    m = np.full((len(seeds), len(ids)), np.nan)
    for s, item, num in rows:
        m[seeds.index(s), pos[item]] = num
    return m, ids


def inflation(leaked: np.ndarray, unleaked: np.ndarray, n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """mean(leaked) − mean(unleaked) with a bootstrap CI: seeds drawn once for both (the same models),
    items drawn within each set."""
    rng = np.random.default_rng(seed)
    s = leaked.shape[0]
    ws = rng.multinomial(s, np.full(s, 1 / s), size=n_boot).astype(float)
    wl = rng.multinomial(leaked.shape[1], np.full(leaked.shape[1], 1 / leaked.shape[1]), size=n_boot).astype(float)
    wu = rng.multinomial(unleaked.shape[1], np.full(unleaked.shape[1], 1 / unleaked.shape[1]), size=n_boot).astype(float)
    boot = ((ws @ leaked) * wl).sum(1) / (ws.sum(1) * wl.sum(1)) - ((ws @ unleaked) * wu).sum(1) / (ws.sum(1) * wu.sum(1))
    return float(leaked.mean() - unleaked.mean()), float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))


def summary(abl: Path) -> str:
    """Per recipe: leaked and unleaked norm_logprob (log2-prob per byte of the right answer), the gap between
    them, and each recipe's paired difference with raw on the same leaked items."""
    import duckdb

    from eval.stats import estimate, paired_difference

    lines = ["| size | recipe | leaked items | unleaked items | leaked − unleaked [95% CI] | "
             "leaked vs raw, paired [95% CI] | unleaked vs raw, paired [95% CI] | inflation change vs raw [95% CI] |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    with duckdb.connect(str(abl / "ablation.duckdb"), read_only=True) as con:
        sizes = [r[0] for r in con.execute("SELECT DISTINCT size FROM ablation_runs ORDER BY size").fetchall()]
        recipes = [r[0] for r in con.execute("SELECT DISTINCT recipe FROM ablation_runs ORDER BY recipe = 'raw' DESC, recipe").fetchall()]
        for size in sizes:
            raw_l, _ = _cells(con, "raw", size, True)
            raw_u, _ = _cells(con, "raw", size, False)
            for recipe in recipes:
                lk, _ = _cells(con, recipe, size, True)
                un, _ = _cells(con, recipe, size, False)
                if lk.size == 0 or un.size == 0 or np.isnan(lk).any() or np.isnan(un).any():
                    continue
                el, eu = estimate(lk), estimate(un)
                gap = inflation(lk, un)
                pair = [paired_difference(a, b) if recipe != "raw" else None for a, b in ((lk, raw_l), (un, raw_u))]
                cell = ["—" if p is None else f"{p.mean:+.4f} [{p.lo:+.4f}, {p.hi:+.4f}]" for p in pair]
                # difference in differences: what the recipe did to leaked items beyond what it did to
                # unleaked ones (same models, same items); negative = the inflation shrank
                did = inflation(lk - raw_l, un - raw_u) if recipe != "raw" and lk.shape == raw_l.shape and un.shape == raw_u.shape else None
                cell.append("—" if did is None else f"{did[0]:+.4f} [{did[1]:+.4f}, {did[2]:+.4f}]")
                lines.append(f"| {size} | {recipe} | {el.mean:.4f} (n={el.n_items}) | {eu.mean:.4f} (n={eu.n_items}) | "
                             f"{gap[0]:+.4f} [{gap[1]:+.4f}, {gap[2]:+.4f}] | {cell[0]} | {cell[1]} | {cell[2]} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("out", type=Path)
    b.add_argument("--leak-items", type=int, default=40, help="leaked items per benchmark")
    b.add_argument("--copies", type=int, default=20, help="reposts of each answer-key page")
    b.add_argument("--clean-docs", type=int, default=1500)
    b.add_argument("--max-items", type=int, default=120, help="evaluated items per benchmark (eval max_items)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--micro-batch", type=int, default=0, help="[train] micro_batch in eval.toml (0: the trainer's default); "
                   "smaller means more optimizer steps for the same tokens")
    b.add_argument("--heldout-max-tokens", type=int, default=0, help="[train] heldout_max_tokens in eval.toml (0: default)")
    s = sub.add_parser("summary")
    s.add_argument("abl", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "summary":
        print(summary(args.abl))
        return 0
    root = sources.shared_data_root()
    if not root.exists():
        ap.error(f"shared data not found at {root} (set ASSAY_SHARED_DATA)")
    train = {k: v for k, v in (("micro_batch", args.micro_batch), ("heldout_max_tokens", args.heldout_max_tokens)) if v > 0}
    print(json.dumps(build(root, args.out, args.leak_items, args.copies, args.clean_docs, args.max_items, args.seed, train),
                     indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
