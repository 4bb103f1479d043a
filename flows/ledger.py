"""Finalize a run: curated Parquet parts, the DuckDB ledger, and the manifest (written last).

The ledger is built from the step outputs with DuckDB SQL, written under a temporary name and
renamed, so `ledger.duckdb` is either complete or absent. It stores no paths of its own and no
text of removed documents: it opens from any directory and holds no raw PII.
"""
from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from flows.errors import RunError
from flows.fsutil import code_version, crashpoint, package_versions, read_json, tmp_name, write_json, write_parquet
from flows.plan import Plan
from schemas.records import KIND_FIELDS, RECORD_FIELD_SCHEMA

LEDGER_VERSION = 2


def _sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join("'" + p.as_posix().replace("'", "''") + "'" for p in paths) + "]"


def _curated_columns(kinds: list[str]) -> list[str]:
    """Record-field columns of the kinds this run holds: a text corpus's curated files carry no
    empty instruction/chat columns, and the choice depends on the whole run, never on one shard."""
    wanted = {f for k in kinds for f in KIND_FIELDS[k]}
    return [c for c in RECORD_FIELD_SCHEMA if c not in wanted]


def write_curated(p: Plan) -> list[str]:
    last = p.steps[-1]
    out = Path(p.out)
    drop = ["ord", *_curated_columns(read_json(Path(p.steps[0].dir) / "_done.json")["kinds"])]
    staging = out / ".curated.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    names = []
    for i, shard in enumerate(read_json(Path(last.dir) / "_done.json")["shards"]):
        frame = pl.read_parquet(Path(last.dir) / shard)
        frame = frame.drop(drop).rename({"doc_id": "id"})
        names.append(f"part-{i:05d}.parquet")
        write_parquet(frame, staging / names[-1], published=True)
    staging.mkdir(parents=True, exist_ok=True)
    old = out / ".curated.old"
    shutil.rmtree(old, ignore_errors=True)
    if (out / "curated").exists():
        os.replace(out / "curated", old)
    os.replace(staging, out / "curated")
    shutil.rmtree(old, ignore_errors=True)
    return names


def build_ledger(p: Plan, run_row: dict[str, Any], path: Path) -> dict[str, int]:
    idir = Path(p.steps[0].dir)
    shards = [idir / s for s in read_json(idir / "_done.json")["shards"]]
    tmp = tmp_name(path)
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        con.execute(f"CREATE TABLE quarantine AS SELECT * FROM read_parquet('{(idir / 'quarantine.parquet').as_posix()}') ORDER BY input_file, input_line NULLS FIRST")
        parts = []
        for s in p.stages:
            files = sorted(Path(s.dir).glob("decisions-*.parquet"))
            parts.append(
                f"SELECT doc_id, '{s.name}' AS stage, {s.position} AS position, {s.version} AS stage_version, "
                f"decision, reason, scores::JSON AS scores, evidence::JSON AS evidence FROM read_parquet({_sql_list(files)})"
            )
        if parts:
            con.execute("CREATE TABLE decisions AS " + " UNION ALL ".join(parts) + " ORDER BY position, doc_id")
        else:
            con.execute("CREATE TABLE decisions (doc_id VARCHAR, stage VARCHAR, position INTEGER, stage_version INTEGER, "
                        "decision VARCHAR, reason VARCHAR, scores JSON, evidence JSON)")
        con.execute(f"""
            CREATE TABLE documents AS
            WITH ing AS (SELECT doc_id, ord, kind, source, input_file, input_line
                         FROM read_parquet({_sql_list(shards)})),
                 rem AS (SELECT doc_id, stage, reason FROM decisions WHERE decision = 'removed'),
                 modi AS (SELECT doc_id, string_agg(stage, ',' ORDER BY position) AS stages
                          FROM decisions WHERE decision = 'modified' GROUP BY doc_id)
            SELECT ing.doc_id, ing.kind, ing.source, ing.input_file, ing.input_line,
                   CASE WHEN rem.doc_id IS NULL THEN 'kept' ELSE 'removed' END AS final,
                   rem.stage AS final_stage, rem.reason AS final_reason, modi.stages AS modified_by
            FROM ing LEFT JOIN rem USING (doc_id) LEFT JOIN modi USING (doc_id)
            UNION ALL
            SELECT doc_id, NULL, NULL, input_file, input_line, 'quarantined', 'ingest', reason, NULL
            FROM quarantine WHERE input_line IS NOT NULL
            ORDER BY input_file, input_line
        """)
        stage_rows = []
        for s in p.stages:
            d = read_json(Path(s.dir) / "_done.json")
            stage_rows.append({"position": s.position, "stage": s.name, "version": s.version,
                               "config": json.dumps(s.config, sort_keys=True), "cache_key": s.key,
                               "n_in": d["in"], "n_kept": d["kept"], "n_modified": d["modified"],
                               "n_removed": d["removed"], "seconds": d["seconds"], "stats": json.dumps(d["stats"], sort_keys=True)})
        con.execute("CREATE TABLE stages (run_id VARCHAR, position INTEGER, stage VARCHAR, version INTEGER, config JSON, "
                    "cache_key VARCHAR, n_in BIGINT, n_kept BIGINT, n_modified BIGINT, n_removed BIGINT, seconds DOUBLE, stats JSON)")
        for r in stage_rows:
            con.execute("INSERT INTO stages VALUES (?, ?, ?, ?, ?::JSON, ?, ?, ?, ?, ?, ?, ?::JSON)",
                        [run_row["run_id"], *r.values()])
        con.execute("CREATE TABLE runs (run_id VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, config JSON, "
                    "config_hash VARCHAR, code_version VARCHAR, package_versions JSON, input_files JSON, ledger_version INTEGER)")
        con.execute("INSERT INTO runs VALUES (?, to_timestamp(?), to_timestamp(?), ?::JSON, ?, ?, ?::JSON, ?::JSON, ?)",
                    [run_row["run_id"], run_row["started_at"], run_row["finished_at"], json.dumps(p.config, sort_keys=True),
                     p.config_hash, run_row["code_version"], json.dumps(run_row["package_versions"], sort_keys=True),
                     json.dumps(run_inputs(p), sort_keys=True), LEDGER_VERSION])
        con.execute("""CREATE VIEW funnel AS SELECT final, final_stage, final_reason, count(*) AS documents
                       FROM documents GROUP BY ALL ORDER BY final, documents DESC""")
        counts = dict(con.execute("SELECT final, count(*) FROM documents GROUP BY final").fetchall())
        con.execute("CHECKPOINT")
    finally:
        con.close()
    crashpoint("finalize:ledger")
    os.replace(tmp, path)
    return {k: int(counts.get(k, 0)) for k in ("kept", "removed", "quarantined")}


def publish_artifacts(p: Plan, out: Path) -> None:
    """Copy each stage's artifacts to RUN_DIR/index/<stage>/, keeping only rows of documents that
    the release finally kept: a later release compares against what was shipped, not against what
    one stage kept and a later stage removed."""
    kept = pl.concat([pl.read_parquet(f, columns=["id"]) for f in sorted((out / "curated").glob("part-*.parquet"))]
                     or [pl.DataFrame(schema={"id": pl.String})]).rename({"id": "doc_id"})
    shutil.rmtree(out / "index", ignore_errors=True)
    for s in p.stages:
        for art in sorted((Path(s.dir) / "artifacts").glob("*.parquet")):
            frame = pl.read_parquet(art)
            if "doc_id" in frame.columns:
                frame = frame.join(kept, on="doc_id", how="semi", maintain_order="left")
            write_parquet(frame, out / "index" / s.name / art.name, published=True)


class ConservationError(RunError):
    pass


def run_inputs(p: Plan) -> dict[str, Any]:
    """Everything the run read, by content: data files, and the files and earlier runs that stage
    options name (never absolute paths: a manifest must not depend on where the data lives)."""
    files = [{"path": i.name, "sha256": i.sha256, "bytes": i.bytes} for i in p.inputs]
    options = {f"{s.name}.{opt}": [{"given": r["given"], "kind": r["kind"], "sha256": r["sha256"]} for r in items]
               for s in p.stages for opt, items in s.inputs.items() if items}
    return {"data": files, "options": options, "skipped": [{"path": a, "why": b} for a, b in p.skipped]}


def finalize(p: Plan, started: float) -> dict[str, Any]:
    out = Path(p.out)
    ingest = read_json(Path(p.steps[0].dir) / "_done.json")
    curated = write_curated(p)
    crashpoint("finalize:curated")
    run_row = {"run_id": uuid.uuid4().hex[:16], "started_at": started, "finished_at": time.time(),
               "code_version": code_version(), "package_versions": package_versions()}
    counts = build_ledger(p, run_row, out / "ledger.duckdb")
    n_curated = sum(pl.scan_parquet(out / "curated" / n).select(pl.len()).collect().item() for n in curated)
    total = counts["kept"] + counts["removed"] + counts["quarantined"]
    if total != ingest["records"] or n_curated != counts["kept"]:
        raise ConservationError(f"{ingest['records']} input records but kept {counts['kept']} + removed "
                                f"{counts['removed']} + quarantined {counts['quarantined']}; {n_curated} curated rows")
    publish_artifacts(p, out)
    removed = {}
    modified = {}
    for s in p.stages:
        done = read_json(Path(s.dir) / "_done.json")
        removed[s.name] = done["removed"]
        modified[s.name] = done["modified"]
    manifest = {
        **run_row, "config": p.config, "config_hash": p.config_hash,
        "inputs": run_inputs(p), "records": ingest["records"], "file_issues": ingest["file_issues"],
        "blank_lines": ingest["blank_lines"], "kinds": ingest["kinds"], **counts,
        "removed_by_stage": removed, "modified_by_stage": modified,
        "curated": [f"curated/{n}" for n in curated], "ledger": "ledger.duckdb",
        "steps": [{"name": s.name, "key": s.key, "dir": Path(s.dir).relative_to(out).as_posix()} for s in p.steps],
    }
    crashpoint("finalize:before_manifest")
    write_json(manifest, out / "manifest.json")
    return manifest
