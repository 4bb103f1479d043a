"""Finalize a run: publish the curated parts, build the DuckDB ledger, write the manifest (last).

The ledger is built from the step outputs with DuckDB SQL, written under a temporary name and
renamed, so `ledger.duckdb` is either complete or absent. It stores no paths of its own and no
text of removed documents: it opens from any directory and holds no raw PII.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds

from flows import ledger_parts
from flows.errors import RunError
from flows.fsutil import code_version, crashpoint, package_versions, read_json, tmp_name, write_json, write_parquet
from flows.history import carry_runs
from flows.plan import RUN_MARKER, Plan, check_out, read_marker
from flows.removed import stage_removed

LEDGER_VERSION = 2
_INGEST_TYPES = {"doc_id": pa.string(), "ord": pa.int64(), "kind": pa.string(), "source": pa.string(),
                 "input_file": pa.string(), "input_line": pa.int64()}


def _scan(con: duckdb.DuckDBPyConnection, view: str, paths: list[Path]) -> None:
    """Make `view` read these Parquet files. Never a path inside SQL text, and never a path that
    DuckDB could read as a glob: a folder named `a[1]` would read `a1`. An Arrow dataset opens each
    file by its exact name (any name the OS allows) and DuckDB still streams it, projections pushed down."""
    con.register(view, ds.dataset([p.as_posix() for p in paths], format="parquet"))


def staging_name(out: Path, name: str, what: str) -> Path:
    """`.curated.tmp-<pid>`: a staged or replaced folder of this process (see runfolder.clean_leftovers)."""
    return out / f".{name}.{what}-{os.getpid()}"


def take_curated(p: Plan, token: str, staging: Path) -> list[str]:
    """Move the curated parts the units wrote (flows/ledger_parts.py) into `staging`, a fresh folder
    renamed into place by `publish`; every part must be there."""
    names = ledger_parts.curated_names(p)
    parts = ledger_parts.folder(p, token) / "curated"
    missing = [n for n in names if not (parts / n).exists()]
    if missing:
        raise RunError(f"curated parts missing from {parts}: {', '.join(missing[:3])}")
    shutil.rmtree(staging, ignore_errors=True)
    if parts.exists():
        os.replace(parts, staging)
    staging.mkdir(parents=True, exist_ok=True)
    return names


def build_ledger(p: Plan, run_row: dict[str, Any], tmp: Path, parts: dict[str, list[Path]]) -> dict[str, int]:
    """Build the ledger in `tmp` (renamed into place by `publish`) from the masked parts
    (flows/ledger_parts.py). Paths reach DuckDB only as registered Arrow datasets, names and values
    only as parameters: no SQL text holds a path."""
    tmp.unlink(missing_ok=True)
    with _duckdb_path(tmp) as where:
        return _build_ledger(p, run_row, parts, duckdb.connect(where, config=_duckdb_config(p)))


def _duckdb_config(p: Plan) -> dict[str, Any]:
    """DuckDB's buffer pool: a quarter of the machine's memory (its default is 80 %), spilling under
    work/, so the build leaves room for the rest of the run. Measured at 1M documents: ~1.5 GB used,
    and 400 MB ran out of memory in the documents table's joins (ASSAY_LEDGER_MEMORY sets it)."""
    spill = Path(p.out) / "work" / ".duckdb-spill"
    try:
        quarter = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4
    except (ValueError, OSError, AttributeError):
        quarter = 2**30
    limit = os.environ.get("ASSAY_LEDGER_MEMORY") or f"{max(1, quarter // 2**30)}GB"
    return {"memory_limit": limit, "temp_directory": spill.as_posix()}


@contextlib.contextmanager
def _duckdb_path(path: Path) -> Iterator[str]:
    """A name DuckDB can write `path` under. DuckDB reads a `?` in a database path as the start of
    options (its write-ahead log goes to another folder) and a backslash as a separator, after
    resolving links; in such a folder the ledger is built in the system's temporary folder and
    copied in (the caller renames it into place)."""
    if not {"?", "\\"} & set(path.parent.as_posix()):
        yield path.as_posix()
        return
    via = Path(tempfile.mkdtemp(prefix="assay-ledger-"))
    try:
        yield (via / "ledger.duckdb").as_posix()
        shutil.copyfile(via / "ledger.duckdb", path)
    finally:
        shutil.rmtree(via, ignore_errors=True)


def _build_ledger(p: Plan, run_row: dict[str, Any], parts: dict[str, list[Path]],
                  con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    try:
        _scan(con, "ingest_quarantine", parts["quarantine"])
        con.execute("CREATE TABLE quarantine AS SELECT * FROM ingest_quarantine ORDER BY input_file, input_line NULLS FIRST")
        con.execute("CREATE TABLE decisions (doc_id VARCHAR, stage VARCHAR, position INTEGER, stage_version INTEGER, "
                    "decision VARCHAR, reason VARCHAR, scores JSON, evidence JSON)")
        if parts["decisions"]:
            _scan(con, "stage_decisions", parts["decisions"])
            con.execute("INSERT INTO decisions SELECT doc_id, stage, position, stage_version, decision, reason, "
                        "scores::JSON, evidence::JSON FROM stage_decisions ORDER BY position, doc_id")
        if parts["ingest"]:
            _scan(con, "ingest_documents", parts["ingest"])
        else:  # every record quarantined: no shard
            con.register("ingest_documents", pa.table({c: pa.array([], t) for c, t in _INGEST_TYPES.items()}))
        con.execute("""
            CREATE TABLE documents AS
            WITH ing AS (SELECT doc_id, ord, kind, source, input_file, input_line FROM ingest_documents),
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
        carry_runs(con, Path(p.out) / "ledger.duckdb")  # a rerun keeps the earlier runs' rows: the folder's history
        con.execute("INSERT INTO runs VALUES (?, to_timestamp(?), to_timestamp(?), ?::JSON, ?, ?, ?::JSON, ?::JSON, ?)",
                    [run_row["run_id"], run_row["started_at"], run_row["finished_at"], json.dumps(p.config, sort_keys=True),
                     p.config_hash, run_row["code_version"], json.dumps(run_row["package_versions"], sort_keys=True),
                     json.dumps(run_inputs(p), sort_keys=True), LEDGER_VERSION])
        con.execute("""CREATE VIEW funnel AS SELECT final, final_stage, final_reason, count(*) AS documents
                       FROM documents GROUP BY ALL ORDER BY final, documents DESC""")
        _stage_views(con, p)
        counts = dict(con.execute("SELECT final, count(*) FROM documents GROUP BY final").fetchall())
        for view in ("ingest_quarantine", "ingest_documents", "stage_decisions"):
            con.unregister(view)  # registered datasets live in this connection only, never in the file
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return {k: int(counts.get(k, 0)) for k in ("kept", "removed", "quarantined")}


def _stage_views(con: duckdb.DuckDBPyConnection, p: Plan) -> None:
    """Views a stage declares over the ledger (`ledger_views = {name: sql}`, SQL over `decisions`,
    `documents`...), so that e.g. contaminated items x documents is one table a user can query.
    The SQL is the stage's own code, never user text; `{stage}` is replaced by the stage's name."""
    from stages import catalog

    found = catalog.all_stages()
    for s in p.stages:
        for name, sql in getattr(found.get(s.name), "ledger_views", {}).items():
            con.execute(f"CREATE VIEW {name} AS " + sql.replace("{stage}", s.name.replace("'", "''")))


def publish_artifacts(p: Plan, token: str, curated: Path, staging: Path) -> None:
    """RUN_DIR/index/<stage>/, staged: the per-shard artifacts as the units published them
    (flows/ledger_parts.index_part), then those written for the whole corpus, each keeping only rows
    of documents that the release finally kept (the parts in `curated`): a later release compares
    against what was shipped, not against what one stage kept and a later stage removed."""
    shutil.rmtree(staging, ignore_errors=True)
    parts = ledger_parts.folder(p, token) / "index"
    if parts.exists():
        os.replace(parts, staging)
    whole = [(s.name, a) for s in p.stages for a in sorted((Path(s.dir) / "artifacts").glob("*.parquet"))
             if ledger_parts.shard_of(a) is None]
    if not whole:
        return
    kept = pl.concat([pl.read_parquet(f, columns=["id"], glob=False) for f in sorted(curated.glob("part-*.parquet"))]
                     or [pl.DataFrame(schema={"id": pl.String})]).rename({"id": "doc_id"})
    from stages.pii_engine.masker import key_provider, safe_frame

    key = key_provider(Path(p.out))
    for stage, art in whole:
        frame = pl.read_parquet(art, glob=False)
        if "doc_id" in frame.columns:
            frame = frame.join(kept, on="doc_id", how="semi", maintain_order="left")
        write_parquet(safe_frame(frame, key), staging / stage / art.name, published=True)


def write_marker(out: Path, published: dict[str, list[int]]) -> None:
    """The run folder's marker: what assay wrote in curated/ and index/ (relative path -> sizes)."""
    write_json({"assay": "run folder", "format": 1, "published": published}, out / RUN_MARKER)


def _listing(staged: Path, top: str) -> dict[str, int]:
    return {f"{top}/{f.relative_to(staged).as_posix()}": f.stat().st_size for f in sorted(staged.rglob("*")) if f.is_file()}


def _swap(staged: Path, final: Path, old: Path) -> None:
    """Put `staged` in place of `final` (absent when `staged` is None or empty of files)."""
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    if staged.exists():
        os.replace(staged, final)


class ConservationError(RunError):
    pass


def run_inputs(p: Plan) -> dict[str, Any]:
    """Everything the run read, by content: data files, and the files and earlier runs that stage
    options name (never absolute paths: a manifest must not depend on where the data lives)."""
    files = [{"path": i.name, "sha256": i.sha256, "bytes": i.bytes} for i in p.inputs]
    options = {f"{s.name}.{opt}": [{"given": r["given"], "kind": r["kind"], "sha256": r["sha256"]} for r in items]
               for s in p.stages for opt, items in s.inputs.items() if items}
    return {"data": files, "options": options, "skipped": [{"path": a, "why": b} for a, b in p.skipped]}


def finalize(p: Plan, started: float, token: str | None = None) -> dict[str, Any]:
    """Publish the run: curated/, index/ and ledger.duckdb as a whole, then the manifest.

    The manifest goes first (a folder without one is not a finished run, whatever else it holds),
    everything is staged under temporary names and checked, the marker then names both the old and
    the new files (so a rerun after a kill here may replace either), the three are renamed into
    place, and the manifest is written last. A kill anywhere leaves no manifest, and the rerun
    publishes again from the step outputs, the same bytes. `token` names the ledger parts the
    executor's workers prepared (flows/ledger_parts.py: masked ledger rows, curated parts); without
    it they are made here."""
    out = Path(p.out)
    check_out(out)  # nothing was dropped into curated/ or index/ while the run worked
    (out / "manifest.json").unlink(missing_ok=True)
    ingest = read_json(Path(p.steps[0].dir) / "_done.json")
    staged = {name: staging_name(out, name, "tmp") for name in ("curated", "index", "removed")}
    if token is None:
        token = uuid.uuid4().hex[:12]
        for unit in ledger_parts.units(p, token):
            ledger_parts.prepare_shard(*unit)
    curated = take_curated(p, token, staged["curated"])
    crashpoint("finalize:curated")
    run_row = {"run_id": uuid.uuid4().hex[:16], "started_at": started, "finished_at": time.time(),
               "code_version": code_version(), "package_versions": package_versions()}
    ledger_tmp = tmp_name(out / "ledger.duckdb")
    counts = build_ledger(p, run_row, ledger_tmp, ledger_parts.files(p, token))
    crashpoint("finalize:ledger")
    n_curated = sum(pl.scan_parquet(staged["curated"] / n, glob=False).select(pl.len()).collect().item() for n in curated)
    total = counts["kept"] + counts["removed"] + counts["quarantined"]
    if total != ingest["records"] or n_curated != counts["kept"]:
        ledger_tmp.unlink(missing_ok=True)
        shutil.rmtree(staged["curated"], ignore_errors=True)
        raise ConservationError(f"{ingest['records']} input records but kept {counts['kept']} + removed "
                                f"{counts['removed']} + quarantined {counts['quarantined']}; {n_curated} curated rows")
    publish_artifacts(p, token, staged["curated"], staged["index"])
    stage_removed(p, staged["removed"], ledger_parts.curated_columns(ingest["kinds"]))  # assay run --write-removed
    new = (_listing(staged["curated"], "curated") | _listing(staged["index"], "index")
           | _listing(staged["removed"], "removed"))
    before = (read_marker(out) or {}).get("published", {})
    write_marker(out, {rel: sorted(set(before.get(rel, [])) | ({new[rel]} if rel in new else set()))
                       for rel in sorted(set(before) | set(new))})
    crashpoint("finalize:staged")
    _swap(staged["curated"], out / "curated", staging_name(out, "curated", "old"))
    crashpoint("finalize:swapped_curated")
    _swap(staged["index"], out / "index", staging_name(out, "index", "old"))
    _swap(staged["removed"], out / "removed", staging_name(out, "removed", "old"))
    crashpoint("finalize:swapped_index")
    os.replace(ledger_tmp, out / "ledger.duckdb")
    for name in ("curated", "index", "removed"):
        shutil.rmtree(staging_name(out, name, "old"), ignore_errors=True)
    ledger_parts.remove_all(p)
    write_marker(out, {rel: [size] for rel, size in new.items()})
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
        "not_configured": [{"stage": n, "needs": why} for n, why in p.not_configured],
        "curated": [f"curated/{n}" for n in curated], "ledger": "ledger.duckdb",
        "removed_documents": sorted(r for r in new if r.startswith("removed/")),
        "steps": [{"name": s.name, "key": s.key, "dir": Path(s.dir).relative_to(out).as_posix()}
                  | ({"scores": Path(s.score_dir).relative_to(out).as_posix()} if s.score_dir else {}) for s in p.steps],
    }
    crashpoint("finalize:before_manifest")
    write_json(manifest, out / "manifest.json")
    return manifest
