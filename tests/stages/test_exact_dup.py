"""exact_dup on tiny inline frames, with exact reasons and evidence."""
from __future__ import annotations

import json

import polars as pl
from conftest import make_docs, prose

from stages.exact_dup import ExactDup


def decisions(result) -> dict[str, tuple[str, str | None]]:
    return {r["doc_id"]: (r["decision"], r["reason"]) for r in result.decisions.iter_rows(named=True)}


def test_exact_dup_folds_case_whitespace_and_unicode_and_keeps_first() -> None:
    base = prose(1)
    docs = make_docs([prose(0), base, base.upper(), base.replace(" ", "  \n"), "ｆｕｌｌ width " + base, "full width " + base])
    r = ExactDup().apply(docs)
    assert decisions(r) == {"d0": ("kept", None), "d1": ("kept", None), "d2": ("removed", "exact_duplicate"),
                            "d3": ("removed", "exact_duplicate"), "d4": ("kept", None), "d5": ("removed", "exact_duplicate")}
    ev = {row["doc_id"]: json.loads(row["evidence"]) for row in r.decisions.iter_rows(named=True)}
    assert ev["d2"]["duplicate_of"] == "d1" and ev["d5"]["duplicate_of"] == "d4"
    assert r.kept.filter(pl.col("doc_id") == "d1")["exact_dup_copies"][0] == 3


def test_exact_dup_first_means_input_order_not_row_order() -> None:
    docs = make_docs([prose(3), prose(3)], ids=["late", "early"]).with_columns(ord=pl.Series([5, 2]))
    r = ExactDup().apply(docs.sort("ord"))
    assert decisions(r) == {"early": ("kept", None), "late": ("removed", "exact_duplicate")}


def test_exact_dup_whitespace_folding_equals_the_plain_rule() -> None:
    from stages.exact_dup import normalized

    texts = pl.Series(["a b", "a  b", "a\tb", " a \t\n b ", "a\u00a0b", "a \u2003\u2003b", "x\r\n\r\ny", "single"])
    plain = texts.str.normalize("NFKC").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
    assert normalized(texts).to_list() == plain.to_list()
