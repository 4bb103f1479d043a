"""Test stages that record what the contamination and PII stages record (reason `contamination`
with evidence benchmark/item_id/overlap/spans; PII entity counts per type), and a helper that runs
a small corpus through them, so the gate, diff and report are tested without those stages."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import polars as pl
from conftest import prose, write_jsonl

from flows.execute import run_local
from flows.plan import RunOptions
from stages import catalog
from stages.base import decide

EMAIL = r"[\w.]+@[\w.]+"
PHONE = r"\+\d{2} \d{3} \d{4}"


@dataclass(frozen=True)
class Contam:
    """Removes documents quoting a benchmark item, written LEAK-<benchmark>-<item> in the text."""
    name: ClassVar[str] = "test_contam"
    version: ClassVar[int] = 1
    reasons: ClassVar[frozenset[str]] = frozenset({"contamination"})
    scope: ClassVar[str] = "document"

    def apply(self, docs: pl.DataFrame, res: Any = None) -> Any:
        bench = pl.col("text").str.extract(r"LEAK-([a-z0-9]+)-(\d+)", 1)
        hit = bench.is_not_null()
        return decide(docs, reason=pl.when(hit).then(pl.lit("contamination")),
                      scores={"test_contam_overlap": pl.when(hit).then(pl.lit(0.9)).otherwise(pl.lit(0.0))},
                      evidence={"benchmark": bench, "item_id": pl.col("text").str.extract(r"LEAK-[a-z0-9]+-(\d+)", 1),
                                "overlap": pl.when(hit).then(pl.lit(0.9)), "spans": pl.when(hit).then(pl.lit("[[0, 13]]"))})


@dataclass(frozen=True)
class Pii:
    """Masks e-mail addresses and phone numbers (a modified decision), counting them per entity type."""
    name: ClassVar[str] = "test_pii"
    version: ClassVar[int] = 1
    reasons: ClassVar[frozenset[str]] = frozenset({"pii_masked"})
    scope: ClassVar[str] = "document"

    def apply(self, docs: pl.DataFrame, res: Any = None) -> Any:
        from stages.base import EDITS

        edits = []
        for t in docs["text"].to_list():
            import re

            spans = [(m.start(), m.end(), "<EMAIL>") for m in re.finditer(EMAIL, t)]
            spans += [(m.start(), m.end(), "<PHONE>") for m in re.finditer(PHONE, t)]
            edits.append([{"start": a, "end": b, "replacement": r} for a, b, r in sorted(spans)])
        # as the pii stage records them: evidence `pii`, one {type, start, end, score, action} per span
        found = pl.Series([[{"type": "EMAIL_ADDRESS" if r == "<EMAIL>" else "PHONE_NUMBER", "start": e["start"], "end": e["end"],
                             "score": 0.9, "action": "redact"} for e in es for r in [e["replacement"]]] for es in edits],
                          dtype=pl.List(pl.Struct({"type": pl.String, "start": pl.Int64, "end": pl.Int64, "score": pl.Float64,
                                                   "action": pl.String})))
        result = decide(docs.with_columns(_found=found), reason=pl.lit(None, pl.String), evidence={"pii": pl.col("_found")},
                        edits=pl.lit(pl.Series(edits, dtype=EDITS)), edit_reason="pii_masked")
        return dataclasses.replace(result, kept=result.kept.drop("_found"))


def register() -> None:
    catalog.register(Contam)
    catalog.register(Pii)


def unregister() -> None:
    catalog.unregister(Contam.name)
    catalog.unregister(Pii.name)


def corpus(n: int = 40, extra: dict[int, str] | None = None, drop: set[int] = frozenset()) -> list[dict[str, Any]]:
    """n distinct documents (ids d000..), some leaking benchmark items or holding PII, a few too short."""
    extra = extra or {}
    rows = []
    for i in range(n):
        if i in drop:
            continue
        text = extra.get(i, prose(i))
        if i % 10 == 3:
            text += f" LEAK-gsm8k-{i}"
        if i % 10 == 7:
            text += " LEAK-mmlu-7"
        if i % 8 == 5:
            text += f" write to user{i}@example.com or call +44 123 45{i:02d}"
        if i % 13 == 12:
            text = "too short"
        rows.append({"id": f"d{i:03d}", "text": text})
    return rows


STAGES = ("exact_dup", "quality", "test_contam", "test_pii")


def make_run(tmp: Path, name: str, rows: list[dict[str, Any]], stages: tuple[str, ...] = STAGES, **kw: Any) -> Path:
    write_jsonl(tmp / f"in-{name}" / "a.jsonl", rows, raw_lines=[b"{not json\n"])
    out = tmp / name
    run_local(RunOptions(inputs=(str(tmp / f"in-{name}"),), out=out, stages=stages, progress=False, **kw))
    return out
