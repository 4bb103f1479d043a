"""Main-text extraction: the HTML of a web page (a record of kind `html`) becomes its main text.

Why a stage and not part of ingest: the extractor is one of the largest quality levers in web data
(FineWeb's ablations), so it must be an option with a cache key, a decision per page in the ledger,
and something `assay ablate` can vary, like any other stage; ingest only reads what the crawl holds.

How it fits the contract: an html record's `text` is its HTML until this stage runs. A page with
main text is 'modified' by one edit that replaces the whole text (offsets [0, len(html)) -> the main
text), so the ledger holds the usual edit evidence (both lengths, the SHA-1 of the HTML and of the
main text; never the text). A page with no main text is 'removed' as `no_main_text` (shorter than
`min_chars` once stripped), or `extraction_failed` when the extractor raised. Records of every
other kind pass 'kept' and untouched, so the stage can stay in the default set of every run: a
text corpus pays one cheap pass. The kind stays `html` (where the text came from).

Extractors (each one's package version is recorded in the stage's stats and in the manifest; the
code is in stages/extract_engines.py):
    trafilatura   trafilatura.extract, comments excluded, tables included. `fallback` says when its
                  readability/jusText fallback runs: `auto` (default) only on pages whose fast-mode
                  text is short for the page, which gets the full mode's F1 for 0.73-0.88x its CPU
                  time; `never`; `always` (eval/bench/extraction.py measures all three). The tree is
                  parsed and lightened by us first, with the same text as trafilatura.extract(html)
    resiliparse   resiliparse's extract_plain_text(main_content=True), alt texts and comments off:
                  the fast mode, about 10x faster and a few F1 points lower
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import polars as pl

from stages.base import EDITS, Scope, StageResult, decide
from stages.extract_engines import EXTRACTORS, FALLBACKS
from stages.extract_engines import version as extractor_version
from stages.options import option

__all__ = ["EXTRACTORS", "Extract", "extractor_version"]


@dataclass(frozen=True)
class Extract:
    name: ClassVar[str] = "extract"
    version: ClassVar[int] = 2  # 2: fallback never/auto/always (auto the default), noise stripped first
    reasons: ClassVar[frozenset[str]] = frozenset({"extracted", "no_main_text", "extraction_failed"})
    scope: ClassVar[Scope] = "document"
    extractor: str = option("trafilatura", "main-text extractor for html records (resiliparse: ~10x faster, lower F1)",
                            choices=tuple(EXTRACTORS))
    fallback: str = option("auto", "trafilatura's readability/jusText fallback: auto = only on pages whose fast "
                           "text is short for the page; never; always (slower). resiliparse has none",
                           choices=FALLBACKS)
    min_chars: int = option(1, "pages whose main text (stripped) is shorter are removed as no_main_text",
                            role="decide", minimum=1)

    def __post_init__(self) -> None:
        if self.fallback == "always" and self.extractor != "trafilatura":
            raise ValueError(f"extract: fallback applies to trafilatura only, not {self.extractor}")

    def setup(self, inputs: Any = None) -> Callable[[str], str | None]:
        return EXTRACTORS[self.extractor](self.fallback)

    def score(self, docs: pl.DataFrame, res: Any = None) -> pl.DataFrame:
        """doc_id, the main text (`extract_text`, null for other kinds or a failure) and its scores."""
        run = res or self.setup()
        texts: list[str | None] = []
        failed: list[bool | None] = []
        for kind, html in zip(docs["kind"].to_list(), docs["text"].to_list(), strict=True):
            if kind != "html":
                texts.append(None)
                failed.append(None)
                continue
            try:
                out = run(html)
            except Exception:  # noqa: BLE001 - a page an extractor cannot parse is that page's problem, recorded
                texts.append(None)
                failed.append(True)
                continue
            texts.append(out or "")
            failed.append(False)
        frame = docs.select("doc_id", "text", "kind").with_columns(
            extract_text=pl.Series(texts, dtype=pl.String), _failed=pl.Series(failed, dtype=pl.Boolean))
        html = pl.col("kind") == "html"
        return frame.select(
            "doc_id", "extract_text",
            extract_failed=pl.col("_failed"),
            extract_chars=pl.when(html).then(pl.col("extract_text").str.strip_chars().str.len_chars().fill_null(0))
            .cast(pl.Int64),
            extract_ratio=pl.when(html).then(pl.col("extract_text").str.len_chars().fill_null(0)
                                             / pl.max_horizontal(pl.col("text").str.len_chars(), pl.lit(1)))
            .cast(pl.Float64),
        )

    def choose(self, scored: pl.DataFrame, res: Any = None) -> StageResult:
        html = pl.col("kind") == "html"
        reason = (pl.when(html & pl.col("extract_failed")).then(pl.lit("extraction_failed"))
                  .when(html & (pl.col("extract_chars") < self.min_chars)).then(pl.lit("no_main_text"))
                  .otherwise(pl.lit(None, pl.String)))
        # One edit over the whole page; none where the page already is its main text (a 'modified'
        # decision must change the text).
        whole = pl.concat_list(pl.struct(start=pl.lit(0, pl.Int64), end=pl.col("text").str.len_chars().cast(pl.Int64),
                                         replacement=pl.col("extract_text")))
        edits = pl.when(html & (pl.col("extract_text") != pl.col("text"))).then(whole).otherwise(
            pl.lit(None, EDITS))
        result = decide(scored, reason=reason, edits=edits, edit_reason="extracted",
                        scores={"extract_chars": pl.col("extract_chars"), "extract_ratio": pl.col("extract_ratio")},
                        stats={"extractor": extractor_version(self.extractor)})
        return replace(result, kept=result.kept.drop("extract_text", "extract_failed"))

    def apply(self, docs: pl.DataFrame, res: Any = None) -> StageResult:
        scores = self.score(docs, res)
        return self.choose(docs.join(scores, on="doc_id", how="left", maintain_order="left"), res)
