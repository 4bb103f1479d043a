"""The extract stage: html records get their main text (one whole-text edit, 'modified'), pages with
none are removed with a reason, and records of other kinds pass untouched."""
from __future__ import annotations

import json
from html import escape as html_escape

import polars as pl
import pytest
from conftest import make_docs, prose

from stages import catalog
from stages.base import check_result
from stages.edits import sha1
from stages.extract import EXTRACTORS, Extract
from stages.extract_engines import (
    AUTO_MIN_CHARS,
    AUTO_PAGE_SHARE,
    CLEANED,
    FALLBACKS,
    needs_fallback,
    page_text,
    parse,
    strip_cleaned,
    strip_noise,
)
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
def extract_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bool, str]]:
    """(`fast`, the tree's HTML as handed over) of every trafilatura.extract call (the real one runs)."""
    import trafilatura
    from lxml.html import tostring
    real, calls = trafilatura.extract, []

    def spy(tree, **kwargs):
        calls.append((kwargs["fast"], tree if isinstance(tree, str) else tostring(tree, encoding="unicode")))
        return real(tree, **kwargs)
    monkeypatch.setattr(trafilatura, "extract", spy)
    return calls


def _beside_aside(words: int) -> str:
    """An article of `words` words beside an <aside> of ~6,000 characters (which trafilatura drops)."""
    return ("<html><body><article><h1>Note</h1><p>" + prose(5, words) + "</p></article>"
            "<aside>" + "".join(f"<p>{prose(i, 80)}</p>" for i in range(10, 20)) + "</aside></body></html>")


def test_auto_runs_the_fallback_only_where_the_fast_text_is_short_for_the_page(
        extract_calls: list[tuple[bool, str]]) -> None:
    import trafilatura
    auto = EXTRACTORS["trafilatura"]("auto")
    normal = auto(ARTICLE)
    assert [fast for fast, _ in extract_calls] == [True]  # a normal article: fast mode only
    assert normal == trafilatura.extract(ARTICLE, include_comments=False, include_tables=True, fast=True)
    kw = {"include_comments": False, "include_tables": True}
    for page in (_beside_aside(12), _beside_aside(60)):
        extract_calls.clear()
        # the fast text is short (under AUTO_MIN_CHARS; or, for 60 words, over it but under a tenth of
        # the page's visible text, the <aside> counted although the fast pass never saw it): the full
        # mode is asked, on a fresh tree that has the aside back, and its answer is the page's text
        out = auto(page)
        assert [fast for fast, _ in extract_calls] == [True, False]
        assert "<aside>" not in extract_calls[0][1] and "<aside>" in extract_calls[1][1]
        assert out == trafilatura.extract(page, fast=False, **kw)
    assert AUTO_MIN_CHARS <= len(trafilatura.extract(page, fast=True, **kw)) < 700  # the share rule fired
    extract_calls.clear()
    assert EXTRACTORS["trafilatura"]("never")(_beside_aside(12)) is not None
    assert [fast for fast, _ in extract_calls] == [True]
    extract_calls.clear()
    EXTRACTORS["trafilatura"]("always")(_beside_aside(60))
    assert [fast for fast, _ in extract_calls] == [False] and "<aside>" in extract_calls[0][1]


def test_the_trigger_compares_the_fast_text_with_the_page() -> None:
    assert needs_fallback(None, "") and needs_fallback("x" * (AUTO_MIN_CHARS - 1), "")
    assert not needs_fallback("x" * AUTO_MIN_CHARS, "")
    assert needs_fallback("x" * 999, "y" * int(1000 / AUTO_PAGE_SHARE))
    assert not needs_fallback("x" * 1000, "y" * int(1000 / AUTO_PAGE_SHARE))
    # whitespace runs count once: a page long only by its indentation is not long (the raw length
    # alone would call the fallback here)
    spaced = " \n\t ".join(["word"] * 1500)  # 11,999 characters shown as 8,999
    assert len(spaced) * AUTO_PAGE_SHARE > 1000 > len(" ".join(spaced.split())) * AUTO_PAGE_SHARE
    assert not needs_fallback("x" * 1000, spaced)


def test_noise_is_stripped_before_parsing_passes_with_tail_text_and_json_ld_kept() -> None:
    from trafilatura import load_html
    html = ("<html><head><style>p {color: red}</style><script type='application/ld+json'>{\"@type\": \"Article\"}"
            "</script></head><body><p>one <script>var x = 1;</script>two<svg><text>logo</text></svg> three</p>"
            "<p><style>.a{}</style>four</p></body></html>")
    tree = strip_noise(load_html(html))
    assert [e.tag for e in tree.iter("script", "style", "svg")] == ["script"]  # the JSON-LD one
    assert tree.find("body").text_content() == "one two threefour"
    assert page_text(tree) == "one two threefour"


def test_parse_builds_trafilaturas_tree_with_element_classes_resolved_in_c(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import trafilatura
    from lxml.html import HtmlElement, tostring
    from trafilatura import load_html
    pages = [ARTICLE, EMPTY_PAGE, "<html><body><form><input name='q'><p>find</p></form></body></html>",
             '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/x.dtd">\n'
             "<html><body><p>doctype repaired</p></body></html>",
             '<?xml version="1.0" encoding="utf-8"?><html><body><p>declared: parsed as bytes</p></body></html>',
             "<html/>\n<body><p>self-closed html</p></body>", "<html><body><p>a\x0bcontrol\x01char</p></body></html>",
             "<div><p>a fragment</p><p>of two</p></div>", "<p>lone</p>", "just words, no markup", "<html></html>"]
    for html in pages:
        ours, theirs = parse(html), load_html(html)
        assert (ours is None) == (theirs is None), html
        if ours is not None:
            assert tostring(ours) == tostring(theirs), html
    assert parse("just words, no markup") is None
    # the point of it: lxml.html's Python class lookup gives <form> a FormElement, ours a plain HtmlElement
    form = "<html><body><form><p>x</p></form></body></html>"
    assert type(parse(form).find(".//form")) is HtmlElement
    assert type(load_html(form).find(".//form")) is not HtmlElement
    seen = []
    monkeypatch.setattr(trafilatura, "extract", lambda tree, **kw: seen.append(tree.find(".//form")) or "text")
    for mode in FALLBACKS:
        EXTRACTORS["trafilatura"](mode)(form)
    assert seen and all(type(elem) is HtmlElement for elem in seen)  # the extractor hands over parse()'s tree


def test_the_cleaned_tags_are_trafilaturas_in_its_order() -> None:
    # strip_cleaned relies on which tags trafilatura's tree cleaning deletes and in which order
    from trafilatura.settings import MANUALLY_CLEANED
    assert CLEANED == tuple(tag for tag in MANUALLY_CLEANED if tag != "form")


PAGE = ("<html><head><title>T</title><meta name='x' content='y'><link rel='icon' href='/i.png'>"
        "<script type='application/ld+json'>{\"@type\": \"WebPage\"}</script></head><body>"
        "<article><h1>Mill</h1>" + "".join(f"<p>{prose(i, 60)}</p>" for i in range(3)) + "</article>"
        "<aside><p>" + prose(7, 40) + "</p><a href='/x'>related</a></aside>"
        "<footer><p>Copyright notice of the example site.</p></footer></body></html>")


def test_the_fast_pass_gets_a_tree_without_what_it_would_delete(extract_calls: list[tuple[bool, str]]) -> None:
    import trafilatura
    tree = strip_cleaned(strip_noise(parse(PAGE)))
    assert [e.tag for e in tree.iter("aside", "footer", "title", "meta", "link")] == []
    assert [e.get("type") for e in tree.find("head")] == ["application/ld+json"]  # read before the cleaning
    out = EXTRACTORS["trafilatura"]("never")(PAGE)
    assert "<aside>" not in extract_calls[0][1] and "<footer>" not in extract_calls[0][1]
    assert out == trafilatura.extract(PAGE, fast=True, include_comments=False, include_tables=True)
    assert prose(2, 60)[:80] in out


def _p(i: int, words: int) -> str:
    return f"<p>{prose(i, words)}</p>"


_PRELOAD = json.dumps({"topic_1": json.dumps({"post_stream": {"posts": [{"cooked": f"<p>{prose(5, 80)}</p>"}]}})})
# Pages where deleting every aside/footer first would change trafilatura's text, one per reason
# strip_cleaned keeps them; each page's text holds what deleting them would lose.
KEPT = {
    # lxml's iterator ends inside a deleted aside that holds another: trafilatura keeps the later ones
    "nested": ("<html><body><div>" + _p(1, 30) + "</div><aside><aside>ad</aside></aside><aside>"
               + _p(3, 120) + _p(4, 120) + "</aside></body></html>", prose(3, 120)[:60]),
    "json-ld": ("<html><body><div><span>Short teaser only.</span></div><aside><script type='application/ld+json'>"
                '{"@type": "NewsArticle", "articleBody": "' + prose(5, 80) + '"}</script></aside><p>x</p></body></html>',
                prose(5, 80)[:60]),  # the baseline reads the article body from JSON-LD
    "discourse": ("<html><body><div><span>Short teaser only.</span></div><aside><div id='data-preloaded' "
                  f"data-preloaded='{html_escape(_PRELOAD)}'></div></aside><p>x</p></body></html>", prose(5, 80)[:60]),
    "h1": ("<html><body><div class='infinite-scroll'><aside><h1>The real one</h1></aside>" + _p(6, 60) + _p(7, 60)
           + "</div><div>" + _p(8, 12) + "</div></body></html>", prose(6, 60)[:60]),  # keeps the container
    "fencedframe": ("<html><body><div>" + _p(1, 30) + "</div><footer><fencedframe><fencedframe>x</fencedframe>"
                    "</fencedframe></footer><div><fencedframe>" + _p(3, 120) + _p(4, 120) + "</fencedframe></div>"
                    "</body></html>", prose(3, 120)[:60]),  # its deletion loop, between aside's and footer's
    # no <p> outside cleaned tags: trafilatura's recall retry undoes its cleaning, asides included
    "no-p-survives": ("<html><body><div><h2>Heading of the page</h2><ul>"
                      + "".join(f"<li>{prose(30 + i, 12)}</li>" for i in range(4)) + "</ul></div><div class='sidebar'>"
                      + "".join(f"<span>{prose(20 + i, 40)}</span>" for i in range(8)) + "</div><aside>"
                      + _p(11, 200) + "</aside><nav>" + _p(12, 100) + "</nav></body></html>", prose(11, 200)[:60]),
}


@pytest.mark.parametrize("case", sorted(KEPT))
def test_asides_and_footers_stay_where_deleting_them_first_would_change_the_text(case: str) -> None:
    import trafilatura
    page, lost = KEPT[case]
    out = EXTRACTORS["trafilatura"]("never")(page)
    assert out == trafilatura.extract(page, fast=True, include_comments=False, include_tables=True)
    assert lost in out


def test_same_text_as_trafilatura_on_real_pages(shared_data) -> None:
    """Fast and full mode against plain trafilatura.extract on real pages (all 1,171 benchmark pages
    were checked so once; `python -m eval.bench.extraction --compare OLD.py` checks a change on all)."""
    import gzip

    import trafilatura
    kw = {"include_comments": False, "include_tables": True}
    files = sorted((shared_data / "web" / "article_extraction_benchmark" / "html").glob("*.html.gz"))[:12]
    modes = {m: EXTRACTORS["trafilatura"](m) for m in ("never", "always")}
    for path in files:
        html = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
        assert modes["never"](html) == trafilatura.extract(html, fast=True, **kw), path.name
        assert modes["always"](html) == trafilatura.extract(html, fast=False, **kw), path.name
