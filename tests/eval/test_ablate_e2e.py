"""`assay ablate` end to end on CPU: with a stand-in runner (orchestration alone) and with the real pipeline."""
import argparse
import json
import random
from pathlib import Path

import duckdb
import polars as pl
import pytest
import torch

from eval import ablate as ab
from eval.sources import MCItem

torch.set_num_threads(2)
WORDS = "the a river town market old new green stone bridge water light road house field song".split()
SETTINGS = dict(block_size=32, vocab_size=300, heldout_max_tokens=2000, train={"micro_batch": 8, "log_points": 5})


def prose(i: int, n_words: int = 90) -> str:
    rng = random.Random(i)
    return " ".join(rng.choice(WORDS) for _ in range(n_words)).capitalize() + "."


def suite() -> ab.EvalSuite:
    ctx = "The river runs to the"
    items = [MCItem(f"q{i}", ((ctx, " old town."), (ctx, f" {WORDS[i]} song.")), 0) for i in range(6)]
    return ab.EvalSuite(heldout={"toy_text": [prose(1000 + i) for i in range(4)]},
                        benchmarks={"toy_mc": items}, leaked={"toy_mc": {"q0", "q1"}},
                        tokenizer_texts=[prose(5000 + i) for i in range(200)])


def fake_run(opts):
    """Stands in for flows.execute.run_local: 'exact_dup' keeps one copy of each text."""
    docs = [prose(i % 7) for i in range(40)]
    if "exact_dup" in opts.stages:
        docs = list(dict.fromkeys(docs))
    out = Path(opts.out)
    (out / "curated").mkdir(parents=True)
    pl.DataFrame({"doc_id": [str(i) for i in range(len(docs))], "text": docs, "source": "fake"}).write_parquet(
        out / "curated" / "part-00000.parquet")
    (out / "manifest.json").write_text(json.dumps({"stages": list(opts.stages)}))
    return {}


def test_ablation_orchestration_tables_report_and_resume(tmp_path):
    recipes, notes = ab.resolve_recipes(["raw", "exact_dup", "pii"], {}, ("exact_dup", "quality"))
    assert [r.name for r in recipes] == ["raw", "exact_dup"] and "pii" in notes[0]
    settings = ab.Settings(tokens=3000, sizes=("32x1", "48x1"), seeds=2, device="cpu", **SETTINGS)
    logs: list[str] = []
    report = ab.ablate([tmp_path / "in.jsonl"], tmp_path / "abl", recipes, settings, suite(), run=fake_run,
                       log=logs.append)
    html = report.read_text()
    assert html.count("Plotly.newPlot(") >= 2 and "Decision accuracy" in html and "exact_dup" in html
    assert "<script src=" not in html  # plotly.js inline: opens offline
    assert (tmp_path / "abl" / "tokenizer.json").exists()
    with duckdb.connect(str(tmp_path / "abl" / "ablation.duckdb"), read_only=True) as con:
        runs = con.execute("SELECT recipe, seed, size, tokens, epochs, corpus_tokens, ledger_run_path "
                           "FROM ablation_runs ORDER BY size, recipe, seed").fetchall()
        assert len(runs) == 8
        raw, dedup = runs[2], runs[0]  # same size, seed 0
        assert raw[3] == dedup[3]  # one token budget for every recipe...
        assert dedup[4] > raw[4] > 0  # ...so the smaller corpus is repeated more
        assert dedup[6].endswith("runs/exact_dup")
        splits = {r[0] for r in con.execute("SELECT DISTINCT split FROM ablation_metrics WHERE eval_set='toy_mc'").fetchall()}
        assert splits == {"all", "leaked", "unleaked"}
        summ = con.execute("SELECT recipe, metric, diff, diff_lo, diff_hi, verdict FROM ablation_summary "
                           "WHERE size='32x1' AND eval_set='toy_text' AND split='all'").fetchall()
        by_recipe = {r[0]: r for r in summ}
        assert by_recipe["raw"][2] is None and by_recipe["exact_dup"][3] <= by_recipe["exact_dup"][2] <= by_recipe["exact_dup"][4]
        assert con.execute("SELECT count(*) FROM ablation_decisions").fetchall()[0][0] > 0
        assert con.execute("SELECT count(DISTINCT run_id) FROM ablation_curves").fetchall()[0][0] == 8
    n_trained = sum("tok/s" in line for line in logs)
    ab.ablate([tmp_path / "in.jsonl"], tmp_path / "abl", recipes, settings, suite(), run=fake_run, log=logs.append)
    assert sum("tok/s" in line for line in logs) == n_trained  # a rerun trains nothing new


def test_shard_size_reaches_every_recipes_run(tmp_path):
    seen = []
    recipes, _ = ab.resolve_recipes(["raw", "exact_dup"], {}, ("exact_dup",))
    settings = ab.Settings(tokens=500, sizes=("32x1",), seeds=2, device="cpu", shard_size=2000, **SETTINGS)
    ab.ablate([tmp_path / "in.jsonl"], tmp_path / "abl", recipes, settings, suite(),
              run=lambda o: seen.append(o.shard_size) or fake_run(o), log=lambda _: None)
    assert seen == [2000, 2000]


def test_cli_arguments_parse(capsys):
    parser = argparse.ArgumentParser()
    ab.add_arguments(parser)
    args = parser.parse_args(["a.jsonl", "b.jsonl", "--out", "x", "--recipes", "raw,full", "--tokens", "5",
                              "--size", "tiny,mini", "--seeds", "3", "--device", "cpu", "--eval-config", "c.toml",
                              "--shard-size", "2000"])
    assert args.inputs == [Path("a.jsonl"), Path("b.jsonl")] and args.size == "tiny,mini" and args.shard_size == 2000
    one_seed = parser.parse_args(["a.jsonl", "--out", "x", "--seeds", "1"])
    assert ab.run(one_seed) == 2 and "--seeds must be at least 2" in capsys.readouterr().err
    strict = ab.Recipe("quality_strict", ("quality",), {"quality": {"min_words": 100}})
    recipes, notes = ab.resolve_recipes(["raw", "quality_strict", "full"], {"quality_strict": strict},
                                        ("exact_dup", "quality"))
    assert recipes[1] == strict and recipes[2].stages == ("exact_dup", "quality") and not notes
    with pytest.raises(ValueError, match="must include `raw`"):
        ab.resolve_recipes(["exact_dup"], {}, ("exact_dup",))


def test_ablate_and_run_share_one_stage_order():
    """`full` is what `assay run` runs by default, in its order; the default recipes are raw, each
    of those stages alone, then full."""
    from flows.plan import RunOptions, _configured
    from stages import catalog

    plain, _ = _configured(catalog.default_stages(), RunOptions(inputs=(), out="x"))  # what `assay run` runs
    assert plain == catalog.plain_run_stages()
    recipes, notes = ab.resolve_recipes(ab.default_recipes(), {}, ab.available_stages())
    assert not notes
    assert [r.name for r in recipes] == ["raw", *plain, "full"]
    assert recipes[-1].stages == plain
    assert all(r.stages == (r.name,) for r in recipes[1:-1])


def test_real_pipeline_ablation_on_cpu(tmp_path):
    rng = random.Random(0)
    rows = []
    for i in range(60):  # heavy-tailed duplication: what exact_dup should remove
        rows += [{"id": f"d{i}-{k}", "text": prose(i, 120)} for k in range(1 + int(rng.paretovariate(1.2)) % 12)]
    rows += [{"id": f"junk{i}", "text": "buy now " * 3} for i in range(10)]
    raw = tmp_path / "raw.jsonl"
    raw.write_text("\n".join(json.dumps(r) for r in rows))
    recipes, _ = ab.resolve_recipes(["raw", "exact_dup", "full"], {}, ab.available_stages())
    settings = ab.Settings(tokens=4000, sizes=("32x1",), seeds=2, device="cpu", **SETTINGS)
    ab.ablate([raw], tmp_path / "abl", recipes, settings, suite(), log=lambda _: None)
    with duckdb.connect(str(tmp_path / "abl" / "ablation.duckdb"), read_only=True) as con:
        corpora = dict(con.execute("SELECT recipe, any_value(corpus_tokens) FROM ablation_runs GROUP BY recipe").fetchall())
        paths = [r[0] for r in con.execute("SELECT DISTINCT ledger_run_path FROM ablation_runs").fetchall()]
    assert corpora["exact_dup"] < corpora["raw"]
    for path in paths:
        assert (Path(path) / "ledger.duckdb").exists() and (Path(path) / "manifest.json").exists()
