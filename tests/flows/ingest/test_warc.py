"""WARC ingest: one html document per HTML response, every other WARC record a quarantine row with its
reason, so that records = documents + quarantined holds per WARC record (ingestkit counts the
records of every file apart from the parser and checks it on every call)."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from ingestkit import ingest
from warckit import page, record, response, warc_records_in, write_warc

URL = "https://news.example.org/a/{}?id=7"


def _crawl() -> list[bytes]:
    """A small crawl with one record of every kind a crawler writes, and every way a response fails."""
    return [
        record("warcinfo", "", b"software: test\r\n"),
        record("request", URL.format(1), b"GET /a/1 HTTP/1.1\r\nHost: news.example.org\r\n\r\n"),
        response(URL.format(1), page("First"), record_id="urn:uuid:00000000-0000-0000-0000-000000000001"),
        record("metadata", URL.format(1), b"fetchTimeMs: 12\r\n"),
        response(URL.format(2), b"", status="301 Moved Permanently", mime=None, http_extra={"Location": "/b"}),
        response(URL.format(3), b"<html><body>gone</body></html>", status="404 Not Found"),
        response(URL.format(4), b"\x89PNG\r\n\x1a\n0000", mime="image/png"),
        response(URL.format(5), b"   \n  "),
        response(URL.format(6), page("Sixth").replace(b"river", b"ri\x00ver")),
        response(URL.format(7), page("Seventh"), mime=None),  # no Content-Type: sniffed
        response(URL.format(8), page("Caf\xe9").decode().encode("latin-1"), mime="text/html; charset=iso-8859-1"),
        response(URL.format(9), page("Ninth"), mime="application/xhtml+xml",
                 extra={"WARC-Truncated": "length"}),
        response(URL.format(10), page("Again"), record_id="urn:uuid:00000000-0000-0000-0000-000000000001"),
        record("revisit", URL.format(1), b"HTTP/1.1 304 Not Modified\r\n\r\n"),
        response("dns:news.example.org", b"", mime=None),
    ]


EXPECTED = [(1, "warc_not_response"), (2, "warc_not_response"), (4, "warc_not_response"), (5, "http_not_ok"),
            (6, "http_not_ok"), (7, "not_html"), (8, "empty_html"), (9, "nul_bytes"), (13, "duplicate_id"),
            (14, "warc_not_response")]


@pytest.mark.parametrize("name", ["crawl.warc.gz", "crawl.warc"])
def test_only_html_responses_become_documents_and_every_record_is_counted(tmp_path: Path, name: str) -> None:
    path = write_warc(tmp_path / name, _crawl())
    got = ingest(path)
    assert warc_records_in(path) == 15 == got.docs.height + got.quarantine.height
    assert got.docs["input_line"].to_list() == [3, 10, 11, 12]
    assert got.reasons()[:-1] == EXPECTED
    # the dns: response has no HTTP message (fastwarc may or may not parse one): never a document
    assert got.reasons()[-1][0] == 15 and got.reasons()[-1][1] in ("not_html", "http_not_ok")
    assert set(got.docs["kind"]) == {"html"} and set(got.docs["source"]) == {"crawl"}
    details = dict(zip(got.quarantine["input_line"].to_list(), got.quarantine["detail"].to_list(), strict=True))
    assert details[2] == "WARC-Type request" and details[5] == "HTTP status 301" and details[7] == "MIME type image/png"
    assert got.quarantine.filter(got.quarantine["input_line"] == 6)["excerpt"][0] == "https://news.example.org/a/3?id=7"


def test_a_page_keeps_its_html_and_its_warc_facts(tmp_path: Path) -> None:
    got = ingest(write_warc(tmp_path / "crawl.warc.gz", _crawl()))
    first = got.doc("urn:uuid:00000000-0000-0000-0000-000000000001")
    assert first["text"] == page("First").decode()
    meta = json.loads(first["meta"])
    assert meta == {"url": URL.format(1), "crawl_date": "2024-04-25T16:27:55Z",
                    "warc_record_id": "urn:uuid:00000000-0000-0000-0000-000000000001", "http_status": 200,
                    "mime_type": "text/html", "charset": "utf-8", "truncated": None, "warc_offset": 0} | \
        {"warc_offset": meta["warc_offset"]}
    assert meta["warc_offset"] > 0  # the byte offset of its record: warcinfo and request come first
    latin = got.docs.filter(got.docs["input_line"] == 11).row(0, named=True)
    assert "<title>Café</title>" in latin["text"] and json.loads(latin["meta"])["charset"] == "iso-8859-1"
    xhtml = json.loads(got.docs.filter(got.docs["input_line"] == 12)["meta"][0])
    assert (xhtml["mime_type"], xhtml["truncated"]) == ("application/xhtml+xml", "length")
    sniffed = json.loads(got.docs.filter(got.docs["input_line"] == 10)["meta"][0])
    assert sniffed["mime_type"] == "text/html"


def test_too_large_pages_are_quarantined_unread(tmp_path: Path) -> None:
    path = write_warc(tmp_path / "big.warc.gz", [response(URL.format(1), page("Big", "word " * 400)),
                                                 response(URL.format(2), page("Small"))])
    got = ingest(path, max_doc_bytes=1500)
    assert got.reasons() == [(1, "too_large")] and got.docs["input_line"].to_list() == [2]


def test_damaged_and_truncated_streams_keep_what_was_read(tmp_path: Path) -> None:
    records = [response(URL.format(i), page(f"Page {i}", "text " * 200)) for i in range(1, 5)]
    whole = b"".join(gzip.compress(r, mtime=0) for r in records)
    for lost in (300, 100):  # the stream ends inside the fourth record's header, then inside its page
        cut = tmp_path / f"cut{lost}.warc.gz"
        cut.write_bytes(whole[: len(whole) - lost])
        got = ingest(cut)
        assert got.docs["input_line"].to_list() == [1, 2, 3] and got.reasons() == [(4, "truncated_stream")]
    bad = bytearray(whole)
    start = len(gzip.compress(records[0], mtime=0)) + len(gzip.compress(records[1], mtime=0)) + 40
    bad[start:start + 30] = b"\xff" * 30  # corrupt deflate data inside the third member
    (tmp_path / "bad.warc.gz").write_bytes(bytes(bad))
    got = ingest(tmp_path / "bad.warc.gz")
    assert got.docs["input_line"].to_list() == [1, 2]
    assert got.reasons()[0][1] == "damaged_stream" and got.reasons()[0][0] == 3
    # damage deep inside a page (its header read, its payload not): the row names that record
    big = [response(URL.format(i), page(f"P{i}", " ".join(f"w{j}x{i}" for j in range(3000)))) for i in (1, 2, 3)]
    members = [gzip.compress(r, mtime=0) for r in big]
    bad = bytearray(b"".join(members))
    bad[len(members[0]) + 3000:len(members[0]) + 3020] = b"\x00" * 20
    (tmp_path / "deep.warc.gz").write_bytes(bytes(bad))
    got = ingest(tmp_path / "deep.warc.gz")
    assert got.docs["input_line"].to_list() == [1] and got.reasons() == [(2, "damaged_stream")]


def test_a_file_that_is_not_a_warc_and_an_empty_one(tmp_path: Path) -> None:
    (tmp_path / "notes.warc").write_bytes(b"just some text\nnot a crawl\n")
    (tmp_path / "empty.warc.gz").write_bytes(gzip.compress(b"", mtime=0))
    got = ingest(tmp_path / "notes.warc", tmp_path / "empty.warc.gz")
    assert [(r["input_file"], r["input_line"], r["reason"]) for r in got.quarantine.iter_rows(named=True)] == [
        ("notes.warc", 1, "invalid_warc"), ("empty.warc.gz", None, "empty_file")]
    assert got.docs.height == 0


def test_html_files_are_one_document_each(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "a.html").write_bytes(page("A"))
    (tmp_path / "site" / "b.htm").write_bytes(page("B"))
    (tmp_path / "site" / "c.html.gz").write_bytes(gzip.compress(page("C"), mtime=0))
    (tmp_path / "site" / "copy.html").write_bytes(page("A"))
    (tmp_path / "site" / "empty.html").write_bytes(b"")
    (tmp_path / "site" / "blank.html").write_bytes(b"  \n ")
    (tmp_path / "site" / "broken.html.gz").write_bytes(gzip.compress(page("D"), mtime=0)[:-30])
    got = ingest(tmp_path / "site")
    names = got.docs["input_file"].to_list()
    assert names == ["site/a.html", "site/b.htm", "site/c.html.gz", "site/copy.html"]
    assert set(got.docs["kind"]) == {"html"} and got.docs["text"][2] == page("C").decode()
    # the same page twice: two documents (content id numbered), exact_dup decides, as for text
    assert got.docs["doc_id"][3] == got.docs["doc_id"][0] + "-2"
    assert [(r["input_file"], r["input_line"], r["reason"]) for r in got.quarantine.iter_rows(named=True)] == [
        ("site/blank.html", 1, "empty_html"), ("site/broken.html.gz", 1, "truncated_stream"),
        ("site/empty.html", 1, "empty_html")]


def test_records_with_an_html_field(tmp_path: Path) -> None:
    from conftest import write_jsonl

    rows = [{"html": page("A").decode(), "url": "https://x.org/a"}, {"html": ""}, {"html": None},
            {"html": page("B").decode(), "text": "ignored"}]
    got = ingest(write_jsonl(tmp_path / "pages.jsonl", rows))
    assert got.docs["kind"].to_list() == ["html", "html"] and got.docs["text"][0] == page("A").decode()
    # the file's kind comes from its first record: the fourth one's text stays in its meta
    assert [json.loads(m) for m in got.docs["meta"]] == [{"url": "https://x.org/a"}, {"text": "ignored"}]
    assert got.reasons() == [(2, "empty_html"), (3, "missing_html")]
    # a file whose first record has a text field is a text corpus (extracted upstream)
    text = ingest(write_jsonl(tmp_path / "t.jsonl", [{"text": "a", "html": "<p>a</p>"}]))
    assert text.docs["kind"].to_list() == ["text"]
    mapped = ingest(write_jsonl(tmp_path / "m.jsonl", [{"content": page("C").decode()}]), field_map=("html=content",))
    assert mapped.docs["kind"].to_list() == ["html"] and mapped.docs["text"][0] == page("C").decode()


def test_warc_files_in_a_folder_are_found(tmp_path: Path) -> None:
    from flows.ingest.discover import discover

    write_warc(tmp_path / "data" / "c.warc.gz", [response(URL.format(1), page("A"))])
    write_warc(tmp_path / "data" / "d.warc", [response(URL.format(2), page("B"))])
    found = discover([str(tmp_path / "data")])
    assert [(f.name, f.format) for f in found.files] == [("data/c.warc.gz", "warc.gz"), ("data/d.warc", "warc")]
