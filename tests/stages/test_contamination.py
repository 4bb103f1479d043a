"""The contamination stage on small made-up benchmarks: every injection kind, short items, boilerplate
that must not fire, and the three policies."""
from __future__ import annotations

import json
import random
from pathlib import Path

import polars as pl
import pytest
from benchkit import write_all
from conftest import make_docs, prose

from eval.bench.contamination import KINDS, inject
from schemas.benchmarks import folder_members, load
from stages.base import FileInput, Inputs, check_result
from stages.contamination import Contamination


def inputs(specs: dict[str, Path]) -> Inputs:
    files = tuple(FileInput("benchmarks", f"{n}={p}", tuple(str(m) for m in (folder_members(p) if p.is_dir() else [p])), "-")
                  for n, p in specs.items())
    return Inputs(files={"benchmarks": files})


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> dict[str, Path]:
    return write_all(tmp_path_factory.mktemp("bench"))


@pytest.fixture(scope="module")
def res(published):
    return Contamination(benchmarks=("gsm8k=x",)).setup(inputs(published))


def run(texts: list[str], res, **opts) -> tuple[list[dict], pl.DataFrame]:
    stage = Contamination(benchmarks=("gsm8k=x",), **opts)
    docs = make_docs(texts)
    result = stage.apply(docs, res)
    check_result(stage, docs, result)
    out = [dict(r, evidence=json.loads(r["evidence"])) for r in result.decisions.to_dicts()]
    return out, result.kept


def item(published, name: str, index: int):
    return load(name, published[name])[index]


@pytest.mark.parametrize("which", [("gsm8k", 0), ("lambada", 0), ("arc", 1), ("mmlu", 0), ("truthfulqa", 0), ("boolq", 0),
                                   ("humaneval", 0), ("winogrande", 0), ("piqa", 0), ("hellaswag", 0), ("bbh", 0)])
def test_every_injection_kind_is_found(published, res, which: tuple[str, int]) -> None:
    """Each kind that applies to the item (multiple-choice format needs choices, half a passage 26 words)."""
    it = item(published, *which)
    cases = {kind: inject(kind, it, prose(7), random.Random(3)) for kind in KINDS}
    cases = {k: t for k, t in cases.items() if t is not None}
    assert {"verbatim", "case", "punctuation", "wrapped", "question_only", "embedded"} <= set(cases)
    docs, _ = run(list(cases.values()), res)
    for kind, d in zip(cases, docs, strict=True):
        assert d["decision"] == "removed" and d["reason"] == "contamination", (kind, it.item_id, cases[kind])
        assert it.item_id in [i["item_id"] for i in d["evidence"]["items"]], kind


def test_half_of_a_long_passage_is_found(published, res) -> None:
    it = item(published, "boolq", 0)
    text = inject("half_passage", it, prose(8), random.Random(1))
    (d,), _ = run([text], res)
    assert d["decision"] == "removed" and 0.2 < d["evidence"]["overlap"] < 0.7


def test_short_items_under_n_words_are_matched_whole(published, res) -> None:
    it = item(published, "arc", 1)  # "Which tool measures the mass of a river pebble?": 9 words, 5 not common
    wrapped = "Homework help\n\nwhich tool measures the\nmass of a river PEBBLE ?\n\nThanks!"
    (d, clean), _ = run([prose(1) + "\n" + wrapped, prose(1) + "\nWhich tool measures the mass of a river."], res)
    assert d["evidence"]["item_id"] == it.item_id and d["evidence"]["overlap"] == 1.0
    assert clean["decision"] == "kept"


def test_generic_short_stems_count_only_with_their_choices(published, res) -> None:
    quiz = ("Which of the following is true?\nA) Quartz glows when cooled to nine kelvin\n"
            "B) Granite floats on mercury\nC) Basalt dissolves in cold vinegar")
    docs, _ = run([prose(2) + " Which of the following is true? Nobody knows.",
                   prose(3) + " What is the capital of France? Every child knows it.",
                   prose(4) + "\n" + quiz], res)
    assert [d["decision"] for d in docs] == ["kept", "kept", "removed"]
    assert docs[2]["evidence"]["item_id"] == "mmlu/astronomy_test/1"


def test_a_template_shared_by_many_items_is_not_evidence(published, res) -> None:
    pre = "Sort the following words alphabetically and list them separated by single spaces in one line: List: "
    docs, _ = run([prose(5) + "\n" + pre + "cherry lemon grape", prose(6) + "\n" + pre + "zebra quince apple mango"], res)
    assert docs[0]["decision"] == "kept"
    assert docs[1]["decision"] == "removed" and docs[1]["evidence"]["item_id"] == "bbh/word_sorting/0"


def test_text_common_across_documents_is_not_evidence(tmp_path: Path) -> None:
    """A famous declaration quoted by an item and by many documents: the quote alone never fires, the
    item's own question still does."""
    quote = ("We hold these truths to be self-evident, that all men are created equal, that they are endowed by "
             "their Creator with certain unalienable Rights")
    path = tmp_path / "history_test.csv"
    path.write_text(f'"{quote}. The ideas in this passage were drawn most directly from which political thinker of '
                    f'the seventeenth century?",Hobbes,Locke,Paine,Burke,B\n')
    res = Contamination(benchmarks=("mmlu=x",)).setup(inputs({"mmlu": path}))
    quoting = [prose(i) + f"\n\nAs the Declaration says, {quote}." for i in range(25)]
    leaked = prose(30) + f"\n\n{quote}. The ideas in this passage were drawn most directly from which political " \
                         "thinker of the seventeenth century? Locke"
    docs, _ = run([*quoting, leaked], res)
    assert all(d["decision"] == "kept" for d in docs[:25])
    assert docs[25]["decision"] == "removed" and docs[25]["evidence"]["item_id"] == "mmlu/history_test/0"
    few, _ = run(quoting[:3] + [leaked], res, max_doc_freq=2)  # a formula or speech in more documents than allowed
    assert [d["decision"] for d in few] == ["kept", "kept", "kept", "removed"]


def test_policies_remove_excise_flag(published, res) -> None:
    it = item(published, "gsm8k", 0)
    head, tail = "Ünïcödé ﬁrst paragraph of a blog post about markets. " * 8, "\n\nClosing words of the post. " * 8
    text = head + it.question + tail
    (removed,), _ = run([text], res, policy="remove")
    assert removed["decision"] == "removed"
    (start, end), = removed["evidence"]["spans"]
    assert text[start:end] == it.question.rstrip("?")  # offsets in the original text, NFKC ligatures included
    (modified,), kept = run([text], res, policy="excise", window=10)
    assert modified["decision"] == "modified" and modified["reason"] == "contamination"
    assert modified["evidence"]["edits"] == [[start - 10, end + 10, start - 10, start - 10]]
    new = kept["text"][0]
    assert "harbour market" not in new and new.startswith(head[:-10]) and new.endswith(tail[10:])
    (flagged,), kept = run([text], res, policy="flag")
    assert flagged["decision"] == "kept" and flagged["evidence"]["item_id"] == it.item_id
    assert kept["contamination_overlap"][0] > 0.2 and kept["contamination_longest"][0] >= 20


def test_excising_everything_removes_the_document(published, res) -> None:
    it = item(published, "gsm8k", 1)
    (d,), _ = run([it.question], res, policy="excise")
    assert d["decision"] == "removed"


def test_clean_documents_score_zero_and_carry_no_evidence(res) -> None:
    docs, kept = run([prose(i) for i in range(5)], res)
    assert all(d["decision"] == "kept" and d["evidence"] == {} for d in docs)
    assert kept["contamination_items"].to_list() == [0] * 5


def test_no_benchmarks_means_unconfigured_and_nothing_found() -> None:
    stage = Contamination()
    assert "--benchmark NAME=PATH" in stage.unconfigured()
    assert Contamination(benchmarks=("arc=x",)).unconfigured() is None
    docs = make_docs([prose(1)])
    assert stage.apply(docs, stage.setup(Inputs())).decisions["decision"].to_list() == ["kept"]
