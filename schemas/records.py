"""Polars schemas for documents, per-stage decisions and quarantined records.

Documents may carry extra columns (stage scores); the columns named here are the ones every stage
can rely on and must hand on unchanged in type.
"""
from __future__ import annotations

import polars as pl

# The record kinds ingest reads. Every kind keeps its own fields as typed columns (null for other
# kinds) and gets `text`, a canonical rendering that text stages read (see schemas/render.py).
# `html`: a web page (WARC response, HTML file, or a record's `html` field); its `text` is the page's
# HTML until the `extract` stage replaces it with the main text (so it has no column of its own).
RECORD_KINDS = ("text", "instruction", "chat", "prompt_completion", "html")
MESSAGE = pl.Struct({"role": pl.String(), "content": pl.String()})
# Content fields per kind, in rendering order; `text` is its own field for plain text records.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "text": ("text",),
    "instruction": ("instruction", "input", "output"),
    "chat": ("messages",),
    "prompt_completion": ("prompt", "completion"),
    "html": ("html",),  # the input field it is read from; the HTML itself is held in `text`
}
RECORD_FIELD_SCHEMA: dict[str, pl.DataType] = {
    "instruction": pl.String(),
    "input": pl.String(),
    "output": pl.String(),
    "messages": pl.List(MESSAGE),
    "prompt": pl.String(),
    "completion": pl.String(),
}

# One row per document still in play. `ord` is the global input order (file order, then line), so
# that "first seen" means the same thing on every shard layout and every rerun.
DOCUMENT_SCHEMA: dict[str, pl.DataType] = {
    "doc_id": pl.String(),
    "ord": pl.Int64(),
    "text": pl.String(),
    "kind": pl.String(),
    "source": pl.String(),
    "input_file": pl.String(),
    "input_line": pl.Int64(),
    "meta": pl.String(),  # JSON object of the input record's other fields
    **RECORD_FIELD_SCHEMA,
}

# kept: passes unchanged; modified: passes with changed text (evidence holds the changed offsets
# and the before/after hashes, never the text); removed: leaves the corpus with a declared reason.
DECISIONS = ("kept", "modified", "removed")

# One row per stage per document that entered the stage. scores/evidence are JSON objects (text)
# so that every stage, present and future, fits one table; DuckDB reads them as JSON.
DECISION_SCHEMA: dict[str, pl.DataType] = {
    "doc_id": pl.String(),
    "decision": pl.String(),
    "reason": pl.String(),
    "scores": pl.String(),
    "evidence": pl.String(),
}

# One row per input record that could not become a document, or per file-level problem
# (input_line null, doc_id null) such as an empty file.
QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "doc_id": pl.String(),
    "input_file": pl.String(),
    "input_line": pl.Int64(),
    "reason": pl.String(),
    "detail": pl.String(),
    "excerpt": pl.String(),
}


class SchemaError(ValueError):
    pass


def check_schema(frame: pl.DataFrame, schema: dict[str, pl.DataType], where: str, exact: bool = False) -> None:
    """Fail loudly when a frame lacks a column or carries it with another type."""
    got = frame.schema
    for name, dtype in schema.items():
        if name not in got:
            raise SchemaError(f"{where}: column {name!r} is missing")
        if got[name] != dtype and got[name] != pl.Null():
            raise SchemaError(f"{where}: column {name!r} is {got[name]}, expected {dtype}")
    if exact:
        extra = sorted(set(got) - set(schema))
        if extra:
            raise SchemaError(f"{where}: unexpected columns {extra}")


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)
