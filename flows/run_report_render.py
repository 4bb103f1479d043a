"""report.html and report.md from the data flows/run_report.collect gathers (one layout, two forms)."""
from __future__ import annotations

import datetime
from typing import Any

from flows import plots

_NONE = {
    "reasons": "no document was removed",
    "clusters": "no stage recorded duplicates (evidence duplicate_of)",
    "contamination": "no contamination decisions (the contamination stage did not run, or found nothing)",
    "pii": "no PII decisions (the pii stage did not run, or found nothing)",
    "quarantine": "nothing was quarantined",
    "scores": "no stage recorded numeric scores",
}


def _mb(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 1e6:,.2f} MB"


def _rate(n: float | None, s: float | None) -> float | None:
    return None if n is None or not s else n / s


def _funnel_rows(d: dict[str, Any]) -> list[list[Any]]:
    return [[r["step"], r["docs_in"], r["docs_out"], r["removed"], r["modified"], _mb(r["bytes_in"]), _mb(r["bytes_out"]),
             r["seconds"], _rate(r["docs_in"], r["seconds"]), _rate((r["bytes_in"] or 0) / 1e6 if r["bytes_in"] is not None else None,
                                                                    r["seconds"])] for r in d["funnel"]]


FUNNEL_HEAD = ["step", "docs in", "docs out", "removed / quarantined", "modified", "bytes in", "bytes out", "seconds",
               "docs/s", "MB/s"]


def _title(d: dict[str, Any]) -> tuple[str, list[tuple[str, Any]]]:
    m = d["manifest"]
    when = datetime.datetime.fromtimestamp(m.get("finished_at", 0), datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    modified = sum(m.get("modified_by_stage", {}).values())
    tiles = [("records in", m["records"]), ("released", m["kept"]), ("removed", m["removed"]),
             ("quarantined", m["quarantined"]), ("modified", modified), ("input files", len(m.get("inputs", {}).get("data", [])))]
    return f"run {m.get('run_id', '?')} · finished {when} · config {m.get('config_hash', '?')[:12]}", tiles


def render_html(d: dict[str, Any]) -> str:
    page = plots.Page("assay run report")
    sub, tiles = _title(d)
    page.text("h1", "assay run report")
    page.text("p", sub, "noise")
    page.add("<div class='tiles'>" + "".join(f"<div class='tile'>{k}<b>{v:,}</b></div>" for k, v in tiles) + "</div>")
    page.text("h2", "Funnel")
    f = d["funnel"]
    labels = [r["step"] for r in f]
    page.figure(plots.bars("Documents after each step", labels, {"kept": [r["docs_out"] for r in f],
                                                                "removed / quarantined": [r["removed"] for r in f]},
                           stacked=True, ytitle="documents"))
    if all(r["bytes_out"] is not None for r in f):
        page.figure(plots.bars("Text bytes after each step (MB)", labels, {"MB": [r["bytes_out"] / 1e6 for r in f]}, ytitle="MB"), 260)
    page.table(FUNNEL_HEAD, _funnel_rows(d))
    page.text("h2", "Removal reasons")
    if d["reasons"]:
        names = [f"{s} / {r}" for s, r, _ in d["reasons"]]
        page.figure(plots.bars("Documents removed, by stage and reason", names, {"documents": [n for *_, n in d["reasons"]]},
                               horizontal=True), max(200, 60 + 24 * len(names)))
        page.table(["stage", "reason", "documents"], d["reasons"])
    else:
        page.text("p", _NONE["reasons"], "noise")
    page.text("h2", "Score distributions")
    page.text("p", "Every numeric score a stage recorded, over the documents that entered it (removed ones stacked on top); "
              "near-duplicate Jaccard and contamination overlap come from the removed documents' evidence.", "noise")
    if d["scores"]:
        page.add("<div class='grid'>")
        for s in d["scores"]:
            axis = f"p10 {s['p10']:.3g} · p50 {s['p50']:.3g} · p90 {s['p90']:.3g}"
            page.figure(plots.histogram(f"{s['stage']} · {s['score']}", s["edges"], s["counts"], axis), 260)
        page.add("</div>")
    else:
        page.text("p", _NONE["scores"], "noise")
    page.text("h2", "Duplicate clusters")
    if d["clusters"]:
        for stage in dict.fromkeys(c[0] for c in d["clusters"]):
            rows = [c for c in d["clusters"] if c[0] == stage]
            page.figure(plots.bars(f"{stage}: clusters by size (kept copy + removed copies)", [str(c[1]) for c in rows],
                                   {"clusters": [c[2] for c in rows]}, xtitle="documents in cluster", ytitle="clusters"), 260)
    else:
        page.text("p", _NONE["clusters"], "noise")
    page.text("h2", "Contamination per benchmark")
    if d["contamination"]:
        page.figure(plots.bars("Documents removed as contaminated", [c[0] for c in d["contamination"]],
                               {"documents": [c[1] for c in d["contamination"]], "benchmark items": [c[2] for c in d["contamination"]]}), 280)
        page.table(["benchmark", "documents", "items", "mean overlap"], d["contamination"])
    else:
        page.text("p", _NONE["contamination"], "noise")
    page.text("h2", "PII per entity type")
    if d["pii"]:
        page.figure(plots.bars("Documents with PII, by entity type", [k for k, _ in d["pii"]], {"documents": [n for _, n in d["pii"]]}), 280)
        page.table(["entity type", "documents"], d["pii"])
    else:
        page.text("p", _NONE["pii"], "noise")
    page.text("h2", "Quarantine")
    if d["quarantine"]:
        page.table(["reason", "records", "examples (masked)"],
                   [[r, n, " · ".join(f"{loc}: {x[:120]}" for loc, x in ex)] for r, n, ex in d["quarantine"]])
    else:
        page.text("p", _NONE["quarantine"], "noise")
    page.text("h2", "Time and throughput")
    timed = [r for r in f if r["seconds"] is not None]
    page.figure(plots.bars("Seconds per step (0 when reused from an earlier run)", [r["step"] for r in timed],
                           {"seconds": [r["seconds"] for r in timed]}, ytitle="seconds"), 260)
    page.text("p", "assay report RUN_DIR rebuilds this page; assay sql RUN_DIR queries the ledger behind it.", "noise")
    return page.html()


def _md_table(head: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(v: Any) -> str:
        return plots._cell(v).replace("|", "\\|").replace("\n", " ")
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *("| " + " | ".join(cell(v) for v in r) + " |" for r in rows)]


def render_md(d: dict[str, Any]) -> str:
    sub, tiles = _title(d)
    out = ["# assay run report", "", sub, "", " · ".join(f"**{k}** {v:,}" for k, v in tiles), "", "## Funnel", ""]
    out += _md_table(FUNNEL_HEAD, _funnel_rows(d))
    sections = [
        ("Removal reasons", "reasons", ["stage", "reason", "documents"], d["reasons"]),
        ("Score distributions", "scores", ["stage", "score", "documents", "p10", "p50", "p90"],
         [[s["stage"], s["score"], s["n"], s["p10"], s["p50"], s["p90"]] for s in d["scores"]]),
        ("Duplicate clusters", "clusters", ["stage", "cluster size", "clusters"], d["clusters"]),
        ("Contamination per benchmark", "contamination", ["benchmark", "documents", "items", "mean overlap"], d["contamination"]),
        ("PII per entity type", "pii", ["entity type", "documents"], d["pii"]),
        ("Quarantine", "quarantine", ["reason", "records", "examples (masked)"],
         [[r, n, " · ".join(f"{loc}: {x[:120]}" for loc, x in ex)] for r, n, ex in d["quarantine"]]),
    ]
    for title, key, head, rows in sections:
        out += ["", f"## {title}", ""]
        out += _md_table(head, [list(r) for r in rows]) if rows else [f"_{_NONE[key]}_"]
    return "\n".join(out) + "\n"
