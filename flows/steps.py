"""The units of work of a run: plain functions of (plan, position, shard) that read and write paths.

The local engine and the Prefect flow call exactly these (through flows/execute.py), so both write
the same bytes. Every output is written under a temporary name and renamed; a step's `_done.json`
is written last. A unit whose output exists is skipped, so a rerun after a kill resumes.

Layout of a step folder (work/NN-<stage>-<key>/): shard-*.parquet (kept documents), decisions-*,
stats-*.json, judgement/ (corpus stages), artifacts/, _done.json. Scores or features live in
work/NN-<stage>-scores-<score key>/, keyed on the scoring options only.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import polars as pl

from flows.errors import RunError
from flows.fsutil import crashpoint, read_json, text_sha256, write_json, write_parquet
from flows.inputs import materialize
from flows.plan import Plan, StepPlan
from flows.runfolder import claim_out
from schemas import DECISION_SCHEMA, DOCUMENT_SCHEMA, QUARANTINE_SCHEMA, check_schema, empty
from stages import catalog
from stages.base import Judgement, check_result, split

_LOCK = threading.Lock()
_STAGES: dict[str, Any] = {}
_RESOURCES: dict[str, Any] = {}


def stage_of(step: StepPlan) -> Any:
    """The stage instance of a step, built once per process."""
    with _LOCK:
        if step.key not in _STAGES:
            _STAGES[step.key] = catalog.build(step.name, dict(step.config))
        return _STAGES[step.key]


def resources_of(step: StepPlan) -> Any:
    """What the stage's `setup` loads (a model, an analyzer, earlier releases): once per worker
    process and step, however many shards that process runs. The lock makes threads wait for the
    first load instead of loading twice."""
    stage = stage_of(step)
    if not hasattr(stage, "setup"):
        return None
    with _LOCK:
        if step.key not in _RESOURCES:
            _RESOURCES[step.key] = stage.setup(materialize(step.name, step.inputs))
        return _RESOURCES[step.key]


def release(plan: Plan) -> None:
    """Drop this plan's stages and resources from the process: a long-lived process (a served flow,
    an ablation running many recipes) must not keep every model it ever loaded."""
    with _LOCK:
        for step in plan.stages:
            _STAGES.pop(step.key, None)
            _RESOURCES.pop(step.key, None)


def done(step: StepPlan) -> dict[str, Any] | None:
    marker = Path(step.dir) / "_done.json"
    return read_json(marker) if marker.exists() else None


def shards_of(step: StepPlan) -> list[Path]:
    marker = done(step)
    if marker is None:
        raise RunError(f"step {step.name!r} has no output yet ({step.dir})")
    return [Path(step.dir) / name for name in marker["shards"]]


def shard_count(plan: Plan) -> int:
    """Shards of every step of the run: ingest's (a stage keeps shard i of its input as its shard i,
    however many documents it removes)."""
    return len(shards_of(plan.steps[0]))


def input_shard(plan: Plan, position: int, shard: int) -> Path:
    """Shard `shard` of the step before `position`. Found by name, not through that step's marker:
    when per-shard units are chained (flows/execute.py), the step before may be marked done only
    after this unit ran."""
    path = Path(plan.steps[position - 1].dir) / f"shard-{shard:05d}.parquet"
    if not path.exists():
        raise RunError(f"step {plan.steps[position].name!r}, shard {shard}: its input {path} does not exist")
    return path


def run_ingest(plan: Plan) -> dict[str, Any]:
    from flows.ingest.discover import DataFile
    from flows.ingest.read import IdBook, read_file

    claim_out(plan)
    step = plan.steps[0]
    if marker := done(step):
        return marker
    start = time.perf_counter()
    wdir, size = Path(step.dir), plan.shard_size
    ids, buffer, quarantine, shards = IdBook(), [], [], []
    ord_ = records = blank = 0
    kinds: set[str] = set()

    def flush() -> None:
        frame = pl.DataFrame(buffer, schema=DOCUMENT_SCHEMA) if buffer else empty(DOCUMENT_SCHEMA)
        kinds.update(frame["kind"].unique().to_list())
        shards.append(f"shard-{len(shards):05d}.parquet")
        write_parquet(frame, wdir / shards[-1], compression=plan.work_compression)
        buffer.clear()

    for item in plan.inputs:
        for kind, row in read_file(plan.ingest, DataFile(item.path, item.name, item.format), ids):
            if kind == "blank":
                blank += 1
                continue
            if kind == "doc":
                row["ord"] = ord_
                buffer.append(row)
                ord_ += 1
                if len(buffer) >= size:
                    flush()
                    crashpoint("ingest:shard")
            else:
                if row["input_line"] is not None:
                    row["doc_id"] = f"q-{text_sha256(row['input_file'])[:8]}-{row['input_line']}"
                quarantine.append(row)
            records += kind == "doc" or row["input_line"] is not None
    _unique_quarantine_ids(quarantine, ids.given)
    if buffer or not shards:
        flush()
    qframe = pl.DataFrame(quarantine, schema=QUARANTINE_SCHEMA) if quarantine else empty(QUARANTINE_SCHEMA)
    write_parquet(qframe, wdir / "quarantine.parquet")
    n_q = int(qframe["input_line"].is_not_null().sum())
    if ord_ + n_q != records:
        raise RunError(f"ingest conservation broken: {records} records, {ord_} documents + {n_q} quarantined")
    marker = {"key": step.key, "shards": shards, "records": records, "documents": ord_, "quarantined": n_q,
              "file_issues": int(qframe["input_line"].is_null().sum()), "blank_lines": blank,
              "kinds": sorted(kinds), "seconds": round(time.perf_counter() - start, 3)}
    crashpoint("ingest:before_done")
    write_json(marker, wdir / "_done.json")
    return marker


def _unique_quarantine_ids(rows: list[dict[str, Any]], taken: dict[str, str]) -> None:
    """A quarantined line's id (q-<file hash>-<line>) must not equal a document's id, which may be
    any string a user chose: `documents` holds both, one row each. A clash gets a suffix."""
    for row in rows:
        while row["doc_id"] is not None and row["doc_id"] in taken:
            row["doc_id"] += "-q"


def _input(plan: Plan, position: int, shard: int) -> pl.DataFrame:
    step = plan.steps[position]
    docs = pl.read_parquet(input_shard(plan, position, shard), glob=False)
    check_schema(docs, DOCUMENT_SCHEMA, f"input of stage {step.name!r}")
    return docs


def _write_result(plan: Plan, step: StepPlan, shard: int, result: Any) -> str:
    wdir, name = Path(step.dir), f"shard-{shard:05d}.parquet"
    write_parquet(result.decisions, wdir / f"decisions-{shard:05d}.parquet")
    write_json(dict(result.stats), wdir / f"stats-{shard:05d}.json")
    for art, frame in result.artifacts.items():
        write_parquet(frame, wdir / "artifacts" / f"{art}-{shard:05d}.parquet")
    crashpoint(f"{step.name}:between_files")
    write_parquet(result.kept, wdir / name, compression=plan.work_compression)  # written last: marks the shard done
    return (wdir / name).as_posix()


def run_shard(plan: Plan, position: int, shard: int) -> str:
    """A document-scope stage over one shard. With score/choose, the scores are read from the
    scores folder when an earlier run (same input, same scoring options) computed them."""
    step = plan.steps[position]
    out = Path(step.dir) / f"shard-{shard:05d}.parquet"
    if out.exists():
        return out.as_posix()
    stage, res = stage_of(step), resources_of(step)
    docs = _input(plan, position, shard)
    if step.score_dir is None:
        result = stage.apply(docs, res)
    else:
        cached = Path(step.score_dir) / f"scores-{shard:05d}.parquet"
        if cached.exists():
            scores = pl.read_parquet(cached, glob=False)
        else:
            scores = stage.score(docs, res)
            if scores.columns[0] != "doc_id" or scores.height != docs.height:
                raise RunError(f"stage {step.name!r}: score() must return doc_id + one row per document")
            write_parquet(scores, cached)
            crashpoint(f"{step.name}:scored")
        # Joined by id: when the ids line up row for row (always, unless a stage reorders), the
        # columns are placed side by side without a hash join.
        if scores["doc_id"].equals(docs["doc_id"]):
            scored = docs.hstack(scores.drop("doc_id").get_columns())
        else:
            scored = docs.join(scores, on="doc_id", how="left", maintain_order="left")
        result = stage.choose(scored, res)
    check_result(stage, docs, result)
    return _write_result(plan, step, shard, result)


def run_features(plan: Plan, position: int, shard: int) -> str:
    step = plan.steps[position]
    path = Path(step.score_dir) / f"features-{shard:05d}.parquet"  # type: ignore[arg-type]
    if not path.exists():
        write_parquet(stage_of(step).features(_input(plan, position, shard), resources_of(step)), path)
        crashpoint(f"{step.name}:features")
    return path.as_posix()


def run_judge(plan: Plan, position: int) -> str:
    """One judgement over every shard's features, persisted so that each shard can be split by any
    worker. The documents are handed lazily: a stage reads only the texts it must see."""
    step = plan.steps[position]
    jdir = Path(step.dir) / "judgement"
    if (jdir / "_done.json").exists():
        return jdir.as_posix()
    n = len(shards_of(plan.steps[position - 1]))
    features = pl.scan_parquet([Path(step.score_dir) / f"features-{i:05d}.parquet" for i in range(n)], glob=False)  # type: ignore[arg-type]
    docs = pl.scan_parquet(shards_of(plan.steps[position - 1]), glob=False)
    j = stage_of(step).judge(features, docs, resources_of(step))
    write_parquet(j.decisions, jdir / "decisions.parquet")
    write_parquet(j.columns, jdir / "columns.parquet")
    if j.edits is not None:
        write_parquet(j.edits, jdir / "edits.parquet")
    for art, frame in j.artifacts.items():
        write_parquet(frame, Path(step.dir) / "artifacts" / f"{art}.parquet")
    write_json(dict(j.stats), Path(step.dir) / "stats-00000.json")
    crashpoint(f"{step.name}:judged")
    write_json({"key": step.key}, jdir / "_done.json")
    return jdir.as_posix()


def run_split(plan: Plan, position: int, shard: int) -> str:
    step = plan.steps[position]
    out = Path(step.dir) / f"shard-{shard:05d}.parquet"
    if out.exists():
        return out.as_posix()
    jdir = Path(step.dir) / "judgement"
    docs = _input(plan, position, shard)
    ids = docs.select("doc_id").lazy()
    part = [pl.scan_parquet(jdir / f, glob=False).join(ids, on="doc_id", how="semi").collect() for f in ("decisions.parquet", "columns.parquet")]
    edits = pl.scan_parquet(jdir / "edits.parquet", glob=False).join(ids, on="doc_id", how="semi").collect() if (jdir / "edits.parquet").exists() else None
    result = split(docs, Judgement(decisions=part[0], columns=part[1], edits=edits))
    stage = stage_of(step)
    check_result(stage, docs, result)
    wdir = Path(step.dir)
    write_parquet(result.decisions, wdir / f"decisions-{shard:05d}.parquet")
    if hasattr(stage, "shard_artifacts"):  # e.g. near_dup's index: written per shard, not by the judgement
        feats = pl.read_parquet(Path(step.score_dir) / f"features-{shard:05d}.parquet", glob=False)  # type: ignore[arg-type]
        kept = result.kept.select("doc_id")
        for art, frame in stage.shard_artifacts(feats).items():
            if "doc_id" in frame.columns:
                frame = frame.join(kept, on="doc_id", how="semi", maintain_order="left")
            write_parquet(frame, wdir / "artifacts" / f"{art}-{shard:05d}.parquet")
    write_parquet(result.kept, out, compression=plan.work_compression)
    crashpoint(f"{step.name}:shard")
    return out.as_posix()


def finish_stage(plan: Plan, position: int, seconds: float) -> dict[str, Any]:
    """Check the stage's conservation over all its shards and write its completion marker."""
    step, prev = plan.steps[position], plan.steps[position - 1]
    wdir = Path(step.dir)
    files = sorted(wdir.glob("decisions-*.parquet"))
    decisions = pl.read_parquet(files, glob=False) if files else empty(DECISION_SCHEMA)
    n_in = sum(pl.scan_parquet(s, glob=False).select(pl.len()).collect().item() for s in shards_of(prev))
    shards = sorted(x.name for x in wdir.glob("shard-*.parquet"))
    n_kept = sum(pl.scan_parquet(wdir / s, glob=False).select(pl.len()).collect().item() for s in shards)
    counts = {d: int((decisions["decision"] == d).sum()) for d in ("kept", "modified", "removed")}
    if decisions.height != n_in or counts["kept"] + counts["modified"] != n_kept or len(shards) != len(shards_of(prev)):
        raise RunError(f"stage {step.name!r} conservation broken: {n_in} in, {decisions.height} decisions, {n_kept} kept")
    per_shard = [read_json(s) for s in sorted(wdir.glob("stats-*.json"))]
    stats = per_shard[0] if len(per_shard) == 1 else _sum_stats(per_shard)
    marker = {"key": step.key, "shards": shards, "in": n_in, **counts, "seconds": round(seconds, 3), "stats": stats}
    write_json(marker, wdir / "_done.json")
    return marker


def _sum_stats(per_shard: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-shard stats of a document stage: counts summed, everything else kept per shard."""
    out: dict[str, Any] = {"shards": per_shard}
    total: dict[str, int] = {}
    for st in per_shard:
        for reason, n in st.get("removed_by_reason", {}).items():
            total[reason] = total.get(reason, 0) + n
    out["removed_by_reason"] = dict(sorted(total.items()))
    out["modified"] = sum(st.get("modified", 0) for st in per_shard)
    return out
