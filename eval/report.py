"""Summaries and the HTML report of an ablation, read back from `ablation.duckdb`.

`ablation_summary` holds, per size, eval set, split and metric, each recipe's mean, seed std and bootstrap
CI and its paired difference with `raw`; `ablation_decisions` the decision accuracy between sizes. The
report draws them with flows/plots.py (plotly, its JavaScript inlined: the page opens offline), as the run report does.
"""
from __future__ import annotations

import html
from collections import defaultdict
from pathlib import Path

import duckdb
import numpy as np

from eval.stats import decision_accuracy, estimate, paired_difference, verdict
from flows import plots

LOWER_IS_BETTER = {"bpb"}
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")


def _matrices(con, size: str) -> dict[tuple[str, str, str], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """{(eval_set, split, metric): {recipe: (num, den) as seeds × items}}, items in one shared order."""
    rows = con.execute("""
        SELECT r.recipe, r.seed, i.eval_set, i.item_id, i.leaked, i.num, i.den, i.correct
        FROM ablation_items i JOIN ablation_runs r USING (run_id) WHERE r.size = ?
        ORDER BY r.recipe, r.seed, i.eval_set, i.item_id""", [size]).fetchall()
    cells: dict = defaultdict(dict)
    for recipe, seed, eval_set, item_id, leaked, num, den, correct in rows:
        cells[(recipe, eval_set)][(seed, item_id)] = (leaked, num, den, correct)
    out: dict = defaultdict(dict)
    for (recipe, eval_set), cell in cells.items():
        seeds = sorted({s for s, _ in cell})
        items = sorted({i for _, i in cell})
        leaked = {i: cell[(seeds[0], i)][0] for i in items}
        splits = {"all": items}
        if any(leaked.values()):
            splits["leaked"] = [i for i in items if leaked[i]]
            splits["unleaked"] = [i for i in items if not leaked[i]]
        for split, ids in splits.items():
            def grid(k: int) -> np.ndarray:
                return np.array([[cell[(s, i)][k] for i in ids] for s in seeds], dtype=float)
            if cell[(seeds[0], ids[0])][3] is None:
                out[(eval_set, split, "bpb")][recipe] = (grid(1), grid(2))
            else:
                out[(eval_set, split, "accuracy")][recipe] = (grid(3), np.ones((len(seeds), len(ids))))
                out[(eval_set, split, "norm_logprob")][recipe] = (grid(1), grid(2))
    return out


def summarize(db: Path, n_boot: int = 1000) -> None:
    with duckdb.connect(str(db)) as con:
        con.execute("""CREATE OR REPLACE TABLE ablation_summary (size VARCHAR, eval_set VARCHAR, split VARCHAR,
            metric VARCHAR, recipe VARCHAR, mean DOUBLE, std DOUBLE, ci_lo DOUBLE, ci_hi DOUBLE, n_seeds INTEGER,
            n_items INTEGER, diff DOUBLE, diff_lo DOUBLE, diff_hi DOUBLE, verdict VARCHAR)""")
        con.execute("""CREATE OR REPLACE TABLE ablation_decisions (small VARCHAR, large VARCHAR, eval_set VARCHAR,
            split VARCHAR, metric VARCHAR, accuracy DOUBLE, n_pairs INTEGER)""")
        sizes = [r[0] for r in con.execute(
            "SELECT size FROM ablation_runs GROUP BY size ORDER BY max(n_params)").fetchall()]
        means: dict = {}
        rows = []
        for size in sizes:
            for key, by_recipe in sorted(_matrices(con, size).items()):
                higher = key[2] not in LOWER_IS_BETTER
                for recipe, (num, den) in sorted(by_recipe.items()):
                    est = estimate(num, den, n_boot=n_boot)
                    means[(size, *key, recipe)] = est.mean
                    diff = lo = hi = text = None
                    base = by_recipe.get("raw")
                    if recipe != "raw" and base is not None and base[0].shape == num.shape:
                        d = paired_difference(num, base[0], den, base[1], n_boot=n_boot)
                        diff, lo, hi, text = d.mean, d.lo, d.hi, verdict(d, higher)
                    elif recipe != "raw":
                        text = "not paired with raw (different seeds or items)"
                    rows.append((size, *key, recipe, est.mean, est.std, est.lo, est.hi, est.n_seeds, est.n_items,
                                 diff, lo, hi, text))
        if rows:
            con.executemany("INSERT INTO ablation_summary VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        for small, large in zip(sizes, sizes[1:]):
            keys = {k[1:4] for k in means if k[0] == large}
            for key in sorted(keys):
                s = {k[4]: v for k, v in means.items() if k[0] == small and k[1:4] == key}
                lg = {k[4]: v for k, v in means.items() if k[0] == large and k[1:4] == key}
                acc, n = decision_accuracy(s, lg)
                if n:
                    con.execute("INSERT INTO ablation_decisions VALUES (?,?,?,?,?,?,?)", [small, large, *key, acc, n])


def _chart_id(title: str) -> str:
    import hashlib

    return "chart-" + hashlib.sha1(title.encode()).hexdigest()[:12]  # stable: same data, same bytes


def _ci_chart(rows: list[tuple], title: str) -> str:
    """Dot and 95 % CI bar per recipe, recipes as rows: readable at any number of recipes."""
    return plots.div(plots.intervals(title, [(r[0], r[1], r[3], r[4]) for r in rows]), _chart_id(title), 70 + 28 * len(rows))


def _curves_chart(curves: dict[str, list[tuple[int, float]]], recipes: list[str], title: str) -> str:
    if not any(curves.values()):
        return ""
    colors = {run_id: COLORS[recipes.index(run_id.split("/")[1]) % len(COLORS)] if run_id.split("/")[1] in recipes else "#000"
              for run_id in curves}
    return plots.div(plots.lines(title, dict(sorted(curves.items())), colors, "tokens", "train loss (nats/token)"),
                     _chart_id(title), 320)


def write_report(db: Path, path: Path, notes: list[str] | None = None) -> Path:
    summarize(db)
    with duckdb.connect(str(db), read_only=True) as con:
        summary = con.execute("""SELECT size, eval_set, split, metric, recipe, mean, std, ci_lo, ci_hi, n_seeds,
            n_items, diff, diff_lo, diff_hi, verdict FROM ablation_summary ORDER BY size, eval_set, metric, split,
            recipe = 'raw' DESC, recipe""").fetchall()
        runs = con.execute("""SELECT size, recipe, count(*), any_value(tokens), avg(epochs), any_value(corpus_tokens),
            avg(tokens_per_s), any_value(ledger_run_path) FROM ablation_runs GROUP BY size, recipe
            ORDER BY size, recipe""").fetchall()
        curves_rows = con.execute("SELECT run_id, tokens, loss FROM ablation_curves ORDER BY run_id, step").fetchall()
        decisions = con.execute("SELECT * FROM ablation_decisions ORDER BY eval_set, metric, split").fetchall()
    esc = html.escape
    out = ["<!doctype html><meta charset='utf-8'><title>assay ablation</title>",
           "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse;"
           "font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
           "td:first-child,th:first-child{text-align:left}.noise{color:#888}</style>", plots.script(),
           "<h1>Proxy-model ablation</h1>",
           "<p>Every recipe trains on the same token budget; held-out metrics are bits per byte (lower is better), "
           "benchmark metrics are accuracy and the per-byte log2-probability of the correct answer (higher is better). "
           "Intervals are 95 % bootstrap intervals over seeds and evaluation items; differences are paired with "
           "<code>raw</code> by seed and item.</p>"]
    out += [f"<p class='noise'>{esc(n)}</p>" for n in notes or []]
    out.append("<h2>Runs</h2><table><tr><th>size</th><th>recipe</th><th>seeds</th><th>tokens/run</th><th>epochs</th>"
               "<th>corpus tokens</th><th>tokens/s</th><th>ledger run</th></tr>")
    out += [f"<tr><td>{esc(r[0])}</td><td>{esc(r[1])}</td><td>{r[2]}</td><td>{r[3]:,}</td><td>{r[4]:.2f}</td>"
            f"<td>{r[5]:,}</td><td>{r[6]:,.0f}</td><td>{esc(r[7])}</td></tr>" for r in runs]
    out.append("</table><h2>Metrics</h2>")
    groups: dict = defaultdict(list)
    for row in summary:
        groups[row[:4]].append(row)
    for (size, eval_set, split, metric), rows in groups.items():
        title = f"{size} · {eval_set} · {metric} · {split}"
        out.append(f"<h3>{esc(title)}</h3>" + _ci_chart([(r[4], r[5], r[6], r[7], r[8]) for r in rows], title))
        out.append("<table><tr><th>recipe</th><th>mean</th><th>std (seeds)</th><th>95% CI</th><th>n</th>"
                   "<th>Δ vs raw</th><th>95% CI of Δ</th><th>verdict</th></tr>")
        for r in rows:
            d = "" if r[11] is None else f"{r[11]:+.4f}"
            dci = "" if r[12] is None else f"[{r[12]:+.4f}, {r[13]:+.4f}]"
            cls = " class='noise'" if r[14] and "noise" in r[14] else ""
            out.append(f"<tr><td>{esc(r[4])}</td><td>{r[5]:.4f}</td><td>{r[6]:.4f}</td><td>[{r[7]:.4f}, {r[8]:.4f}]"
                       f"</td><td>{r[9]}×{r[10]}</td><td>{d}</td><td>{dci}</td><td{cls}>{esc(r[14] or '')}</td></tr>")
        out.append("</table>")
    if decisions:
        out.append("<h2>Decision accuracy between sizes</h2><table><tr><th>small → large</th><th>eval set</th>"
                   "<th>split</th><th>metric</th><th>accuracy</th><th>pairs</th></tr>")
        out += [f"<tr><td>{esc(d[0])} → {esc(d[1])}</td><td>{esc(d[2])}</td><td>{esc(d[3])}</td><td>{esc(d[4])}</td>"
                f"<td>{d[5]:.2f}</td><td>{d[6]}</td></tr>" for d in decisions]
        out.append("</table>")
    out.append("<h2>Learning curves</h2>")
    by_size: dict = defaultdict(lambda: defaultdict(list))
    for run_id, tokens, loss in curves_rows:
        by_size[run_id.split("/")[0]][run_id].append((tokens, loss))
    recipes = sorted({r[1] for r in runs}, key=lambda n: (n != "raw", n))
    for size, curves in by_size.items():
        out.append(_curves_chart(curves, recipes, f"{size}: training loss"))
    path.write_text("\n".join(out), encoding="utf-8")
    return path
