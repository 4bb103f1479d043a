"""Answer checking against reference answers (GSM8K-style math): the final numeric answer is
extracted from the generated response and from the reference, and compared.

Part of the `assay validate` recipe (`--reference FILE`). A record finds its reference by id, else
by its question (instruction and input, the prompt, or the last user message), whitespace- and
case-folded. Records without a reference are kept unjudged (score null). Evidence holds both
numbers and how each was found, never the text around them.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import orjson
import polars as pl

from stages.base import Inputs, Scope, StageResult, decide
from stages.options import option
from stages.synthetic import parts

_NUM = r"-?\$?\s?\d[\d,]*(?:\.\d+)?(?:\s?/\s?\d+(?:\.\d+)?)?"
# How models write a final answer, most explicit first; each takes the last such statement.
_FORMS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("hash_marker", re.compile(rf"####\s*({_NUM})")),
    ("boxed", re.compile(rf"\\boxed\{{\s*({_NUM})")),
    ("answer_is", re.compile(rf"(?i)\b(?:final answer|the answer|answer|A)\s*(?:is|:|=|would be|will be)\s*"
                             rf"(?:\*\*)?\s*(?:approximately |about |\$ ?)?({_NUM})")),
    # the last number of the sentence that opens with "therefore" ("Therefore, 5 * 3 = 15 apples")
    ("therefore", re.compile(rf"(?i)\b(?:therefore|thus|hence|in total|so the total|so),?[^\n]*?({_NUM})(?:[^\d\n]|\.(?!\d))*(?:\n|$)")),
)
_ANY_NUM = re.compile(_NUM)
_CALC = re.compile(r"<<[^<>]*>>")  # GSM8K calculator annotations: <<16-3=13>> repeats numbers already written
_KEYS_QUESTION = ("question", "instruction", "prompt", "problem", "query")
_KEYS_ANSWER = ("answer", "ground_truth", "target", "solution", "output", "final_answer")


def to_number(raw: str) -> float | None:
    s = raw.replace("$", "").replace(",", "").replace(" ", "")
    try:
        if "/" in s:
            num, den = s.split("/", 1)
            return float(num) / float(den) if float(den) else None
        return float(s)
    except ValueError:
        return None


def extract(text: str) -> tuple[float | None, str]:
    """(final numeric answer, how it was found): the canonical `#### N`, `\\boxed{N}`, "the answer
    is N" / "A: N", "therefore ... is N", else the last number in the text ("" when none)."""
    text = _CALC.sub("", text or "")
    for method, rx in _FORMS:
        found = rx.findall(text)
        if found:
            value = to_number(found[-1])
            if value is not None:
                return value, method
    nums = [n for n in (to_number(m) for m in _ANY_NUM.findall(text)) if n is not None]
    return (nums[-1], "last_number") if nums else (None, "")


def question_key(text: str) -> str:
    return " ".join(text.lower().split())


def same(a: float, b: float, tolerance: float) -> bool:
    return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)


def _records(path: Path) -> list[Any]:
    data = path.read_bytes()
    if data.lstrip().startswith(b"["):
        return orjson.loads(data)
    return [orjson.loads(line) for line in data.splitlines() if line.strip()]


def load_reference(path: Path) -> tuple[dict[str, float], dict[str, float]]:
    """({id: gold}, {question key: gold}) from a JSONL or JSON-array file (JSON only: never a pickle)."""
    by_id: dict[str, float] = {}
    by_question: dict[str, float] = {}
    for rec in _records(path):
        if not isinstance(rec, dict):
            continue
        answer = next((rec[k] for k in _KEYS_ANSWER if isinstance(rec.get(k), str | int | float)), None)
        if answer is None or isinstance(answer, bool):
            continue
        gold = float(answer) if isinstance(answer, int | float) else extract(answer)[0]
        if gold is None:
            continue
        if isinstance(rec.get("id"), str | int):
            by_id[str(rec["id"])] = gold
        question = next((rec[k] for k in _KEYS_QUESTION if isinstance(rec.get(k), str)), None)
        if question:
            by_question[question_key(question)] = gold
    return by_id, by_question


@dataclass(frozen=True)
class AnswerCheck:
    """Final-answer check of generated math solutions against reference answers (GSM8K style)."""
    name: ClassVar[str] = "answer_check"
    recipes: ClassVar[tuple[str, ...]] = ("validate",)  # not part of a plain `assay run`
    version: ClassVar[int] = 1
    reasons: ClassVar[frozenset[str]] = frozenset({"wrong_answer", "no_answer"})
    scope: ClassVar[Scope] = "document"
    reference: str | None = option(None, "JSONL or JSON file of reference answers: an id or the question (question, "
                                         "instruction or prompt) and the answer (answer, ground_truth, target or "
                                         "solution; its final number is used)", input="file")
    tolerance: float = option(1e-6, "relative (and absolute) difference within which two answers are equal",
                              role="decide", minimum=0)

    def unconfigured(self) -> str | None:
        return None if self.reference else "reference answers (assay validate --reference FILE)"

    def setup(self, inputs: Inputs) -> tuple[dict[str, float], dict[str, float]]:
        files = inputs.files.get("reference", ())
        by_id: dict[str, float] = {}
        by_question: dict[str, float] = {}
        for f in files:
            for p in f.paths:
                ids, questions = load_reference(Path(p))
                by_id.update(ids)
                by_question.update(questions)
        return by_id, by_question

    def score(self, docs: pl.DataFrame, res: Any = None) -> pl.DataFrame:
        by_id, by_question = res or ({}, {})
        gold, got, how = [], [], []
        cols = ["doc_id", "kind", "instruction", "input", "output", "messages", "prompt", "completion"]
        for r in docs.select(cols).iter_rows(named=True):
            _, _, response, prompt, _ = parts(r["kind"], r)
            g = by_id.get(r["doc_id"])
            if g is None and prompt:
                g = by_question.get(question_key(prompt))
                if g is None and r["kind"] == "instruction":
                    g = by_question.get(question_key(r["instruction"] or ""))
            value, method = extract(response) if g is not None else (None, "")
            gold.append(g)
            got.append(value)
            how.append(method or None)
        return pl.DataFrame({"doc_id": docs["doc_id"], "answer_check_gold": pl.Series(gold, dtype=pl.Float64),
                             "answer_check_extracted": pl.Series(got, dtype=pl.Float64),
                             "answer_check_method": pl.Series(how, dtype=pl.String)})

    def choose(self, scored: pl.DataFrame, res: Any = None) -> StageResult:
        gold, got = pl.col("answer_check_gold"), pl.col("answer_check_extracted")
        tol = self.tolerance
        close = ((gold - got).abs() <= pl.max_horizontal(pl.lit(tol), tol * pl.max_horizontal(gold.abs(), got.abs())))
        reason = (pl.when(gold.is_null()).then(pl.lit(None, pl.String))
                  .when(got.is_null()).then(pl.lit("no_answer"))
                  .when(~close).then(pl.lit("wrong_answer")).otherwise(pl.lit(None, pl.String)))
        names = ("answer_check_gold", "answer_check_extracted", "answer_check_method")
        return decide(scored, reason=reason, scores={k: pl.col(k) for k in names},
                      evidence={"gold": gold, "extracted": got, "method": pl.col("answer_check_method")})

    def apply(self, docs: pl.DataFrame, res: Any = None) -> StageResult:
        return self.choose(docs.join(self.score(docs, res), on="doc_id", how="left", maintain_order="left"))
