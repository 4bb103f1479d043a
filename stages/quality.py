"""Heuristic quality rules in the Gopher (Rae et al. 2021) and C4 (Raffel et al. 2020) style.

Every score is computed for every document and recorded in its decision; the first rule a
document breaks is its removal reason, so thresholds can be tuned later from the ledger alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import polars as pl

from stages.base import Scope, StageResult, decide
from stages.options import option

SCORES = ("quality_words", "quality_mean_word_length", "quality_symbol_ratio", "quality_bullet_lines",
          "quality_ellipsis_lines", "quality_alpha_words", "quality_stop_words", "quality_duplicate_lines",
          "quality_lorem_ipsum")

# Gopher's stop words, matched as whole words in any case.
STOP_WORDS = r"(?i)\b(?:the|be|to|of|and|that|have|with)\b"
BULLETS = r"(?m)^[^\S\n]*[•\-\*‣●▪◦·–]"
ELLIPSIS = r"(?m)(?:\.\.\.|…)[^\S\n]*$"


@dataclass(frozen=True)
class Quality:
    name: ClassVar[str] = "quality"
    version: ClassVar[int] = 1
    reasons: ClassVar[frozenset[str]] = frozenset({
        "too_few_words", "too_many_words", "mean_word_length_out_of_range", "too_many_symbols",
        "too_many_bullet_lines", "too_many_ellipsis_lines", "too_few_alphabetic_words",
        "missing_stop_words", "too_many_duplicate_lines", "lorem_ipsum",
    })
    scope: ClassVar[Scope] = "document"
    min_words: int = option(50, "fewest words a document may have (Gopher: 50)", role="decide", minimum=0)
    max_words: int = option(100_000, "most words a document may have (Gopher: 100,000)", role="decide", minimum=0)
    min_mean_word_length: float = option(3.0, "shortest mean word length, in characters", role="decide", minimum=0)
    max_mean_word_length: float = option(10.0, "longest mean word length, in characters", role="decide", minimum=0)
    max_symbol_ratio: float = option(0.1, "most '#' and ellipses per word", role="decide", minimum=0)
    max_bullet_line_fraction: float = option(0.9, "largest fraction of lines starting with a bullet", role="decide", minimum=0, maximum=1)
    max_ellipsis_line_fraction: float = option(0.3, "largest fraction of lines ending with an ellipsis", role="decide", minimum=0, maximum=1)
    min_alpha_word_fraction: float = option(0.8, "smallest fraction of words holding a letter", role="decide", minimum=0, maximum=1)
    min_stop_words: int = option(2, "fewest English stop words (the, be, to, of, and, that, have, with)", role="decide", minimum=0)
    max_duplicate_line_fraction: float = option(0.3, "largest fraction of non-empty lines that repeat another line", role="decide", minimum=0, maximum=1)

    def __post_init__(self) -> None:
        if self.min_words > self.max_words:
            raise ValueError(f"quality: min_words ({self.min_words}) is above max_words ({self.max_words})")
        if self.min_mean_word_length > self.max_mean_word_length:
            raise ValueError("quality: min_mean_word_length is above max_mean_word_length")

    def score(self, docs: pl.DataFrame, res: Any = None) -> pl.DataFrame:
        """doc_id + the nine scores; no option is involved, so scores are computed once per input."""
        # Counts by regex over the whole column, not per-document word lists: ~5x faster, and
        # exact for these definitions (a word is a run of non-space characters).
        text = pl.col("text")
        # Raw counts first, in one pass each; the ratios below reuse them instead of recounting.
        counted = docs.with_columns(
            _words=text.str.count_matches(r"\S+"),
            # Counting rare matches is ~3x faster than counting common ones, so whitespace is
            # literal spaces + other whitespace, and alphabetic words are all words minus the
            # letter-free ones (words starting with a non-letter, less those with a letter later).
            _space=text.str.count_matches(" ", literal=True) + text.str.count_matches(r"[^\S ]"),
            _lines=text.str.count_matches(r"(?m)^[^\S\n]*\S"),
            _no_alpha=text.str.count_matches(r"(?:^|\s)[^\s\pL]+") - text.str.count_matches(r"(?:^|\s)[^\s\pL]+\pL"),
            _unique_lines=text.str.split("\n").list.eval(pl.element().str.strip_chars())
            .list.eval(pl.element().filter(pl.element() != "")).list.n_unique(),
        )
        words, lines = pl.col("_words"), pl.col("_lines")
        per_word, per_line = pl.max_horizontal(words, pl.lit(1)), pl.max_horizontal(lines, pl.lit(1))
        scores = {
            "quality_words": words.cast(pl.Int64),
            "quality_mean_word_length": ((text.str.len_chars() - pl.col("_space")) / per_word).cast(pl.Float64),
            "quality_symbol_ratio": (text.str.count_matches(r"#|\.\.\.|…") / per_word).cast(pl.Float64),
            "quality_bullet_lines": (text.str.count_matches(BULLETS) / per_line).cast(pl.Float64),
            "quality_ellipsis_lines": (text.str.count_matches(ELLIPSIS) / per_line).cast(pl.Float64),
            "quality_alpha_words": pl.when(words > 0).then((words - pl.col("_no_alpha")) / words).otherwise(0.0).cast(pl.Float64),
            "quality_stop_words": text.str.count_matches(STOP_WORDS).cast(pl.Int64),
            "quality_duplicate_lines": pl.when(lines > 0).then(1.0 - pl.col("_unique_lines") / per_line).otherwise(0.0).cast(pl.Float64),
            "quality_lorem_ipsum": text.str.contains("(?i)lorem ipsum"),
        }
        return counted.select("doc_id", **scores)

    def choose(self, scored: pl.DataFrame, res: Any = None) -> StageResult:
        """The thresholds over stored scores: the first rule a document breaks is its reason."""
        c = pl.col
        rules = [
            (c("quality_words") < self.min_words, "too_few_words"),
            (c("quality_words") > self.max_words, "too_many_words"),
            (~c("quality_mean_word_length").is_between(self.min_mean_word_length, self.max_mean_word_length),
             "mean_word_length_out_of_range"),
            (c("quality_symbol_ratio") > self.max_symbol_ratio, "too_many_symbols"),
            (c("quality_bullet_lines") > self.max_bullet_line_fraction, "too_many_bullet_lines"),
            (c("quality_ellipsis_lines") > self.max_ellipsis_line_fraction, "too_many_ellipsis_lines"),
            (c("quality_alpha_words") < self.min_alpha_word_fraction, "too_few_alphabetic_words"),
            (c("quality_stop_words") < self.min_stop_words, "missing_stop_words"),
            (c("quality_duplicate_lines") > self.max_duplicate_line_fraction, "too_many_duplicate_lines"),
            (c("quality_lorem_ipsum"), "lorem_ipsum"),
        ]
        reason = pl.lit(None, pl.String)
        for cond, name in reversed(rules):
            reason = pl.when(cond).then(pl.lit(name)).otherwise(reason)
        return decide(scored, reason=reason, scores={k: pl.col(k) for k in SCORES})

    def apply(self, docs: pl.DataFrame, res: Any = None) -> StageResult:
        return self.choose(docs.join(self.score(docs), on="doc_id", how="left", maintain_order="left"))
