"""The stage contract.

A stage is a frozen dataclass: its fields are its configuration, declared with `stages.options.option`
(hashable, serialisable, part of the cache key together with `version`). Its methods are pure: a
frame of documents in, a StageResult out. A stage never reads the ledger, never opens run folders
and never decides what conservation means; the runner checks every result (`check_result`) so that
a buggy stage fails the run instead of losing documents.

What a stage may declare besides `apply(docs, res)`:
- `setup(inputs) -> res`: loads heavy resources (a model, an analyzer, earlier releases) once per
  worker process; the runner hands `res` to every other method. `inputs` holds the resolved file
  options (content-hashed by the runner before the run starts).
- `score(docs, res) -> frame` and `choose(scored, res) -> StageResult` (document scope): scoring
  apart from deciding. The runner caches scores under a key of the `role="score"` options only, so
  a changed threshold re-decides from stored scores.
- `features(docs, res)` and `judge(features, docs, res) -> Judgement` (corpus scope, required): see
  `ShardedStage`.

Scores are columns named `<stage>_<score>` on the documents a stage keeps and JSON in the decision of
every document, kept or removed. A stage changes a document only through edits (character offsets
on `text`, see `decide(edits=...)`); the record fields the text came from change with it.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import polars as pl

from schemas import DECISION_SCHEMA, DECISIONS, DOCUMENT_SCHEMA, check_schema
from schemas.records import RECORD_FIELD_SCHEMA
from stages.edits import EDITS, ContractError, check_edits, merge_json, sha1, with_edits  # noqa: F401
from stages.options import ConfigError, split_config  # noqa: F401  (ConfigError is part of this API)

Scope = Literal["document", "corpus"]
_FIELDS = list(RECORD_FIELD_SCHEMA)


@dataclass(frozen=True)
class StageResult:
    kept: pl.DataFrame  # documents that go on; text (and its field) is the new one where 'modified'
    decisions: pl.DataFrame  # DECISION_SCHEMA, exactly one row per input document
    stats: Mapping[str, Any] = field(default_factory=dict)
    # Frames the runner persists under RUN_DIR/index/<stage>/<name>.parquet (e.g. near-dup
    # signatures that a later release reads with --against). Keeps stages free of file I/O.
    artifacts: Mapping[str, pl.DataFrame] = field(default_factory=dict)


@dataclass(frozen=True)
class Judgement:
    """What a corpus stage decides from per-document features alone (see `ShardedStage`)."""
    decisions: pl.DataFrame  # DECISION_SCHEMA, one row per document
    columns: pl.DataFrame  # doc_id + the score columns to add to kept documents
    stats: Mapping[str, Any] = field(default_factory=dict)
    artifacts: Mapping[str, pl.DataFrame] = field(default_factory=dict)
    # doc_id + `edits` (EDITS) for documents whose decision is 'modified'; applied shard by shard.
    edits: pl.DataFrame | None = None


@dataclass(frozen=True)
class FileInput:
    """A file option resolved by the runner: absolute member paths and one content hash."""
    option: str
    given: str  # as the user spelled it (for messages only; never part of a key)
    paths: tuple[str, ...]
    sha256: str


@dataclass(frozen=True)
class EarlierRun:
    """An earlier release handed to a stage by the runner (e.g. near_dup --against): the stage's own
    index rows of the documents that release shipped, and their shipped text."""
    given: str
    manifest_sha256: str
    index: pl.LazyFrame | None  # None when that run has no index for this stage
    texts: pl.LazyFrame  # doc_id, text


@dataclass(frozen=True)
class Inputs:
    files: Mapping[str, tuple[FileInput, ...]] = field(default_factory=dict)
    runs: Mapping[str, tuple[EarlierRun, ...]] = field(default_factory=dict)


@runtime_checkable
class ShardedStage(Protocol):
    """A corpus stage that never needs every document's text at once. The runner calls `features`
    shard by shard (documents in, a compact frame with `doc_id` out) and writes them to Parquet;
    `judge` reads them lazily, plus the documents lazily for the few texts it must see (e.g.
    candidate pairs to verify), and returns the decisions; the runner then splits each shard.
    Such a stage's `apply` is `split(docs, judge(features(docs), docs))`, so both paths agree.

    Optional: `shard_artifacts(features) -> {name: frame}`, artifacts made from one shard's features
    (near_dup's signature index): the runner writes them with each split shard, rows of documents
    the stage removed left out, so no single process holds the whole index."""

    def features(self, docs: pl.DataFrame, res: Any = None) -> pl.DataFrame: ...

    def judge(self, features: pl.LazyFrame, docs: pl.LazyFrame, res: Any = None) -> Judgement: ...


@runtime_checkable
class Stage(Protocol):
    name: ClassVar[str]
    version: ClassVar[int]
    reasons: ClassVar[frozenset[str]]  # removal and modification reasons alike
    # 'document': each document is judged alone, so the runner may apply it shard by shard.
    # 'corpus': the decision depends on other documents; such a stage must be a ShardedStage.
    scope: ClassVar[Scope]

    def apply(self, docs: pl.DataFrame, res: Any = None) -> StageResult: ...


def stage_config(stage: Any) -> dict[str, Any]:
    score, decide_ = split_config(stage)
    return dict(sorted((score | decide_).items()))


def stage_keys(stage: Any) -> tuple[str, str]:
    """(scoring key, whole key): scores and features are cached under the first, so that options
    with role 'decide' (thresholds) re-decide without rescoring."""
    score, decide_ = split_config(stage)
    head = {"name": stage.name, "version": stage.version, "score": score}
    k1 = hashlib.sha256(json.dumps(head, sort_keys=True).encode()).hexdigest()
    k2 = hashlib.sha256(json.dumps({"score_key": k1, "decide": decide_}, sort_keys=True).encode()).hexdigest()
    return k1, k2


def json_object(columns: Mapping[str, pl.Expr] | None) -> pl.Expr:
    """A JSON-object column built from named expressions ('{}' when there are none)."""
    if not columns:
        return pl.lit("{}")
    return pl.struct(**dict(columns)).struct.json_encode()


def _decided(docs: pl.DataFrame, reason: pl.Expr, scores: Mapping[str, pl.Expr], evidence: Mapping[str, pl.Expr] | None,
             edits: pl.Expr | None, edit_reason: str | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(scored frame with _reason/_edits/_modified, decisions without edit evidence)."""
    scored = docs.with_columns(**scores, _reason=reason)
    modified = pl.lit(False)
    if edits is not None:
        if not edit_reason:
            raise ContractError("decide(edits=...) needs an edit_reason")
        scored = scored.with_columns(_edits=edits.cast(EDITS))
        modified = pl.col("_reason").is_null() & (pl.col("_edits").list.len().fill_null(0) > 0)
    scored = scored.with_columns(_modified=modified)
    decisions = scored.select(
        "doc_id",
        decision=pl.when(pl.col("_reason").is_not_null()).then(pl.lit("removed"))
        .when(pl.col("_modified")).then(pl.lit("modified")).otherwise(pl.lit("kept")),
        reason=pl.coalesce(pl.col("_reason").cast(pl.String), pl.when(pl.col("_modified")).then(pl.lit(edit_reason))),
        scores=json_object({k: pl.col(k) for k in scores}),
        evidence=json_object(evidence),
    )
    return scored, decisions


def _stats(decisions: pl.DataFrame, edits: bool, extra: Mapping[str, Any] | None) -> dict[str, Any]:
    counts = decisions.filter(pl.col("decision") == "removed").group_by("reason").len().sort("reason")
    out: dict[str, Any] = {"removed_by_reason": dict(zip(counts["reason"].to_list(), counts["len"].to_list(), strict=True))}
    if edits:
        out["modified"] = int((decisions["decision"] == "modified").sum())
    out.update(extra or {})
    return out


def decide(
    docs: pl.DataFrame,
    reason: pl.Expr,
    scores: Mapping[str, pl.Expr] | None = None,
    evidence: Mapping[str, pl.Expr] | None = None,
    stats: Mapping[str, Any] | None = None,
    artifacts: Mapping[str, pl.DataFrame] | None = None,
    edits: pl.Expr | None = None,
    edit_reason: str | None = None,
) -> StageResult:
    """Split `docs` into kept, modified and removed, and build the decisions.

    `reason` (null = keep) removes. `edits` (a list of {start, end, replacement} on `text`, empty or
    null = no change) modifies a document that is not removed, with `edit_reason` (declared like any
    reason) and the edit evidence added. `scores` become columns on kept documents and JSON in every
    decision; `evidence` is recorded in the decision only (it may reference other documents)."""
    scores = dict(scores or {})
    scored, decisions = _decided(docs, reason, scores, evidence, edits, edit_reason)
    kept = scored.filter(pl.col("_reason").is_null())
    if edits is not None:
        kept, ev = with_edits(kept.drop("_edits"), kept.filter("_modified").select("doc_id", edits=pl.col("_edits")))
        decisions = (decisions.join(ev, on="doc_id", how="left", maintain_order="left")
                     .with_columns(evidence=merge_json(pl.col("evidence"), pl.col("_edit_json"))).drop("_edit_json"))
    kept = kept.drop("_reason", "_modified")
    return StageResult(kept=kept, decisions=decisions, stats=_stats(decisions, edits is not None, stats),
                       artifacts=dict(artifacts or {}))


def judgement(
    features: pl.DataFrame,
    reason: pl.Expr,
    scores: Mapping[str, pl.Expr] | None = None,
    evidence: Mapping[str, pl.Expr] | None = None,
    stats: Mapping[str, Any] | None = None,
    artifacts: Mapping[str, pl.DataFrame] | None = None,
    edits: pl.Expr | None = None,
    edit_reason: str | None = None,
) -> Judgement:
    """`decide` for a corpus stage's `judge`, over features (no text): edits are recorded and
    applied later, shard by shard, by `split`, which adds their evidence."""
    scores = dict(scores or {})
    scored, decisions = _decided(features, reason, scores, evidence, edits, edit_reason)
    edit_frame = scored.filter("_modified").select("doc_id", edits=pl.col("_edits")) if edits is not None else None
    return Judgement(decisions=decisions, columns=scored.select("doc_id", *scores), edits=edit_frame,
                     stats=_stats(decisions, edits is not None, stats), artifacts=dict(artifacts or {}))


def split(docs: pl.DataFrame, judgement: Judgement) -> StageResult:
    """One shard's StageResult from a corpus-wide judgement (joined by doc_id, never by position)."""
    decisions = docs.select("doc_id").join(judgement.decisions, on="doc_id", how="left", maintain_order="left")
    passing = decisions.filter(pl.col("decision") != "removed").select("doc_id")
    kept = (docs.join(passing, on="doc_id", how="semi", maintain_order="left")
            .join(judgement.columns, on="doc_id", how="left", maintain_order="left"))
    if judgement.edits is not None:
        mod = decisions.filter(pl.col("decision") == "modified").select("doc_id")
        kept, ev = with_edits(kept, judgement.edits.join(mod, on="doc_id", how="semi"))
        decisions = (decisions.join(ev, on="doc_id", how="left", maintain_order="left")
                     .with_columns(evidence=merge_json(pl.col("evidence"), pl.col("_edit_json"))).drop("_edit_json"))
    return StageResult(kept=kept, decisions=decisions, stats=judgement.stats, artifacts=judgement.artifacts)


def check_result(stage: Any, docs: pl.DataFrame, result: StageResult) -> None:
    """The runner's check of one stage result: schemas, conservation, declared reasons, and that
    only 'modified' documents changed, each with its edit evidence."""
    where = f"stage {stage.name!r}"
    check_schema(result.decisions, DECISION_SCHEMA, f"{where} decisions", exact=True)
    check_schema(result.kept, DOCUMENT_SCHEMA, f"{where} kept documents")
    d = result.decisions
    if d.height != docs.height or d["doc_id"].n_unique() != d.height:
        raise ContractError(f"{where}: {d.height} decisions for {docs.height} documents (one per document required)")
    if d.join(docs.select("doc_id"), on="doc_id", how="anti").height:
        raise ContractError(f"{where}: decisions name documents that were not its input")
    bad = d.filter(pl.col("decision").is_null() | ~pl.col("decision").is_in(list(DECISIONS)))
    if bad.height:
        raise ContractError(f"{where}: unknown decision {bad['decision'][0]!r}")
    judged = d.filter(pl.col("decision") != "kept")
    undeclared = judged.filter(pl.col("reason").is_null() | ~pl.col("reason").is_in(sorted(stage.reasons)))
    if undeclared.height:
        raise ContractError(f"{where}: {undeclared['decision'][0]} reason {undeclared['reason'][0]!r} is not declared in {sorted(stage.reasons)}")
    if d.filter((pl.col("decision") == "kept") & pl.col("reason").is_not_null()).height:
        raise ContractError(f"{where}: a kept document carries a reason")
    for col in ("scores", "evidence"):
        if d.filter(pl.col(col).is_null() | ~pl.col(col).str.starts_with("{")).height:
            raise ContractError(f"{where}: {col} must be a JSON object for every decision")
    passing = d.filter(pl.col("decision") != "removed").select("doc_id")
    kept_ids = result.kept.select("doc_id")
    if kept_ids.height != passing.height or kept_ids.join(passing, on="doc_id", how="anti").height:
        raise ContractError(f"{where}: kept documents do not match the kept/modified decisions")
    if not result.kept["ord"].is_sorted():
        raise ContractError(f"{where}: kept documents must stay in input order")
    # Hashes, not the texts, are joined: this check runs on every shard of every stage.
    # Record fields join the hash only when the shard holds records of other kinds: a struct hash
    # over six all-null columns would cost every text shard of every stage for nothing.
    # (For such shards, a record field that appears on a kept document is caught by its null count,
    # which polars keeps without a scan.)
    plain = docs.height == 0 or docs["kind"].is_in(("text", "html")).all()  # kinds without record fields
    if plain and any(result.kept[c].null_count() != result.kept.height for c in _FIELDS):
        raise ContractError(f"{where}: a record field was set on a text document")
    content = pl.col("text").hash() if plain else pl.struct("text", *_FIELDS).hash()
    joined = (result.kept.select("doc_id", _after=content)
              .join(docs.select("doc_id", _before=content), on="doc_id")
              .join(d.select("doc_id", "decision", "evidence"), on="doc_id"))
    if joined.filter((pl.col("decision") == "kept") & (pl.col("_after") != pl.col("_before"))).height:
        raise ContractError(f"{where}: a document whose decision is 'kept' changed (use 'modified')")
    mod = joined.filter(pl.col("decision") == "modified")
    if mod.filter(pl.col("_after") == pl.col("_before")).height:
        raise ContractError(f"{where}: a 'modified' document did not change")
    if mod.height:
        check_edits(where, docs, result.kept, mod.select("doc_id", "evidence"))
