"""The ledger's rows in written (PII-safe) form, one unit per step output file.

Masking ids, sources, scores and evidence is most of the ledger build's time (at 50k documents,
4 of its 5 s) and it is per row: done here, per file, it runs on the executor's workers like any
other unit, and the build (flows/ledger.py) is then plain SQL over these files. The parts are
scratch: written under work/ledger-parts-<token>/ for one finalize, removed by it.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import polars as pl

from flows.fsutil import read_json, write_parquet
from flows.plan import Plan

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


def mask_shard(plan: Plan, token: str, k: int) -> None:
    for position, name in _files_by_index(plan)[k]:
        mask_part(plan, token, position, name)


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
