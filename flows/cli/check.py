"""`assay check`: the release gate. Exit 0 every gate passed, 1 a gate failed, 2 only warnings,
3 the check could not run (no finished run, a ledger that does not open, a policy that does not
parse, a usage error): Soda's convention, which CI users know."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

ORDER = 25
HELP = "gate a finished run on a policy (exit 0 ok, 1 failed, 2 warnings, 3 could not check)"
DESCRIPTION = ("Evaluate a policy's gates on RUN_DIR (and diff it against --against PREVIOUS_RUN_DIR). Exit codes: "
               "0 every gate passed, 1 a gate failed, 2 only warn_ gates failed, 3 the check could not run. "
               "Results and the diff go to RUN_DIR/check.duckdb (tables gates, diff_documents, diff_reasons, "
               "diff_summary; 'assay sql RUN_DIR' reads them) and, when $GITHUB_STEP_SUMMARY is set, a markdown summary.")
USAGE_EXIT = 3  # a usage error of this command is 'could not check', never 'only warnings' (2)
CANNOT = 3


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    p.add_argument("--policy", type=Path, required=True, metavar="FILE", help="TOML policy (see README: release gate)")
    p.add_argument("--against", type=Path, metavar="PREVIOUS_RUN_DIR", help="the previous release's run folder: diff and shrink gates")
    p.add_argument("--markdown", type=Path, metavar="FILE", help="also write the markdown summary to FILE")


def _manifest(run_dir: Path, what: str) -> dict[str, Any]:
    import json

    path = run_dir / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise _Cannot(f"{what} {run_dir} is not a finished run (no manifest.json)") from None
    except (OSError, ValueError) as exc:
        raise _Cannot(f"{what} {run_dir}: manifest.json does not read: {exc}") from None
    if not isinstance(manifest, dict) or "run_id" not in manifest:
        raise _Cannot(f"{what} {run_dir}: manifest.json is not an assay manifest")
    return manifest


class _Cannot(Exception):
    pass


def check(args: argparse.Namespace) -> tuple[int, list[Any], dict[str, Any] | None]:
    import duckdb

    from flows import diff, gate
    from flows.report import LedgerError, connect

    gates = gate.load_policy(args.policy)
    manifest = _manifest(args.run_dir, "RUN_DIR")
    prev_manifest = _manifest(args.against, "--against") if args.against else None
    cons = []
    try:
        cons.append(con := connect(args.run_dir))
        prev = None
        if args.against:
            cons.append(prev := connect(args.against))
        with diff.check_db(args.run_dir) as db:
            summary = diff.build_diff(db, args.run_dir, args.against, manifest, prev_manifest) if args.against else None
            results = gate.evaluate(con, gates, prev, summary)
            code = gate.exit_code(results)
            diff.write_gates(db, results, manifest["run_id"], (prev_manifest or {}).get("run_id"), code)
    except (LedgerError, duckdb.Error) as exc:
        raise _Cannot(f"the ledger does not open or read: {str(exc).splitlines()[0]}") from None
    finally:
        for c in cons:
            c.close()
    return code, results, summary


def run(args: argparse.Namespace) -> int:
    from flows import gate
    from flows.check_report import markdown, print_results

    try:
        code, results, summary = check(args)
    except (gate.PolicyError, gate.GateError, _Cannot) as exc:
        print(f"assay check: cannot check: {exc}", file=sys.stderr)
        return CANNOT
    except Exception as exc:  # anything else also means 'could not check', never 'failed' (1)
        if os.environ.get("ASSAY_DEBUG"):
            raise
        print(f"assay check: cannot check: {type(exc).__name__}: {exc} (set ASSAY_DEBUG=1 for the traceback)", file=sys.stderr)
        return CANNOT
    print_results(results, summary, code)
    text = markdown(args.run_dir, args.against, results, summary, code)
    targets = [Path(os.environ["GITHUB_STEP_SUMMARY"])] if os.environ.get("GITHUB_STEP_SUMMARY") else []
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    for target in targets:
        with open(target, "a", encoding="utf-8") as f:  # the step summary is shared by every step: append
            f.write(text)
    return code
