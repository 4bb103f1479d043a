"""quality: each Gopher/C4 rule, exact scores, and thresholds as options."""
from __future__ import annotations

import json

import polars as pl
from conftest import make_docs, prose

import pytest

from stages import catalog
from stages.options import ConfigError
from stages.quality import Quality


def decisions(result) -> dict[str, tuple[str, str | None]]:
    return {r["doc_id"]: (r["decision"], r["reason"]) for r in result.decisions.iter_rows(named=True)}


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


def test_quality_bad_option_values_are_usage_errors_naming_the_option() -> None:
    with pytest.raises(ConfigError, match=r"option 'min_words' accepts an integer >= 0; got 'thirty'"):
        catalog.build("quality", {"min_words": "thirty"})
    with pytest.raises(ConfigError, match="min_words .100. is above max_words .10."):
        catalog.build("quality", {"min_words": 100, "max_words": 10})
    with pytest.raises(ConfigError, match="max_bullet_line_fraction' accepts a number in \\[0, 1\\]"):
        catalog.build("quality", {"max_bullet_line_fraction": 1.5})
    assert catalog.build("quality", {"min_words": "30"}).min_words == 30  # CLI strings are converted


def test_quality_choose_reads_scores_only() -> None:
    """choose() decides from the score columns: the text is not needed once scores are stored."""
    docs = make_docs([prose(0), "The cat and the dog."])
    scored = docs.join(Quality().score(docs), on="doc_id", how="left", maintain_order="left")
    blind = scored.with_columns(text=pl.lit("x"))
    assert Quality().choose(blind).decisions["reason"].to_list() == [None, "too_few_words"]
