"""The extract stage: html records get their main text (one whole-text edit, 'modified'), pages with
none are removed with a reason, and records of other kinds pass untouched."""
from __future__ import annotations

import json

import polars as pl
import pytest
from conftest import make_docs, prose

from stages import catalog
from stages.base import check_result
from stages.edits import sha1
from stages.extract import EXTRACTORS, Extract
from stages.options import ConfigError

ARTICLE = ("<html><head><title>Mill</title><script>var tracking = 1;</script></head><body>"
           "<nav><a href='/'>Home</a> | <a href='/about'>About us</a> | <a href='/shop'>Shop now</a></nav>"
           "<article><h1>The old mill</h1>"
           + "".join(f"<p>{prose(i, 60)}</p>" for i in range(4)) +
           "</article><footer>Copyright 2024 Example Inc. All rights reserved. Cookie settings.</footer>"
           "</body></html>")
EMPTY_PAGE = "<html><head><title>x</title></head><body><script>var only = 'code';</script></body></html>"


def _pages(*html: str, text: tuple[str, ...] = ()) -> pl.DataFrame:
    docs = make_docs([*html, *text])
    return docs.with_columns(kind=pl.Series(["html"] * len(html) + ["text"] * len(text)))


@pytest.mark.parametrize("extractor", sorted(EXTRACTORS))
def test_pages_get_their_main_text_and_other_kinds_pass_untouched(extractor: str) -> None:
    stage = catalog.build("extract", {"extractor": extractor})
    docs = _pages(ARTICLE, EMPTY_PAGE, text=(prose(9),))
    result = stage.apply(docs, stage.setup())
    check_result(stage, docs, result)  # conservation, declared reasons, edit evidence that matches
    d = {r["doc_id"]: r for r in result.decisions.iter_rows(named=True)}
    assert (d["d0"]["decision"], d["d0"]["reason"]) == ("modified", "extracted")
    assert (d["d1"]["decision"], d["d1"]["reason"]) == ("removed", "no_main_text")
    assert (d["d2"]["decision"], d["d2"]["reason"]) == ("kept", None)
    main = result.kept.filter(pl.col("doc_id") == "d0").row(0, named=True)
    assert prose(0, 60)[:80] in main["text"] and prose(3, 60)[-60:] in main["text"]
    assert "<p>" not in main["text"] and "tracking" not in main["text"] and "Shop now" not in main["text"]
    assert main["kind"] == "html"  # where the text came from
    ev = json.loads(d["d0"]["evidence"])
    assert ev["edits"] == [[0, len(ARTICLE), 0, len(main["text"])]]
    assert (ev["text_sha1_before"], ev["text_sha1_after"]) == (sha1(ARTICLE), sha1(main["text"]))
    scores = json.loads(d["d0"]["scores"])
    assert scores["extract_chars"] == len(main["text"].strip())
    assert scores["extract_ratio"] == pytest.approx(len(main["text"]) / len(ARTICLE))
    assert json.loads(d["d2"]["scores"]) == {"extract_chars": None, "extract_ratio": None}
    text_doc = result.kept.filter(pl.col("doc_id") == "d2").row(0, named=True)
    assert text_doc["text"] == prose(9) and text_doc["extract_chars"] is None
    assert result.stats["extractor"].startswith(f"{extractor} ") and result.stats["modified"] == 1


def test_the_two_extractors_give_different_texts() -> None:
    docs = _pages(ARTICLE)
    a, b = (catalog.build("extract", {"extractor": e}) for e in ("trafilatura", "resiliparse"))
    texts = [s.apply(docs, s.setup()).kept["text"][0] for s in (a, b)]
    assert texts[0] != texts[1]  # two extractors: an ablation compares something real


def test_min_chars_re_decides_from_scores() -> None:
    stage = Extract(min_chars=10_000)
    docs = _pages(ARTICLE)
    scored = docs.join(stage.score(docs, stage.setup()), on="doc_id", how="left")
    assert stage.choose(scored).decisions["reason"].to_list() == ["no_main_text"]
    assert Extract(min_chars=100).choose(scored).decisions["reason"].to_list() == ["extracted"]


def test_an_extractor_that_raises_removes_that_page_only() -> None:
    def flaky(html: str) -> str:
        if "boom" in html:
            raise ValueError("cannot parse")
        return "main text"

    stage = Extract()
    docs = _pages("<p>boom</p>", "<p>fine</p>")
    result = stage.apply(docs, flaky)
    check_result(stage, docs, result)
    assert result.decisions["reason"].to_list() == ["extraction_failed", "extracted"]
    assert result.kept["text"].to_list() == ["main text"]


def test_a_page_that_is_its_own_main_text_is_kept_unchanged() -> None:
    stage = Extract()
    docs = _pages("plain words")
    result = stage.apply(docs, lambda html: html)
    check_result(stage, docs, result)
    assert result.decisions["decision"].to_list() == ["kept"]


def test_fallback_is_a_trafilatura_option_only() -> None:
    stage = catalog.build("extract", {"fallback": True})
    docs = _pages(ARTICLE)
    result = stage.apply(docs, stage.setup())
    check_result(stage, docs, result)
    assert prose(2, 60)[:80] in result.kept["text"][0] and "Shop now" not in result.kept["text"][0]
    with pytest.raises(ConfigError, match="fallback applies to trafilatura only"):
        catalog.build("extract", {"extractor": "resiliparse", "fallback": True})
    with pytest.raises(ConfigError, match="accepts one of trafilatura, resiliparse"):
        catalog.build("extract", {"extractor": "readability"})
