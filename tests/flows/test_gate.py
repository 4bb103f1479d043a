"""The release gate: policy parsing (unknown keys, warn_ twins, tables) and every gate evaluated on
a real small run whose contamination and PII decisions come from registered test stages."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import prose
from gatekit import corpus, make_run, register, unregister

from flows import gate
from flows.report import connect


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    register()
    tmp = tmp_path_factory.mktemp("gate")
    rows = corpus(40)
    prev_rows = corpus(50)
    yield {"rows": rows, "prev": make_run(tmp, "prev", prev_rows), "run": make_run(tmp, "run", rows), "tmp": tmp}
    unregister()


def _eval(run: Path, policy: str, previous: Path | None = None) -> dict[str, gate.Result]:
    con = connect(run)
    prev = connect(previous) if previous else None
    try:
        return {r.name: r for r in gate.evaluate(con, gate.parse_policy(policy), prev)}
    finally:
        con.close()
        if prev:
            prev.close()


def _released(run: Path) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(f) for f in sorted((run / "curated").glob("part-*.parquet"))], how="diagonal")


def test_unknown_keys_and_bad_values_are_policy_errors() -> None:
    with pytest.raises(gate.PolicyError, match="unknown key 'max_removd_rate'.*known: min_documents"):
        gate.parse_policy("max_removd_rate = 0.1")
    with pytest.raises(gate.PolicyError, match="unknown key 'warn_min_docs'"):
        gate.parse_policy("warn_min_docs = 3")
    with pytest.raises(gate.PolicyError, match="not valid TOML"):
        gate.parse_policy("min_documents = ")
    with pytest.raises(gate.PolicyError, match="max_quarantine_rate accepts a number >= 0; got 'high'"):
        gate.parse_policy("max_quarantine_rate = 'high'")
    with pytest.raises(gate.PolicyError, match="unknown key 'median'.*p0 .. p100"):
        gate.parse_policy("[min_quality_score]\nscore = 'quality.quality_words'\nmedian = 3")
    with pytest.raises(gate.PolicyError, match="score = \"STAGE.SCORE\""):
        gate.parse_policy("[min_quality_score]\np10 = 3")
    with pytest.raises(gate.PolicyError, match="required_stages accepts a list of stage names"):
        gate.parse_policy("required_stages = 'quality'")


def test_warn_twins_and_tables_parse_into_one_gate_per_part() -> None:
    gates = gate.parse_policy("min_documents = 5\nwarn_min_documents = 50\n"
                              "[max_removed_rate]\noverall = 0.5\nexact_duplicate = 0.1\n")
    assert [(g.key, g.part, g.level, g.threshold) for g in gates] == [
        ("min_documents", "", "fail", 5), ("min_documents", "", "warn", 50),
        ("max_removed_rate", "overall", "fail", 0.5), ("max_removed_rate", "exact_duplicate", "fail", 0.1)]


def test_counts_rates_and_examples_follow_the_ledger(runs) -> None:
    run, rows = runs["run"], runs["rows"]
    released = _released(run)
    r = _eval(run, "min_documents = 1\nwarn_min_documents = 1000000\nmax_quarantine_rate = 0.5\n"
                   "max_removed_rate = {overall = 0.9, contamination = 0.01}\n")
    assert r["min_documents"].value == released.height and r["min_documents"].status == "pass"
    assert r["warn_min_documents"].status == "warn" and r["warn_min_documents"].level == "warn"
    assert r["max_quarantine_rate"].value == pytest.approx(1 / (len(rows) + 1))  # one bad JSON line per input
    leaked = sorted(x["id"] for x in rows if "LEAK-" in x["text"])
    entered = len(rows)  # every JSON record became a document
    assert r["max_removed_rate[contamination]"].value == pytest.approx(len(leaked) / entered)
    assert r["max_removed_rate[contamination]"].status == "fail"
    assert r["max_removed_rate[contamination]"].examples == leaked[:3]
    assert r["max_removed_rate[overall]"].value == pytest.approx((entered - released.height) / entered)
    assert gate.exit_code(list(r.values())) == 1


def test_contamination_per_benchmark_and_pii_per_entity_type(runs) -> None:
    run, rows = runs["run"], runs["rows"]
    mmlu = sorted(x["id"] for x in rows if "LEAK-mmlu" in x["text"])
    emails = sorted(x["id"] for x in rows if "@" in x["text"] and "LEAK-" not in x["text"])  # leaked ones left earlier
    r = _eval(run, f"max_contaminated_documents = {{mmlu = {len(mmlu)}, gsm8k = 0}}\n"
                   f"warn_max_pii_documents = {{EMAIL_ADDRESS = {len(emails) - 1}, PHONE_NUMBER = {len(emails)}, CREDIT_CARD = 0}}\n")
    assert r["max_contaminated_documents[mmlu]"].value == len(mmlu) and r["max_contaminated_documents[mmlu]"].status == "pass"
    assert r["max_contaminated_documents[gsm8k]"].status == "fail" and r["max_contaminated_documents[gsm8k]"].value > 0
    pii = r["warn_max_pii_documents[EMAIL_ADDRESS]"]
    assert (pii.value, pii.status, pii.examples) == (len(emails), "warn", emails[:3])
    assert r["warn_max_pii_documents[PHONE_NUMBER]"].status == "pass"
    assert r["warn_max_pii_documents[CREDIT_CARD]"].value == 0


def test_quality_percentile_equals_numpy_on_the_released_scores(runs) -> None:
    run = runs["run"]
    words = _released(run)["quality_words"].to_numpy()
    r = _eval(run, "[min_quality_score]\nscore = 'quality.quality_words'\np10 = 1\np50 = 1000000\n")
    assert r["min_quality_score[quality.quality_words:p10]"].value == pytest.approx(np.percentile(words, 10))
    assert r["min_quality_score[quality.quality_words:p10]"].status == "pass"
    low = r["min_quality_score[quality.quality_words:p50]"]
    assert low.status == "fail" and low.value == pytest.approx(np.percentile(words, 50))
    ids = _released(run).sort(["quality_words", "id"])["id"].to_list()
    assert low.examples == ids[:3]


def test_required_stages_and_shrink_against_the_previous_release(runs) -> None:
    run, prev = runs["run"], runs["prev"]
    r = _eval(run, "required_stages = ['quality', 'near_dup']\nmax_shrink_vs_previous = 0.01\n"
                   "warn_max_shrink_vs_previous = 0.5\n", previous=prev)
    assert r["required_stages[quality]"].status == "pass"
    assert r["required_stages[near_dup]"].status == "fail" and r["required_stages[near_dup]"].value == "did not run"
    before, after = _released(prev).height, _released(run).height
    assert after < before
    assert r["max_shrink_vs_previous"].value == pytest.approx((before - after) / before)
    assert r["max_shrink_vs_previous"].status == "fail" and r["warn_max_shrink_vs_previous"].status == "pass"


def test_gates_that_cannot_be_evaluated_are_errors(runs) -> None:
    run = runs["run"]
    with pytest.raises(gate.GateError, match="needs the previous release: give --against"):
        _eval(run, "max_shrink_vs_previous = 0.1")
    with pytest.raises(gate.GateError, match="no stage declares reason 'contaminaton'"):
        _eval(run, "max_removed_rate = {contaminaton = 0.1}")
    with pytest.raises(gate.GateError, match="needs near_dup run against the previous release"):
        _eval(run, "max_new_near_duplicates_of_previous = 0")
    with pytest.raises(gate.GateError, match="stage 'fasttext_quality' did not run"):
        _eval(run, "min_quality_score = {score = 'fasttext_quality.fasttext_quality_score', p10 = 0.1}")


def test_new_near_duplicates_of_the_previous_release(runs) -> None:
    tmp = runs["tmp"]
    base = [{"id": f"p{i}", "text": prose(i)} for i in range(8)]
    prev = make_run(tmp, "nd-prev", base, stages=("near_dup",))
    copy = prose(3).replace("grown", "grwn", 1)  # a near-copy of a shipped document
    run = make_run(tmp, "nd-run", [{"id": "n1", "text": copy}, {"id": "n2", "text": prose(20)}], stages=("near_dup",),
                   stage_options={"near_dup": {"against": (str(prev),)}})
    r = _eval(run, "max_new_near_duplicates_of_previous = 0\nwarn_max_new_near_duplicates_of_previous = 5\n")
    got = r["max_new_near_duplicates_of_previous"]
    assert (got.value, got.status, got.examples) == (1, "fail", ["n1"])
    assert r["warn_max_new_near_duplicates_of_previous"].status == "pass"
