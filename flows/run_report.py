"""The run report: RUN_DIR/report.html (plotly, opens offline) and its markdown twin report.md.

Everything comes from the run folder: the manifest, the ledger (decisions, documents, quarantine,
stages) and the step files under work/ for byte counts (absent when work/ was deleted: the report
then says so). No text is shown except quarantine excerpts, which ingest stores masked (and which
pass through the PII masker again when one is installed).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

EXAMPLES = 3
MAX_SCORE_CHARTS = 40
BINS = 30
EVIDENCE_SCORES = ("jaccard", "overlap")  # numeric evidence worth a distribution (near-dup, contamination)


def _step_bytes(run_dir: Path, step: dict[str, Any]) -> int | None:
    import polars as pl

    folder = run_dir / step["dir"]
    try:
        shards = json.loads((folder / "_done.json").read_text())["shards"]
        return int(sum(pl.scan_parquet(folder / s, glob=False).select(pl.col("text").str.len_bytes().sum()).collect().item() or 0
                       for s in shards))
    except (OSError, ValueError, KeyError):
        return None


def collect(run_dir: Path) -> dict[str, Any]:
    """Every figure of the report, as plain data (also what the tests read)."""
    from flows.report import connect

    manifest = json.loads((run_dir / "manifest.json").read_text())
    con = connect(run_dir)
    try:
        d: dict[str, Any] = {"manifest": manifest}
        d["funnel"] = _funnel(con, run_dir, manifest)
        d["reasons"] = con.execute("SELECT final_stage, final_reason, count(*) FROM documents WHERE final = 'removed' "
                                   "GROUP BY ALL ORDER BY 3 DESC, 1, 2").fetchall()
        d["scores"] = _scores(con)
        d["clusters"] = con.execute("""
            SELECT stage, size, count(*) FROM (
                SELECT stage, json_extract_string(evidence, '$.duplicate_of') AS head, count(*) + 1 AS size
                FROM decisions WHERE decision = 'removed' AND json_extract_string(evidence, '$.duplicate_of') IS NOT NULL
                GROUP BY ALL) GROUP BY ALL ORDER BY stage, size""").fetchall()
        from flows.gate import contamination_where, pii_rows

        where, params = contamination_where(con)
        d["contamination"] = con.execute(f"""
            SELECT coalesce(json_extract_string(evidence, '$.benchmark'), '(unnamed)'), count(DISTINCT doc_id),
                   count(DISTINCT json_extract_string(evidence, '$.item_id')),
                   avg(TRY_CAST(json_extract_string(evidence, '$.overlap') AS DOUBLE))
            FROM decisions WHERE {where} GROUP BY ALL ORDER BY 2 DESC, 1""", params).fetchall()

        d["pii"] = sorted(((k, len(v)) for k, v in pii_rows(con).items()), key=lambda kv: (-kv[1], kv[0]))
        d["quarantine"] = _quarantine(con)
    finally:
        con.close()
    return d


def _funnel(con: Any, run_dir: Path, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    steps = manifest.get("steps", [])
    nbytes = [_step_bytes(run_dir, s) for s in steps]
    ingest = next((s for s in steps if s["name"] == "ingest"), None)
    seconds = None
    if ingest:
        try:
            seconds = json.loads((run_dir / ingest["dir"] / "_done.json").read_text()).get("seconds")
        except (OSError, ValueError):
            pass
    file_bytes = sum(f.get("bytes", 0) for f in manifest.get("inputs", {}).get("data", []))
    rows = [{"step": "ingest", "docs_in": manifest["records"], "docs_out": manifest["records"] - manifest["quarantined"],
             "removed": manifest["quarantined"], "modified": 0, "bytes_in": file_bytes, "bytes_out": nbytes[0] if nbytes else None,
             "seconds": seconds, "what_left": "quarantined"}]
    stage_rows = con.execute("SELECT stage, n_in, n_kept, n_modified, n_removed, seconds FROM stages ORDER BY position").fetchall()
    for i, (stage, n_in, n_kept, n_mod, n_rem, sec) in enumerate(stage_rows, start=1):
        rows.append({"step": stage, "docs_in": n_in, "docs_out": n_kept + n_mod, "removed": n_rem, "modified": n_mod,
                     "bytes_in": rows[-1]["bytes_out"], "bytes_out": nbytes[i] if i < len(nbytes) else None,
                     "seconds": sec, "what_left": "removed"})
    return rows


def _scores(con: Any) -> list[dict[str, Any]]:
    """Binned distributions of every numeric score (and of jaccard/overlap evidence), kept vs removed."""
    keys = con.execute("""SELECT stage, min(position), k, 'scores' FROM (SELECT stage, position, unnest(json_keys(scores)) AS k
                          FROM decisions) GROUP BY stage, k
                          UNION ALL
                          SELECT stage, min(position), k, 'evidence' FROM (SELECT stage, position, unnest(json_keys(evidence)) AS k
                          FROM decisions WHERE decision = 'removed') WHERE k IN (SELECT unnest(?)) GROUP BY stage, k
                          ORDER BY 2, 4 DESC, 3""", [list(EVIDENCE_SCORES)]).fetchall()
    out = []
    for stage, _, key, column in keys:
        if len(out) >= MAX_SCORE_CHARTS:
            break
        col = "scores" if column == "scores" else "evidence"
        rows = con.execute(f"SELECT TRY_CAST(json_extract_string({col}, ?) AS DOUBLE) AS v, decision = 'removed' AS gone "
                           "FROM decisions WHERE stage = ? AND v IS NOT NULL", [f'$."{key}"', stage]).fetchnumpy()
        v, gone = rows["v"].astype(float), rows["gone"].astype(bool)
        v_ok = np.isfinite(v)
        v, gone = v[v_ok], gone[v_ok]
        if len(v) == 0 or v.min() == v.max():
            continue
        edges = _edges(v)
        counts = {"kept": np.histogram(v[~gone], edges)[0].tolist()}
        if gone.any():
            counts["removed"] = np.histogram(v[gone], edges)[0].tolist()
        out.append({"stage": stage, "score": key, "from": column, "edges": edges.tolist(), "counts": counts, "n": int(len(v)),
                    "p10": float(np.percentile(v, 10)), "p50": float(np.percentile(v, 50)), "p90": float(np.percentile(v, 90))})
    return out


def _edges(v: np.ndarray) -> np.ndarray:
    lo, hi = float(v.min()), float(v.max())
    if np.all(v == np.round(v)) and hi - lo <= 60:  # counts (cluster sizes, words in short texts): one bin per value
        return np.arange(lo - 0.5, hi + 1.5)
    return np.linspace(lo, hi, BINS + 1)


def _quarantine(con: Any) -> list[tuple[str, int, list[tuple[str, str]]]]:
    from flows.masking import masker

    mask = masker()
    out = []
    for reason, n in con.execute("SELECT reason, count(*) FROM quarantine GROUP BY reason ORDER BY 2 DESC, 1").fetchall():
        ex = con.execute(f"SELECT input_file, input_line, excerpt FROM quarantine WHERE reason = ? "
                         f"ORDER BY input_file, input_line NULLS FIRST LIMIT {EXAMPLES}", [reason]).fetchall()
        out.append((reason, n, [(f"{f}:{line}" if line is not None else str(f), mask(x or "")) for f, line, x in ex]))
    return out


def write(run_dir: Path) -> tuple[Path, Path]:
    """Write report.html and report.md into `run_dir` (each under a temporary name, then renamed)."""
    import os

    from flows.fsutil import tmp_name
    from flows.run_report_render import render_html, render_md

    data = collect(run_dir)
    paths = []
    for name, text in (("report.html", render_html(data)), ("report.md", render_md(data))):
        tmp = tmp_name(run_dir / name)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, run_dir / name)
        paths.append(run_dir / name)
    return paths[0], paths[1]


def write_quietly(run_dir: Path) -> None:
    """After `assay run`: the run is published whatever happens here, so a report that cannot be
    written is a note on stderr, not a failed run."""
    import os
    import sys

    if not (run_dir / "manifest.json").exists():  # nothing was published (a test's stand-in runner)
        return
    try:
        write(run_dir)
    except Exception as exc:  # noqa: BLE001 - reported, and `assay report RUN_DIR` retries
        if os.environ.get("ASSAY_DEBUG"):
            raise
        print(f"note: report.html not written ({type(exc).__name__}: {exc}); try: assay report {run_dir}", file=sys.stderr)
