"""A fastText classifier's score for every document, then a threshold or the top fraction of the corpus.

Scoring is the costly part and depends only on the model (and its label and preprocessing), so it is
this stage's per-shard `features`, cached under the scoring key. The decision is corpus-wide, since
"the top 10 %" (DCLM's cut) is a rank over every shard: `judge` reads the scores of all shards (three
columns, no text) and cuts once. A new threshold or fraction re-decides from the cached scores.

The model is a file option, so its SHA-256 is in the step key and the manifest; its JSON sidecar
(written by `assay quality train`, MODEL.json) is a second file option that defaults to the file next
to the model, so the sidecar's hash is there too. A model without a sidecar is scored as given (a
model trained elsewhere, e.g. DCLM's, reads text with newlines as spaces and case kept).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from stages import fasttext_model as fm
from stages.base import ConfigError, FileInput, Inputs, Judgement, Scope, StageResult, judgement, split
from stages.options import option

SCORE = "fasttext_quality_score"


def _check_fraction(value: float | None) -> str | None:
    return None if value is None or 0.0 < value <= 1.0 else "accepts a number in (0, 1]"


@dataclass(frozen=True)
class FasttextQuality:
    name: ClassVar[str] = "fasttext_quality"
    version: ClassVar[int] = 1
    reasons: ClassVar[frozenset[str]] = frozenset({"below_threshold", "below_top_fraction"})
    scope: ClassVar[Scope] = "corpus"
    ledger_views: ClassVar[dict[str, str]] = {
        "fasttext_quality_scores": "SELECT doc_id, decision, reason, "
        f"CAST(json_extract(scores, '$.{SCORE}') AS DOUBLE) AS score FROM decisions WHERE stage = '{{stage}}'"}
    model: str | None = option(None, "supervised fastText model (.bin), e.g. from 'assay quality train'", input="file")
    sidecar: str | None = option(None, "the model's JSON sidecar (default: MODEL.json when that file exists)", input="file")
    label: str = option("hq", "the model's label whose probability is the score (without __label__)")
    threshold: float | None = option(None, "keep documents scoring at least this (default 0.5 when fraction is unset)",
                                     role="decide", minimum=0, maximum=1)
    fraction: float | None = option(None, "keep this top fraction of the whole corpus by score instead (DCLM keeps 0.1)",
                                    role="decide", minimum=0, maximum=1, check=_check_fraction)

    def __post_init__(self) -> None:
        if self.threshold is not None and self.fraction is not None:
            raise ValueError("stage 'fasttext_quality': set threshold or fraction, not both")
        if self.model and self.sidecar is None and fm.sidecar_path(self.model).is_file():
            # The sidecar next to the model becomes an explicit option value, so that it is hashed
            # into the step key and the manifest like the model itself.
            object.__setattr__(self, "sidecar", str(fm.sidecar_path(self.model)))

    def unconfigured(self) -> str | None:
        if self.model:
            return None
        return "a fastText model (--fasttext-quality-model FILE; train one with 'assay quality train')"

    def setup(self, inputs: Inputs) -> fm.Classifier | None:
        models = inputs.files.get("model", ())
        if not models:
            return None
        sidecars = inputs.files.get("sidecar", ())
        where = f"stage {self.name!r} option 'model'"
        try:
            return fm.load(models[0].paths[0], sidecars[0].paths[0] if sidecars else None, self.label, where,
                           model_sha256=models[0].sha256)
        except ValueError as exc:  # a label the model lacks: the user named the wrong one
            raise ConfigError(f"stage {self.name!r} option 'label': {exc}") from None

    def _resources(self, res: Any) -> fm.Classifier | None:
        """`res` from the runner; called directly (tests, notebooks), the files are opened here."""
        if res is not None or not self.model:
            return res
        files = {"model": (FileInput("model", self.model, (self.model,), fm.file_sha256(self.model)),)} if Path(self.model).is_file() else {}
        if not files:
            raise fm.ModelError(f"stage {self.name!r} option 'model': {self.model} does not exist")
        if self.sidecar:
            files["sidecar"] = (FileInput("sidecar", self.sidecar, (self.sidecar,), ""),)
        return self.setup(Inputs(files=files))

    def features(self, docs: pl.DataFrame, res: Any = None) -> pl.DataFrame:
        clf = self._resources(res)
        scores = pl.Series(SCORE, clf.scores(docs["text"]) if clf is not None else [None] * docs.height, dtype=pl.Float64)
        return pl.DataFrame({"doc_id": docs["doc_id"], "ord": docs["ord"], SCORE: scores})

    def judge(self, features: pl.LazyFrame, docs: pl.LazyFrame, res: Any = None) -> Judgement:
        feats = features.select("doc_id", "ord", SCORE).collect()
        score = pl.col(SCORE)
        if self.fraction is None:
            threshold = 0.5 if self.threshold is None else self.threshold
            reason = pl.when(score < threshold).then(pl.lit("below_threshold"))
            return judgement(feats, reason=reason, scores={SCORE: score}, evidence={"threshold": pl.lit(threshold)},
                             stats={"threshold": threshold, "documents": feats.height})
        n_keep = int(self.fraction * feats.height + 0.5)
        # Rank over the whole corpus: highest score first, the first seen first among equal scores
        # (ord is global), so the cut never depends on how documents were sharded.
        ranked = (feats.with_row_index("_row").sort([SCORE, "ord"], descending=[True, False], nulls_last=True)
                  .with_row_index("_rank", offset=1).sort("_row").drop("_row").with_columns(pl.col("_rank").cast(pl.Int64)))
        cutoff = ranked.filter(pl.col("_rank") == n_keep)[SCORE].to_list()
        reason = pl.when(pl.col("_rank") > n_keep).then(pl.lit("below_top_fraction"))
        evidence = {"rank": pl.col("_rank"), "kept": pl.lit(n_keep), "cutoff_score": pl.lit(cutoff[0] if cutoff else None, pl.Float64)}
        return judgement(ranked, reason=reason, scores={SCORE: score}, evidence=evidence,
                         stats={"fraction": self.fraction, "kept": n_keep, "documents": feats.height,
                                "cutoff_score": cutoff[0] if cutoff else None})

    def apply(self, docs: pl.DataFrame, res: Any = None) -> StageResult:
        res = self._resources(res)
        return split(docs, self.judge(self.features(docs, res).lazy(), docs.lazy(), res))
