"""PII: detect e-mail addresses, phone numbers, credit cards, IBANs, US SSNs, IP addresses, crypto
wallets and URLs (PERSON and LOCATION too with `ner_model`, an installed spaCy model), and apply a
policy per entity type: redact (typed placeholder, a `modified` decision with the edit offsets),
remove the document, or keep and count.

The engine is presidio's, offline, behind a prefilter (stages/pii_engine). Scoring finds every span
at or above the engine's floor; choosing applies the per-type thresholds and policies, so a changed
threshold or policy re-decides without rescanning. The ledger holds entity types, offsets, scores and
the action taken, never a detected value: `pii_entities` (a view) counts them per type.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import polars as pl

from stages.base import EDITS, Scope, StageResult, decide
from stages.options import option
from stages.pii_engine.engine import BASE_ENTITIES, NER_ENTITIES, PLACEHOLDERS, Detector, Span, check_ner_model, detector, resolve

ACTIONS = ("redact", "remove", "count")
DEFAULT_POLICY = {t: "redact" for t in PLACEHOLDERS} | {"URL": "count"}
SPANS = pl.List(pl.Struct({"type": pl.String(), "start": pl.Int64(), "end": pl.Int64(), "score": pl.Float64()}))
FOUND = pl.List(pl.Struct({"type": pl.String(), "start": pl.Int64(), "end": pl.Int64(), "score": pl.Float64(),
                           "action": pl.String()}))


def _per_doc(frame: pl.DataFrame, flat: dict[str, list[Any]], dtype: pl.DataType, **column: pl.Expr) -> pl.DataFrame:
    """`frame` + one list column built from flat rows (`_i` = row number): no per-row Python objects
    for the many documents with nothing found."""
    (name, expr), = column.items()
    if not flat["_i"]:
        return frame.with_columns(pl.lit([], dtype=dtype).alias(name))
    lists = (pl.DataFrame(flat).group_by("_i", maintain_order=True).agg(expr.alias(name))
             .with_columns(pl.col("_i").cast(pl.UInt32)))
    return (frame.with_row_index("_i").join(lists, on="_i", how="left", maintain_order="left")
            .with_columns(pl.col(name).fill_null(pl.lit([], dtype=dtype)).cast(dtype)).drop("_i"))


def _pairs(items: tuple[str, ...]) -> list[tuple[str, str]]:
    """'TYPE=value' items; a single item may hold several, comma-separated (as a flag's value)."""
    out = []
    for item in items:
        for part in filter(None, (p.strip() for p in item.split(","))):
            name, sep, value = part.partition("=")
            out.append((name.strip().upper(), value.strip() if sep else ""))
    return out


def _check_policy(items: tuple[str, ...]) -> str | None:
    for name, value in _pairs(items):
        if name not in PLACEHOLDERS:
            return f"unknown entity type {name!r} (known: {', '.join(PLACEHOLDERS)})"
        if value not in ACTIONS:
            return f"{name}={value!r}: the action must be one of {', '.join(ACTIONS)}"
    return None


def _check_thresholds(items: tuple[str, ...]) -> str | None:
    for name, value in _pairs(items):
        if name not in PLACEHOLDERS:
            return f"unknown entity type {name!r} (known: {', '.join(PLACEHOLDERS)})"
        try:
            ok = 0.0 <= float(value) <= 1.0
        except ValueError:
            ok = False
        if not ok:
            return f"{name}={value!r}: a threshold is a number in [0, 1]"
    return None


@dataclass(frozen=True)
class Pii:
    name: ClassVar[str] = "pii"
    version: ClassVar[int] = 1
    reasons: ClassVar[frozenset[str]] = frozenset({"contains_pii", "pii_redacted"})
    scope: ClassVar[Scope] = "document"
    ledger_views: ClassVar[dict[str, str]] = {
        "pii_entities": "SELECT e->>'type' AS entity_type, e->>'action' AS action, count(*) AS spans, "
                        "count(DISTINCT doc_id) AS documents, round(avg((e->>'score')::DOUBLE), 3) AS mean_score "
                        "FROM (SELECT doc_id, unnest(from_json(evidence->'pii', '[\"JSON\"]')) AS e FROM decisions "
                        "WHERE stage = '{stage}') GROUP BY ALL ORDER BY entity_type, action",
    }
    policy: tuple[str, ...] = option((), "TYPE=redact|remove|count per entity type, e.g. EMAIL_ADDRESS=remove "
                                     "(default: redact every type but URL, which is counted)", role="decide",
                                     check=_check_policy)
    thresholds: tuple[str, ...] = option((), "TYPE=score: the score a span of that type needs (default 0.5 each)",
                                         role="decide", check=_check_thresholds)
    ner_model: str | None = option(None, "an installed spaCy model (e.g. en_core_web_lg) to find PERSON and LOCATION too")

    def __post_init__(self) -> None:
        if self.ner_model:
            check_ner_model(self.ner_model)  # a ValueError: a usage error naming the option

    def actions(self) -> dict[str, str]:
        return DEFAULT_POLICY | dict(_pairs(self.policy))

    def threshold_map(self) -> dict[str, float]:
        return {name: float(v) for name, v in _pairs(self.thresholds)}

    def setup(self, inputs: Any = None) -> Detector:
        return detector(self.ner_model)

    def score(self, docs: pl.DataFrame, res: Any = None) -> pl.DataFrame:
        """doc_id + pii_spans: every span at or above the engine's floor (a list, empty for most)."""
        texts = docs["text"].to_list()
        flat: dict[str, list[Any]] = {"_i": [], "type": [], "start": [], "end": [], "score": []}
        for i, spans in enumerate((res or self.setup()).detect(texts)):
            for sp in spans:
                if "\n\n" not in texts[i][sp.start:sp.end]:  # never across the fields of a record
                    for k, v in zip(("_i", "type", "start", "end", "score"), (i, *sp), strict=True):
                        flat[k].append(v)
        return _per_doc(docs.select("doc_id"), flat, pii_spans=pl.struct("type", "start", "end", "score"), dtype=SPANS)

    def choose(self, scored: pl.DataFrame, res: Any = None) -> StageResult:
        actions, th = self.actions(), self.threshold_map()
        types = BASE_ENTITIES + (NER_ENTITIES if self.ner_model else ())
        flat: dict[str, list[Any]] = {"_i": [], "type": [], "start": [], "end": [], "score": [], "action": []}
        rows = scored["pii_spans"]
        hits = rows.list.len().fill_null(0).gt(0).arg_true().to_list()
        for i, spans in zip(hits, rows.gather(hits).to_list(), strict=True):
            for sp in resolve([Span(**x) for x in spans], th):
                for k, v in zip(flat, (i, *sp, actions[sp.type]), strict=True):
                    flat[k].append(v)
        found = _per_doc(scored.drop("pii_spans"), flat, _found=pl.struct("type", "start", "end", "score", "action"), dtype=FOUND)
        frame = (found.with_columns(_found=pl.col("_found").fill_null(pl.lit([], dtype=FOUND)))
                 .with_columns(**{f"pii_{t.lower()}": pl.col("_found").list.eval(pl.element().struct.field("type") == t).list.sum()
                                  .cast(pl.Int64) for t in types}))
        edit = pl.struct(start=pl.element().struct.field("start"), end=pl.element().struct.field("end"),
                         replacement=pl.element().struct.field("type").replace_strict(PLACEHOLDERS, return_dtype=pl.String))
        frame = frame.with_columns(_edits=pl.col("_found").list.filter(pl.element().struct.field("action") == "redact")
                                   .list.eval(edit).cast(EDITS))
        remove = pl.col("_found").list.eval(pl.element().struct.field("action") == "remove").list.any()
        return self._decide(frame, remove, types)

    def _decide(self, frame: pl.DataFrame, remove: pl.Expr, types: tuple[str, ...]) -> StageResult:
        result = decide(frame, reason=pl.when(remove).then(pl.lit("contains_pii")).otherwise(pl.lit(None, pl.String)),
                        scores={f"pii_{t.lower()}": pl.col(f"pii_{t.lower()}") for t in types},
                        evidence={"pii": pl.col("_found")}, edits=pl.col("_edits"), edit_reason="pii_redacted")
        kept = result.kept.drop("_found", "_edits", strict=False)
        return StageResult(kept=kept, decisions=result.decisions, stats=result.stats, artifacts=result.artifacts)

    def apply(self, docs: pl.DataFrame, res: Any = None) -> StageResult:
        return self.choose(docs.join(self.score(docs, res), on="doc_id", how="left", maintain_order="left"), res)
