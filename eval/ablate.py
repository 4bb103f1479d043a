"""`assay ablate`: run each curation recipe through the normal pipeline, train proxy models on the same token
budget, score them on the same evaluation suite, and compare every recipe with `raw`.

ABL_DIR holds `tokenizer.json` (trained once), `runs/<recipe>/` (a full pipeline run with ledger and
manifest per recipe), `tokens/<recipe>.bin`, `ablation.duckdb` and `report.html`. A rerun skips what is
done: finished pipeline runs (their manifest exists) and trained runs already in `ablation_runs`.

torch, tokenizers and duckdb are imported where they are used, so that importing this module (for
`add_arguments`, or a recipe list) costs nothing.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval import sources

if TYPE_CHECKING:
    from eval.data import TokenFile
    from eval.evaluate import ItemScore

HELDOUT = ("wikitext2_test", "simplebooks_test", "bbc_heldout")
BENCHMARKS = ("arc_easy", "piqa", "winogrande", "hellaswag", "lambada")
# OpenWebText and Wikipedia excerpts: clean, general, and never part of a raw release we build
TOKENIZER_FILES = ("web/openai_evals_schelling/owt_5.jsonl", "web/openai_evals_schelling/wikipedia_5.jsonl")
SCHEMA = """
CREATE TABLE IF NOT EXISTS ablation_runs (run_id VARCHAR PRIMARY KEY, config_hash VARCHAR, config JSON,
  recipe VARCHAR, stages JSON, seed INTEGER, size VARCHAR, n_params BIGINT, tokens BIGINT, corpus_tokens BIGINT,
  corpus_docs BIGINT, epochs DOUBLE, ledger_run_path VARCHAR, manifest_path VARCHAR, device VARCHAR,
  train_seconds DOUBLE, tokens_per_s DOUBLE, eval_seconds DOUBLE, final_loss DOUBLE, finished_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS ablation_metrics (run_id VARCHAR, recipe VARCHAR, seed INTEGER, size VARCHAR,
  tokens BIGINT, epochs DOUBLE, eval_set VARCHAR, split VARCHAR, metric VARCHAR, value DOUBLE, n_items INTEGER,
  ledger_run_path VARCHAR);
CREATE TABLE IF NOT EXISTS ablation_items (run_id VARCHAR, eval_set VARCHAR, item_id VARCHAR, leaked BOOLEAN,
  num DOUBLE, den DOUBLE, correct DOUBLE);
CREATE TABLE IF NOT EXISTS ablation_curves (run_id VARCHAR, step INTEGER, tokens BIGINT, loss DOUBLE, lr DOUBLE);
"""


@dataclass(frozen=True)
class Recipe:
    name: str
    stages: tuple[str, ...]
    options: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class EvalSuite:
    """What every proxy model is scored on, plus the independent text the tokenizer is trained on."""
    heldout: dict[str, list[str]]
    benchmarks: dict[str, list[sources.MCItem]]
    leaked: dict[str, set[str]]
    tokenizer_texts: list[str]
    notes: list[str] = field(default_factory=list)


@dataclass
class Settings:
    tokens: int
    sizes: tuple[str, ...]
    seeds: int
    device: str = "auto"
    vocab_size: int = 8192
    block_size: int = 256
    heldout_max_tokens: int = 200_000
    train: dict[str, Any] = field(default_factory=dict)  # extra TrainConfig fields (micro_batch, lr, ...)
    shard_size: int | None = None  # documents per shard of each recipe's run (None: assay run's default)


def available_stages() -> tuple[str, ...]:
    """The stages a plain `assay run` would run, in its order: installed, part of the `run` recipe,
    and needing no file the user must give (contamination without benchmarks has nothing to do;
    such stages take part through a recipe that gives their options, e.g. in --eval-config)."""
    from stages import catalog

    return catalog.plain_run_stages()


def default_recipes(available: tuple[str, ...] | None = None) -> list[str]:
    """`raw`, each available stage alone, and `full`."""
    return ["raw", *(available_stages() if available is None else available), "full"]


def resolve_recipes(names: list[str], custom: dict[str, Recipe], available: tuple[str, ...]) -> tuple[list[Recipe], list[str]]:
    """`raw` ingests only, a stage name runs that stage alone, `full` runs every available stage; a recipe
    that needs a stage this install lacks is skipped and said so, not silently changed."""
    recipes, notes = [], []
    for name in names:
        if name in custom:
            recipe = custom[name]
        elif name == "raw":
            recipe = Recipe("raw", ())
        elif name == "full":
            recipe = Recipe("full", available)
        else:
            recipe = Recipe(name, (name,))
        missing = [s for s in recipe.stages if s not in available]
        if missing:
            notes.append(f"recipe {name!r} skipped: stage(s) {missing} not available in this install")
            continue
        recipes.append(recipe)
    if not any(r.name == "raw" for r in recipes):
        raise ValueError("the recipes must include `raw`: every recipe is compared with it")
    return recipes, notes


def load_suite(config: dict[str, Any], n_items: int) -> EvalSuite:
    root = Path(config.get("data", {}).get("root") or sources.shared_data_root())
    if not root.exists():
        raise FileNotFoundError(f"shared data not found at {root}: set ASSAY_SHARED_DATA or [data] root")
    ev = config.get("eval", {})
    leaked_path = ev.get("leaked_items")
    leaked = sources.read_leaked(Path(leaked_path) if leaked_path else None)
    heldout = {name: sources.heldout_source(name, root) for name in ev.get("heldout", HELDOUT)}
    labels = ev.get("hellaswag_labels")
    benchmarks, notes = {}, []
    for name in ev.get("benchmarks", BENCHMARKS):
        items = sources.benchmark(name, root, Path(labels) if labels else None)
        if not items:
            notes.append(f"{name} skipped: no labels for its items (see eval/sources.py)")
            continue
        benchmarks[name] = cap_items(items, leaked.get(name, set()), n_items)
    texts = []
    for rel in config.get("tokenizer", {}).get("files", TOKENIZER_FILES):
        with open(root / rel, encoding="utf-8") as fh:
            texts.extend(json.loads(line)["0"] for line in fh if line.strip())
    return EvalSuite(heldout, benchmarks, leaked, texts, notes)


def cap_items(items: list[sources.MCItem], leaked: set[str], n: int) -> list[sources.MCItem]:
    """At most n items, up to half of them leaked, so that a cap never loses the leaked/unleaked comparison."""
    keep_leaked = [i for i, it in enumerate(items) if it.item_id in leaked][: n // 2]
    keep_clean = [i for i, it in enumerate(items) if it.item_id not in leaked][: n - len(keep_leaked)]
    return [items[i] for i in sorted(keep_leaked + keep_clean)]


def _tokenizer(out: Path, suite: EvalSuite, vocab_size: int):
    from eval.tokenizer import TOKENIZER_FILE, load_tokenizer, train_tokenizer

    path = out / TOKENIZER_FILE
    return load_tokenizer(path) if path.exists() else train_tokenizer(suite.tokenizer_texts, vocab_size, path)


def _corpus(out: Path, recipe: Recipe, inputs: list[Path], tok, run: Callable,
            shard_size: int | None = None) -> tuple[Path, TokenFile]:
    from eval.data import curated_texts, open_token_file, tokenize_to_file

    run_dir = out / "runs" / recipe.name
    if not (run_dir / "manifest.json").exists():
        from flows.plan import RunOptions

        sized = {"shard_size": shard_size} if shard_size else {}
        run(RunOptions(inputs=tuple(str(p) for p in inputs), out=run_dir, stages=recipe.stages,
                       stage_options=recipe.options, progress=False, **sized))
    bin_path = out / "tokens" / f"{recipe.name}.bin"
    corpus = open_token_file(bin_path) or tokenize_to_file(curated_texts(run_dir), tok, bin_path)
    return run_dir, corpus


def _evaluate(model, tok, suite: EvalSuite, device, max_tokens: int) -> list[ItemScore]:
    from eval.evaluate import heldout_bpb, score_benchmark

    items: list[ItemScore] = []
    for name, docs in suite.heldout.items():
        items += heldout_bpb(model, tok, name, docs, device, max_tokens)
    for name, mc in suite.benchmarks.items():
        items += score_benchmark(model, tok, name, mc, suite.leaked.get(name, set()), device)
    return items


def run_metrics(items: list[ItemScore]) -> list[tuple[str, str, str, float, int]]:
    """(eval_set, split, metric, value, n_items); leaked/unleaked splits only where something leaked."""
    rows = []
    for name in dict.fromkeys(i.eval_set for i in items):
        mine = [i for i in items if i.eval_set == name]
        splits = {"all": mine}
        if any(i.leaked for i in mine):
            splits |= {"leaked": [i for i in mine if i.leaked], "unleaked": [i for i in mine if not i.leaked]}
        for split, part in splits.items():
            if part[0].correct is None:
                rows.append((name, split, "bpb", sum(i.num for i in part) / sum(i.den for i in part), len(part)))
            else:
                rows.append((name, split, "accuracy", sum(i.correct for i in part) / len(part), len(part)))
                rows.append((name, split, "norm_logprob", sum(i.num for i in part) / len(part), len(part)))
    return rows


def ablate(inputs: list[Path], out: Path, recipes: list[Recipe], settings: Settings, suite: EvalSuite,
           run: Callable | None = None, log: Callable[[str], None] = print) -> Path:
    """`run(RunOptions) -> manifest` makes each recipe's corpus (default: flows.execute.run_local)."""
    import duckdb

    from eval.model import config_for
    from eval.train import TrainConfig, resolve_device, train

    if run is None:
        from flows.execute import run_local as run
    out.mkdir(parents=True, exist_ok=True)
    tok = _tokenizer(out, suite, settings.vocab_size)
    device = resolve_device(settings.device)
    db = out / "ablation.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(SCHEMA)
    for recipe in recipes:
        run_dir, corpus = _corpus(out, recipe, inputs, tok, run, settings.shard_size)
        log(f"[{recipe.name}] {corpus.n_docs} docs, {corpus.n_tokens} tokens; stages {list(recipe.stages)}")
        for size in settings.sizes:
            model_cfg = config_for(size, tok.get_vocab_size(), settings.block_size)
            for seed in range(settings.seeds):
                cfg = TrainConfig(tokens=settings.tokens, seed=seed, device=str(device), **settings.train)
                config = {"model": model_cfg.to_dict(), "train": cfg.to_dict(), "recipe": recipe.stages,
                          "options": recipe.options, "corpus_tokens": corpus.n_tokens,
                          "heldout_max_tokens": settings.heldout_max_tokens}
                config_hash = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()
                run_id = f"{size}/{recipe.name}/seed{seed}"
                with duckdb.connect(str(db)) as con:
                    done = con.execute("SELECT config_hash FROM ablation_runs WHERE run_id = ?", [run_id]).fetchall()
                if done and done[0][0] == config_hash:
                    continue
                result = train(model_cfg, cfg, corpus)
                t0 = time.perf_counter()
                items = _evaluate(result.model, tok, suite, device, settings.heldout_max_tokens)
                eval_s = time.perf_counter() - t0
                log(f"[{run_id}] {result.tokens_seen} tokens ({result.epochs:.2f} epochs) in {result.seconds:.1f}s "
                    f"({result.tokens_per_s:,.0f} tok/s), loss {result.final_loss:.3f}, eval {eval_s:.1f}s")
                _record(db, run_id, config_hash, config, recipe, seed, size, result, corpus, run_dir, str(device),
                        eval_s, items)
    from eval.report import write_report

    return write_report(db, out / "report.html", notes=suite.notes)


def _record(db: Path, run_id, config_hash, config, recipe, seed, size, result, corpus, run_dir, device, eval_s,
            items: list[ItemScore]) -> None:
    """One transaction per run: a run is in the tables entirely or not at all."""
    import duckdb

    ledger = run_dir.as_posix()
    with duckdb.connect(str(db)) as con:
        con.execute("BEGIN")
        for table in ("ablation_runs", "ablation_metrics", "ablation_items", "ablation_curves"):
            con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
        con.execute("INSERT INTO ablation_runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,current_timestamp)", [
            run_id, config_hash, json.dumps(config, default=str), recipe.name, json.dumps(recipe.stages), seed, size,
            result.model.n_params(), result.tokens_seen, corpus.n_tokens, corpus.n_docs, result.epochs, ledger,
            (run_dir / "manifest.json").as_posix(), device, result.seconds, result.tokens_per_s, eval_s,
            result.final_loss])
        con.executemany("INSERT INTO ablation_metrics VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", [
            (run_id, recipe.name, seed, size, result.tokens_seen, result.epochs, *row, ledger)
            for row in run_metrics(items)])
        con.executemany("INSERT INTO ablation_items VALUES (?,?,?,?,?,?,?)", [
            (run_id, i.eval_set, i.item_id, i.leaked, i.num, i.den, i.correct) for i in items])
        con.executemany("INSERT INTO ablation_curves VALUES (?,?,?,?,?)", [
            (run_id, c["step"], c["tokens"], c["loss"], c["lr"]) for c in result.curve])
        con.execute("COMMIT")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", type=Path, metavar="RAW_INPUT", help="raw input files or folders")
    parser.add_argument("--out", required=True, type=Path, metavar="ABL_DIR")
    parser.add_argument("--recipes", default=None,
                        help="comma-separated recipe names: raw, a stage name, full, or one defined in --eval-config "
                             "(default: raw, each stage alone, full)")
    parser.add_argument("--tokens", type=int, default=1_000_000, help="training tokens per run (same for every recipe)")
    parser.add_argument("--size", default="tiny", help="model size(s), comma-separated: tiny, mini, small, medium, "
                        "base, large or WIDTHxDEPTH; two sizes also report decision accuracy")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per recipe and size (at least 2; default 3)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--eval-config", type=Path, default=None, metavar="FILE",
                        help="TOML: [eval] sets and leaked_items, [tokenizer], [train], [recipes.NAME]")
    parser.add_argument("--shard-size", type=int, default=None, metavar="N",
                        help="documents per shard of each recipe's curation run (default: assay run's); web pages "
                             "are large: 2000 keeps a raw-HTML recipe's memory to a few GB")
    parser.add_argument("--quality-model", type=Path, default=None, metavar="MODEL",
                        help="fastText classifier ('assay quality train') for the recipes fasttext_quality, "
                             "quality_both (heuristics + classifier) and full")


def run(args: argparse.Namespace) -> int:
    if args.seeds < 2:
        print("assay ablate: usage error: --seeds must be at least 2 to estimate noise (3 or more recommended)",
              file=sys.stderr)
        return 2
    config = tomllib.loads(args.eval_config.read_text()) if args.eval_config else {}
    from eval.quality_recipes import builtin_recipes, learned_available, with_learned

    custom = builtin_recipes() | {name: Recipe(name, tuple(spec.get("stages", ())), spec.get("options", {}))
                                  for name, spec in config.get("recipes", {}).items()}
    available = learned_available(available_stages(), config, args.quality_model)  # + fasttext_quality given a model
    from eval.contamination_release import contamination_available, with_benchmarks

    available = contamination_available(available, config)  # + contamination: the suite's test sets are its input
    names = [n.strip() for n in args.recipes.split(",") if n.strip()] if args.recipes else default_recipes(available)
    recipes, notes = resolve_recipes(names, custom, available)
    recipes = with_benchmarks(recipes, config)  # contamination looks for the suite's own test sets
    recipes, learned_notes = with_learned(recipes, config, args.quality_model)
    notes += learned_notes
    tr = dict(config.get("train", {}))
    settings = Settings(tokens=args.tokens, sizes=tuple(s.strip() for s in args.size.split(",")), seeds=args.seeds,
                        device=args.device, vocab_size=config.get("tokenizer", {}).get("vocab_size", 8192),
                        block_size=tr.pop("block_size", 256), heldout_max_tokens=tr.pop("heldout_max_tokens", 200_000),
                        train=tr, shard_size=args.shard_size)
    suite = load_suite(config, n_items=config.get("eval", {}).get("max_items", 500))  # per benchmark
    suite.notes = notes + suite.notes
    for note in suite.notes:
        print(f"note: {note}")
    report = ablate(list(args.inputs), args.out, recipes, settings, suite)
    print(f"report: {report}")
    return 0
