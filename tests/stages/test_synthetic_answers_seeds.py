"""answer_check (final answers vs a reference file) and seed_overlap (ROUGE-L vs seed tasks)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_synthetic import records

from stages.answer_check import AnswerCheck, extract
from stages.base import FileInput, Inputs, check_result
from stages.seed_overlap import SeedOverlap


def _inputs(option: str, path: Path) -> Inputs:
    return Inputs(files={option: (FileInput(option, str(path), (str(path),), "0" * 64),)})


@pytest.mark.parametrize("text,value,method", [
    ("She has 3 + 4 = <<3+4=7>>7 apples.\n#### 7", 7.0, "hash_marker"),
    ("So the total is \\boxed{1,250}.", 1250.0, "boxed"),
    ("First 12, then 30. The answer is $42.50.", 42.5, "answer_is"),
    ("Janet makes 9 * 2 = <<9*2=18>>18 dollars.\nA: 18", 18.0, "answer_is"),
    ("He walks 3 miles, then 4 more. Therefore, he walks 7 miles in total.", 7.0, "therefore"),
    ("She pays 5 for one and 3 for the next, 8", 8.0, "last_number"),
    ("Each gets 3/4 of a pie, so the answer is 3/4", 0.75, "answer_is"),
    ("No numbers here.", None, ""),
])
def test_final_answer_forms(text: str, value: float | None, method: str) -> None:
    assert extract(text) == (value, method)


def test_wrong_and_missing_answers_are_removed_with_both_numbers(tmp_path: Path) -> None:
    ref = tmp_path / "gold.jsonl"
    ref.write_text("\n".join(json.dumps(r) for r in [
        {"question": "How many apples?  ", "answer": "3 + 4 = 7\n#### 7"},
        {"question": "How many pears?", "answer": "#### 10"},
        {"id": "d2", "answer": 5},
    ]))
    docs = records([
        {"instruction": "How many apples?", "output": "3 and 4 make 7.\n#### 7"},
        {"instruction": "how many  PEARS?", "output": "The answer is 12."},
        {"instruction": "Something else", "output": "I think it is about nothing."},
        {"instruction": "Unrelated question", "output": "The answer is 1."},
    ])
    stage = AnswerCheck(reference=str(ref))
    res = stage.setup(_inputs("reference", ref))
    result = stage.apply(docs, res)
    check_result(stage, docs, result)
    assert result.decisions["reason"].to_list() == [None, "wrong_answer", "no_answer", None]
    assert json.loads(result.decisions["evidence"][1]) == {"gold": 10.0, "extracted": 12.0, "method": "answer_is"}
    assert result.kept["answer_check_gold"].to_list() == [7.0, None]  # no reference: kept, unjudged
    assert AnswerCheck().unconfigured() is not None


def test_seed_overlap_equals_rouge_score_and_removes_at_threshold(tmp_path: Path) -> None:
    from rouge_score import rouge_scorer

    seeds = tmp_path / "seeds.jsonl"
    seed_texts = ["Write a short poem about the ocean at night.", "Give three tips for staying healthy."]
    seeds.write_text("\n".join(json.dumps({"id": f"seed_{i}", "instruction": t}) for i, t in enumerate(seed_texts)))
    instr = ["Write a short poem about the ocean at dawn.", "Give me three tips for staying healthy and happy.",
             "Explain how a refrigerator works."]
    docs = records([{"instruction": t, "output": "ok"} for t in instr])
    stage = SeedOverlap(seeds=str(seeds))
    result = stage.apply(docs, stage.setup(_inputs("seeds", seeds)))
    check_result(stage, docs, result)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    expected = [max(scorer.score(s, t)["rougeL"].fmeasure for s in seed_texts) for t in instr]
    got = [json.loads(s)["seed_overlap_rouge_l"] for s in result.decisions["scores"].to_list()]
    assert got == pytest.approx(expected, abs=1e-6)
    assert [r for r in result.decisions["reason"].to_list()] == ["seed_overlap" if e >= 0.7 else None for e in expected]
    assert json.loads(result.decisions["evidence"][0])["seed"] == "seed_0"
    assert SeedOverlap().unconfigured() is not None


def test_minhash_candidates_find_the_same_overlaps_as_the_exact_scan(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.jsonl"
    topics = ["rivers", "comets", "gardens", "harbours", "engines", "orchards", "valleys", "kitchens"]
    seed_texts = [f"Write a detailed report about the history of {t} in northern towns." for t in topics]
    seeds.write_text("\n".join(json.dumps({"instruction": t}) for t in seed_texts))
    instr = [t.replace("detailed", "short") for t in seed_texts] + ["Explain how a refrigerator keeps food cold."]
    docs = records([{"instruction": t, "output": "ok"} for t in instr])
    exact, approx = SeedOverlap(seeds=str(seeds)), SeedOverlap(seeds=str(seeds), exact_up_to=0)
    got = [s.apply(docs, s.setup(_inputs("seeds", seeds))).decisions for s in (exact, approx)]
    assert got[0]["reason"].to_list() == ["seed_overlap"] * 8 + [None]
    assert got[1]["reason"].to_list() == got[0]["reason"].to_list()
    assert got[1]["evidence"].to_list()[:8] == got[0]["evidence"].to_list()[:8]
