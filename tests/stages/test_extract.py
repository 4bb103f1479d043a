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
from stages.extract_engines import AUTO_MIN_CHARS, AUTO_PAGE_SHARE, needs_fallback, page_chars, strip_noise
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


def test_fallback_modes_and_their_errors() -> None:
    for mode in ("never", "auto", "always"):
        stage = catalog.build("extract", {"fallback": mode})
        docs = _pages(ARTICLE)
        result = stage.apply(docs, stage.setup())
        check_result(stage, docs, result)
        assert prose(2, 60)[:80] in result.kept["text"][0] and "Shop now" not in result.kept["text"][0]
    with pytest.raises(ConfigError, match="fallback applies to trafilatura only"):
        catalog.build("extract", {"extractor": "resiliparse", "fallback": "always"})
    with pytest.raises(ConfigError, match="accepts one of never, auto, always"):
        catalog.build("extract", {"fallback": True})
    with pytest.raises(ConfigError, match="accepts one of trafilatura, resiliparse"):
        catalog.build("extract", {"extractor": "readability"})


@pytest.fixture
def fast_flags(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The `fast` argument of every trafilatura.extract call (the real function still runs)."""
    import trafilatura
    real, calls = trafilatura.extract, []

    def spy(*args, **kwargs):
        calls.append(kwargs["fast"])
        return real(*args, **kwargs)
    monkeypatch.setattr(trafilatura, "extract", spy)
    return calls


def _beside_aside(words: int) -> str:
    """An article of `words` words beside an <aside> of ~6,000 characters (which trafilatura drops)."""
    return ("<html><body><article><h1>Note</h1><p>" + prose(5, words) + "</p></article>"
            "<aside>" + "".join(f"<p>{prose(i, 80)}</p>" for i in range(10, 20)) + "</aside></body></html>")


def test_auto_runs_the_fallback_only_where_the_fast_text_is_short_for_the_page(fast_flags: list[bool]) -> None:
    import trafilatura
    auto = EXTRACTORS["trafilatura"]("auto")
    normal = auto(ARTICLE)
    assert fast_flags == [True]  # a normal article: fast mode only
    assert normal == trafilatura.extract(ARTICLE, include_comments=False, include_tables=True, fast=True)
    kw = {"include_comments": False, "include_tables": True}
    for page in (_beside_aside(12), _beside_aside(60)):
        fast_flags.clear()
        # the fast text is short (under AUTO_MIN_CHARS; or, for 60 words, over it but under a tenth of
        # the page's visible text): the full mode is asked, and its answer is the page's text
        out = auto(page)
        assert fast_flags == [True, False]
        assert out == trafilatura.extract(page, fast=False, **kw)
    assert AUTO_MIN_CHARS <= len(trafilatura.extract(page, fast=True, **kw)) < 700  # the share rule fired
    fast_flags.clear()
    assert EXTRACTORS["trafilatura"]("never")(_beside_aside(12)) is not None and fast_flags == [True]
    fast_flags.clear()
    EXTRACTORS["trafilatura"]("always")(ARTICLE)
    assert fast_flags == [False]


def test_the_trigger_compares_the_fast_text_with_the_page() -> None:
    assert needs_fallback(None, 0) and needs_fallback("x" * (AUTO_MIN_CHARS - 1), 0)
    assert not needs_fallback("x" * AUTO_MIN_CHARS, 0)
    assert needs_fallback("x" * 999, int(1000 / AUTO_PAGE_SHARE))
    assert not needs_fallback("x" * 1000, int(1000 / AUTO_PAGE_SHARE))


def test_noise_is_stripped_before_parsing_passes_with_tail_text_and_json_ld_kept() -> None:
    from trafilatura import load_html
    html = ("<html><head><style>p {color: red}</style><script type='application/ld+json'>{\"@type\": \"Article\"}"
            "</script></head><body><p>one <script>var x = 1;</script>two<svg><text>logo</text></svg> three</p>"
            "<p><style>.a{}</style>four</p></body></html>")
    tree = strip_noise(load_html(html))
    assert [e.tag for e in tree.iter("script", "style", "svg")] == ["script"]  # the JSON-LD one
    assert tree.find("body").text_content() == "one two threefour"
    assert page_chars(tree) == len("one two threefour")
    spaced = load_html("<html><body><div>\n  <p>a  b</p>\n\t<p>c</p>\n</div></body></html>")
    assert page_chars(spaced) == len("a b c")  # whitespace runs count once
