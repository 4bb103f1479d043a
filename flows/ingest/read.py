"""Reading one input file: records -> document rows and quarantine rows.

Every input record ends up in exactly one of the two (quarantine reasons: flows/ingest/quarantine.py).
File-level problems that stop the run (a missing or unreadable path) are InputErrors raised by
`discover` before any work starts. A document row holds every DOCUMENT_SCHEMA column but `ord`,
which the runner numbers; the typed fields of other kinds are null on text records.

Plain text JSONL is most of what is read, so text records take their own inline path in `_check`:
orjson on the raw line, a few dict lookups, no per-record pathlib. Record-kind work is only done for
files of other kinds.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import orjson
import polars as pl

from flows.errors import InputError
from flows.ingest.config import IngestConfig
from flows.ingest.discover import DataFile
from flows.ingest.kinds import Bad, detect, extract, hint, sources
from flows.ingest.lines import Damage, LongLine, read_lines, read_whole, starts_with
from flows.ingest.quarantine import quarantine_row as _row
from schemas.records import KIND_FIELDS
from schemas.render import content_id, hex_id, render

Result = tuple[str, dict[str, Any]]
_JSON_NAME = re.compile(r"\.json(\.gz|\.zst)?$", re.IGNORECASE)  # not .jsonl: JSONL lines may be arrays
_SORTED = orjson.OPT_SORT_KEYS  # meta JSON with sorted keys: the same record gives the same bytes


@dataclass
class IdBook:
    """Ids seen so far in the run (across files), to quarantine repeats and number repeated content."""
    given: dict[str, str] = field(default_factory=dict)
    content: dict[str, int] = field(default_factory=dict)


@dataclass
class _File:
    """What the records of one file share."""
    name: str  # canonical, for rows and the "first seen at" of duplicate ids
    source: str  # for records that name none: cfg.source, else the file's name without extensions
    src: dict[str, str]  # record field -> input field (field_map applied)
    kind: str | None = None  # None until the first JSON object is seen (record_kind auto)
    kind_from: str = ""  # where the kind came from, for wrong_kind details
    hints: dict[tuple[str, ...], str] = field(default_factory=dict)  # by (field, *record keys): once per layout

    def detect(self, cfg: IngestConfig, rec: dict[str, Any], where: str) -> None:
        self.kind = detect(rec, self.src, cfg.text_field) or "text"
        self.kind_from = f"detected from {where}"


def _doc_id(cfg: IngestConfig, rec: dict[str, Any], f: _File, line: int, raw: bytes, ids: IdBook,
            content: str) -> str | dict[str, Any]:
    """The record's id (given, else its content id numbered on repeats), or a quarantine row."""
    given = rec.get(cfg.id_field)
    if given is not None:
        if isinstance(given, bool) or not isinstance(given, str | int):
            return _row(f.name, line, "invalid_id", f"{cfg.id_field!r} is a {type(given).__name__}", raw)
        doc_id = str(given)
    else:
        n = ids.content.get(content, 0) + 1
        ids.content[content] = n
        doc_id = content if n == 1 else f"{content}-{n}"  # repeats stay distinct documents for exact_dup to judge
    if doc_id in ids.given:
        return _row(f.name, line, "duplicate_id", f"id first seen at {ids.given[doc_id]}", raw)
    ids.given[doc_id] = f"{f.name}:{line}"
    return doc_id


def _too_large(cfg: IngestConfig, raw: bytes) -> str:
    return f"{len(raw)} bytes > max_doc_bytes {cfg.max_doc_bytes}"


def _missing(cfg: IngestConfig, rec: dict[str, Any], f: _File, line: int, raw: bytes, name: str,
             reason: str, detail: str) -> dict[str, Any]:
    """A record without a required field: wrong_kind when it is recognisably another kind, else
    `reason` with a hint at fields that could be mapped (computed once per record layout)."""
    other = detect(rec, f.src, cfg.text_field)
    if other is not None and other != f.kind:
        article = "an" if other[0] in "aeiou" else "a"
        return _row(f.name, line, "wrong_kind", f"{article} {other} record in a file of {f.kind} records "
                    f"({f.kind_from}; a file holds records of one kind)", raw)
    key = (name, *rec)
    if key not in f.hints:
        flag = "--text-field" if f.kind == "text" else f"--field-map {name}="
        own = tuple(f.src[n] for n in KIND_FIELDS[f.kind] if n in f.src)  # type: ignore[index]
        f.hints[key] = hint(rec, name, flag, (cfg.id_field, *own))
    return _row(f.name, line, reason, detail + f.hints[key], raw)


def _check(cfg: IngestConfig, rec: Any, f: _File, line: int, raw: bytes, ids: IdBook) -> Result:
    """('doc', row) or ('quarantine', row) for one parsed record. Text records first, inline: this
    is the path nearly every record of a plain corpus takes."""
    if not isinstance(rec, dict):
        return "quarantine", _row(f.name, line, "not_an_object", f"a JSON {type(rec).__name__}, not an object", raw)
    if f.kind == "text":
        if cfg.text_field not in rec:
            return "quarantine", _missing(cfg, rec, f, line, raw, cfg.text_field, "missing_text",
                                          f"no field {cfg.text_field!r}")
        text = rec[cfg.text_field]
        if text is None:
            return "quarantine", _row(f.name, line, "null_text", f"{cfg.text_field!r} is null", raw)
        if not isinstance(text, str):
            return "quarantine", _row(f.name, line, "text_not_string",
                                      f"{cfg.text_field!r} is a {type(text).__name__}", raw)
        if "\x00" in text:
            return "quarantine", _row(f.name, line, "nul_bytes", "text contains NUL characters", raw)
        if not text or text.isspace():
            return "quarantine", _row(f.name, line, "empty_text", "text is empty or whitespace only", raw)
        # content_id("text", ...) without building its argument: sha1 of the text alone
        content = hex_id(hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest())
        doc_id = _doc_id(cfg, rec, f, line, raw, ids, content)
        if isinstance(doc_id, dict):
            return "quarantine", doc_id
        source = rec.get("source") if isinstance(rec.get("source"), str) else f.source
        meta = {k: v for k, v in rec.items() if k != cfg.text_field and k != cfg.id_field}
        return "doc", {"doc_id": doc_id, "text": text, "kind": "text", "source": source, "input_file": f.name,
                       "input_line": line, "meta": orjson.dumps(meta, default=str, option=_SORTED).decode(),
                       "instruction": None, "input": None, "output": None, "messages": None, "prompt": None,
                       "completion": None}
    kind = f.kind
    got = extract(kind, rec, f.src)  # type: ignore[arg-type]
    if isinstance(got, Bad):
        if got.missing:
            return "quarantine", _missing(cfg, rec, f, line, raw, got.missing, got.reason, got.detail)
        return "quarantine", _row(f.name, line, got.reason, got.detail, raw)
    values, used, extra = got
    text = render(kind, values)  # type: ignore[arg-type]
    if "\x00" in text:
        return "quarantine", _row(f.name, line, "nul_bytes", "a content field contains NUL characters", raw)
    doc_id = _doc_id(cfg, rec, f, line, raw, ids, content_id(kind, values))  # type: ignore[arg-type]
    if isinstance(doc_id, dict):
        return "quarantine", doc_id
    source = rec.get("source") if isinstance(rec.get("source"), str) else f.source
    meta = {k: v for k, v in rec.items() if k not in used and k != cfg.id_field} | extra
    return "doc", {"doc_id": doc_id, "text": text, "kind": kind, "source": source, "input_file": f.name,
                   "input_line": line, "meta": orjson.dumps(meta, default=str, option=_SORTED).decode(),
                   "instruction": values.get("instruction"), "input": values.get("input"),
                   "output": values.get("output"), "messages": values.get("messages"),
                   "prompt": values.get("prompt"), "completion": values.get("completion")}


_DEEP = "nested deeper than JSON can be written back (orjson writes at most 254 levels)"


def _dumps(rec: Any) -> bytes | None:
    try:
        return orjson.dumps(rec, default=str, option=_SORTED)
    except orjson.JSONEncodeError:
        return None


def _checked(cfg: IngestConfig, rec: Any, f: _File, line: int, raw: bytes, ids: IdBook) -> Result:
    """_check, with a record that parses but cannot be written back (nested a few hundred levels
    deep: orjson reads 1024 levels but writes 254) quarantined instead of failing the run."""
    try:
        return _check(cfg, rec, f, line, raw, ids)
    except orjson.JSONEncodeError as exc:
        return "quarantine", _row(f.name, line, "too_deeply_nested", f"{_DEEP}: {exc}", raw)


def _read_jsonl(cfg: IngestConfig, file: DataFile, f: _File, ids: IdBook) -> Iterator[Result]:
    records = 0
    for line, raw in read_lines(file.path, file.format, cfg.max_doc_bytes):
        if isinstance(raw, Damage):
            if not raw.fatal:  # the data decoded and is kept; the file is flagged once
                yield "quarantine", _row(f.name, None, "checksum_mismatch", f"{raw} (at line {line})", b"")
                continue
            if raw.resumed is not None:
                records += 1
                yield "quarantine", _row(f.name, line, "damaged_stream", f"at line {line}: {raw}", b"")
                continue
            yield "quarantine", _row(f.name, line, "truncated_stream" if raw.truncated else "damaged_stream",
                                     f"from line {line} on: {raw}", b"")
            return
        if isinstance(raw, LongLine):  # measured while streaming, never held whole
            records += 1
            yield "quarantine", _row(f.name, line, "too_large",
                                     f"{raw.size} bytes > max_doc_bytes {cfg.max_doc_bytes}", raw.head)
            continue
        if not raw.strip():
            yield "blank", {}  # not a record, but counted: nothing disappears without a trace
            continue
        records += 1
        if len(raw) > cfg.max_doc_bytes:
            yield "quarantine", _row(f.name, line, "too_large", _too_large(cfg, raw), raw)
            continue
        if b"\x00" in raw:
            yield "quarantine", _row(f.name, line, "nul_bytes", "the line contains NUL bytes", raw)
            continue
        try:
            rec = orjson.loads(raw)  # validates UTF-8 too, without a decoded copy of every line
        except orjson.JSONDecodeError as exc:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as bad:
                yield "quarantine", _row(f.name, line, "invalid_utf8", f"byte {bad.start}: {bad.reason}", raw)
                continue
            yield "quarantine", _row(f.name, line, "invalid_json", str(exc)[:200], raw)
            continue
        if f.kind is None and isinstance(rec, dict):
            f.detect(cfg, rec, f"line {line}")
        yield _checked(cfg, rec, f, line, raw, ids)
    if records == 0:
        yield "quarantine", _row(f.name, None, "empty_file", "the file holds no records", b"")


def _read_json_array(cfg: IngestConfig, file: DataFile, f: _File, ids: IdBook) -> Iterator[Result]:
    """A `.json` file holding one JSON array of records (how Alpaca and many SFT sets are published).
    Element N is reported as line N. The array is parsed whole: such files are small enough, and a
    broken array cannot be split into records safely, so it is one quarantined record."""
    data, notes = read_whole(file.path, file.format)
    for note in notes:
        yield "quarantine", _row(f.name, None, "checksum_mismatch", str(note), b"")
    if isinstance(data, Damage):
        yield "quarantine", _row(f.name, 1, "truncated_stream" if data.truncated else "damaged_stream",
                                 f"the JSON array cannot be read whole: {data}", b"")
        return
    try:
        items = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        yield "quarantine", _row(f.name, 1, "invalid_json", f"not a valid JSON array: {str(exc)[:160]}", data)
        return
    if not items:
        yield "quarantine", _row(f.name, None, "empty_file", "the JSON array is empty", b"")
        return
    yield from _parsed_records(cfg, items, f, ids, "element")


def _parsed_records(cfg: IngestConfig, records: Any, f: _File, ids: IdBook, unit: str) -> Iterator[Result]:
    """Records already parsed (JSON array elements, Parquet rows), numbered from 1: the same size,
    depth and record checks as a JSONL line gets."""
    for i, rec in enumerate(records, start=1):
        raw = _dumps(rec)
        if raw is None:
            yield "quarantine", _row(f.name, i, "too_deeply_nested", _DEEP, b"")
            continue
        if len(raw) > cfg.max_doc_bytes:
            yield "quarantine", _row(f.name, i, "too_large", _too_large(cfg, raw), raw)
            continue
        if f.kind is None and isinstance(rec, dict):
            f.detect(cfg, rec, f"{unit} {i}")
        yield _checked(cfg, rec, f, i, raw, ids)


def _read_parquet(cfg: IngestConfig, file: DataFile, f: _File, ids: IdBook) -> Iterator[Result]:
    try:
        frame = pl.read_parquet(file.path, glob=False)  # a name may hold [ ] * ?
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"cannot read Parquet file {f.name}: {str(exc).splitlines()[0]}") from None
    if frame.height == 0:
        yield "quarantine", _row(f.name, None, "empty_file", "the Parquet file has zero rows", b"")
        return
    # Rows are checked one by one, like JSONL records, so both formats share every rule; nested
    # columns (messages as a list of structs) arrive as lists of dicts, as JSON would give them.
    yield from _parsed_records(cfg, frame.iter_rows(named=True), f, ids, "row")


def read_file(cfg: IngestConfig, file: DataFile, ids: IdBook) -> Iterator[Result]:
    """("doc", row) | ("quarantine", row) | ("blank", {}) for every line or row of one file."""
    f = _File(file.name, cfg.source or PurePosixPath(file.name).name.split(".")[0], sources(cfg))
    if cfg.record_kind != "auto":
        f.kind, f.kind_from = cfg.record_kind, f"record_kind {cfg.record_kind}"
    if file.format == "parquet":
        yield from _read_parquet(cfg, file, f, ids)
    elif file.format.startswith(("warc", "html")):  # pages: kind html whatever record_kind says
        from flows.ingest.warc import read_html, read_warc
        yield from (read_warc if file.format.startswith("warc") else read_html)(cfg, file, f, ids)
    elif _JSON_NAME.search(file.name) and starts_with(file.path, file.format, b"["):
        yield from _read_json_array(cfg, file, f, ids)
    else:
        yield from _read_jsonl(cfg, file, f, ids)
