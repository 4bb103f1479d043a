"""The contract itself: decide() with removals and edits, split() with edits, and check_result()
catching every way a stage could lose or silently change a document."""
from __future__ import annotations

import json

import polars as pl
import pytest
from conftest import make_docs, prose

from stages.base import EDITS, ContractError, StageResult, check_result, decide, judgement, sha1, split


class Redact:
    name = "redact"
    version = 1
    reasons = frozenset({"digits_redacted", "too_short"})
    scope = "document"


def digit_edits() -> pl.Expr:
    """Every run of digits -> '<N>', as a list of {start, end, replacement} in characters."""
    return pl.col("text").map_elements(
        lambda t: [{"start": m.start(), "end": m.end(), "replacement": "<N>"} for m in __import__("re").finditer(r"\d+", t)],
        return_dtype=EDITS)


def test_decide_modifies_removes_and_keeps_with_evidence() -> None:
    docs = make_docs(["call 555 now or 12", "no digits here at all", "x 9"])
    result = decide(docs, reason=pl.when(pl.col("text").str.len_chars() < 5).then(pl.lit("too_short")),
                    edits=digit_edits(), edit_reason="digits_redacted")
    check_result(Redact(), docs, result)
    assert result.decisions["decision"].to_list() == ["modified", "kept", "removed"]
    assert result.decisions["reason"].to_list() == ["digits_redacted", None, "too_short"]
    assert result.kept["text"].to_list() == ["call <N> now or <N>", "no digits here at all"]
    ev = json.loads(result.decisions["evidence"][0])
    # [start, end) before and after; never the replaced text
    assert ev["edits"] == [[5, 8, 5, 8], [16, 18, 16, 19]]
    assert ev["text_sha1_before"] == sha1("call 555 now or 12") and ev["text_sha1_after"] == sha1("call <N> now or <N>")
    assert "555" not in result.decisions["evidence"][0]
    assert result.stats["modified"] == 1 and result.stats["removed_by_reason"] == {"too_short": 1}


def test_edit_of_instruction_record_lands_in_its_field() -> None:
    docs = make_docs(["placeholder"]).with_columns(
        kind=pl.lit("instruction"), instruction=pl.lit("Add 2 and 3."), input=pl.lit(""), output=pl.lit("The sum is 5."),
        text=pl.lit("Add 2 and 3.\n\nThe sum is 5."))
    result = decide(docs, reason=pl.lit(None, pl.String), edits=digit_edits(), edit_reason="digits_redacted")
    check_result(Redact(), docs, result)
    row = result.kept.row(0, named=True)
    assert (row["instruction"], row["output"]) == ("Add <N> and <N>.", "The sum is <N>.")
    assert row["text"] == "Add <N> and <N>.\n\nThe sum is <N>."


def test_edit_of_chat_record_changes_one_message() -> None:
    msgs = [{"role": "user", "content": "my pin is 1234"}, {"role": "assistant", "content": "noted"}]
    docs = make_docs(["x"]).with_columns(kind=pl.lit("chat"), text=pl.lit("my pin is 1234\n\nnoted"),
                                         messages=pl.Series([msgs], dtype=pl.List(pl.Struct({"role": pl.String, "content": pl.String}))))
    result = decide(docs, reason=pl.lit(None, pl.String), edits=digit_edits(), edit_reason="digits_redacted")
    check_result(Redact(), docs, result)
    assert result.kept["messages"].to_list()[0] == [{"role": "user", "content": "my pin is <N>"}, {"role": "assistant", "content": "noted"}]


def test_edit_across_a_field_boundary_is_a_contract_error() -> None:
    docs = make_docs(["x"]).with_columns(kind=pl.lit("prompt_completion"), prompt=pl.lit("ab"), completion=pl.lit("cd"),
                                         text=pl.lit("ab\n\ncd"))
    across = pl.lit([{"start": 1, "end": 5, "replacement": ""}], dtype=EDITS)
    with pytest.raises(ContractError, match="crosses a field boundary"):
        decide(docs, reason=pl.lit(None, pl.String), edits=across, edit_reason="digits_redacted")


def test_split_applies_a_corpus_judgement_with_edits() -> None:
    docs = make_docs(["keep 1", "drop", "plain"], ids=["a", "b", "c"])
    features = docs.select("doc_id", "text")  # a judge sees features, never the shard's documents
    j = judgement(features, reason=pl.when(pl.col("doc_id") == "b").then(pl.lit("too_short")),
                  edits=digit_edits(), edit_reason="digits_redacted")
    assert j.edits is not None and j.edits["doc_id"].to_list() == ["a"]
    result = split(docs, j)
    check_result(Redact(), docs, result)
    assert result.kept["text"].to_list() == ["keep <N>", "plain"]
    assert json.loads(result.decisions["evidence"][0])["text_sha1_after"] == sha1("keep <N>")


def _modified(docs: pl.DataFrame) -> StageResult:
    return decide(docs, reason=pl.lit(None, pl.String), edits=digit_edits(), edit_reason="digits_redacted")


def test_check_catches_a_modified_document_that_did_not_change() -> None:
    docs = make_docs(["a 1", "b"])
    good = _modified(docs)
    claims = good.decisions.with_columns(decision=pl.lit("modified"), reason=pl.lit("digits_redacted"))
    with pytest.raises(ContractError, match="did not change"):
        check_result(Redact(), docs, StageResult(good.kept, claims))


def test_check_catches_a_kept_document_that_changed() -> None:
    docs = make_docs(["a 1", "b"])
    good = _modified(docs)
    silent = good.decisions.with_columns(decision=pl.lit("kept"), reason=pl.lit(None, pl.String))
    with pytest.raises(ContractError, match="'kept' changed"):
        check_result(Redact(), docs, StageResult(good.kept, silent))


def test_check_catches_a_changed_record_field_on_a_kept_document() -> None:
    docs = make_docs(["a"]).with_columns(kind=pl.lit("prompt_completion"), prompt=pl.lit("a"), completion=pl.lit("b"))
    good = decide(docs, reason=pl.lit(None, pl.String))
    tampered = good.kept.with_columns(completion=pl.lit("changed"))
    with pytest.raises(ContractError, match="'kept' changed"):
        check_result(Redact(), docs, StageResult(tampered, good.decisions))


def test_check_catches_modified_without_evidence_or_with_wrong_hashes() -> None:
    docs = make_docs(["a 1"])
    good = _modified(docs)
    bare = good.decisions.with_columns(evidence=pl.lit("{}"))
    with pytest.raises(ContractError, match="no edit evidence"):
        check_result(Redact(), docs, StageResult(good.kept, bare))
    wrong = good.decisions.with_columns(evidence=pl.lit(json.dumps({"edits": [[2, 3, 2, 5]], "text_sha1_before": "0", "text_sha1_after": "0"})))
    with pytest.raises(ContractError, match="does not match"):
        check_result(Redact(), docs, StageResult(good.kept, wrong))


def test_check_catches_undeclared_modify_reason() -> None:
    docs = make_docs(["a 1"])
    result = decide(docs, reason=pl.lit(None, pl.String), edits=digit_edits(), edit_reason="not_declared")
    with pytest.raises(ContractError, match="not declared"):
        check_result(Redact(), docs, result)


def test_check_catches_lost_document_and_kept_removed_mismatch() -> None:
    docs = make_docs([prose(0), prose(1)])
    good = decide(docs, reason=pl.lit(None, pl.String))
    with pytest.raises(ContractError, match="decisions for 2 documents"):
        check_result(Redact(), docs, StageResult(good.kept.head(1), good.decisions.head(1)))
    removes = decide(docs, reason=pl.when(pl.col("ord") == 1).then(pl.lit("too_short")))
    with pytest.raises(ContractError, match="do not match"):
        check_result(Redact(), docs, StageResult(docs, removes.decisions))


def test_check_catches_a_record_field_set_on_a_text_document() -> None:
    docs = make_docs(["plain text"])
    good = decide(docs, reason=pl.lit(None, pl.String))
    tampered = good.kept.with_columns(output=pl.lit("smuggled"))
    with pytest.raises(ContractError, match="record field was set on a text document"):
        check_result(Redact(), docs, StageResult(tampered, good.decisions))
