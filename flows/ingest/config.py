"""Ingest configuration: run-level options that decide how input records become documents. Declared
with the same `option()` as stage options, so the CLI, TOML checks and help come from here."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from schemas.records import RECORD_FIELD_SCHEMA, RECORD_KINDS
from stages.options import option

# The record fields `field_map` may name: every content field except `text`, which has its own
# option (`text_field`), as the id has `id_field`. Two ways to say one thing would be one too many.
# `html` (the page of an html record) has no column: its HTML is held in `text` until extraction.
MAPPABLE_FIELDS = (*RECORD_FIELD_SCHEMA, "html")


def parse_field_map(entries: Iterable[str]) -> dict[str, str]:
    """{record field: input field} from ("output=response", ...); ValueError says what is wrong."""
    out: dict[str, str] = {}
    for entry in entries:
        target, sep, source = entry.partition("=")
        target, source = target.strip(), source.strip()
        if not sep or not target or not source:
            raise ValueError(f"{entry!r} is not FIELD=INPUT_FIELD (e.g. output=response)")
        if target not in MAPPABLE_FIELDS:
            hint = " (use text_field)" if target == "text" else " (use id_field)" if target == "id" else ""
            raise ValueError(f"{target!r} is not a record field: FIELD is one of {', '.join(MAPPABLE_FIELDS)}{hint}")
        if target in out:
            raise ValueError(f"{target!r} is mapped twice")
        out[target] = source
    return out


def _check_field_map(value: tuple[str, ...]) -> str | None:
    try:
        parse_field_map(value)
    except ValueError as exc:
        return str(exc)
    return None


@dataclass(frozen=True)
class IngestConfig:
    version: ClassVar[int] = 3  # 3: a content id whose first 16 hex digits are all decimal runs to its first letter
    text_field: str = option("text", "input field holding the text of text records")
    id_field: str = option("id", "input field holding the record id (else an id is derived from the content)")
    source: str | None = option(None, "source name for records that carry none (default: the file's name)")
    max_doc_bytes: int = option(16_000_000, "records larger than this are quarantined as too_large", minimum=1)
    record_kind: str = option("auto", "record kind: auto detects it per file", choices=("auto", *RECORD_KINDS))
    # canonical=input field pairs, e.g. ("output=response", "instruction=question")
    field_map: tuple[str, ...] = option((), "map an input field to a record field: FIELD=INPUT_FIELD (repeatable)",
                                        check=_check_field_map)
