"""The release diff: added / removed / changed by id and text hash, reasons that grew or shrank, as
tables in RUN_DIR/check.duckdb that `assay sql RUN_DIR` reads next to the ledger."""
from __future__ import annotations

import json

import pytest
from conftest import prose
from gatekit import corpus, make_run, register, unregister

from flows import diff
from flows.cli import main
from flows.report import query


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    register()
    tmp = tmp_path_factory.mktemp("diff")
    prev_rows = corpus(40)
    # the new release: d001 edited, d002 and d004 gone from the input, ten new documents (some leaking)
    rows = corpus(50, extra={1: "An edited release. " + prose(1)}, drop={2, 4})
    yield {"prev": make_run(tmp, "prev", prev_rows), "run": make_run(tmp, "run", rows), "rows": rows, "prev_rows": prev_rows}
    unregister()


def _released(run) -> dict[str, str]:
    import polars as pl

    frame = pl.concat([pl.read_parquet(f) for f in sorted((run / "curated").glob("*.parquet"))], how="diagonal")
    return dict(zip(frame["id"].to_list(), frame["text"].to_list(), strict=True))


def _build(pair) -> dict:
    with diff.check_db(pair["run"]) as db:
        out = diff.build_diff(db, pair["run"], pair["prev"], json.loads((pair["run"] / "manifest.json").read_text()),
                              json.loads((pair["prev"] / "manifest.json").read_text()))
        diff.write_gates(db, [], "x", "y", 0)
    return out


def test_added_removed_changed_match_the_two_releases(pair) -> None:
    summary = _build(pair)
    new, old = _released(pair["run"]), _released(pair["prev"])
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(i for i in set(new) & set(old) if new[i] != old[i])
    assert changed == ["d001"] and {"d002", "d004"} <= set(removed) and added
    assert (summary["added"], summary["removed"], summary["changed"]) == (len(added), len(removed), len(changed))
    assert (summary["previous_documents"], summary["documents"]) == (len(old), len(new))
    cols, _, rows = query(pair["run"], "SELECT doc_id, change, final FROM diff_documents ORDER BY doc_id")
    got = {r[0]: (r[1], r[2]) for r in rows}
    assert sorted(i for i, (c, _) in got.items() if c == "added") == added
    assert got["d002"] == ("removed", "not in input") and got["d001"] == ("changed", "kept")


def test_hashes_are_sha256_of_the_released_text(pair) -> None:
    import hashlib

    _build(pair)
    _, _, rows = query(pair["run"], "SELECT previous_sha256, sha256 FROM diff_documents WHERE doc_id = 'd001'")
    new, old = _released(pair["run"]), _released(pair["prev"])
    assert rows == [(hashlib.sha256(old["d001"].encode()).hexdigest(), hashlib.sha256(new["d001"].encode()).hexdigest())]


def test_reasons_that_grew_are_listed_with_both_counts(pair) -> None:
    summary = _build(pair)
    leaks = sum("LEAK-" in r["text"] for r in pair["rows"])
    leaks_before = sum("LEAK-" in r["text"] for r in pair["prev_rows"])
    assert leaks > leaks_before
    assert ("removed", "test_contam", "contamination", leaks_before, leaks, leaks - leaks_before, "grew") in summary["reasons"]
    _, _, rows = query(pair["run"], "SELECT trend FROM diff_reasons WHERE reason = 'invalid_json'")
    assert rows == [("same",)]  # one bad line in each release


def test_sql_notes_a_check_of_an_earlier_run(pair, tmp_path, capsys) -> None:
    _build(pair)  # check_run.run_id 'x' is not the ledger's run
    assert main(["sql", str(pair["run"]), "SELECT count(*) AS n FROM gates"]) == 0
    captured = capsys.readouterr()
    assert "checked an earlier run (x)" in captured.err and "0" in captured.out


def test_check_db_is_left_untouched_when_building_fails(pair) -> None:
    _build(pair)
    before = (pair["run"] / diff.CHECK_DB).stat().st_mtime_ns
    with pytest.raises(RuntimeError), diff.check_db(pair["run"]) as db:
        db.execute("CREATE TABLE gates AS SELECT 1 AS x")
        raise RuntimeError("interrupted")
    assert (pair["run"] / diff.CHECK_DB).stat().st_mtime_ns == before
    assert not list(pair["run"].glob(".check.duckdb.tmp-*"))


@pytest.mark.slow
def test_an_id_holding_pii_is_diffed_in_its_written_form(tmp_path) -> None:
    raw = "mail-jane.doe@example.com"
    prev = make_run(tmp_path, "p", [{"id": raw, "text": prose(1)}, {"id": "b", "text": prose(2)}], stages=("exact_dup",))
    run = make_run(tmp_path, "r", [{"id": raw, "text": "Edited. " + prose(1)}, {"id": "b", "text": prose(2)}], stages=("exact_dup",))
    summary = _build({"run": run, "prev": prev})
    _, _, rows = query(run, "SELECT doc_id, change, final FROM diff_documents")
    (doc_id, change, final), = rows
    assert (summary["changed"], change, final) == (1, "changed", "kept")  # joined with the ledger's written id
    assert raw not in doc_id and "example.com" not in (run / diff.CHECK_DB).read_bytes().decode("latin-1")
