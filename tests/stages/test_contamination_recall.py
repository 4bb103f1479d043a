"""Copies the word index alone used to miss (eval/bench/contamination.py --misses): punctuation dropped
inside words and numbers, a generic stem with its answer right after it, a one-word PIQA goal in
multiple-choice format, items told apart only by their brackets, and an item listed twice."""
from __future__ import annotations

import csv
import json

import pytest
from conftest import prose
from test_contamination import inputs, run

from stages.contam.text import strings
from stages.contamination import Contamination

DYCK = "Complete the rest of the sequence, making sure that the parentheses are closed properly. Input: "
DYCK_ITEMS = [("[ { [", "] } ]"), ("( < ( [ < < [ ] > > ] )", "> )"), ("{ { [ { < { } > } ( ) ]", "} }"),
              ("< [ ( { } ) ] [ < > ] { [ ( ) ] }", ">"), ("[ [", "] ]"), ("{ < { { [ ] } }", "> }")]  # > 4: a template
BOOLEAN = [("( False ) and not False and True is", "False"), ("False and not ( False ) and True is", "True"),
           ("( False and not False ) and True is", "False")]
SPORTS = 'Is the following sentence plausible? "Marta Vesk bowled a perfect googly in the final."'


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    root = tmp_path_factory.mktemp("recall")
    mmlu = root / "MMLU"
    mmlu.mkdir()
    with open(mmlu / "physics_test.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([
            ["Force equals mass times what?", "Velocity", "Distance", "Acceleration", "Weight", "C"],
            ["What is the capital of France?", "Lyon", "Paris", "Nice", "Lille", "B"],
            ["How far past Zandor's outer moon did the U.S. probe travel, in gigametres?", "142.76", "9.1", "3", "77", "A"],
            ["Find the quotient of 2.16 ÷ 0.06 by long division.", "3.6", "36", "0.36", "360", "B"]])
    piqa = root / "piqa"
    piqa.mkdir()
    (piqa / "valid.jsonl").write_text(json.dumps({"goal": "soap", "sol1": "can clean mold", "sol2": "can clean a car"}) + "\n")
    (piqa / "valid-labels.lst").write_text("1\n")
    bbh = root / "bbh"
    bbh.mkdir()
    for task, examples in (("dyck_languages", [(DYCK + i, t) for i, t in DYCK_ITEMS]), ("boolean_expressions", BOOLEAN),
                           ("sports_understanding", [(SPORTS, "no"), (SPORTS, "no")])):
        (bbh / f"{task}.json").write_text(json.dumps({"examples": [{"input": i, "target": t} for i, t in examples]}))
    return Contamination(benchmarks=("mmlu=x",)).setup(inputs({"mmlu": mmlu, "piqa": piqa, "bbh": bbh}))


def decided(texts: list[str], res) -> list[tuple[str, list[str]]]:
    docs, _ = run([prose(k) + "\n\n" + t + "\n\n" + prose(k + 50, 40) for k, t in enumerate(texts)], res)
    return [(d["decision"], [i["item_id"] for i in d["evidence"].get("items", [])]) for d in docs]


def test_punctuation_inside_words_and_numbers_folds_both_ways() -> None:
    def same(a: str, b: str) -> bool:
        return strings([a]).tok.tolist() == strings([b]).tok.tolist()

    assert same("Earth's rotation", "Earths rotation") and same("Earth's rotation", "Earth , s rotation")
    assert same("the U.S. probe", "the US probe") and same("Earth\n's", "Earths")
    assert same("doesn\u2019t fit", "doesnt fit") and same("you'll see", "you ll see")
    assert not same("Earth's", "Earth") and not same("2.16", "216")  # numbers: both spellings are indexed


def test_an_item_whose_punctuation_was_dropped_is_found(res) -> None:
    got = decided(["How far past Zandors outer moon did the US probe travel in gigametres",
                   "How far past Zandor , s outer moon did the U . S . probe travel... in gigametres ?"], res)
    assert got == [("removed", ["mmlu/physics_test/2"])] * 2


def test_numbers_copied_with_or_without_their_punctuation(res) -> None:
    got = decided(["Find the quotient of 216 ÷ 006 by long division", "Find the quotient of 2 , 16 ÷ 006 by long division",
                   "find the quotient of 2...16 ÷ 0 06 by long division", "Find the quotient of 2.16 ÷ 0.06 by long division."], res)
    assert got == [("removed", ["mmlu/physics_test/3"])] * 4


def test_a_generic_stem_counts_with_its_correct_answer_right_after_it(res) -> None:
    got = decided(["Force equals mass times what?\nAcceleration",
                   "Force equals mass times what? Answer: acceleration.",
                   "Force equals mass times what? Velocity",  # a wrong answer
                   "Force equals mass times what? " + prose(9, 30) + " acceleration",  # the answer far away
                   "What is the capital of France?\nParis"], res)  # too common to be evidence
    assert got == [("removed", ["mmlu/physics_test/0"])] * 2 + [("kept", [])] * 3


def test_a_one_word_goal_in_multiple_choice_format(res) -> None:
    got = decided(["Question: soap\nA. can clean mold\nB. can clean a car\nAnswer: B",
                   "Mops can clean mold. Hoses can clean a car."], res)  # the choices without the goal
    assert got == [("removed", ["piqa/valid/0"]), ("kept", [])]


def test_items_told_apart_only_by_their_brackets(res) -> None:
    mangled = (DYCK + DYCK_ITEMS[3][0]).replace("(", "...").replace(")", " , ")
    got = decided([DYCK + DYCK_ITEMS[1][0] + "\n" + DYCK_ITEMS[1][1],
                   "COMPLETE THE REST OF THE SEQUENCE MAKING SURE THAT THE\nPARENTHESES ARE CLOSED PROPERLY INPUT " + DYCK_ITEMS[2][0],
                   mangled,  # round brackets dropped: the other symbols still tell it apart
                   " ".join((DYCK + DYCK_ITEMS[3][0]).split()[:23]),  # cut short after 8 of its symbols
                   DYCK + "< > < > [ ]",  # the task sentence with brackets of no item
                   BOOLEAN[1][0],  # the expression alone, without its answer
                   ], res)
    assert got == [("removed", ["bbh/dyck_languages/1"]), ("removed", ["bbh/dyck_languages/2"]),
                   ("removed", ["bbh/dyck_languages/3"]), ("removed", ["bbh/dyck_languages/3"]), ("kept", []),
                   ("removed", ["bbh/boolean_expressions/1"])]


def test_an_item_listed_twice_is_still_specific(res) -> None:
    """The same stem with the same answer twice is one item, not a generic question."""
    assert decided([SPORTS], res) == [("removed", ["bbh/sports_understanding/0", "bbh/sports_understanding/1"])]


def test_a_generic_stem_without_anything_after_it_is_kept(res) -> None:
    assert decided(["Force equals mass times what? Nobody in the class could say.", "( False ) and True is"], res) == \
        [("kept", [])] * 2
