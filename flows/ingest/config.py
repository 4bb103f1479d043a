"""Ingest configuration: run-level options that decide how input records become documents. Declared
with the same `option()` as stage options, so the CLI, TOML checks and help come from here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from schemas.records import RECORD_KINDS
from stages.options import option


@dataclass(frozen=True)
class IngestConfig:
    version: ClassVar[int] = 2
    text_field: str = option("text", "input field holding the text of text records")
    id_field: str = option("id", "input field holding the record id (else an id is derived from the content)")
    source: str | None = option(None, "source name for records that carry none (default: the file's name)")
    max_doc_bytes: int = option(16_000_000, "records larger than this are quarantined as too_large", minimum=1)
    record_kind: str = option("auto", "record kind: auto detects it per file", choices=("auto", *RECORD_KINDS))
    # canonical=input field pairs, e.g. ("output=response", "instruction=question")
    field_map: tuple[str, ...] = option((), "map an input field to a record field: FIELD=INPUT_FIELD (repeatable)")
