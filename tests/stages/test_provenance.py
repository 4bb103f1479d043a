"""provenance: tags from record metadata first, then from options."""
from __future__ import annotations

from conftest import make_docs, prose

from stages.provenance import Provenance


def test_provenance_tags_from_metadata_then_flags() -> None:
    docs = make_docs([prose(0), prose(1)], meta=[{"url": "https://www.Example.org:8080/a?b", "license": "cc-by", "date": "2024-01-02"}, {}])
    r = Provenance(license="odc-by", crawl_date="2026-11").apply(docs)
    rows = {x["doc_id"]: x for x in r.kept.iter_rows(named=True)}
    assert (rows["d0"]["provenance_domain"], rows["d0"]["provenance_license"], rows["d0"]["provenance_crawl_date"]) == ("example.org", "cc-by", "2024-01-02")
    assert (rows["d1"]["provenance_domain"], rows["d1"]["provenance_license"], rows["d1"]["provenance_crawl_date"]) == (None, "odc-by", "2026-11")
    assert r.decisions["decision"].to_list() == ["kept", "kept"]
