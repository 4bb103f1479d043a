"""The real demonstration in miniature: a raw release built from the shared data, ablated on CPU."""
import json

import duckdb
import pytest
import torch

from eval import ablate as ab
from eval import build_raw_release, sources

torch.set_num_threads(2)
ROOT = sources.shared_data_root()
pytestmark = pytest.mark.skipif(not ROOT.exists(), reason=f"shared data not found at {ROOT} (set ASSAY_SHARED_DATA)")


@pytest.mark.slow
def test_raw_release_ablation_splits_leaked_items(tmp_path):
    stats = build_raw_release.build(ROOT, tmp_path / "rel", per_source=30, leak_fraction=0.02, seed=0)
    assert stats["exact_copies"] > 0 and stats["leaked_items"] > 0
    leaked = [json.loads(line) for line in (tmp_path / "rel" / "leaked_items.jsonl").read_text().splitlines()]
    assert {row["benchmark"] for row in leaked} == set(build_raw_release.LEAK_BENCHMARKS)
    config = {"eval": {"leaked_items": str(tmp_path / "rel" / "leaked_items.jsonl"), "max_items": 16,
                       "benchmarks": ["arc_easy", "piqa", "winogrande", "lambada", "hellaswag"]}}
    suite = ab.load_suite(config, n_items=16)
    suite.heldout = {k: v[:3] for k, v in suite.heldout.items()}
    suite.tokenizer_texts = suite.tokenizer_texts[:300]
    assert "hellaswag skipped" in " ".join(suite.notes)  # its labels are not in the data folder
    assert all(any(it.item_id in suite.leaked[name] for it in items) for name, items in suite.benchmarks.items())
    recipes, _ = ab.resolve_recipes(["raw", "exact_dup"], {}, ab.available_stages())
    settings = ab.Settings(tokens=3000, sizes=("32x1",), seeds=2, device="cpu", vocab_size=300, block_size=64,
                           heldout_max_tokens=1500, train={"micro_batch": 8})
    report = ab.ablate([tmp_path / "rel" / "raw"], tmp_path / "abl", recipes, settings, suite, log=lambda _: None)
    assert "leaked" in report.read_text()
    with duckdb.connect(str(tmp_path / "abl" / "ablation.duckdb"), read_only=True) as con:
        splits = con.execute("SELECT eval_set, list(DISTINCT split ORDER BY split) FROM ablation_metrics "
                             "WHERE metric = 'accuracy' GROUP BY eval_set").fetchall()
        corpora = dict(con.execute("SELECT recipe, any_value(corpus_docs) FROM ablation_runs GROUP BY recipe").fetchall())
    assert all(s == ["all", "leaked", "unleaked"] for _, s in splits)
    assert corpora["exact_dup"] < corpora["raw"]


@pytest.mark.slow
def test_assay_ablate_command_end_to_end(tmp_path):
    """The command users type, through the CLI, on a tiny raw release and tiny models."""
    from flows.cli import main

    build_raw_release.build(ROOT, tmp_path / "rel", per_source=15, leak_fraction=0.02, seed=1)
    cfg = tmp_path / "eval.toml"
    cfg.write_text(f'[eval]\nleaked_items = "{tmp_path / "rel" / "leaked_items.jsonl"}"\nmax_items = 8\n'
                   'benchmarks = ["arc_easy", "piqa"]\n[tokenizer]\nvocab_size = 300\n'
                   '[train]\nblock_size = 64\nmicro_batch = 8\nheldout_max_tokens = 800\n')
    rc = main(["ablate", str(tmp_path / "rel" / "raw"), "--out", str(tmp_path / "abl"), "--recipes", "raw,exact_dup",
               "--tokens", "2000", "--size", "32x1", "--seeds", "2", "--device", "cpu", "--eval-config", str(cfg)])
    assert rc == 0
    assert (tmp_path / "abl" / "report.html").exists() and (tmp_path / "abl" / "tokenizer.json").exists()
    with duckdb.connect(str(tmp_path / "abl" / "ablation.duckdb"), read_only=True) as con:
        runs = con.execute("SELECT recipe, count(*) FROM ablation_runs GROUP BY recipe ORDER BY recipe").fetchall()
    assert runs == [("exact_dup", 2), ("raw", 2)]
