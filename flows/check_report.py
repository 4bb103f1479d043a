"""What `assay check` prints: the gates as a table, the release diff, and the same as markdown
(for $GITHUB_STEP_SUMMARY)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

VERDICT = {0: "PASSED", 1: "FAILED", 2: "PASSED WITH WARNINGS"}
MARK = {"pass": "ok", "fail": "FAIL", "warn": "WARN"}


def fmt(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:.4f}".rstrip("0").rstrip(".") if v == v else "nan"
    return str(v)


def _rows(results: list[Any]) -> list[list[str]]:
    return [[MARK[r.status], r.name, fmt(r.value), ("<= " if r.name.split("[")[0].removeprefix("warn_").startswith("max") else
             ">= " if r.threshold != "ran" else "") + fmt(r.threshold), ", ".join(r.examples), r.note] for r in results]


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(head)]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip(),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return out


def _diff_rows(summary: dict[str, Any]) -> tuple[list[list[str]], list[list[str]]]:
    changes = [[c, str(summary[c]), ", ".join(summary[f"{c}_examples"])] for c in ("added", "removed", "changed")]
    reasons = [[f, s or "", r or "", str(p), str(c), f"{d:+d}", t] for f, s, r, p, c, d, t in summary["reasons"]]
    return changes, reasons


def print_results(results: list[Any], summary: dict[str, Any] | None, code: int) -> None:
    head = ["status", "gate", "value", "threshold", "examples", "note"]
    print("\n".join(_table(head, _rows(results))) if results else "(the policy has no gates)")
    if summary is not None:
        changes, reasons = _diff_rows(summary)
        print(f"\nrelease diff: {summary['previous_documents']} -> {summary['documents']} documents released")
        print("\n".join(_table(["change", "documents", "examples"], changes)))
        if reasons:
            print("\nremoval and quarantine reasons that changed:")
            print("\n".join(_table(["final", "stage", "reason", "previous", "current", "change", "trend"], reasons)))
    print(f"\nassay check: {VERDICT[code]} (exit {code}); tables: gates, diff_* in check.duckdb (assay sql RUN_DIR)")


def _md_cell(s: str) -> str:
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("`", "'").replace("\n", " ")


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    return (["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            + ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows])


def markdown(run_dir: Path, against: Path | None, results: list[Any], summary: dict[str, Any] | None, code: int) -> str:
    icon = {0: "✅", 1: "❌", 2: "⚠️"}[code]
    out = [f"## {icon} assay check: {VERDICT[code]} (exit {code})", "",
           f"Run `{_md_cell(str(run_dir))}`" + (f" against `{_md_cell(str(against))}`" if against else ""), ""]
    rows = [[MARK[r[0]] if r[0] in MARK else r[0], *r[1:]] for r in _rows(results)]
    out += _md_table(["status", "gate", "value", "threshold", "examples", "note"], rows) if rows else ["(no gates)"]
    if summary is not None:
        changes, reasons = _diff_rows(summary)
        out += ["", f"### Release diff: {summary['previous_documents']} → {summary['documents']} documents", ""]
        out += _md_table(["change", "documents", "examples"], changes)
        if reasons:
            out += ["", *_md_table(["final", "stage", "reason", "previous", "current", "change", "trend"], reasons)]
    return "\n".join(out) + "\n\n"
