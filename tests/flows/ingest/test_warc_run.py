"""WARC and HTML files through `assay run`: every WARC record in the ledger (kept + removed +
quarantined = records), the extracted main text in the curated files, and the WARC facts as
provenance."""
from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import duckdb
import polars as pl
from conftest import prose
from warckit import page, record, response, write_warc

from flows.cli import main


def test_a_crawl_runs_end_to_end_with_conservation_per_warc_record(tmp_path: Path) -> None:
    body = " ".join(prose(i, 40) for i in range(3))
    crawl = [record("warcinfo", "", b"software: test\r\n")]
    for i in range(4):
        url = f"https://site{i}.example.org/story"
        crawl += [record("request", url, b"GET / HTTP/1.1\r\n\r\n"), response(url, page(f"Story {i}", body if i < 3 else "x"))]
    crawl += [response("https://site9.example.org/", b"", status="404 Not Found")]
    write_warc(tmp_path / "in" / "crawl.warc.gz", crawl)
    (tmp_path / "in" / "saved.html").write_bytes(page("Story 0", body))  # the same page as the first one
    code = main(["run", str(tmp_path / "in"), "--out", str(tmp_path / "run"), "--quiet",
                 "--stages", "extract,provenance,exact_dup", "--extract-extractor", "resiliparse"])
    assert code == 0
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["records"] == 10 + 1  # every WARC record, and the HTML file
    assert manifest["kept"] + manifest["removed"] + manifest["quarantined"] == 11
    assert manifest["quarantined"] == 5 + 1  # warcinfo, four requests; the 404
    for package in ("fastwarc", "resiliparse", "trafilatura"):  # the extractor's version is in the manifest
        assert manifest["package_versions"][package] == importlib.metadata.version(package)
    with duckdb.connect(str(tmp_path / "run" / "ledger.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT stage, decision, reason, count(*) FROM decisions GROUP BY ALL ORDER BY ALL").fetchall()
    assert rows == [("exact_dup", "kept", None, 4), ("exact_dup", "removed", "exact_duplicate", 1),
                    ("extract", "modified", "extracted", 5), ("provenance", "kept", None, 5)]
    curated = pl.read_parquet(tmp_path / "run" / "curated").sort("provenance_url", nulls_last=True)
    assert "<p>" not in "".join(curated["text"].to_list()) and prose(0, 40)[:60] in curated["text"][0]
    assert curated["provenance_url"].to_list()[:2] == ["https://site0.example.org/story", "https://site1.example.org/story"]
    assert set(curated["provenance_crawl_date"].drop_nulls()) == {"2024-04-25T16:27:55Z"}
    assert curated["provenance_domain"][0] == "site0.example.org"
