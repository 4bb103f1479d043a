"""The runner: plain functions that take and return paths, so that the local engine and the Prefect
flow call the very same code and produce the same bytes.

Layout of a run directory:
  work/00-ingest-<key>/      shard-*.parquet, quarantine.parquet, _done.json
  work/NN-<stage>-<key>/     shard-*.parquet (kept), decisions-*.parquet, artifacts/, _done.json
  curated/part-*.parquet     the kept documents
  index/<stage>/*.parquet    artifacts of the stages that ran (e.g. near-dup signatures)
  ledger.duckdb              every decision on every document
  manifest.json              written last: its presence means the run completed

A step's key hashes its input's key with its own name, version and config, so changing one
stage's option reruns that stage and the ones after it, and nothing before.
"""
from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from tqdm import tqdm

from flows.fsutil import crashpoint, file_sha256, package_versions, read_json, text_sha256, write_json, write_parquet
from schemas import DECISION_SCHEMA, DOCUMENT_SCHEMA, QUARANTINE_SCHEMA, check_schema, empty
from stages import catalog
from stages.base import ConfigError, check_result, split, stage_config, stage_key
from stages.ingest import IdBook, Ingest, read_file
from stages.readers import discover

# The default recipe, in order. Adding a stage to the default flow is one line here.
DEFAULT_STAGES = (
    "provenance",
    "exact_dup",
    "quality",
    "near_dup",
)


@dataclass(frozen=True)
class RunOptions:
    inputs: tuple[str, ...]
    out: Path
    stages: tuple[str, ...] | None = None  # None: every available stage of DEFAULT_STAGES
    stage_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    text_field: str = "text"
    id_field: str = "id"
    source: str | None = None
    max_doc_bytes: int = 16_000_000
    shard_size: int = 20_000
    progress: bool = True


@dataclass(frozen=True)
class Step:
    position: int
    name: str
    key: str
    dir: str
    config: dict[str, Any]
    version: int
    scope: str


def default_stages() -> tuple[str, ...]:
    available = catalog.all_stages()
    return tuple(s for s in DEFAULT_STAGES if s in available)


def plan(opts: RunOptions) -> dict[str, Any]:
    """Resolve inputs, hash them, instantiate every stage and key every step (JSON-serialisable)."""
    files = discover(list(opts.inputs), exclude=Path(opts.out))
    inputs = [{"path": p.as_posix(), "sha256": file_sha256(p), "bytes": p.stat().st_size} for p in files]
    ingest = Ingest(text_field=opts.text_field, id_field=opts.id_field, source=opts.source, max_doc_bytes=opts.max_doc_bytes)
    names = default_stages() if opts.stages is None else tuple(opts.stages)
    unknown_opts = sorted(set(opts.stage_options) - set(names))
    if unknown_opts:
        raise ConfigError(f"options given for stages that are not in this run: {unknown_opts}")
    ingest_cfg = dataclasses.asdict(ingest) | {"shard_size": opts.shard_size}
    # Package versions join the key (not the config): a new polars or numba may change a hash or a
    # rounding, and a rerun must never mix step outputs computed by two versions.
    key = text_sha256(json.dumps({"inputs": inputs, "ingest": ingest_cfg, "version": Ingest.version,
                                  "packages": package_versions()}, sort_keys=True))
    out = Path(opts.out)
    steps = [Step(0, "ingest", key, (out / "work" / f"00-ingest-{key[:16]}").as_posix(), ingest_cfg, Ingest.version, "ingest")]
    for pos, name in enumerate(names, start=1):
        stage = catalog.build(name, dict(opts.stage_options.get(name, {})))
        key = text_sha256(key + stage_key(stage))
        steps.append(Step(pos, name, key, (out / "work" / f"{pos:02d}-{name}-{key[:16]}").as_posix(),
                          stage_config(stage), stage.version, stage.scope))
    config = {"inputs": [i["path"] for i in inputs], "ingest": ingest_cfg,
              "stages": [{"name": s.name, "version": s.version, "config": s.config} for s in steps[1:]]}
    return {"out": out.as_posix(), "inputs": inputs, "steps": [dataclasses.asdict(s) for s in steps],
            "config": config, "config_hash": text_sha256(json.dumps(config, sort_keys=True)),
            "shard_size": opts.shard_size, "progress": opts.progress}


def _done(step: dict[str, Any]) -> dict[str, Any] | None:
    marker = Path(step["dir"]) / "_done.json"
    return read_json(marker) if marker.exists() else None


def _shards(step: dict[str, Any]) -> list[Path]:
    return [Path(step["dir"]) / name for name in _done(step)["shards"]]  # type: ignore[index]


def run_ingest(p: dict[str, Any]) -> dict[str, Any]:
    step = p["steps"][0]
    if done := _done(step):
        return done
    start = time.perf_counter()
    cfg = Ingest(**{k: v for k, v in step["config"].items() if k != "shard_size"})
    size, wdir = step["config"]["shard_size"], Path(step["dir"])
    ids, buffer, quarantine, shards, ord_, records, blank = IdBook(), [], [], [], 0, 0, 0

    def flush() -> None:
        frame = pl.DataFrame(buffer, schema=DOCUMENT_SCHEMA) if buffer else empty(DOCUMENT_SCHEMA)
        name = f"shard-{len(shards):05d}.parquet"
        write_parquet(frame, wdir / name)
        shards.append(name)
        buffer.clear()

    bar = tqdm(p["inputs"], desc="ingest", unit="file", disable=not p["progress"] or None, leave=False)
    for item in bar:
        for kind, row in read_file(cfg, Path(item["path"]), ids):
            if kind == "blank":
                blank += 1
                continue
            if kind == "doc":
                buffer.append(row | {"ord": ord_})
                ord_ += 1
                if len(buffer) >= size:
                    flush()
                    crashpoint("ingest:shard")
            else:
                if row["input_line"] is not None:
                    row["doc_id"] = f"q-{text_sha256(row['input_file'])[:8]}-{row['input_line']}"
                quarantine.append(row)
            records += kind == "doc" or row["input_line"] is not None
    if buffer or not shards:
        flush()
    qframe = pl.DataFrame(quarantine, schema=QUARANTINE_SCHEMA) if quarantine else empty(QUARANTINE_SCHEMA)
    write_parquet(qframe, wdir / "quarantine.parquet")
    n_q = int(qframe["input_line"].is_not_null().sum())
    if ord_ + n_q != records:
        raise RuntimeError(f"ingest conservation broken: {records} records, {ord_} documents + {n_q} quarantined")
    done = {"key": step["key"], "shards": shards, "records": records, "documents": ord_, "quarantined": n_q,
            "file_issues": int(qframe["input_line"].is_null().sum()), "blank_lines": blank, "seconds": round(time.perf_counter() - start, 3)}
    crashpoint("ingest:before_done")
    write_json(done, wdir / "_done.json")
    return done


def _apply_checked(stage: Any, docs: pl.DataFrame) -> Any:
    check_schema(docs, DOCUMENT_SCHEMA, f"input of stage {stage.name!r}")
    result = stage.apply(docs)
    check_result(stage, docs, result)
    return result


def run_stage_shard(p: dict[str, Any], position: int, shard: int) -> str:
    """Apply a document-scope stage to one shard of its input; skipped when already written."""
    step, prev = p["steps"][position], p["steps"][position - 1]
    wdir, name = Path(step["dir"]), f"shard-{shard:05d}.parquet"
    if not (wdir / name).exists():
        stage = catalog.build(step["name"], step["config"])
        docs = pl.read_parquet(_shards(prev)[shard])
        result = _apply_checked(stage, docs)
        write_parquet(result.decisions, wdir / f"decisions-{shard:05d}.parquet")
        write_json(dict(result.stats), wdir / f"stats-{shard:05d}.json")
        crashpoint(f"{step['name']}:between_files")
        write_parquet(result.kept, wdir / name)  # the kept shard marks this shard as done
    return (wdir / name).as_posix()


def run_corpus_stage(p: dict[str, Any], position: int) -> list[str]:
    """Apply a corpus-scope stage: features shard by shard, one judgement over all of them, then
    each shard split by it. No step ever holds every document's text."""
    step, prev = p["steps"][position], p["steps"][position - 1]
    wdir = Path(step["dir"])
    stage = catalog.build(step["name"], step["config"])
    shards = _shards(prev)
    for i, shard in enumerate(shards):
        if not (wdir / f"features-{i:05d}.parquet").exists():
            docs = pl.read_parquet(shard)
            check_schema(docs, DOCUMENT_SCHEMA, f"input of stage {stage.name!r}")
            write_parquet(stage.features(docs), wdir / f"features-{i:05d}.parquet")
            crashpoint(f"{step['name']}:features")
    features = pl.scan_parquet([wdir / f"features-{i:05d}.parquet" for i in range(len(shards))])
    judgement = stage.judge(features, pl.scan_parquet(shards))
    for art, frame in judgement.artifacts.items():
        write_parquet(frame, wdir / "artifacts" / f"{art}.parquet")
    write_json(dict(judgement.stats), wdir / "stats-00000.json")
    names = []
    for i, shard in enumerate(shards):
        docs = pl.read_parquet(shard)
        result = split(docs, judgement)
        check_result(stage, docs, result)
        names.append(f"shard-{i:05d}.parquet")
        write_parquet(result.decisions, wdir / f"decisions-{i:05d}.parquet")
        write_parquet(result.kept, wdir / names[-1])
        crashpoint(f"{step['name']}:shard")
    return [(wdir / n).as_posix() for n in names]


def finish_stage(p: dict[str, Any], position: int, seconds: float) -> dict[str, Any]:
    """Check the stage's conservation over all its shards and write its completion marker."""
    step, prev = p["steps"][position], p["steps"][position - 1]
    wdir = Path(step["dir"])
    decisions = pl.read_parquet(sorted(wdir.glob("decisions-*.parquet"))) if list(wdir.glob("decisions-*.parquet")) else empty(DECISION_SCHEMA)
    n_in = sum(pl.scan_parquet(s).select(pl.len()).collect().item() for s in _shards(prev))
    shards = sorted(x.name for x in wdir.glob("shard-*.parquet"))
    n_kept = sum(pl.scan_parquet(wdir / s).select(pl.len()).collect().item() for s in shards)
    counts = {d: int((decisions["decision"] == d).sum()) for d in ("kept", "modified", "removed")}
    if decisions.height != n_in or counts["kept"] + counts["modified"] != n_kept:
        raise RuntimeError(f"stage {step['name']!r} conservation broken: {n_in} in, {decisions.height} decisions, {n_kept} kept")
    per_shard = [read_json(s) for s in sorted(wdir.glob("stats-*.json"))]
    by_reason: dict[str, int] = {}
    for st in per_shard:
        for reason, n in st.get("removed_by_reason", {}).items():
            by_reason[reason] = by_reason.get(reason, 0) + n
    stats = per_shard[0] if len(per_shard) == 1 else {"removed_by_reason": dict(sorted(by_reason.items())), "shards": per_shard}
    done = {"key": step["key"], "shards": shards, "in": n_in, **counts, "seconds": round(seconds, 3), "stats": stats}
    write_json(done, wdir / "_done.json")
    return done


def run_stage(p: dict[str, Any], position: int) -> dict[str, Any]:
    step = p["steps"][position]
    if done := _done(step):
        return done | {"cached": True}
    start = time.perf_counter()
    if step["scope"] == "document":
        n = len(_shards(p["steps"][position - 1]))
        for shard in tqdm(range(n), desc=step["name"], unit="shard", disable=not p["progress"] or None, leave=False):
            run_stage_shard(p, position, shard)
    else:
        run_corpus_stage(p, position)
    return finish_stage(p, position, time.perf_counter() - start)


def run_local(opts: RunOptions) -> dict[str, Any]:
    """Run every step in this process (the engine tests and `--engine local` use)."""
    from flows.ledger import finalize

    started = time.time()
    p = plan(opts)
    run_ingest(p)
    for position in range(1, len(p["steps"])):
        run_stage(p, position)
    return finalize(p, started)


def run_pipeline(opts: RunOptions) -> dict[str, Any]:
    """Public entry point for other code (ablations, notebooks): runs locally, returns the manifest."""
    return run_local(opts)
