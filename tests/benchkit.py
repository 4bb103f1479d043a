"""Tiny benchmark files in each published format, with made-up items (never copies of real test sets)."""
from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

GSM8K = [
    {"question": "Mira packs 14 crates of plums every morning and sells each crate at the harbour market for 9 "
                 "dollars. How many dollars does she take home after five mornings?",
     "answer": "Each morning she makes 14 * 9 = <<14*9=126>>126 dollars.\nIn five mornings 126 * 5 = <<126*5=630>>630.\n#### 630"},
    {"question": "A lighthouse keeper climbs 88 steps twice a day for a fortnight. How many steps is that in total?",
     "answer": "Per day 88 * 2 = <<88*2=176>>176 steps.\nA fortnight is 14 days, so 176 * 14 = <<176*14=2464>>2464.\n#### 2464"},
]
MMLU = [  # question, A, B, C, D, answer
    ["Which moon of the ice giant Zandor was first charted by the Kepler-Vosk survey?", "Tethra", "Ulmo", "Brisa", "Kello", "C"],
    ["Which of the following is true?", "Quartz glows when cooled to nine kelvin", "Granite floats on mercury",
     "Basalt dissolves in cold vinegar", "Marble hums in sunlight", "B"],
    ["What is the capital of France?", "Lyon", "Paris", "Nice", "Lille", "B"],
]
ARC = [
    {"id": "Mercury_1", "question": {"stem": "Which process lets a cactus keep water in its thick stem during the dry summer months?",
                                     "choices": [{"text": "storing sap", "label": "A"}, {"text": "shedding roots", "label": "B"},
                                                 {"text": "growing bark", "label": "C"}, {"text": "making seeds", "label": "D"}]},
     "answerKey": "A"},
    {"id": "Mercury_2", "question": {"stem": "Which tool measures the mass of a river pebble?",
                                     "choices": [{"text": "a balance", "label": "1"}, {"text": "a thermometer", "label": "2"}]},
     "answerKey": "1"},
]
LAMBADA = ["the old ferryman pushed the boat away from the muddy bank and waved his cap at the children who kept "
           "shouting his name from the pier until the fog swallowed the little ferry",
           "she folded the letter twice and slid it under the blue teapot where her brother always hid his keys"]
TRUTHFUL = [{"Type": "Adversarial", "Category": "Misconceptions",
             "Question": "What happens if you whistle at a glacier in the morning?",
             "Best Answer": "Nothing in particular happens", "Correct Answers": "Nothing happens; The glacier stays put",
             "Incorrect Answers": "The glacier cracks; An avalanche starts", "Source": "https://example.org"}]


def write_all(root: Path) -> dict[str, Path]:
    """Every benchmark's published layout under `root`; returns NAME -> PATH as a user would name it."""
    out = {}
    d = root / "gsm8k"
    d.mkdir(parents=True)
    (d / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in GSM8K))
    (d / "train.jsonl").write_text(json.dumps({"question": "train only item here", "answer": "#### 1"}) + "\n")
    out["gsm8k"] = d
    d = root / "MMLU" / "test"
    d.mkdir(parents=True)
    with open(d / "astronomy_test.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(MMLU)
    out["mmlu"] = root / "MMLU"
    d = root / "ARC-Easy"
    d.mkdir()
    (d / "ARC-Easy-Test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ARC))
    (d / "ARC-Easy-Train.jsonl").write_text(json.dumps(ARC[0]) + "\n")
    (d / "ARC-Easy-Test.csv").write_text("not,read\n")
    out["arc"] = d
    d = root / "hellaswag"
    d.mkdir()
    (d / "hellaswag_val.jsonl").write_text(json.dumps({
        "ind": 4, "activity_label": "Baking", "ctx_a": "A man kneads dough on a floured table.", "ctx_b": "he",
        "ctx": "A man kneads dough on a floured table. he", "label": 2, "split": "val",
        "endings": ["paints the fence.", "sings to a cat.", "shapes the dough into a round loaf.", "flies away."]}) + "\n")
    (d / "test.jsonl").write_text(json.dumps({"question": "A girl ties her skates by the frozen pond. she",
                                              "answer": ["glides onto the ice.", "eats soup.", "reads a map.", "sleeps."]}) + "\n")
    out["hellaswag"] = d
    d = root / "lambada"
    d.mkdir()
    (d / "lambada_test_plain_text.txt").write_text("\n".join(LAMBADA) + "\n")
    (d / "lambada_control_test_data_plain_text.txt").write_text("a random control sentence from some novel\n")
    (d / "lambada-vocab-2.txt").write_text("the\nof\n")
    out["lambada"] = d
    d = root / "piqa"
    d.mkdir()
    (d / "valid.jsonl").write_text(json.dumps({"goal": "How do I keep a canvas tent dry in heavy rain?",
                                               "sol1": "Stretch a tarp above it and dig a shallow trench around the base.",
                                               "sol2": "Stretch a towel above it and pour water around the base."}) + "\n")
    (d / "valid-labels.lst").write_text("0\n")
    out["piqa"] = d
    d = root / "winogrande"
    d.mkdir()
    (d / "dev.jsonl").write_text(json.dumps({"qID": "x-1", "sentence": "The trophy would not fit into the brown suitcase "
                                             "because the _ was far too small for it.", "option1": "trophy",
                                             "option2": "suitcase", "answer": "2"}) + "\n")
    out["winogrande"] = d
    d = root / "truthfulqa"
    d.mkdir()
    with open(d / "TruthfulQA.csv", "w", newline="", encoding="utf-8-sig") as fh:
        w = csv.DictWriter(fh, fieldnames=list(TRUTHFUL[0]))
        w.writeheader()
        w.writerows(TRUTHFUL)
    out["truthfulqa"] = d / "TruthfulQA.csv"
    d = root / "boolq"
    d.mkdir()
    (d / "dev.jsonl").write_text(json.dumps({"question": "is the river vell longer than the river orna", "title": "Vell",
                                             "answer": True, "passage": "The Vell is a river in the northern uplands that "
                                             "runs for 412 kilometres before it joins the Orna, which is only 160 "
                                             "kilometres long, near the market town of Brask."}) + "\n")
    out["boolq"] = d
    d = root / "humaneval"
    d.mkdir()
    with gzip.open(d / "HumanEval.jsonl.gz", "wt") as fh:
        fh.write(json.dumps({"task_id": "HumanEval/0", "prompt": "def count_vowels(word: str) -> int:\n    \"\"\" Count the "
                             "vowels of a word.\n    >>> count_vowels('banana')\n    3\n    \"\"\"\n",
                             "canonical_solution": "    return sum(1 for c in word.lower() if c in 'aeiou')\n",
                             "test": "def check(f):\n    assert f('banana') == 3\n", "entry_point": "count_vowels"}) + "\n")
    out["humaneval"] = d
    d = root / "bbh"
    d.mkdir()
    pre = "Sort the following words alphabetically and list them separated by single spaces in one line: List: "
    (d / "word_sorting.json").write_text(json.dumps({"canary": "x", "examples": [
        {"input": pre + "zebra quince apple mango", "target": "apple mango quince zebra"},
        {"input": pre + "pear kiwi fig", "target": "fig kiwi pear"},
        {"input": pre + "lime date plum", "target": "date lime plum"},
        {"input": pre + "yam okra leek", "target": "leek okra yam"},
        {"input": pre + "corn bean rice oat", "target": "bean corn oat rice"},
        {"input": "not ( True ) and ( False ) or True is", "target": "True"}]}))
    (d / "README.md").write_text("# tasks\n")
    out["bbh"] = d
    return out
