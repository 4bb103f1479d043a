"""The synthetic-data checks: each on small hand-written records, then the stage's decisions."""
from __future__ import annotations

import json

import polars as pl
import pytest
from conftest import make_docs

from stages import catalog
from stages import synthetic_checks as sc
from stages.base import check_result
from stages.synthetic import Synthetic


def records(rows: list[dict], kind: str = "instruction") -> pl.DataFrame:
    """Instruction (or chat) documents as ingest makes them; meta holds the other fields."""
    from schemas.render import render

    docs = make_docs(["x"] * len(rows), meta=[r.get("meta", {}) for r in rows])
    values = {f: [r.get(f) for r in rows] for f in ("instruction", "input", "output", "messages")}
    texts = [render(kind, {**{"input": None}, **r}) for r in rows]
    return docs.with_columns(pl.Series("text", texts), pl.lit(kind).alias("kind"),
                             *[pl.Series(f, v, dtype=docs.schema[f]) for f, v in values.items() if any(x is not None for x in v)])


@pytest.mark.parametrize("text", [
    "I'm sorry, but I can't help with that request.",
    "I cannot provide instructions for making weapons.",
    "I apologize, but I do not feel comfortable roleplaying as that person.",
    "Unfortunately, I am unable to browse the internet.",
    "I must decline to write that story.",
    "That goes against my guidelines, so here is something else.",
    "I'm afraid that's not something I can do.",
])
def test_refusals_in_many_phrasings_are_found_with_their_offset(text: str) -> None:
    found = sc.refusal(text)
    assert found is not None and text[found[1]:found[1] + len(found[0])] == found[0]


@pytest.mark.parametrize("text", [
    "I can't wait to see the results of the experiment.",
    "I cannot stress enough how important sleep is.",
    "Ethics is the study of right and wrong; illegal acts are a topic of law.",  # topic words are not refusals
    'Person 1: Can you help?\nPerson 2: I\'m sorry, but I can\'t help you today.',  # a character speaking
    'She said, "I cannot help you with that," and left.',
    "Tools such as an AI assistant can schedule meetings.",
])
def test_ordinary_text_is_not_a_refusal_or_disclosure(text: str) -> None:
    assert sc.refusal(text) is None and sc.disclosure(text) is None


@pytest.mark.parametrize("text", [
    "As an AI language model, I don't have personal opinions.",
    "As a responsible and ethical AI language model, I must say this.",
    "I don't have personal feelings, but here are some ideas.",
    "I'm just an AI, so I have no preferences.",
    "I was trained by OpenAI on data up to 2021.",
])
def test_self_disclosure(text: str) -> None:
    assert sc.disclosure(text) is not None


@pytest.mark.parametrize("text,finish,why", [
    ("Here is the code:\n```python\nprint(1)\n", None, "unclosed_code_fence"),
    ("The result is shown in the table (see the first column", None, "unclosed_bracket"),
    ("Steps:\n1. Mix the flour.\n2. Add water.\n3.", None, "cut_list"),
    ("The river rises every spring and the farmers wait for the water to reach the fields before they plant the", None, "unfinished_sentence"),
    ("A complete answer.", "length", "finish_reason_length"),
])
def test_truncation_kinds(text: str, finish: str | None, why: str) -> None:
    assert sc.truncation(text, finish) == why


@pytest.mark.parametrize("text", [
    "Tweet: Save water today! #EveryDropMatters #Sustainability",
    "def f(x):\n    return (x + 1) * 2",
    "1) first item\n2) second item",
    "Positive",
    "Roses are red\nViolets are blue",
])
def test_complete_outputs_are_not_truncated(text: str) -> None:
    assert sc.truncation(text, "stop") is None


def test_degeneration_measures_loops_and_repeated_lines() -> None:
    loop = "The answer is simple. " + "and then the model said the same thing again " * 6
    ngrams, _, tail = sc.degeneration(loop)
    assert ngrams > 0.5 and tail >= 27
    _, lines, _ = sc.degeneration("\n".join(["Buy our product now."] * 5 + ["Thanks."]))
    assert lines > 0.5
    assert sc.degeneration("A short, varied answer about rivers, gardens and comets in the valley.") == (0.0, 0.0, 0)


def test_echo_needs_similarity_and_no_new_word() -> None:
    sim, new = sc.echo("An animated gif with an astronaut sailing in a spaceship.",
                       "Generate an animated gif with an astronaut sailing in a spaceship", "Generate an animated gif with an astronaut sailing in a spaceship")
    assert new == 0 and sim is not None and sim > 0.9
    assert sc.echo("Brazil is a country in South America.", "Name a country in South America.", "Name a country in South America.") == (None, 2)  # "brazil", "is"


def test_stage_decides_each_reason_with_evidence_and_generator() -> None:
    rows = [
        {"instruction": "Write a poem about rivers.", "output": "Rivers run to the sea,\nquiet and free.", "meta": {"generator": "m1"}},
        {"instruction": "Explain how to pick a lock.", "output": "I'm sorry, but I can't help with that.", "meta": {"generator": "m2"}},
        {"instruction": "Describe your day.", "output": "As an AI language model, I do not have days.", "meta": {"generator": "m2"}},
        {"instruction": "List three fruits.", "output": "Here are three fruits:\n1. Apple\n2. Pear\n3.", "meta": {"generator": "m1"}},
        {"instruction": "Say something.", "output": "...", "meta": {}},
        {"instruction": "Generate an animated gif of a cat", "output": "An animated gif of a cat.", "meta": {"generator": "m1"}},
        {"instruction": "Tell a story.", "output": "Once upon a time. " + "The cat sat on the mat. " * 12, "meta": {"generator": "m3", "finish_reason": "stop"}},
    ]
    docs = records(rows)
    stage = Synthetic(checks=("all",), generator="fallback")
    result = stage.apply(docs)
    check_result(stage, docs, result)
    d = {r["doc_id"]: r for r in result.decisions.iter_rows(named=True)}
    reasons = [d[f"d{i}"]["reason"] for i in range(len(rows))]
    assert reasons == [None, "refusal", "self_disclosure", "truncated", "empty_output", "repeats_instruction", "degenerate"]
    ev = json.loads(d["d1"]["evidence"])
    assert ev["generator"] == "m2" and ev["refusal"] == {"phrase": "I'm sorry, but I can't", "offset": 0}
    assert json.loads(d["d4"]["evidence"])["generator"] == "fallback"  # no field: the --generator flag
    assert json.loads(d["d3"]["evidence"])["truncated"] == "cut_list"
    assert "synthetic_refusal" not in result.kept.columns and "synthetic_response_words" in result.kept.columns


def test_schema_problems_of_chat_and_text_records() -> None:
    chat = records([
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"}]},
        {"messages": [{"role": "user", "content": "Hi"}]},
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": " \u200b "}]},
    ], kind="chat")
    out = Synthetic(checks=("all",)).apply(chat).decisions["reason"].to_list()
    assert out == [None, "bad_schema", "empty_output"]
    text = make_docs(["plain web text that is not a generated record at all"])
    assert Synthetic(checks=("schema",)).apply(text).decisions["reason"].to_list() == ["bad_schema"]


def test_checks_choose_what_removes_and_unconfigured_keeps_the_stage_out_of_run() -> None:
    docs = records([{"instruction": "Do it.", "output": "I cannot do that for you."}])
    assert Synthetic(checks=("truncation",)).apply(docs).decisions["decision"].to_list() == ["kept"]
    assert Synthetic(checks=("refusal",)).apply(docs).decisions["reason"].to_list() == ["refusal"]
    assert Synthetic().unconfigured() is not None and Synthetic(checks=("all",)).unconfigured() is None
    with pytest.raises(Exception, match="unknown check"):
        catalog.build("synthetic", {"checks": ["refusals"]})
