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
    """(plan, token, part) for the ingest shards, the quarantine file and every stage's decision
    files; a part, "03-decisions-00001", is the step's position and the file's name (a task run's name)."""
    ingest = Path(plan.steps[0].dir)
    names = [(0, "quarantine.parquet"), *((0, n) for n in read_json(ingest / "_done.json")["shards"])]
    for s in plan.stages:
        names += [(s.position, f.name) for f in sorted(Path(s.dir).glob("decisions-*.parquet"))]
    return [(plan, token, f"{pos:02d}-{name.removesuffix('.parquet')}") for pos, name in names]


def mask_part(plan: Plan, token: str, part: str) -> None:
    """Write one step file's ledger rows in written form (skipped when already written: a rerun
    of finalize after a kill redoes only what is missing)."""
    from stages.pii_engine.masker import JSON_SUSPECT, key_provider, mask_column, safe_ids, safe_json

    target = folder(plan, token) / f"{part}.parquet"
    if target.exists():
        return
    position, name = int(part[:2]), f"{part[3:]}.parquet"
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
