"""The `contamination` ablation recipe: benchmarks from the evaluation suite, the release with repeated
answer-key pages, the leaked-vs-unleaked statistics, and the whole recipe at tiny size."""
import json
from pathlib import Path

import duckdb
import numpy as np
import pytest

from eval import ablate as ab
from eval import contamination_release as cr
from eval import sources

ROOT = sources.shared_data_root()
needs_data = pytest.mark.skipif(not ROOT.exists(), reason=f"shared data not found at {ROOT} (set ASSAY_SHARED_DATA)")


def test_recipes_with_contamination_get_the_suites_own_test_sets(tmp_path: Path) -> None:
    recipes, _ = ab.resolve_recipes(["raw", "contamination", "full"], {}, ("exact_dup", "contamination"))
    config = {"data": {"root": str(tmp_path)}, "eval": {"benchmarks": ["arc_easy", "lambada"]}}
    out = {r.name: r for r in cr.with_benchmarks(recipes, config)}
    want = (f"arc={tmp_path}/benchmarks/razvandu/ARC-Easy/ARC-Easy-Test.jsonl",
            f"lambada={tmp_path}/benchmarks/razvandu/LAMBADA/lambada_test_plain_text.txt")
    assert out["raw"].options == {}
    assert out["contamination"].options["contamination"]["benchmarks"] == want
    assert out["full"].options["contamination"]["benchmarks"] == want
    mine = ab.Recipe("mine", ("contamination",), {"contamination": {"benchmarks": ("gsm8k=x",), "policy": "flag"}})
    assert cr.with_benchmarks([mine], config)[0] == mine  # a recipe's own benchmarks win


def test_contamination_is_available_to_ablations_when_the_suites_files_exist(tmp_path: Path) -> None:
    config = {"data": {"root": str(tmp_path)}, "eval": {"benchmarks": ["lambada"]}}
    assert cr.contamination_available(("exact_dup", "pii"), config) == ("exact_dup", "pii")  # no files there
    lam = tmp_path / "benchmarks" / "razvandu" / "LAMBADA" / "lambada_test_plain_text.txt"
    lam.parent.mkdir(parents=True)
    lam.write_text("a line of a novel\n")
    assert cr.contamination_available(("exact_dup", "pii"), config) == ("exact_dup", "contamination", "pii")


def test_inflation_interval_excludes_zero_only_when_leaked_items_score_higher() -> None:
    rng = np.random.default_rng(0)
    unleaked = rng.normal(-3.0, 0.3, size=(3, 60))
    gap, lo, hi = cr.inflation(unleaked + 1.0, unleaked)
    assert abs(gap - 1.0) < 1e-9 and 0.7 < lo < 1.0 < hi < 1.3
    gap, lo, hi = cr.inflation(rng.normal(-3.0, 0.3, size=(3, 60)), unleaked)
    assert lo < 0 < hi


@needs_data
def test_release_repeats_answer_keys_and_lists_what_leaked(tmp_path: Path) -> None:
    stats = cr.build(ROOT, tmp_path, leak_items=5, copies=4, clean_docs=30, max_items=20, seed=0, train={"micro_batch": 4})
    import tomllib

    config = tomllib.loads((tmp_path / "eval.toml").read_text())
    assert config["train"] == {"micro_batch": 4} and config["eval"]["max_items"] == 20
    leaked = [json.loads(x) for x in (tmp_path / "leaked_items.jsonl").read_text().splitlines()]
    assert stats["leaked_items"] == len(leaked) == 15 and stats["documents"] == 30 + 3 * 4
    items = {it.item_id: it for it in sources.benchmark("arc_easy", ROOT)[:20]}
    arc = [row["item_id"] for row in leaked if row["benchmark"] == "arc_easy"]
    assert len(arc) == 5 and all(a in items for a in arc)
    import gzip

    texts = [json.loads(x)["text"] for x in gzip.open(tmp_path / "raw" / "part-00000.jsonl.gz", "rt")]
    answer = sources.benchmark_text("arc_easy", items[arc[0]])
    assert sum(answer in t for t in texts) == 4  # the page with it, reposted


@needs_data
@pytest.mark.slow
def test_contamination_recipe_end_to_end_at_tiny_size(tmp_path: Path) -> None:
    import torch

    torch.set_num_threads(2)
    cr.build(ROOT, tmp_path / "rel", leak_items=4, copies=3, clean_docs=20, max_items=8, seed=0)
    config = {"eval": {"leaked_items": str(tmp_path / "rel" / "leaked_items.jsonl"), "benchmarks": list(cr.LEAK_BENCHMARKS)}}
    suite = ab.load_suite(config, n_items=8)
    suite.heldout = {k: v[:2] for k, v in suite.heldout.items()}
    suite.tokenizer_texts = suite.tokenizer_texts[:200]
    recipes, _ = ab.resolve_recipes(["raw", "contamination"], {}, cr.contamination_available(ab.available_stages(), config))
    recipes = cr.with_benchmarks(recipes, config)
    settings = ab.Settings(tokens=2000, sizes=("32x1",), seeds=2, device="cpu", vocab_size=300, block_size=64,
                           heldout_max_tokens=800, train={"micro_batch": 8})
    ab.ablate([tmp_path / "rel" / "raw"], tmp_path / "abl", recipes, settings, suite, log=lambda _: None)
    with duckdb.connect(str(tmp_path / "abl" / "runs" / "contamination" / "ledger.duckdb"), read_only=True) as con:
        found = {r[0] for r in con.execute("SELECT DISTINCT item_id FROM contamination_items").fetchall()}
    leaked = {json.loads(x)["item_id"] for x in (tmp_path / "rel" / "leaked_items.jsonl").read_text().splitlines()}
    assert leaked <= found  # every leaked item was found, so the decontaminated corpus holds none
    table = cr.summary(tmp_path / "abl")
    assert "| 32x1 | raw |" in table and "| 32x1 | contamination |" in table
    rows = {line.split("|")[2].strip(): [c.strip() for c in line.split("|")[1:-1]] for line in table.splitlines()[2:]}
    assert rows["raw"][-1] == "—" and rows["contamination"][-1].count("[") == 1  # inflation change vs raw, with its CI
