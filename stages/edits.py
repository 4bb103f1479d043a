"""Edits: how a stage changes a document. A stage never writes new text; it returns edits (character
offsets on `text` and a replacement), and these functions apply them to the text and to the record
field the text came from, and record evidence that says where the text changed and the hashes of
both versions, never the text that was replaced (it may be the PII being redacted)."""
from __future__ import annotations

import hashlib
import json

import orjson
import polars as pl

from schemas.records import RECORD_FIELD_SCHEMA
from schemas.render import EditError, apply_edits, render

EDIT = pl.Struct({"start": pl.Int64(), "end": pl.Int64(), "replacement": pl.String()})
EDITS = pl.List(EDIT)
_FIELDS = list(RECORD_FIELD_SCHEMA)


class ContractError(RuntimeError):
    """A stage returned something that breaks the contract; the run stops rather than guess."""


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


def _edit_records(docs: pl.DataFrame, edits: pl.Series) -> tuple[pl.DataFrame, pl.Series]:
    """Apply each document's edits to its text and record fields (Python, modified rows only).
    Returns the updated rows and, per row, the edit evidence as a JSON object: offsets before and
    after and both text hashes, never the replaced text."""
    rows, evidence = [], []
    for row, row_edits in zip(docs.iter_rows(named=True), edits.to_list(), strict=True):
        triples = [(e["start"], e["end"], e["replacement"]) for e in row_edits]
        try:
            new = apply_edits(row["kind"], row, triples)
        except EditError as exc:
            raise ContractError(f"document {row['doc_id']!r}: {exc}") from None
        spans, delta = [], 0
        for start, end, repl in sorted(triples):
            spans.append([start, end, start + delta, start + delta + len(repl)])
            delta += len(repl) - (end - start)
        rows.append({**row, **new})
        evidence.append(orjson.dumps({"edits": spans, "text_sha1_before": sha1(row["text"]),
                                      "text_sha1_after": sha1(new["text"])}).decode())
    updated = pl.DataFrame(rows, schema=docs.schema) if rows else docs.clear()
    return updated, pl.Series("_edit_json", evidence, dtype=pl.String)


def merge_json(base: pl.Expr, extra: pl.Expr) -> pl.Expr:
    """Two JSON-object strings merged (keys of `extra` appended); `base` where extra is null."""
    inner = extra.str.strip_prefix("{")
    return (pl.when(extra.is_null()).then(base)
            .when(base == "{}").then(extra)
            .otherwise(base.str.strip_suffix("}") + pl.lit(",") + inner))


def with_edits(docs: pl.DataFrame, edits: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """docs with edits (doc_id, edits) applied; and doc_id + edit evidence JSON of those rows."""
    todo = docs.join(edits.select("doc_id", "edits"), on="doc_id", how="inner", maintain_order="left")
    if todo.height == 0:
        return docs, pl.DataFrame(schema={"doc_id": pl.String, "_edit_json": pl.String})
    updated, ev = _edit_records(todo.drop("edits"), todo["edits"])
    cols = ["doc_id", "text", *[c for c in _FIELDS if c in docs.columns]]
    merged = (docs.join(updated.select(cols), on="doc_id", how="left", suffix="_new", maintain_order="left")
              .with_columns(pl.coalesce(f"{c}_new", c).alias(c) for c in cols[1:])
              .drop([f"{c}_new" for c in cols[1:]]))
    return merged, updated.select("doc_id").with_columns(ev)


def check_edits(where: str, docs: pl.DataFrame, kept: pl.DataFrame, mod: pl.DataFrame) -> None:
    before = dict(docs.join(mod, on="doc_id", how="semi").select("doc_id", "text").iter_rows())
    after_rows = kept.join(mod, on="doc_id", how="semi").iter_rows(named=True)
    evidence = {k: json.loads(v) for k, v in mod.iter_rows()}
    for row in after_rows:
        ev = evidence[row["doc_id"]]
        if not ev.get("edits") or "text_sha1_before" not in ev or "text_sha1_after" not in ev:
            raise ContractError(f"{where}: modified document {row['doc_id']!r} has no edit evidence (edits, text hashes)")
        if ev["text_sha1_before"] != sha1(before[row["doc_id"]]) or ev["text_sha1_after"] != sha1(row["text"]):
            raise ContractError(f"{where}: the edit evidence of {row['doc_id']!r} does not match its texts")
        if row["text"] != render(row["kind"], row):
            raise ContractError(f"{where}: modified {row['kind']} record {row['doc_id']!r}: text and fields disagree")
