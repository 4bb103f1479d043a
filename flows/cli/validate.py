"""`assay validate`: check LLM-generated instruction, chat or prompt/completion data with the
validation recipe, through the same planner, runner and ledger as `assay run`, then write the
dataset report and apply the policy gates."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ORDER = 15
HELP = "validate LLM-generated instruction/chat data: refusals, truncation, wrong answers, duplicates, diversity"
DESCRIPTION = ("Run the validation recipe (synthetic checks; answer_check with --reference; seed_overlap with --seeds; "
               "exact_dup and near_dup within the set; contamination when configured) into RUN_DIR, then write "
               "RUN_DIR/validation.md and validation.html. With --policy, a gate that fails exits 1, naming it.")
# The recipe, in run order. A stage is included when its file is given (or it needs none);
# synthetic runs first, so every record's generator is in the ledger before any other stage removes it.
RECIPE = ("synthetic", "answer_check", "seed_overlap", "exact_dup", "near_dup", "contamination")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from flows.cli import options
    from stages import catalog

    p.usage = "%(prog)s INPUT [INPUT ...] --out RUN_DIR [--seeds FILE] [--reference FILE] [--policy FILE] [options]"
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files or folders of generated records")
    p.add_argument("--out", required=True, type=Path, metavar="RUN_DIR", help="the run folder (created or resumed)")
    p.add_argument("--seeds", metavar="FILE", help="seed tasks: records whose instruction has ROUGE-L >= 0.7 with one are seed_overlap")
    p.add_argument("--reference", metavar="FILE", help="reference answers (GSM8K style): a wrong final answer is wrong_answer")
    p.add_argument("--policy", type=Path, metavar="FILE", help="TOML file of gates, e.g. max_refusal_rate = 0.01, "
                                                               "min_distinct_2 = 0.3 (see the README)")
    p.add_argument("--generator-field", metavar="FIELD", help="record field naming the generator model (default: generator)")
    p.add_argument("--generator", metavar="NAME", help="generator name for records without that field (default: their source)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    options.add_ingest_flags(p)
    found = catalog.all_stages()
    for name in RECIPE:
        if name in found:
            options.add_flags(p, found[name], name, f"stage {name}", options.stage_summary(found[name]).replace("%", "%%"))


def recipe(args: argparse.Namespace, stage_opts: dict[str, dict[str, Any]]) -> tuple[tuple[str, ...], list[str]]:
    """(stages to run, notes on recipe stages left out)."""
    from stages import catalog

    found = catalog.all_stages()
    synthetic = stage_opts.setdefault("synthetic", {})
    synthetic.setdefault("checks", ("all",))
    if args.generator_field is not None:
        synthetic["generator_field"] = args.generator_field
    if args.generator is not None:
        synthetic["generator"] = args.generator
    if args.reference is not None:
        stage_opts.setdefault("answer_check", {})["reference"] = args.reference
    if args.seeds is not None:
        stage_opts.setdefault("seed_overlap", {})["seeds"] = args.seeds
    names, notes = [], []
    for name in RECIPE:
        if name not in found:
            notes.append(f"stage {name} is not installed")
            continue
        need = getattr(catalog.build(name, dict(stage_opts.get(name, {}))), "unconfigured", lambda: None)()
        if need is None:
            names.append(name)
        else:
            notes.append(f"stage {name} did not run: {need}")
            stage_opts.pop(name, None)
    return tuple(names), notes


def run(args: argparse.Namespace) -> int:
    from flows.cli.options import collect
    from flows.config import run_options
    from flows.execute import run_local
    from flows.validate_report import check_policy, load_policy, write_report

    policy = load_policy(args.policy) if args.policy is not None else None  # a bad policy fails before any work
    stage_opts, ingest = collect(args)
    names, notes = recipe(args, stage_opts)
    opts = run_options(args.inputs, args.out, stages=names, stage_options=stage_opts, ingest=ingest,
                       progress=not args.quiet)
    manifest = run_local(opts)
    from flows.run_report import write_quietly

    write_quietly(Path(args.out))  # the run report (report.html, report.md), as after assay run
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    for item in manifest.get("inputs", {}).get("skipped", [])[:10]:
        print(f"note: skipped {item['path']}: {item['why']}", file=sys.stderr)
    summary = write_report(Path(args.out))
    print(f"{summary['records']} records: {summary['flagged']} flagged ({summary['flagged_rate']:.1%}); "
          f"report: {Path(args.out) / 'validation.md'} and validation.html")
    if policy is not None:
        failed = check_policy(policy, summary)
        for line in failed:
            print(f"assay: policy gate failed: {line}", file=sys.stderr)
        if failed:
            return 1
        print(f"policy {args.policy}: every gate passed")
    return 0
