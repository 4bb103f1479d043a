"""The contamination stage through `assay run`: --benchmark and [benchmarks], the note when none are
given, benchmark files in the step key and manifest, the ledger views, and record kinds."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from benchkit import write_all
from conftest import prose, write_jsonl

from flows.cli import main
from flows.config import run_options
from flows.plan import make_plan
from schemas.benchmarks import load


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    tmp = tmp_path_factory.mktemp("contam_run")
    published = write_all(tmp / "bench")
    arc, mmlu = load("arc", published["arc"]), load("mmlu", published["mmlu"])
    texts = [prose(i) for i in range(12)]
    texts[2] += "\n\n" + arc[0].question + "\n" + arc[0].answer
    texts[5] += "\n\nQuiz of the week: " + mmlu[0].question
    texts[8] = "Q: " + arc[1].question
    write_jsonl(tmp / "in" / "a.jsonl", [{"id": f"r{i}", "text": t} for i, t in enumerate(texts)])
    return tmp, published


def _ledger(run: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(run / "ledger.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_default_run_without_benchmarks_says_so(setup, capsys) -> None:
    tmp, _ = setup
    assert main(["run", str(tmp / "in"), "--out", str(tmp / "plain"), "--quiet"]) == 0
    assert "note: stage contamination did not run: benchmarks to look for (--benchmark NAME=PATH" in capsys.readouterr().err
    manifest = json.loads((tmp / "plain" / "manifest.json").read_text())
    assert "contamination" in [n["stage"] for n in manifest["not_configured"]]


def test_benchmark_flags_run_the_stage_and_fill_the_ledger_views(setup) -> None:
    tmp, published = setup
    run = tmp / "flags"
    assert main(["run", str(tmp / "in"), "--out", str(run), "--stages", "exact_dup,contamination", "--quiet",
                 "--benchmark", f"arc={published['arc']}", "--benchmark", f"mmlu={published['mmlu']}"]) == 0
    rows = _ledger(run, "SELECT d.input_line, c.benchmark, c.item_id, c.decision FROM contamination_items c "
                        "JOIN documents d USING (doc_id) ORDER BY 1")
    assert rows == [(3, "arc", "arc/arc-easy-test/0", "removed"), (6, "mmlu", "mmlu/astronomy_test/0", "removed"),
                    (9, "arc", "arc/arc-easy-test/1", "removed")]
    assert _ledger(run, "SELECT benchmark, items, documents, removed FROM contamination_benchmarks") == [
        ("arc", 2, 2, 2), ("mmlu", 1, 1, 1)]
    inputs = json.loads((run / "manifest.json").read_text())["inputs"]["options"]["contamination.benchmarks"]
    assert [i["given"] for i in inputs] == [f"arc={published['arc']}", f"mmlu={published['mmlu']}"]
    assert all(len(i["sha256"]) == 64 for i in inputs)


def test_toml_benchmarks_relative_to_the_config_and_files_in_the_step_key(setup, tmp_path: Path) -> None:
    tmp, published = setup
    bench = tmp_path / "conf" / "arc"
    bench.mkdir(parents=True)
    (bench / "ARC-Easy-Test.jsonl").write_bytes((published["arc"] / "ARC-Easy-Test.jsonl").read_bytes())
    cfg = tmp_path / "conf" / "assay.toml"
    cfg.write_text('stages = ["contamination"]\n[benchmarks]\narc = "arc"\n')
    opts = run_options([str(tmp / "in")], tmp_path / "run", config=cfg)
    assert opts.stage_options["contamination"]["benchmarks"] == (f"arc={bench.as_posix()}",)
    key = make_plan(opts).stages[0].key
    with open(bench / "ARC-Easy-Test.jsonl", "a") as fh:  # a changed test set is a new step
        fh.write(json.dumps({"id": "new", "question": {"stem": "Which new item?", "choices": []}, "answerKey": "A"}) + "\n")
    assert make_plan(opts).stages[0].key != key
    assert main(["run", str(tmp / "in"), "--out", str(tmp_path / "run"), "--config", str(cfg), "--quiet"]) == 0
    assert _ledger(tmp_path / "run", "SELECT count(*) FROM contamination_items") == [(2,)]


def test_bad_benchmark_names_are_usage_errors(setup, capsys) -> None:
    tmp, published = setup
    rc = main(["run", str(tmp / "in"), "--out", str(tmp / "bad"), "--benchmark", f"squad={published['arc']}"])
    err = capsys.readouterr().err
    assert rc == 2 and "unknown benchmark 'squad'" in err and len(err.strip().splitlines()) == 1
    rc = main(["run", str(tmp / "in"), "--out", str(tmp / "bad"), "--stages", "contamination"])
    assert rc == 2 and "stage 'contamination' is not configured" in capsys.readouterr().err


def test_excise_edits_the_record_field_the_item_is_in(setup, tmp_path: Path) -> None:
    _, published = setup
    gsm = load("gsm8k", published["gsm8k"])[0]
    recs = [{"instruction": "Solve this.", "input": gsm.question, "output": "The answer is 630. " + prose(1)},
            {"instruction": "Describe a river.", "output": prose(2)}]
    (tmp_path / "alpaca.json").write_text(json.dumps(recs))
    assert main(["run", str(tmp_path / "alpaca.json"), "--out", str(tmp_path / "run"), "--stages", "contamination",
                 "--quiet", "--benchmark", f"gsm8k={published['gsm8k']}", "--contamination-policy", "excise",
                 "--contamination-window", "0"]) == 0
    import polars as pl

    out = pl.read_parquet(tmp_path / "run" / "curated" / "part-00000.parquet")
    assert "harbour market" not in out["input"][0] and len(out["input"][0]) < 5
    assert out["instruction"].to_list() == ["Solve this.", "Describe a river."] and out["output"][0] == recs[0]["output"]
    assert _ledger(tmp_path / "run", "SELECT decision FROM contamination_items") == [("modified",)]
