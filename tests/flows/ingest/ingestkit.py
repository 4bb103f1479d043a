"""Ingest without the runner: discover + read_file over inputs with one IdBook, as the runner does,
checking on every call what must always hold (conservation per file, the schemas, known reasons)."""
from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import zstandard

from flows.ingest.config import IngestConfig
from flows.ingest.discover import DataFile, Discovery, discover
from flows.ingest.quarantine import QUARANTINE_REASONS
from flows.ingest.read import IdBook, read_file
from schemas.records import DOCUMENT_SCHEMA, QUARANTINE_SCHEMA, check_schema


@dataclass
class Ingested:
    docs: pl.DataFrame
    quarantine: pl.DataFrame
    blank: int
    found: Discovery

    def reasons(self) -> list[tuple[int | None, str]]:
        """(input_line, reason) of every quarantine row, in file order."""
        return [(r["input_line"], r["reason"]) for r in self.quarantine.iter_rows(named=True)]

    def doc(self, doc_id: str) -> dict[str, Any]:
        return self.docs.filter(pl.col("doc_id") == doc_id).row(0, named=True)


def records_in(file: DataFile) -> int | None:
    """Records in a file, counted independently of ingest (None for a damaged stream)."""
    if file.format == "parquet":
        return pl.read_parquet(file.path).height
    if file.format.startswith(("warc", "html")):  # counted apart from fastwarc (tests/flows/ingest/warckit.py)
        from warckit import warc_records_in
        return warc_records_in(file.path) if file.format.startswith("warc") else 1
    data = Path(file.path).read_bytes()
    try:
        if file.format == "jsonl.gz":
            data = gzip.decompress(data)
        elif file.format == "jsonl.zst":
            data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    except (OSError, EOFError, zstandard.ZstdError):
        return None
    data = data.removeprefix(b"\xef\xbb\xbf")
    if file.name.endswith((".json", ".json.gz", ".json.zst")) and data.lstrip().startswith(b"["):
        try:
            return len(json.loads(data))
        except ValueError:
            return 1  # a broken array is one quarantined record
    return sum(1 for line in data.split(b"\n") if line.strip())


def ingest(*inputs: Path | str, exclude: Path | None = None, **options: Any) -> Ingested:
    cfg = IngestConfig(**options)
    found = discover([str(i) for i in inputs], exclude)
    ids, docs, quarantine, blank = IdBook(), [], [], 0
    for file in found.files:
        n_docs = n_quarantined = 0
        truncated = False
        for kind, row in read_file(cfg, file, ids):
            if kind == "blank":
                blank += 1
            elif kind == "doc":
                assert set(row) == set(DOCUMENT_SCHEMA) - {"ord"}, sorted(row)
                assert row["input_file"] == file.name
                docs.append(row | {"ord": len(docs)})
                n_docs += 1
            else:
                assert kind == "quarantine" and row["reason"] in QUARANTINE_REASONS, row
                assert set(row) == set(QUARANTINE_SCHEMA) and row["input_file"] == file.name
                quarantine.append(row)
                n_quarantined += row["input_line"] is not None
                truncated |= row["reason"] == "truncated_stream"
        expected = records_in(file)
        if not truncated and expected is not None:  # conservation, file by file
            assert n_docs + n_quarantined == expected, (file.name, n_docs, n_quarantined, expected)
    doc_frame = pl.DataFrame(docs, schema=DOCUMENT_SCHEMA) if docs else pl.DataFrame(schema=DOCUMENT_SCHEMA)
    check_schema(doc_frame, DOCUMENT_SCHEMA, "ingested documents", exact=True)
    q_frame = pl.DataFrame(quarantine, schema=QUARANTINE_SCHEMA) if quarantine else pl.DataFrame(schema=QUARANTINE_SCHEMA)
    return Ingested(doc_frame, q_frame, blank, found)


def jsonl_line(record: Any) -> bytes:
    return json.dumps(record).encode() + b"\n"
