"""Web pages: WARC files (one html document per HTML response) and HTML files (one html document each).

Every WARC record is counted, so that `records = documents + quarantined` holds per WARC record: a
record that is not an HTML page becomes a quarantine row whose reason says why (see quarantine.py):
request, metadata, warcinfo, revisit and resource records are `warc_not_response`, responses with a
status other than 2xx are `http_not_ok`, other MIME types `not_html`. Input line N is the N-th
record of the file (of any type), so a row points at one record. A response kept as a document holds
its decoded HTML in `text` (kind `html`: the `extract` stage replaces it with the main text) and its
WARC facts in meta: `url`, `crawl_date` (WARC-Date), `warc_record_id`, `http_status`, `mime_type`,
`charset`, `truncated` (WARC-Truncated, e.g. "length": Common Crawl cuts payloads at 1 MiB; the page
is kept, flagged) and `warc_offset` (the record's byte offset in the file, as Common Crawl's index
gives it). `url` and `crawl_date` are what the provenance stage reads. Its id is the WARC-Record-ID.

HTML is decoded with the HTTP header's charset, else resiliparse's detection (meta tags, then the
bytes); undecodable bytes are replaced, never fatal.
"""
from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from typing import Any

import orjson

from flows.ingest.config import IngestConfig
from flows.ingest.discover import DataFile
from flows.ingest.quarantine import quarantine_row as _row
from flows.ingest.read import IdBook, Result, _doc_id, _File
from schemas.render import content_id

HTML_TYPES = ("text/html", "application/xhtml+xml")
_SORTED = orjson.OPT_SORT_KEYS
_SNIFF = (b"<!doctype html", b"<html")


def _decode(body: bytes, charset: str | None) -> tuple[str, str]:
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    enc = charset or detect_encoding(body)
    return bytes_to_str(body, enc), enc


def _page(cfg: IngestConfig, f: _File, line: int, body: bytes, charset: str | None, ids: IdBook,
          given_id: str | None, meta: dict[str, Any], shown: bytes) -> Result:
    """('doc', row) for one page's bytes, or ('quarantine', row): empty, too large, NUL, repeated id."""
    if not body.strip():
        return "quarantine", _row(f.name, line, "empty_html", "the page has no content", shown)
    if len(body) > cfg.max_doc_bytes:
        return "quarantine", _row(f.name, line, "too_large", f"{len(body)} bytes > max_doc_bytes {cfg.max_doc_bytes}", shown)
    html, enc = _decode(body, charset)
    if "\x00" in html:  # lxml (under every extractor) refuses NUL, and so does every text rule here
        return "quarantine", _row(f.name, line, "nul_bytes", "the page contains NUL characters", shown)
    rec = {} if given_id is None else {cfg.id_field: given_id}
    doc_id = _doc_id(cfg, rec, f, line, shown, ids, content_id("html", {"text": html}))
    if isinstance(doc_id, dict):
        return "quarantine", doc_id
    meta = {**meta, "charset": enc}
    return "doc", {"doc_id": doc_id, "text": html, "kind": "html", "source": f.source, "input_file": f.name,
                   "input_line": line, "meta": orjson.dumps(meta, default=str, option=_SORTED).decode(),
                   "instruction": None, "input": None, "output": None, "messages": None, "prompt": None,
                   "completion": None}


def _mime(content_type: str | None) -> str | None:
    return content_type.split(";", 1)[0].strip().lower() or None if content_type else None


def _response(cfg: IngestConfig, f: _File, line: int, rec: Any, ids: IdBook) -> Result:
    headers = rec.headers
    url = (headers.get("WARC-Target-URI") or "").strip("<>") or None
    shown = (url or "").encode()  # the excerpt of a skipped page is its URL (masked like any excerpt)
    http = rec.http_headers if rec.is_http else None
    if http is None:
        return "quarantine", _row(f.name, line, "not_html", "a response without an HTTP message (e.g. dns:)", shown)
    status = http.status_code
    if rec.content_length > cfg.max_doc_bytes:  # never read whole
        return "quarantine", _row(f.name, line, "too_large",
                                  f"{rec.content_length} bytes > max_doc_bytes {cfg.max_doc_bytes}", shown)
    body = rec.reader.read()
    coded = http.get("Transfer-Encoding") or http.get("Content-Encoding")  # decoded: lengths differ
    if len(body) < rec.content_length and not coded:
        return "truncated", {}  # the stream ended inside this record (read_warc stops there)
    if status is None or not 200 <= status < 300:
        return "quarantine", _row(f.name, line, "http_not_ok", f"HTTP status {status}", shown)
    mime = _mime(http.get("Content-Type")) or _mime(headers.get("WARC-Identified-Payload-Type"))
    if mime is None and body.lstrip()[:14].lower().startswith(_SNIFF):
        mime = "text/html"  # no declared type: an HTML page by its first bytes
    if mime not in HTML_TYPES:
        return "quarantine", _row(f.name, line, "not_html", f"MIME type {mime or 'none'}", shown)
    record_id = (headers.get("WARC-Record-ID") or "").strip("<>") or None
    meta = {"url": url, "crawl_date": headers.get("WARC-Date"), "warc_record_id": record_id,
            "http_status": status, "mime_type": mime, "truncated": headers.get("WARC-Truncated"),
            "warc_offset": rec.stream_pos}
    return _page(cfg, f, line, body, rec.http_charset, ids, record_id, meta, shown)


def read_warc(cfg: IngestConfig, file: DataFile, f: _File, ids: IdBook) -> Iterator[Result]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    line = counted = 0  # records seen; records with a row (a read error may come mid-record)
    with open(file.path, "rb") as fh:
        records = ArchiveIterator(fh, record_types=WarcRecordType.any_type, parse_http=True, auto_decode="all")
        try:
            for rec in records:
                line += 1
                kind = rec.headers.get("WARC-Type")
                if kind is None or rec.headers.get("Content-Length") is None:  # a header cut short
                    yield "quarantine", _row(f.name, line, "truncated_stream",
                                             f"from record {line} on: the file ends inside this record's header", b"")
                    return
                if rec.record_type != WarcRecordType.response:
                    got: Result = "quarantine", _row(f.name, line, "warc_not_response", f"WARC-Type {kind}", b"")
                else:
                    got = _response(cfg, f, line, rec, ids)
                if got[0] == "truncated":
                    yield "quarantine", _row(f.name, line, "truncated_stream",
                                             f"from record {line} on: the file ends inside this record", b"")
                    return
                counted = line
                yield got
        except OSError as exc:  # fastwarc's one error for unreadable, undecompressable or unparsable data
            if line == 0:
                yield "quarantine", _row(f.name, 1, "invalid_warc", f"not a readable WARC file: {exc}", b"")
            else:
                yield "quarantine", _row(f.name, counted + 1, "damaged_stream", f"from record {counted + 1} on: {exc}", b"")
            return
    if line == 0:
        yield "quarantine", _row(f.name, None, "empty_file", "the WARC file holds no records", b"")


def read_html(cfg: IngestConfig, file: DataFile, f: _File, ids: IdBook) -> Iterator[Result]:
    """One HTML file, one html document (input line 1; an empty file is an empty_html record);
    `.html.gz` is read whole through gzip."""
    try:
        if file.format == "html.gz":
            with gzip.open(file.path, "rb") as fh:
                body = fh.read(cfg.max_doc_bytes + 1)
        else:
            with open(file.path, "rb") as fh:
                body = fh.read(cfg.max_doc_bytes + 1)
    except (OSError, EOFError, zlib.error) as exc:
        reason = "truncated_stream" if isinstance(exc, EOFError) else "damaged_stream"
        yield "quarantine", _row(f.name, 1, reason, f"the compressed HTML cannot be read whole: {exc}", b"")
        return
    yield _page(cfg, f, 1, body, None, ids, None, {}, body[:200])
