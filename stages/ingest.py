"""Ingest + schema check: input files -> document rows and quarantine rows.

Every input record ends up in exactly one of the two. Record-level problems are quarantined with a
reason and a bounded, PII-masked excerpt; file-level problems (a missing or unreadable path) are
InputErrors raised by `readers.discover` before any work starts.
"""
from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import orjson
import polars as pl

from stages.readers import InputError, data_format, read_lines

QUARANTINE_REASONS = frozenset({
    "invalid_utf8", "invalid_json", "not_an_object", "missing_text", "null_text", "text_not_string",
    "empty_text", "nul_bytes", "too_large", "invalid_id", "duplicate_id", "truncated_stream", "empty_file",
})
EXCERPT_BYTES = 160
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_DIGITS = re.compile(r"\+?\d[\d\s().-]{5,}\d")


def excerpt(raw: bytes | str) -> str:
    """A bounded excerpt of a bad record with e-mail addresses and long digit runs masked:
    quarantine rows land in the ledger, which must never hold raw PII."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    text = raw[:EXCERPT_BYTES].decode("utf-8", "backslashreplace").replace("\x00", "\\x00")
    return _DIGITS.sub("[NUMBER]", _EMAIL.sub("[EMAIL]", text))


def content_id(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(frozen=True)
class Ingest:
    """Reads records; the fields are the ingest configuration and part of the cache key."""
    version: ClassVar[int] = 1
    text_field: str = "text"
    id_field: str = "id"
    source: str | None = None  # used when a record has no `source` field of its own
    max_doc_bytes: int = 16_000_000


@dataclass
class IdBook:
    """Ids seen so far in the run (across files), to quarantine repeats and number repeated content."""
    given: dict[str, str] = field(default_factory=dict)
    content: dict[str, int] = field(default_factory=dict)


@functools.lru_cache(maxsize=1024)
def _file_source(path: str) -> str:
    """A file's name without extensions: the source of records that name none (cached: per record
    pathlib parsing cost a third of ingest time)."""
    return Path(path).name.split(".")[0]


def _row(path: str, line: int, reason: str, detail: str, raw: bytes | str) -> dict[str, Any]:
    return {"doc_id": None, "input_file": path, "input_line": line, "reason": reason, "detail": detail,
            "excerpt": excerpt(raw)}


def _check(cfg: Ingest, rec: Any, path: str, line: int, raw: bytes | str, ids: IdBook) -> tuple[str, Any]:
    """('doc', row) or ('quarantine', row) for one parsed record."""
    if not isinstance(rec, dict):
        return "quarantine", _row(path, line, "not_an_object", f"a JSON {type(rec).__name__}, not an object", raw)
    if cfg.text_field not in rec:
        return "quarantine", _row(path, line, "missing_text", f"no field {cfg.text_field!r}", raw)
    text = rec[cfg.text_field]
    if text is None:
        return "quarantine", _row(path, line, "null_text", f"{cfg.text_field!r} is null", raw)
    if not isinstance(text, str):
        return "quarantine", _row(path, line, "text_not_string", f"{cfg.text_field!r} is a {type(text).__name__}", raw)
    if "\x00" in text:
        return "quarantine", _row(path, line, "nul_bytes", "text contains NUL characters", raw)
    if not text or text.isspace():
        return "quarantine", _row(path, line, "empty_text", "text is empty or whitespace only", raw)
    given = rec.get(cfg.id_field)
    if given is not None and (isinstance(given, bool) or not isinstance(given, str | int)):
        return "quarantine", _row(path, line, "invalid_id", f"{cfg.id_field!r} is a {type(given).__name__}", raw)
    if given is not None:
        doc_id = str(given)
        if doc_id in ids.given:
            return "quarantine", _row(path, line, "duplicate_id", f"id first seen at {ids.given[doc_id]}", raw)
        ids.given[doc_id] = f"{path}:{line}"
    else:
        base = content_id(text)
        n = ids.content.get(base, 0) + 1
        ids.content[base] = n
        doc_id = base if n == 1 else f"{base}-{n}"  # repeats stay distinct documents for exact_dup to judge
        if doc_id in ids.given:
            return "quarantine", _row(path, line, "duplicate_id", f"id first seen at {ids.given[doc_id]}", raw)
        ids.given[doc_id] = f"{path}:{line}"
    source = rec.get("source") if isinstance(rec.get("source"), str) else cfg.source or _file_source(path)
    meta = {k: v for k, v in rec.items() if k not in (cfg.text_field, cfg.id_field)}
    return "doc", {"doc_id": doc_id, "text": text, "source": source, "input_file": path, "input_line": line,
                   "meta": orjson.dumps(meta, default=str, option=orjson.OPT_SORT_KEYS).decode()}


def read_jsonl(cfg: Ingest, path: Path, fmt: str, ids: IdBook) -> Iterator[tuple[str, dict[str, Any]]]:
    name = path.as_posix()
    records = 0
    for line, raw in read_lines(path, fmt):
        if isinstance(raw, Exception):
            yield "quarantine", _row(name, line, "truncated_stream", f"compressed stream damaged from here on: {raw}", b"")
            return
        if not raw.strip():
            yield "blank", {}  # not a record, but counted: nothing disappears without a trace
            continue
        records += 1
        if len(raw) > cfg.max_doc_bytes:
            yield "quarantine", _row(name, line, "too_large", f"{len(raw)} bytes > max_doc_bytes {cfg.max_doc_bytes}", raw)
            continue
        if b"\x00" in raw:
            yield "quarantine", _row(name, line, "nul_bytes", "the line contains NUL bytes", raw)
            continue
        try:
            rec = orjson.loads(raw)  # validates UTF-8 too, without a decoded copy of every line
        except orjson.JSONDecodeError as exc:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as bad:
                yield "quarantine", _row(name, line, "invalid_utf8", f"byte {bad.start}: {bad.reason}", raw)
                continue
            yield "quarantine", _row(name, line, "invalid_json", str(exc)[:200], raw)
            continue
        yield _check(cfg, rec, name, line, raw, ids)
    if records == 0:
        yield "quarantine", _row(name, None, "empty_file", "the file holds no records", b"")  # type: ignore[arg-type]


def read_parquet(cfg: Ingest, path: Path, ids: IdBook) -> Iterator[tuple[str, dict[str, Any]]]:
    name = path.as_posix()
    try:
        frame = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"cannot read Parquet file {name}: {str(exc).splitlines()[0]}") from None
    if frame.height == 0:
        yield "quarantine", _row(name, None, "empty_file", "the Parquet file has zero rows", b"")  # type: ignore[arg-type]
        return
    # Rows are checked one by one, like JSONL records, so both formats share every rule.
    for i, rec in enumerate(frame.iter_rows(named=True), start=1):
        raw = orjson.dumps(rec, default=str, option=orjson.OPT_SORT_KEYS)
        if len(raw) > cfg.max_doc_bytes:
            yield "quarantine", _row(name, i, "too_large", f"{len(raw)} bytes > max_doc_bytes {cfg.max_doc_bytes}", raw)
            continue
        yield _check(cfg, rec, name, i, raw, ids)


def read_file(cfg: Ingest, path: Path, ids: IdBook) -> Iterator[tuple[str, dict[str, Any]]]:
    fmt = data_format(path)
    if fmt == "parquet":
        yield from read_parquet(cfg, path, ids)
    else:
        yield from read_jsonl(cfg, path, fmt or "jsonl", ids)
