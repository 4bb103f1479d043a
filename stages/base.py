"""The stage contract.

A stage is a frozen dataclass: its fields are its configuration (hashable, serialisable, part of the
cache key together with `version`). `apply` is pure: it takes a frame of documents and returns a
StageResult. It never reads the ledger, never writes files and never decides what conservation
means; the runner checks every result (see `check_result`) so that a buggy stage fails the run
instead of losing documents.

Scoring is separate from deciding: a stage adds its scores as columns named `<stage>_<score>` to
the documents it keeps (later stages and users can use them, e.g. a near-dup keep policy on the
quality score) and records them as JSON in the decision of every document, kept or removed.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import polars as pl

from schemas import DECISION_SCHEMA, DECISIONS, DOCUMENT_SCHEMA, check_schema

Scope = Literal["document", "corpus"]


@dataclass(frozen=True)
class StageResult:
    kept: pl.DataFrame  # documents that go on; text is the changed one where the decision is 'modified'
    decisions: pl.DataFrame  # DECISION_SCHEMA, exactly one row per input document
    stats: Mapping[str, Any] = field(default_factory=dict)
    # Frames the runner persists under RUN_DIR/index/<stage>/<name>.parquet (e.g. near-dup
    # signatures that a later release reads with --against). Keeps `apply` free of file I/O.
    artifacts: Mapping[str, pl.DataFrame] = field(default_factory=dict)


@dataclass(frozen=True)
class Judgement:
    """What a corpus stage decides from per-document features alone (see `ShardedStage`)."""
    decisions: pl.DataFrame  # DECISION_SCHEMA, one row per document
    columns: pl.DataFrame  # doc_id + the score columns to add to kept documents
    stats: Mapping[str, Any] = field(default_factory=dict)
    artifacts: Mapping[str, pl.DataFrame] = field(default_factory=dict)


@runtime_checkable
class ShardedStage(Protocol):
    """A corpus stage that never needs every document's text at once. The runner calls `features`
    shard by shard (pure: documents in, a compact frame with `doc_id` out) and writes them to
    Parquet; `judge` reads them lazily, plus the documents lazily for the few texts it must see
    (e.g. candidate pairs to verify), and returns the decisions; the runner then splits each shard.
    Such a stage's `apply` is `split(docs, judge(features(docs), docs))`, so both paths agree."""

    def features(self, docs: pl.DataFrame) -> pl.DataFrame: ...

    def judge(self, features: pl.LazyFrame, docs: pl.LazyFrame) -> Judgement: ...


def split(docs: pl.DataFrame, judgement: Judgement) -> StageResult:
    """One shard's StageResult from a corpus-wide judgement (joined by doc_id, never by position)."""
    decisions = docs.select("doc_id").join(judgement.decisions, on="doc_id", how="left", maintain_order="left")
    passing = decisions.filter(pl.col("decision") != "removed").select("doc_id")
    kept = (docs.join(passing, on="doc_id", how="semi", maintain_order="left")
            .join(judgement.columns, on="doc_id", how="left", maintain_order="left"))
    return StageResult(kept=kept, decisions=decisions, stats=judgement.stats, artifacts=judgement.artifacts)


@runtime_checkable
class Stage(Protocol):
    name: ClassVar[str]
    version: ClassVar[int]
    reasons: ClassVar[frozenset[str]]
    # 'document': each document is judged alone, so the runner may apply it shard by shard.
    # 'corpus': the decision depends on other documents (deduplication); such a stage must also be a
    # ShardedStage, so that the runner never holds every document's text at once.
    scope: ClassVar[Scope]

    def apply(self, docs: pl.DataFrame) -> StageResult: ...


class ConfigError(KeyError):
    """A stage name, option or referenced column the user got wrong: a usage error, not a bug."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ContractError(RuntimeError):
    """A stage returned something that breaks the contract; the run stops rather than guess."""


def stage_config(stage: Stage) -> dict[str, Any]:
    return {f.name: _plain(getattr(stage, f.name)) for f in dataclasses.fields(stage)}


def stage_key(stage: Stage) -> str:
    """Hash of name, version and config: what a cached stage output is keyed on."""
    blob = json.dumps({"name": stage.name, "version": stage.version, "config": stage_config(stage)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    return value


def json_object(columns: Mapping[str, pl.Expr] | None) -> pl.Expr:
    """A JSON-object column built from named expressions ('{}' when there are none)."""
    if not columns:
        return pl.lit("{}")
    return pl.struct(**dict(columns)).struct.json_encode()


def decide(
    docs: pl.DataFrame,
    reason: pl.Expr,
    scores: Mapping[str, pl.Expr] | None = None,
    evidence: Mapping[str, pl.Expr] | None = None,
    stats: Mapping[str, Any] | None = None,
    artifacts: Mapping[str, pl.DataFrame] | None = None,
) -> StageResult:
    """Split `docs` into kept and removed by `reason` (null = keep) and build the decisions.

    `scores` become columns on the kept documents and JSON in every decision; `evidence` is
    recorded in the decision only (it may reference other documents, e.g. `duplicate_of`).
    """
    scores = dict(scores or {})
    scored = docs.with_columns(**scores, _reason=reason)
    decisions = scored.select(
        "doc_id",
        decision=pl.when(pl.col("_reason").is_null()).then(pl.lit("kept")).otherwise(pl.lit("removed")),
        reason=pl.col("_reason").cast(pl.String),
        scores=json_object({k: pl.col(k) for k in scores}),
        evidence=json_object(evidence),
    )
    kept = scored.filter(pl.col("_reason").is_null()).drop("_reason")
    counts = decisions.group_by("reason").len().drop_nulls("reason").sort("reason")
    out_stats = {"removed_by_reason": dict(zip(counts["reason"].to_list(), counts["len"].to_list(), strict=True))}
    out_stats.update(stats or {})
    return StageResult(kept=kept, decisions=decisions, stats=out_stats, artifacts=dict(artifacts or {}))


def check_result(stage: Stage, docs: pl.DataFrame, result: StageResult) -> None:
    """The runner's check of one stage result: schemas, conservation, declared reasons."""
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
    removed = d.filter(pl.col("decision") == "removed")
    undeclared = removed.filter(pl.col("reason").is_null() | ~pl.col("reason").is_in(sorted(stage.reasons)))
    if undeclared.height:
        raise ContractError(f"{where}: removal reason {undeclared['reason'][0]!r} is not declared in {sorted(stage.reasons)}")
    if d.filter((pl.col("decision") == "kept") & pl.col("reason").is_not_null()).height:
        raise ContractError(f"{where}: a kept document carries a reason")
    for col in ("scores", "evidence"):
        if d.filter(pl.col(col).is_null() | ~pl.col(col).str.starts_with("{")).height:
            raise ContractError(f"{where}: {col} must be a JSON object for every decision")
    passing = d.filter(pl.col("decision") != "removed").select("doc_id")
    kept_ids = result.kept.select("doc_id")
    if kept_ids.height != passing.height or kept_ids.join(passing, on="doc_id", how="anti").height:
        raise ContractError(f"{where}: kept documents do not match the kept/modified decisions")
    # Hashes, not the texts, are joined: this check runs on every shard of every stage.
    before = docs.select("doc_id", _before=pl.col("text").hash())
    joined = result.kept.select("doc_id", _after=pl.col("text").hash()).join(before, on="doc_id").join(d.select("doc_id", "decision"), on="doc_id")
    if joined.filter((pl.col("decision") == "kept") & (pl.col("_after") != pl.col("_before"))).height:
        raise ContractError(f"{where}: text changed on a document whose decision is 'kept' (use 'modified')")
    if not result.kept["ord"].is_sorted():
        raise ContractError(f"{where}: kept documents must stay in input order")
