"""What finalize publishes, prepared per shard: the ledger's rows in written (PII-safe) form, and
the curated part.

Masking ids, sources, scores and evidence is most of the ledger build's time (at 50k documents,
4 of its 5 s) and it is per row; writing the curated parts (zstd) is per shard too. Done here, one
unit per shard index, they run on the executor's workers like any other unit, and what finalize
does in one process is the ledger build (plain SQL over these files) and renames. The parts are
scratch: written under work/ledger-parts-<token>/ for one finalize, removed or moved by it.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import polars as pl

from flows.fsutil import read_json, write_parquet
from flows.plan import Plan
from schemas.records import KIND_FIELDS, RECORD_FIELD_SCHEMA

PREFIX = "ledger-parts-"
INGEST_COLUMNS = ["doc_id", "ord", "kind", "source", "input_file", "input_line"]


def folder(plan: Plan, token: str) -> Path:
    return Path(plan.out) / "work" / f"{PREFIX}{token}"


def units(plan: Plan, token: str) -> list[tuple[Any, ...]]:
    """(plan, token, k): one unit per shard index, masking that shard's file of every step (the
    ingest shard, each stage's decisions-k; the quarantine file goes with k = 0). Per index rather
    than per file: through Prefect every task run costs API round trips."""
    return [(plan, token, k) for k in range(max(1, len(_files_by_index(plan))))]


def _files_by_index(plan: Plan) -> list[list[tuple[int, str]]]:
    ingest = Path(plan.steps[0].dir)
    by: dict[int, list[tuple[int, str]]] = {0: [(0, "quarantine.parquet")]}
    for k, name in enumerate(read_json(ingest / "_done.json")["shards"]):
        by.setdefault(k, []).append((0, name))
    for s in plan.stages:
        for f in sorted(Path(s.dir).glob("decisions-*.parquet")):
            by.setdefault(int(f.stem.rsplit("-", 1)[1]), []).append((s.position, f.name))
    return [by.get(k, []) for k in range(max(by) + 1)]


def prepare_shard(plan: Plan, token: str, k: int) -> None:
    """Unit k: the ledger rows of every step's k-th file, curated part k, and the index rows of
    shard k (what each stage's per-shard artifacts hold of the documents curated part k keeps)."""
    for position, name in _files_by_index(plan)[k]:
        mask_part(plan, token, position, name)
    curated_part(plan, token, k)
    index_part(plan, token, k)


def shard_of(artifact: Path) -> int | None:
    """k for an artifact a unit wrote for shard k (`<name>-0000k.parquet`); None for one written
    for the whole corpus (a judgement's `<name>.parquet`)."""
    tail = artifact.stem.rsplit("-", 1)
    return int(tail[1]) if len(tail) == 2 and len(tail[1]) == 5 and tail[1].isdigit() else None


def index_part(plan: Plan, token: str, k: int) -> None:
    from stages.pii_engine.masker import key_provider, safe_frame

    part = folder(plan, token) / "curated" / f"part-{k:05d}.parquet"
    arts = [(s.name, a) for s in plan.stages for a in sorted((Path(s.dir) / "artifacts").glob(f"*-{k:05d}.parquet"))
            if shard_of(a) == k]
    if not arts:
        return
    kept = pl.read_parquet(part, columns=["id"], glob=False).rename({"id": "doc_id"}) if part.exists() else None
    key = key_provider(Path(plan.out))
    for stage, art in arts:
        target = folder(plan, token) / "index" / stage / art.name
        if target.exists():
            continue
        frame = pl.read_parquet(art, glob=False)
        if "doc_id" in frame.columns and kept is not None:
            frame = frame.join(kept, on="doc_id", how="semi", maintain_order="left")
        write_parquet(safe_frame(frame, key), target, published=True)


def curated_columns(kinds: list[str]) -> list[str]:
    """Record-field columns of the kinds this run holds: a text corpus's curated files carry no
    empty instruction/chat columns, and the choice depends on the whole run, never on one shard."""
    wanted = {f for k in kinds for f in KIND_FIELDS[k]}
    return [c for c in RECORD_FIELD_SCHEMA if c not in wanted]


def curated_names(plan: Plan) -> list[str]:
    return [f"part-{i:05d}.parquet" for i in range(len(read_json(Path(plan.steps[-1].dir) / "_done.json")["shards"]))]


def curated_part(plan: Plan, token: str, k: int) -> None:
    """curated/part-k: the last step's shard k as published (id, text, record fields, meta)."""
    last = Path(plan.steps[-1].dir)
    shards = read_json(last / "_done.json")["shards"]
    target = folder(plan, token) / "curated" / f"part-{k:05d}.parquet"
    if k >= len(shards) or target.exists():
        return
    drop = ["ord", *curated_columns(read_json(Path(plan.steps[0].dir) / "_done.json")["kinds"])]
    frame = pl.read_parquet(last / shards[k], glob=False).drop(drop).rename({"doc_id": "id"})
    write_parquet(frame, target, published=True)


def mask_part(plan: Plan, token: str, position: int, name: str) -> None:
    """Write one step file's ledger rows in written form (skipped when already written: a rerun
    of finalize after a kill redoes only what is missing)."""
    from stages.pii_engine.masker import JSON_SUSPECT, key_provider, mask_column, safe_ids, safe_json

    target = folder(plan, token) / f"{position:02d}-{name}"
    if target.exists():
        return
    step = plan.steps[position]
    key = key_provider(Path(plan.out))
    if position == 0 and name == "quarantine.parquet":
        frame = pl.read_parquet(Path(step.dir) / name, glob=False)
        frame = frame.with_columns(mask_column(frame["doc_id"], safe_ids, key))
    elif position == 0:
        frame = pl.read_parquet(Path(step.dir) / name, columns=INGEST_COLUMNS, glob=False)
        frame = frame.with_columns(mask_column(frame["doc_id"], safe_ids, key), mask_column(frame["source"], safe_ids, key))
    else:
        frame = pl.read_parquet(Path(step.dir) / name, glob=False)
        frame = frame.select(
            mask_column(frame["doc_id"], safe_ids, key),
            pl.lit(step.name, pl.String).alias("stage"),
            pl.lit(int(step.position), pl.Int32).alias("position"),
            pl.lit(int(step.version), pl.Int32).alias("stage_version"),
            "decision", "reason",
            mask_column(frame["scores"], safe_json, key, JSON_SUSPECT),
            mask_column(frame["evidence"], safe_json, key, JSON_SUSPECT),
        )
    write_parquet(frame, target)


def files(plan: Plan, token: str) -> dict[str, list[Path]]:
    """The written parts by table, each list sorted (the build orders rows itself)."""
    where = folder(plan, token)
    return {"quarantine": [where / "00-quarantine.parquet"],
            "ingest": sorted(where.glob("00-shard-*.parquet")),
            "decisions": sorted(p for p in where.glob("*-decisions-*.parquet"))}


def remove_all(plan: Plan) -> None:
    """This finalize's parts and any a killed finalize left."""
    for old in (Path(plan.out) / "work").glob(f"{PREFIX}*"):
        shutil.rmtree(old, ignore_errors=True)
