"""Ingest with one unit of work per input file, for task runners with several workers; it writes the
same shards, byte for byte, as the serial loop in flows/steps.run_ingest.

The only state the serial loop carries from one file to the next is the id book: content ids are
numbered across the run (the second copy of a text anywhere gets `<id>-2`) and a repeated id is
quarantined. So each file is read on its own (`read_part`) with a book that accepts every id and
records, in order, each id it was asked to register and whether it came from content. `resolve`
then replays the serial book over those records alone (ids, never texts) and writes the final ids;
`write_shard` cuts the run's shards (shard_size documents each, across file boundaries, exactly
where the serial loop cuts them) from the per-file parts. An id that the serial book would have
refused (a repeated given id: rare, and its quarantine row needs the record's raw bytes) makes
`resolve` answer None, and the caller runs the serial loop instead: the output never differs.
"""
from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import Any

import polars as pl

from flows.errors import RunError
from flows.fsutil import crashpoint, read_json, text_sha256, write_json, write_parquet
from flows.plan import Plan
from schemas import DOCUMENT_SCHEMA, QUARANTINE_SCHEMA, empty

_EVENTS = {"key": pl.String, "content": pl.Boolean, "line": pl.Int64}


class _Content(dict):
    """Every content id counts as first seen; `resolve` numbers repeats across the run."""

    def __init__(self, log: _Given) -> None:
        super().__init__()
        self.log = log

    def get(self, key: Any, default: Any = None) -> int:
        return 0

    def __setitem__(self, key: str, value: int) -> None:
        self.log.pending = True


class _Given(dict):
    """Accepts every id, and records (id, from content, line) in the order they are registered."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, bool, int]] = []
        self.pending = False

    def __contains__(self, key: object) -> bool:
        return False

    def __setitem__(self, key: str, where: str) -> None:
        self.rows.append((key, self.pending, int(where.rsplit(":", 1)[1])))
        self.pending = False


def _parts(plan: Plan) -> Path:
    return Path(plan.steps[0].dir) / "parts"


def use_parallel(plan: Plan, workers: int) -> bool:
    return workers > 1 and len(plan.inputs) > 1


def read_part(plan: Plan, index: int) -> str:
    """Read input file `index` into parts/: its documents (provisional ids, no `ord`), its
    quarantine rows, the ids it registered, and its counts (written last: marks the part done)."""
    from flows.ingest.discover import DataFile
    from flows.ingest.read import IdBook, read_file

    pdir = _parts(plan)
    done = pdir / f"part-{index:05d}.json"
    if done.exists():
        return done.as_posix()
    item = plan.inputs[index]
    given = _Given()
    docs: list[dict[str, Any]] = []
    quarantine: list[dict[str, Any]] = []
    records = blank = 0
    for kind, row in read_file(plan.ingest, DataFile(item.path, item.name, item.format), IdBook(given, _Content(given))):
        if kind == "blank":
            blank += 1
            continue
        if kind == "doc":
            docs.append(row)
        else:
            if row["input_line"] is not None:
                row["doc_id"] = f"q-{text_sha256(row['input_file'])[:8]}-{row['input_line']}"
            quarantine.append(row)
        records += kind == "doc" or row["input_line"] is not None
    schema = {k: v for k, v in DOCUMENT_SCHEMA.items() if k != "ord"}
    frame = pl.DataFrame(docs, schema=schema) if docs else empty(schema)
    write_parquet(frame, pdir / f"docs-{index:05d}.parquet", compression=plan.work_compression)
    write_parquet(pl.DataFrame(quarantine, schema=QUARANTINE_SCHEMA) if quarantine else empty(QUARANTINE_SCHEMA),
                  pdir / f"quarantine-{index:05d}.parquet")
    write_parquet(pl.DataFrame(given.rows, schema=_EVENTS, orient="row"), pdir / f"ids-{index:05d}.parquet")
    write_json({"records": records, "blank": blank, "documents": frame.height,
                "kinds": sorted(frame["kind"].unique().to_list())}, done)
    return done.as_posix()


def resolve(plan: Plan) -> int | None:
    """Replay the serial id book over every part, in input order; write each part's final ids and
    the run's quarantine file. Returns the number of shards, or None when an id repeats (the serial
    loop must then run: see the module's docstring). Vectorised: the n-th copy of a content id in
    input order becomes `<id>-n`, and any final id seen twice is a repeat the serial book refuses."""
    pdir = _parts(plan)
    layout = pdir / "layout.json"
    if layout.exists():
        return read_json(layout)["shards"]
    n_files = len(plan.inputs)
    events = pl.concat([pl.read_parquet(pdir / f"ids-{i:05d}.parquet", glob=False).with_columns(file=pl.lit(i, pl.Int64))
                        for i in range(n_files)]) if n_files else pl.DataFrame(schema=_EVENTS | {"file": pl.Int64})
    events = events.with_row_index("_event")
    # Numbered among the repeated content ids alone: a window over every distinct id costs ~10x more.
    repeats = (events.filter(pl.col("content")).filter(pl.col("key").is_duplicated())
               .with_columns(copy=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("key")).filter(pl.col("copy") > 1)
               .select("_event", numbered=pl.col("key") + "-" + pl.col("copy").cast(pl.String)))
    events = events.join(repeats, on="_event", how="left", maintain_order="left").with_columns(
        final=pl.coalesce("numbered", "key"))
    if events["final"].is_duplicated().any():
        return None
    sizes = []
    for index in range(n_files):
        lines = pl.read_parquet(pdir / f"docs-{index:05d}.parquet", columns=["input_line"], glob=False)
        mine = events.filter(pl.col("file") == index).select(input_line="line", doc_id="final")
        final = lines.join(mine, on="input_line", how="left", maintain_order="left").select("doc_id")
        if final["doc_id"].null_count():
            raise RunError(f"ingest: {plan.inputs[index].name}: a document without a registered id")
        write_parquet(final, pdir / f"final-{index:05d}.parquet")
        sizes.append(final.height)
    qframe = pl.concat([pl.read_parquet(pdir / f"quarantine-{i:05d}.parquet", glob=False) for i in range(n_files)]
                       or [empty(QUARANTINE_SCHEMA)])
    if qframe.height:  # as steps._unique_quarantine_ids: a quarantine id never equals a document's
        given = set(events["final"].to_list())
        rows = qframe.to_dicts()
        for row in rows:
            while row["doc_id"] is not None and row["doc_id"] in given:
                row["doc_id"] += "-q"
        qframe = pl.DataFrame(rows, schema=QUARANTINE_SCHEMA)
    write_parquet(qframe, Path(plan.steps[0].dir) / "quarantine.parquet")
    shards = max(1, math.ceil(sum(sizes) / plan.shard_size))
    write_json({"shards": shards, "documents": sizes}, layout)
    return shards


def write_shard(plan: Plan, shard: int) -> str:
    """Shard `shard`: documents shard*size ... (shard+1)*size - 1 of the run, in input order."""
    wdir, pdir = Path(plan.steps[0].dir), _parts(plan)
    out = wdir / f"shard-{shard:05d}.parquet"
    if out.exists():
        return out.as_posix()
    sizes = read_json(pdir / "layout.json")["documents"]
    lo, hi = shard * plan.shard_size, (shard + 1) * plan.shard_size
    pieces, start = [], 0
    for index, n in enumerate(sizes):
        a, b = max(lo, start), min(hi, start + n)
        if a < b:
            docs = pl.scan_parquet(pdir / f"docs-{index:05d}.parquet", glob=False).slice(a - start, b - a).collect()
            ids = pl.scan_parquet(pdir / f"final-{index:05d}.parquet", glob=False).slice(a - start, b - a).collect()
            pieces.append(docs.with_columns(ids["doc_id"]))
        start += n
    frame = pl.concat(pieces) if pieces else empty({k: v for k, v in DOCUMENT_SCHEMA.items() if k != "ord"})
    frame = frame.with_columns(pl.int_range(lo, lo + frame.height, dtype=DOCUMENT_SCHEMA["ord"]).alias("ord"))
    frame = frame.select(list(DOCUMENT_SCHEMA)).cast(DOCUMENT_SCHEMA).rechunk()
    write_parquet(frame, out, compression=plan.work_compression)
    crashpoint("ingest:shard")
    return out.as_posix()


def finish(plan: Plan, shards: int, started: float) -> dict[str, Any]:
    """The ingest step's marker, as the serial loop writes it; the parts are then removed."""
    step, pdir = plan.steps[0], _parts(plan)
    parts = [read_json(pdir / f"part-{i:05d}.json") for i in range(len(plan.inputs))]
    qframe = pl.read_parquet(Path(step.dir) / "quarantine.parquet", glob=False)
    n_q = int(qframe["input_line"].is_not_null().sum())
    documents, records = sum(p["documents"] for p in parts), sum(p["records"] for p in parts)
    if documents + n_q != records:
        raise RunError(f"ingest conservation broken: {records} records, {documents} documents + {n_q} quarantined")
    marker = {"key": step.key, "shards": [f"shard-{i:05d}.parquet" for i in range(shards)], "records": records,
              "documents": documents, "quarantined": n_q, "file_issues": int(qframe["input_line"].is_null().sum()),
              "blank_lines": sum(p["blank"] for p in parts), "kinds": sorted({k for p in parts for k in p["kinds"]}),
              "seconds": round(time.perf_counter() - started, 3)}
    crashpoint("ingest:before_done")
    write_json(marker, Path(step.dir) / "_done.json")
    shutil.rmtree(pdir, ignore_errors=True)
    return marker


def discard(plan: Plan) -> None:
    """Drop the parts before the serial loop runs instead."""
    shutil.rmtree(_parts(plan), ignore_errors=True)
