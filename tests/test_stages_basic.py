"""Unit tests of the first stages on tiny inline frames, with exact reasons."""
from __future__ import annotations

import json

import polars as pl
from conftest import make_docs, prose

from stages.exact_dup import ExactDup
from stages.provenance import Provenance
from stages.quality import Quality


def decisions(result) -> dict[str, tuple[str, str | None]]:
    return {r["doc_id"]: (r["decision"], r["reason"]) for r in result.decisions.iter_rows(named=True)}


def test_exact_dup_folds_case_whitespace_and_unicode_and_keeps_first() -> None:
    base = prose(1)
    docs = make_docs([prose(0), base, base.upper(), base.replace(" ", "  \n"), "ｆｕｌｌ width " + base, "full width " + base])
    r = ExactDup().apply(docs)
    assert decisions(r) == {"d0": ("kept", None), "d1": ("kept", None), "d2": ("removed", "exact_duplicate"),
                            "d3": ("removed", "exact_duplicate"), "d4": ("kept", None), "d5": ("removed", "exact_duplicate")}
    ev = {row["doc_id"]: json.loads(row["evidence"]) for row in r.decisions.iter_rows(named=True)}
    assert ev["d2"]["duplicate_of"] == "d1" and ev["d5"]["duplicate_of"] == "d4"
    assert r.kept.filter(pl.col("doc_id") == "d1")["exact_dup_copies"][0] == 3


def test_exact_dup_first_means_input_order_not_row_order() -> None:
    docs = make_docs([prose(3), prose(3)], ids=["late", "early"]).with_columns(ord=pl.Series([5, 2]))
    r = ExactDup().apply(docs.sort("ord"))
    assert decisions(r) == {"early": ("kept", None), "late": ("removed", "exact_duplicate")}


def test_quality_rules_name_the_first_broken_rule() -> None:
    texts = {
        "good": prose(0),
        "short": "The cat and the dog.",
        "symbols": "# " * 30 + prose(1),
        "bullets": "\n".join(f"- the wonderful beautiful garden and that with flowers {i}" for i in range(60)),
        "ellipsis": "\n".join(f"the story of it and the rest goes on and on {i}..." for i in range(60)),
        "nostop": " ".join(f"zebra{i} quantum lizard marble" for i in range(30)),
        "dupes": "\n".join(["the same line of text with the words in it to be repeated"] * 10 + [prose(2)]),
        "lorem": prose(3) + " lorem ipsum dolor sit amet",
        "longwords": " ".join(["the", "and", "internationalization", "counterrevolutionaries"] * 20),
        "numbers": " ".join(["the", "and", "12345", "67890", "123456", "4242", "777"] * 12),
    }
    r = Quality().apply(make_docs(list(texts.values()), ids=list(texts)))
    assert decisions(r) == {
        "good": ("kept", None), "short": ("removed", "too_few_words"), "symbols": ("removed", "too_many_symbols"),
        "bullets": ("removed", "too_many_bullet_lines"), "ellipsis": ("removed", "too_many_ellipsis_lines"),
        "nostop": ("removed", "missing_stop_words"), "dupes": ("removed", "too_many_duplicate_lines"),
        "lorem": ("removed", "lorem_ipsum"), "longwords": ("removed", "mean_word_length_out_of_range"),
        "numbers": ("removed", "too_few_alphabetic_words"),
    }
    scores = json.loads(r.decisions.filter(pl.col("doc_id") == "short")["scores"][0])
    assert scores["quality_words"] == 5 and scores["quality_stop_words"] == 3


def test_quality_thresholds_are_config() -> None:
    docs = make_docs(["The cat and the dog sat on the mat with the hat."])
    assert Quality().apply(docs).kept.height == 0
    assert Quality(min_words=5).apply(docs).kept.height == 1


def test_provenance_tags_from_metadata_then_flags() -> None:
    docs = make_docs([prose(0), prose(1)], meta=[{"url": "https://www.Example.org:8080/a?b", "license": "cc-by", "date": "2024-01-02"}, {}])
    r = Provenance(license="odc-by", crawl_date="2026-11").apply(docs)
    rows = {x["doc_id"]: x for x in r.kept.iter_rows(named=True)}
    assert (rows["d0"]["provenance_domain"], rows["d0"]["provenance_license"], rows["d0"]["provenance_crawl_date"]) == ("example.org", "cc-by", "2024-01-02")
    assert (rows["d1"]["provenance_domain"], rows["d1"]["provenance_license"], rows["d1"]["provenance_crawl_date"]) == (None, "odc-by", "2026-11")
    assert r.decisions["decision"].to_list() == ["kept", "kept"]


def test_exact_dup_whitespace_folding_equals_the_plain_rule() -> None:
    from stages.exact_dup import normalized

    texts = pl.Series(["a b", "a  b", "a\tb", " a \t\n b ", "a\u00a0b", "a \u2003\u2003b", "x\r\n\r\ny", "single"])
    plain = texts.str.normalize("NFKC").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
    assert normalized(texts).to_list() == plain.to_list()


def test_quality_fast_counts_equal_the_plain_definitions() -> None:
    texts = ["(hello) 12ab 123 -- x\tyé\u00a0z\n\n  ", "   ", "42 43 44", "a", "über naïve 9lives !!! ok"]
    r = Quality(min_words=0, min_stop_words=0).apply(make_docs(texts))
    scores = [json.loads(s) for s in r.decisions["scores"]]
    for text, sc in zip(texts, scores, strict=True):
        words = text.split()
        assert sc["quality_words"] == len(words)
        alpha = sum(any(ch.isalpha() for ch in w) for w in words)
        assert sc["quality_alpha_words"] == (alpha / len(words) if words else 0.0)
        if words:
            assert abs(sc["quality_mean_word_length"] - sum(map(len, words)) / len(words)) < 1e-9
