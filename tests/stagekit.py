"""Test stages that exercise the contract's optional parts: a modifying document stage with a file
option and a setup step that counts its loads, and a modifying corpus (sharded) stage."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from stages.base import EDITS, decide, judgement, split
from stages.options import option

LOADS: list[str] = []
SECRET = "4111-2222-3333"


def _edits(text: str, words: tuple[str, ...]) -> list[dict[str, Any]]:
    pattern = r"\d{4}(?:-\d{4})*" + "".join(f"|\\b{re.escape(w)}\\b" for w in words)
    return [{"start": m.start(), "end": m.end(), "replacement": "<X>"} for m in re.finditer(pattern, text)]


@dataclass(frozen=True)
class Mask:
    """Test stage: masks digit runs, and the words of a file option, with a modified decision."""
    name: ClassVar[str] = "test_mask"
    version: ClassVar[int] = 1
    reasons: ClassVar[frozenset[str]] = frozenset({"masked"})
    scope: ClassVar[str] = "document"
    words: str | None = option(None, "file of words to mask, one a line", input="file")

    def setup(self, inputs: Any) -> tuple[str, ...]:
        LOADS.append(self.name)
        files = inputs.files.get("words", ())
        return tuple(Path(files[0].paths[0]).read_text().split()) if files else ()

    def apply(self, docs: pl.DataFrame, res: Any = None) -> Any:
        edits = pl.Series([_edits(t, res or ()) for t in docs["text"].to_list()], dtype=EDITS)
        return decide(docs, reason=pl.lit(None, pl.String), edits=pl.lit(edits), edit_reason="masked")


@dataclass(frozen=True)
class MaskCorpus:
    """Test corpus stage: the same masking decided in judge() from features, applied by split()."""
    name: ClassVar[str] = "test_mask_corpus"
    version: ClassVar[int] = 1
    reasons: ClassVar[frozenset[str]] = frozenset({"masked"})
    scope: ClassVar[str] = "corpus"

    def features(self, docs: pl.DataFrame, res: Any = None) -> pl.DataFrame:
        edits = pl.Series([_edits(t, ()) for t in docs["text"].to_list()], dtype=EDITS)
        return docs.select("doc_id", "ord").with_columns(edits=edits)

    def judge(self, features: pl.LazyFrame, docs: pl.LazyFrame, res: Any = None) -> Any:
        return judgement(features.collect(), reason=pl.lit(None, pl.String), edits=pl.col("edits"), edit_reason="masked")

    def apply(self, docs: pl.DataFrame, res: Any = None) -> Any:
        return split(docs, self.judge(self.features(docs).lazy(), docs.lazy()))


