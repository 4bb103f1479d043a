"""`assay validate` end to end on small generated data: the recipe through the runner and ledger,
counts per generator, the report, and the policy gate's exit code."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from conftest import write_jsonl

from flows.cli import main
from flows.plan import RunOptions, make_plan

GOOD = ["Rivers carry water from the mountains to the sea, shaping valleys on the way.",
        "A balanced breakfast has protein, fibre and some fruit to keep you going until lunch.",
        "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen in green leaves.",
        "To stay focused, split work into short blocks and take a brief walk between them."]


def _data(tmp: Path) -> tuple[Path, Path, Path]:
    recs = [{"instruction": f"Question number {i}: tell me something useful about topic {i}.", "output": GOOD[i % 4] + f" ({i})",
             "generator": "model-a" if i % 2 else "model-b"} for i in range(8)]
    recs += [
        {"instruction": "Explain how to pick a lock.", "output": "I'm sorry, but I can't help with that.", "generator": "model-a"},
        {"instruction": "What is your favourite food?", "output": "As an AI language model, I do not eat food.", "generator": "model-a"},
        {"instruction": "Write a short poem about the ocean at night.", "output": "Waves whisper softly under the silver moon.", "generator": "model-b"},
        {"instruction": "Tom has 3 apples and buys 4 more. How many apples does he have?", "output": "3 + 4 = 8.\n#### 8", "generator": "model-b"},
        {"instruction": "Name three colours.", "output": "Red, green and", "finish_reason": "length"},
    ]
    data = write_jsonl(tmp / "in" / "gen.jsonl", recs)
    seeds = write_jsonl(tmp / "seeds.jsonl", [{"id": "seed_ocean", "instruction": "Write a short poem about the ocean at night."}])
    gold = write_jsonl(tmp / "gold.jsonl", [{"question": "Tom has 3 apples and buys 4 more. How many apples does he have?",
                                             "answer": "#### 7"}])
    return data, seeds, gold


def test_validate_runs_the_recipe_and_reports_per_generator(tmp_path: Path, capsys) -> None:
    data, seeds, gold = _data(tmp_path)
    out = tmp_path / "run"
    code = main(["validate", str(data), "--out", str(out), "--seeds", str(seeds), "--reference", str(gold),
                 "--generator", "unnamed", "--quiet"])
    assert code == 0, capsys.readouterr().err
    with duckdb.connect(str(out / "ledger.duckdb"), read_only=True) as con:
        reasons = dict(con.execute("SELECT final_reason, count(*) FROM documents WHERE final != 'kept' GROUP BY 1").fetchall())
        by_gen = dict(con.execute("SELECT g.generator, count(*) FROM documents d JOIN generators g USING (doc_id) "
                                  "WHERE d.final = 'removed' GROUP BY 1").fetchall())
        stages = [r[0] for r in con.execute("SELECT stage FROM stages ORDER BY position").fetchall()]
    assert reasons == {"refusal": 1, "self_disclosure": 1, "seed_overlap": 1, "wrong_answer": 1, "truncated": 1}
    assert by_gen == {"model-a": 2, "model-b": 2, "unnamed": 1}
    assert stages[:3] == ["synthetic", "answer_check", "seed_overlap"] and "near_dup" in stages
    summary = json.loads((out / "validation.json").read_text())
    assert summary["generators"]["model-a"]["by_reason"] == {"refusal": 1, "self_disclosure": 1}
    md = (out / "validation.md").read_text()
    assert "| wrong_answer | 1 |" in md and "I'm sorry, but I can't" in md and "distinct-2" in md
    assert "<table" in (out / "validation.html").read_text()


def test_policy_gate_fails_naming_the_gate(tmp_path: Path, capsys) -> None:
    data, _, _ = _data(tmp_path)
    policy = tmp_path / "policy.toml"
    policy.write_text("[gates]\nmax_refusal_rate = 0.01\nmin_distinct_1 = 0.0\nper_generator = true\n")
    assert main(["validate", str(data), "--out", str(tmp_path / "run"), "--policy", str(policy), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "policy gate failed: max_refusal_rate: refusal rate 0.0769 > 0.01" in err
    assert "(generator model-a)" in err and "(generator model-b)" not in err
    policy.write_text("max_refusal_rate = 0.5\n")
    assert main(["validate", str(data), "--out", str(tmp_path / "run"), "--policy", str(policy), "--quiet"]) == 0


def test_bad_policy_is_a_usage_error_before_any_work(tmp_path: Path, capsys) -> None:
    data, _, _ = _data(tmp_path)
    policy = tmp_path / "policy.toml"
    policy.write_text("max_refusals = 0.1\n")
    assert main(["validate", str(data), "--out", str(tmp_path / "run"), "--policy", str(policy)]) == 2
    assert "unknown gate 'max_refusals'" in capsys.readouterr().err and not (tmp_path / "run").exists()
    policy.write_text("max_refusals_rate = 0.1\n")  # a misspelt reason would never fail
    assert main(["validate", str(data), "--out", str(tmp_path / "run"), "--policy", str(policy)]) == 2
    assert "gate 'max_refusals_rate' names no reason" in capsys.readouterr().err


def test_a_plain_run_leaves_the_validation_stages_out(tmp_path: Path) -> None:
    data, _, _ = _data(tmp_path)
    plan = make_plan(RunOptions(inputs=(str(data),), out=tmp_path / "run", progress=False))
    ran = [s.name for s in plan.stages]
    assert not {"synthetic", "answer_check", "seed_overlap"} & set(ran)
    # they belong to the validate recipe: not even a "did not run" note on a plain run
    assert not {"synthetic", "answer_check", "seed_overlap"} & {name for name, _ in plan.not_configured}
    named = make_plan(RunOptions(inputs=(str(data),), out=tmp_path / "run", progress=False, stages=("synthetic",),
                                 stage_options={"synthetic": {"checks": ["all"]}}))
    assert [s.name for s in named.stages] == ["synthetic"]


@pytest.mark.slow
def test_validate_real_alpaca_with_seeds(shared_data: Path, tmp_path: Path) -> None:
    alpaca = shared_data / "synthetic" / "alpaca"
    out = tmp_path / "run"
    assert main(["validate", str(alpaca / "alpaca_5000.json"), "--out", str(out), "--seeds",
                 str(alpaca / "seed_tasks.jsonl"), "--quiet"]) == 0
    s = json.loads((out / "validation.json").read_text())
    assert s["records"] == 5000 and s["flagged_rate"] < 0.01  # Alpaca's outputs are mostly ordinary


def test_report_examples_are_masked() -> None:
    from flows.validate_report import mask

    text = "Mail jane.doe@example.com or call +1 (555) 123-4567, see https://x.io/a and ping @jdoe. " + "word " * 60
    out = mask(text)
    assert "<EMAIL>" in out and "<PHONE>" in out and "<URL>" in out and "<HANDLE>" in out
    assert "jane" not in out and "555" not in out and len(out) <= 161


def test_contamination_joins_the_recipe_when_benchmarks_are_given(tmp_path: Path) -> None:
    question = "A baker sells 12 loaves every morning and 7 every evening. How many loaves does she sell in a week?"
    recs = [{"instruction": question, "output": "12 + 7 = 19 a day, 19 * 7 = 133.\n#### 133", "generator": "g"},
            {"instruction": "Write a haiku about the first snow of winter.", "output": "Soft white silence falls.", "generator": "g"}]
    data = write_jsonl(tmp_path / "in" / "gen.jsonl", recs)
    bench = write_jsonl(tmp_path / "gsm8k_test.jsonl", [{"question": question, "answer": "#### 133"}])
    out = tmp_path / "run"
    assert main(["validate", str(data), "--out", str(out), "--benchmark", f"gsm8k={bench}", "--quiet"]) == 0
    summary = json.loads((out / "validation.json").read_text())
    assert summary["by_reason"] == {"contamination": 1}
