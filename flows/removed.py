"""`assay run --write-removed`: the removed documents, with the stage and reason that removed them,
as Parquet in RUN_DIR/removed/ (one part per removing stage), beside curated/. Published with
curated/ and index/ as a whole (flows/ledger.finalize); a run without the option leaves none.

A removed document's text is the one its removing stage saw: the input shard of that stage. When
the run has a pii stage, texts are masked as in `assay show` (withheld when the masker is not installed).
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import polars as pl

from flows.fsutil import read_json, write_parquet
from flows.plan import Plan
from schemas import DOCUMENT_SCHEMA
from schemas.records import RECORD_FIELD_SCHEMA


def _mask_of(p: Plan) -> tuple[bool, Any]:
    """(whether texts must be masked, the masker or None when it is not installed)."""
    from flows.masking import available, is_pii_stage

    need = any(is_pii_stage(s.name) for s in p.stages)
    return need, available() if need else None


def stage_removed(p: Plan, staging: Path, drop: list[str]) -> list[str]:
    """Write the parts into `staging` (renamed to RUN_DIR/removed by finalize) when the run asked for
    them; else leave `staging` absent, so finalize removes an earlier run's removed/. `drop` are the
    record columns curated/ leaves out for this run's kinds."""
    shutil.rmtree(staging, ignore_errors=True)
    if not p.write_removed:
        return []
    staging.mkdir(parents=True)
    need_mask, mask = _mask_of(p)
    if need_mask and mask is None:
        print("note: removed/ holds no text: this run had a pii stage and the PII masker "
              "(stages.pii_engine.masker.mask_text) is not installed", file=sys.stderr)
    names = []
    for s in p.stages:
        files = sorted(Path(s.dir).glob("decisions-*.parquet"))
        gone = (pl.scan_parquet(files, glob=False).filter(pl.col("decision") == "removed")
                .select("doc_id", "reason", "evidence").collect()) if files else None
        if gone is None or gone.height == 0:
            continue
        prev = p.steps[s.position - 1]
        shards = [Path(prev.dir) / n for n in read_json(Path(prev.dir) / "_done.json")["shards"]]
        docs = (pl.scan_parquet(shards, glob=False).select(list(DOCUMENT_SCHEMA))
                .join(gone.lazy(), on="doc_id", how="inner", maintain_order="left").collect())
        if need_mask:  # the text, masked (or withheld); the record fields it renders are left out
            texts = [mask(t) for t in docs["text"].to_list()] if mask is not None else [None] * docs.height
            docs = docs.with_columns(text=pl.Series(texts, dtype=pl.String)).drop(list(RECORD_FIELD_SCHEMA))
            drop = [c for c in drop if c not in RECORD_FIELD_SCHEMA]
        frame = (docs.drop(["ord", *drop]).rename({"doc_id": "id"})
                 .with_columns(stage=pl.lit(s.name), position=pl.lit(s.position, pl.Int32)))
        names.append(f"part-{s.position:05d}.parquet")
        write_parquet(frame, staging / names[-1], published=True)
    return names
