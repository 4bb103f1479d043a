"""`assay ablate` quality recipes: heuristics, classifier and both resolve with the classifier given once,
unconfigured learned stages are skipped or left out of `full` with a note, and each recipe's corpus is
made by the normal pipeline (no proxy training here)."""
from __future__ import annotations

import random
from pathlib import Path

from conftest import prose, write_jsonl

from eval.ablate import available_stages, default_recipes, resolve_recipes
from eval.quality_recipes import builtin_recipes, learned_available, with_learned
from flows.execute import run_local
from flows.plan import RunOptions
from stages import fasttext_model as fm


def _model(tmp: Path) -> Path:
    junk = [" | ".join(random.Random(i).choice(["home", "login", "cart", "menu"]) for _ in range(30)) for i in range(30)]
    out = tmp / "q.bin"
    fm.train([prose(i) for i in range(30)], junk, out, params={"dim": 8, "bucket": 2000, "epoch": 20})
    return out


def test_quality_recipes_resolve_and_make_their_corpora(tmp_path: Path) -> None:
    model = _model(tmp_path)
    names = ["raw", "quality", "fasttext_quality", "quality_both", "domain", "full"]
    available = learned_available(available_stages(), {}, model)
    assert "fasttext_quality" in available and "fasttext_quality" not in available_stages()
    assert default_recipes(available).count("fasttext_quality") == 1
    recipes, notes = resolve_recipes(names, builtin_recipes(), available)
    recipes, more = with_learned(recipes, {}, model)
    notes += more
    by = {r.name: r for r in recipes}
    assert by["quality_both"].stages == ("quality", "fasttext_quality")
    assert by["fasttext_quality"].options == {"fasttext_quality": {"model": str(model)}}
    assert by["full"].options["fasttext_quality"]["model"] == str(model) and "domain" not in by["full"].stages
    assert "domain" not in by and any("recipe 'domain' skipped" in n for n in notes)
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"text": prose(i) if i % 3 else "home | login | cart " * 20} for i in range(30)])
    kept = {}
    for name in ("raw", "quality", "fasttext_quality", "quality_both"):
        r = by[name]
        manifest = run_local(RunOptions(inputs=(str(tmp_path / "in"),), out=tmp_path / "runs" / name, stages=r.stages,
                                        stage_options=r.options, progress=False))
        kept[name] = manifest["kept"]
    assert kept["raw"] == 30 and kept["quality_both"] <= min(kept["quality"], kept["fasttext_quality"]) < 30


def test_without_a_model_the_classifier_recipes_are_skipped_with_a_note() -> None:
    names = [*default_recipes(), "quality_both", "fasttext_quality"]
    recipes, notes = resolve_recipes(names, builtin_recipes(), learned_available(available_stages(), {}, None))
    recipes, more = with_learned(recipes, {}, None)
    kept = [r.name for r in recipes]
    assert "fasttext_quality" not in kept and "quality_both" not in kept and "raw" in kept and "quality" in kept
    assert "fasttext_quality" not in next(r for r in recipes if r.name == "full").stages
    assert any("recipe 'quality_both' skipped" in n for n in notes + more)
