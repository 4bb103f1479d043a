"""Checks of LLM-generated instruction, chat and prompt/completion records: schema, empty outputs,
outputs that repeat the instruction, truncation, refusals, model self-disclosure and degeneration.

Part of the `assay validate` recipe. Every check is scored for every record (scores and evidence in
the ledger, kept records too); the first check a record fails, in the order of CHECKS, is its
reason. Evidence names the generator model (a record field, else --synthetic-generator, else the
record's source), the response field and, for phrases, the matched phrase and its character offset
in that field. No text of the record is stored beyond the matched phrase.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
import polars as pl

from stages import synthetic_checks as sc
from stages.base import Scope, StageResult, decide
from stages.options import option

# check -> reason, in precedence order: a refusal that is also short is a refusal, not a truncation.
CHECKS = {
    "schema": "bad_schema",
    "empty": "empty_output",
    "refusal": "refusal",
    "self_disclosure": "self_disclosure",
    "truncation": "truncated",
    "degenerate": "degenerate",
    "echo": "repeats_instruction",
}
_FINISH_KEYS = ("finish_reason", "stop_reason")
_PHRASE = pl.Struct({"phrase": pl.String(), "offset": pl.Int64()})
SCORE_SCHEMA: dict[str, pl.DataType] = {
    "synthetic_generator": pl.String(), "synthetic_field": pl.String(), "synthetic_schema": pl.String(),
    "synthetic_response_words": pl.Int64(), "synthetic_prompt_words": pl.Int64(), "synthetic_empty": pl.Boolean(),
    "synthetic_echo": pl.Float64(), "synthetic_new_words": pl.Int64(), "synthetic_truncated": pl.String(), "synthetic_refusal": _PHRASE,
    "synthetic_disclosure": _PHRASE, "synthetic_repeated_ngrams": pl.Float64(),
    "synthetic_repeated_lines": pl.Float64(), "synthetic_loop_words": pl.Int64(),
}
# Carried to the evidence, not to the curated documents' columns.
_EVIDENCE_ONLY = ("synthetic_generator", "synthetic_field", "synthetic_refusal", "synthetic_disclosure")


def _check_names(value: tuple[str, ...]) -> str | None:
    bad = [v for v in value if v not in CHECKS and v != "all"]
    return f"unknown check(s) {bad}; known: all, {', '.join(CHECKS)}" if bad else None


def parts(kind: str, row: dict[str, Any]) -> tuple[str | None, str, str, str, str | None]:
    """(schema problem, response field, response, prompt, instruction) of one record."""
    if kind == "instruction":
        inst = row["instruction"] or ""
        prompt = inst + ("\n\n" + row["input"] if row.get("input") else "")
        return None, "output", row["output"] or "", prompt, inst
    if kind == "prompt_completion":
        return None, "completion", row["completion"] or "", row["prompt"] or "", row["prompt"] or ""
    if kind == "chat":
        msgs = row["messages"] or []
        last = max((i for i, m in enumerate(msgs) if m["role"] == "assistant"), default=None)
        if last is None:
            return "chat record without an assistant message", "messages", "", "", ""
        user = next((m["content"] for m in reversed(msgs[:last]) if m["role"] == "user"), "")
        problem = None if last == len(msgs) - 1 else "chat record does not end with the assistant's message"
        return problem, f"messages[{last}]", msgs[last]["content"] or "", user, user
    return f"a {kind} record, not an instruction, chat or prompt/completion record", "text", "", "", ""


@dataclass(frozen=True)
class Synthetic:
    """Schema, empty output, echo, truncation, refusal, self-disclosure and degeneration checks of generated records."""
    name: ClassVar[str] = "synthetic"
    recipes: ClassVar[tuple[str, ...]] = ("validate",)  # not part of a plain `assay run`
    version: ClassVar[int] = 1
    reasons: ClassVar[frozenset[str]] = frozenset(CHECKS.values())
    scope: ClassVar[Scope] = "document"
    ledger_views: ClassVar[dict[str, str]] = {
        "generators": "SELECT doc_id, evidence->>'generator' AS generator FROM decisions WHERE stage = '{stage}'"}
    checks: tuple[str, ...] = option((), f"checks to run: all, or some of {', '.join(CHECKS)} (none: the stage is "
                                         "left out of a plain 'assay run'; 'assay validate' runs all)",
                                     check=_check_names, role="decide")
    generator_field: str = option("generator", "record field naming the model that generated the record")
    generator: str | None = option(None, "generator name for records without that field (default: the record's source)")
    max_echo: float = option(0.8, "similarity to the instruction (or input) at which an output that adds no new word merely repeats it",
                             role="decide", minimum=0, maximum=1)
    max_repeated_ngrams: float = option(0.5, "largest fraction of repeated word 3-grams (outputs of 20+ words)",
                                        role="decide", minimum=0, maximum=1)
    max_repeated_lines: float = option(0.5, "largest fraction of lines repeating an earlier line (4+ lines)",
                                       role="decide", minimum=0, maximum=1)
    max_loop_words: int = option(30, "most words a back-to-back repetition at the end of an output may cover",
                                 role="decide", minimum=1)

    def unconfigured(self) -> str | None:
        if self.checks:
            return None
        return "checks of generated records: run 'assay validate', or name them (--synthetic-checks all)"

    def enabled(self) -> tuple[str, ...]:
        return tuple(CHECKS) if "all" in self.checks else tuple(c for c in CHECKS if c in self.checks)

    def score(self, docs: pl.DataFrame, res: Any = None) -> pl.DataFrame:
        cols = ["kind", "meta", "source", "instruction", "input", "output", "messages", "prompt", "completion"]
        rows = [self._score_row(r) for r in docs.select(cols).iter_rows(named=True)]
        frame = pl.DataFrame(rows, schema=SCORE_SCHEMA, orient="row") if rows else pl.DataFrame(schema=SCORE_SCHEMA)
        return frame.insert_column(0, docs["doc_id"])

    def _score_row(self, r: dict[str, Any]) -> tuple[Any, ...]:
        meta = orjson.loads(r["meta"]) if r["meta"] else {}
        meta = meta if isinstance(meta, dict) else {}
        gen = meta.get(self.generator_field)
        generator = str(gen) if isinstance(gen, str | int | float) and str(gen) else (self.generator or r["source"])
        finish = next((meta[k] for k in _FINISH_KEYS if isinstance(meta.get(k), str)), None)
        problem, field, response, prompt, inst = parts(r["kind"], r)
        ref, dis = sc.refusal(response), sc.disclosure(response)
        ngrams, lines, loop = sc.degeneration(response)
        return (generator, field, problem, len(response.split()), len(prompt.split()),
                problem is None and sc.empty(response), *sc.echo(response, prompt, inst or ""),
                sc.truncation(response, finish) if response.strip() else None,
                None if ref is None else {"phrase": ref[0], "offset": ref[1]},
                None if dis is None else {"phrase": dis[0], "offset": dis[1]}, ngrams, lines, loop)

    def _fails(self) -> dict[str, pl.Expr]:
        c = pl.col
        return {
            "schema": c("synthetic_schema").is_not_null(),
            "empty": c("synthetic_empty"),
            "refusal": c("synthetic_refusal").is_not_null(),
            "self_disclosure": c("synthetic_disclosure").is_not_null(),
            "truncation": c("synthetic_truncated").is_not_null(),
            "degenerate": (c("synthetic_repeated_ngrams") > self.max_repeated_ngrams)
            | (c("synthetic_repeated_lines") > self.max_repeated_lines) | (c("synthetic_loop_words") > self.max_loop_words),
            # similar to the prompt and adding no word of its own
            "echo": (c("synthetic_echo") >= self.max_echo) & (c("synthetic_new_words") == 0),
        }

    def choose(self, scored: pl.DataFrame, res: Any = None) -> StageResult:
        fails = self._fails()
        on = self.enabled()
        reason = pl.lit(None, pl.String)
        for check in reversed(on):
            reason = pl.when(fails[check]).then(pl.lit(CHECKS[check])).otherwise(reason)
        flagged = [pl.when(fails[k]).then(pl.lit(k)) for k in on]
        c = pl.col
        evidence = {
            "generator": c("synthetic_generator"), "field": c("synthetic_field"),
            # every enabled check the record fails, not only the first: a refusal may be truncated too
            "failed": pl.concat_list(flagged).list.drop_nulls() if flagged else pl.lit([], pl.List(pl.String)),
            "schema_problem": c("synthetic_schema"), "truncated": c("synthetic_truncated"),
            "refusal": c("synthetic_refusal"), "self_disclosure": c("synthetic_disclosure"),
        }
        score_cols = [k for k in SCORE_SCHEMA if k not in _EVIDENCE_ONLY]
        result = decide(scored, reason=reason, scores={k: c(k) for k in score_cols}, evidence=evidence)
        return dataclasses.replace(result, kept=result.kept.drop(_EVIDENCE_ONLY))

    def apply(self, docs: pl.DataFrame, res: Any = None) -> StageResult:
        return self.choose(docs.join(self.score(docs), on="doc_id", how="left", maintain_order="left"))
