"""Benchmark contamination: documents that hold benchmark test items, short ones too, not boilerplate.

The user names test sets (`--benchmark NAME=PATH`, repeatable, or `[benchmarks]` in the config); they
are run inputs, hashed into the step key. Without them the stage has nothing to look for and is left
out of a default run with a note.

1. Index (stages/contam/index.py, once per process): both sides normalized the same way (NFKC, case,
   punctuation, whitespace and line breaks folded). Long fields give word n-grams (n = 13 as in GPT-3
   and lm-eval-harness); n-grams shared by many items (templates) are dropped. Stems under n words are
   matched whole, through an anchor; generic ones only when their choices follow.
2. Features, per shard (stages/contam/match.py): one numba pass over the shard finds the documents
   with a hit; those alone are normalized again with character offsets.
3. Judge, over the corpus: what matched in more than `max_doc_freq` documents (a famous speech, a
   formula, a license quoted everywhere) is common text, not evidence. An item found in a document
   scores its overlap (fraction of its n-grams found; 1 for a whole short item) and longest matched
   span (words). Policy: remove the document, excise the matched spans plus a window (modified), or
   flag (kept, with scores). Evidence: benchmark, item_id, overlap, spans (character offsets), items.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from stages.base import EDITS, Inputs, Judgement, Scope, StageResult, judgement, split
from stages.options import option

_NAMES = "gsm8k, mmlu, arc, hellaswag, lambada, piqa, winogrande, truthfulqa, boolq, humaneval, bbh"
_MAX_LISTED = 50  # items and spans named in one decision's evidence


def _check_benchmarks(value: tuple[str, ...]) -> str | None:
    from schemas.benchmarks import BenchmarkError, parse_spec

    for v in value:
        try:
            parse_spec(v)
        except BenchmarkError as exc:
            return str(exc)
    return None


@dataclass(frozen=True)
class Contamination:
    name: ClassVar[str] = "contamination"
    version: ClassVar[int] = 2  # 2: contractions joined, numbers both ways, answers, symbols, lead choices
    reasons: ClassVar[frozenset[str]] = frozenset({"contamination"})
    scope: ClassVar[Scope] = "corpus"
    ledger_views: ClassVar[dict[str, str]] = {
        "contamination_items": (
            "SELECT d.doc_id, d.decision, u.it.benchmark AS benchmark, u.it.item_id AS item_id, "
            "u.it.overlap AS overlap, u.it.longest AS longest_words FROM decisions d, "
            "unnest(CAST(json_extract(d.evidence, '$.items') AS STRUCT(benchmark VARCHAR, item_id VARCHAR, "
            "overlap DOUBLE, longest BIGINT)[])) AS u(it) "
            "WHERE d.stage = '{stage}' AND json_extract(d.evidence, '$.items') IS NOT NULL"),
        "contamination_benchmarks": (
            "SELECT benchmark, count(DISTINCT item_id) AS items, count(DISTINCT doc_id) AS documents, "
            "count(DISTINCT doc_id) FILTER (WHERE decision = 'removed') AS removed, "
            "count(DISTINCT doc_id) FILTER (WHERE decision = 'modified') AS excised "
            "FROM contamination_items GROUP BY benchmark ORDER BY benchmark"),
    }
    benchmarks: tuple[str, ...] = option((), f"benchmark test sets as NAME=PATH (a file or folder as published; NAME one of {_NAMES})",
                                         input="path", alias="--benchmark", check=_check_benchmarks)
    ngram: int = option(13, "words per n-gram for items of at least that many words (13: GPT-3, lm-eval-harness)", minimum=4)
    max_item_freq: int = option(4, "an n-gram held by more items than this is a template, never evidence", minimum=1)
    short_min_tokens: int = option(6, "a short item (under ngram words) shorter than this counts only with its choices", minimum=3)
    choice_window: int = option(60, "words after a generic short item in which its choices (or answer) must appear", minimum=1)
    policy: str = option("remove", "what a contaminated document becomes: removed, its matched spans excised "
                         "(modified), or flagged (kept, with scores)", role="decide", choices=("remove", "excise", "flag"))
    window: int = option(200, "characters excised on each side of a matched span (policy excise)", role="decide", minimum=0)
    min_overlap: float = option(0.0, "smallest fraction of an item's n-grams a document must hold (0: any match)",
                                role="decide", minimum=0, maximum=1)
    max_doc_freq: int = option(20, "a match found in more documents than this (distinct texts) is common text, not evidence",
                               role="decide", minimum=1)

    def unconfigured(self) -> str | None:
        return None if self.benchmarks else "benchmarks to look for (--benchmark NAME=PATH, or [benchmarks] in the config)"

    def setup(self, inputs: Inputs) -> Any:
        from schemas.benchmarks import load, parse_spec
        from stages.contam import index

        items, seen = [], set()
        for fi in inputs.files.get("benchmarks", ()):
            name, _ = parse_spec(fi.given)
            for item in load(name, [Path(p) for p in fi.paths]):
                if item.item_id not in seen:
                    seen.add(item.item_id)
                    items.append(item)
        return index.build(items, self.ngram, self.max_item_freq, self.short_min_tokens)

    def _index(self, res: Any) -> Any:
        if res is not None:
            return res
        from stages.contam import index

        return index.build([], self.ngram, self.max_item_freq, self.short_min_tokens)

    def features(self, docs: pl.DataFrame, res: Any = None) -> pl.DataFrame:
        from stages.contam import match

        hits = match.hits(self._index(res), docs["text"], self.choice_window)
        return docs.select("doc_id", "ord", n_chars=pl.col("text").str.len_chars().cast(pl.Int64),
                           text_hash=pl.col("text").hash()).with_columns(hits, match.field_bounds(docs))

    def judge(self, features: pl.LazyFrame, docs: pl.LazyFrame, res: Any = None) -> Judgement:
        from stages.contam.judge import found_items

        ix = self._index(res)
        feats = features.select("doc_id", "n_chars", "text_hash", "bounds", "hits").collect()
        found, common = found_items(feats, ix, self.max_doc_freq, self.min_overlap, self.window)
        frame = feats.select("doc_id", "n_chars").join(found, on="doc_id", how="left", maintain_order="left")
        hit = pl.col("_evidence").is_not_null()
        remove = hit & ((pl.lit(self.policy == "remove")) | (pl.lit(self.policy == "excise") & pl.col("_all")))
        scores = {"contamination_overlap": pl.col("_overlap").fill_null(0.0),
                  "contamination_items": pl.col("_items").fill_null(0).cast(pl.Int64),
                  "contamination_longest": pl.col("_longest").fill_null(0).cast(pl.Int64)}
        edits = pl.when(hit & ~remove).then(pl.col("_edits")).otherwise(pl.lit(None, EDITS)) if self.policy == "excise" else None
        stats = {"index": dict(ix.stats), "common_keys_ignored": common,
                 "contaminated_documents": int(frame["_evidence"].is_not_null().sum()) if "_evidence" in frame.columns else 0}
        j = judgement(frame, reason=pl.when(remove).then(pl.lit("contamination")), scores=scores, stats=stats,
                      edits=edits, edit_reason="contamination" if edits is not None else None)
        evidence = frame.select("doc_id", "_evidence")
        decisions = (j.decisions.join(evidence, on="doc_id", how="left", maintain_order="left")
                     .with_columns(evidence=pl.coalesce("_evidence", "evidence")).drop("_evidence"))
        return Judgement(decisions=decisions, columns=j.columns, stats=j.stats, artifacts=j.artifacts, edits=j.edits)

    def apply(self, docs: pl.DataFrame, res: Any = None) -> StageResult:
        return split(docs, self.judge(self.features(docs, res).lazy(), docs.lazy(), res))


def evidence_json(best: dict, items: list[dict], spans: list[list[int]]) -> str:
    return json.dumps({"benchmark": best["benchmark"], "item_id": best["item_id"], "overlap": best["overlap"],
                       "longest": best["longest"], "spans": spans[:_MAX_LISTED], "n_spans": len(spans),
                       "items": items[:_MAX_LISTED], "n_items": len(items)},
                      sort_keys=True, separators=(",", ":"))
