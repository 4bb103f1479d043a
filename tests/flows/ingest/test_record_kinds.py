"""Record kinds: detection per file, typed columns and canonical text from JSONL and Parquet, ShareGPT
mapping, forced kinds, field_map, and each bad shape quarantined with its own reason (ingestkit
checks conservation file by file on every call)."""
from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from conftest import write_jsonl
from ingestkit import ingest

from flows.ingest.config import IngestConfig
from schemas.records import MESSAGE
from schemas.render import content_id
from stages.options import ConfigError, coerce

CHAT = {"id": "c1", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"},
                                 {"role": "assistant", "content": "Hello."}], "lang": "en"}
SHAREGPT = {"id": "s1", "conversations": [{"from": "human", "value": "2+2?"}, {"from": "gpt", "value": "4", "weight": 1}]}
ALPACA = {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5", "text": "### Instruction: ..."}
PAIR = {"prompt": "The capital of France is", "completion": " Paris.", "id": "p1"}
NULL_FIELDS = {"instruction": None, "input": None, "output": None, "messages": None, "prompt": None, "completion": None}


def test_chat_records_keep_typed_messages_and_render_their_contents(tmp_path: Path) -> None:
    doc = ingest(write_jsonl(tmp_path / "chat.jsonl", [CHAT])).doc("c1")
    assert doc["kind"] == "chat" and doc["text"] == "Be brief.\n\nHi?\n\nHello."
    assert doc["messages"] == CHAT["messages"] and json.loads(doc["meta"]) == {"lang": "en"}
    assert {k: doc[k] for k in NULL_FIELDS if k != "messages"} == {k: None for k in NULL_FIELDS if k != "messages"}


def test_sharegpt_conversations_are_mapped_to_roles(tmp_path: Path) -> None:
    doc = ingest(write_jsonl(tmp_path / "sg.jsonl", [SHAREGPT])).doc("s1")
    assert doc["kind"] == "chat" and doc["text"] == "2+2?\n\n4"
    assert doc["messages"] == [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]
    assert json.loads(doc["meta"]) == {"message_fields": [{}, {"weight": 1}]}  # nothing of the input is lost


@pytest.mark.parametrize("given,role", [("developer", "system"), ("function", "tool"), ("observation", "tool"),
                                        ("tool", "tool"), ("user", "user")])
def test_role_aliases(tmp_path: Path, given: str, role: str) -> None:
    rec = {"messages": [{"role": given, "content": "x"}, {"role": "assistant", "content": "y"}]}
    docs = ingest(write_jsonl(tmp_path / "c.jsonl", [rec])).docs
    assert docs["messages"][0].to_list()[0] == {"role": role, "content": "x"}


def test_instruction_records_detected_before_their_rendered_text_field(tmp_path: Path) -> None:
    no_input = {"instruction": "Say hi.", "output": "Hi!"}
    got = ingest(write_jsonl(tmp_path / "alpaca.jsonl", [ALPACA, no_input]))
    a, b = got.docs.rows(named=True)
    assert (a["kind"], a["instruction"], a["input"], a["output"]) == ("instruction", "Add the numbers.", "2 and 3", "5")
    assert a["text"] == "Add the numbers.\n\n2 and 3\n\n5" and json.loads(a["meta"]) == {"text": "### Instruction: ..."}
    assert (b["input"], b["text"]) == (None, "Say hi.\n\nHi!")
    assert a["doc_id"] == content_id("instruction", ALPACA) and b["doc_id"] == content_id("instruction", no_input)


def test_prompt_completion_records(tmp_path: Path) -> None:
    doc = ingest(write_jsonl(tmp_path / "pc.jsonl", [PAIR])).doc("p1")
    assert (doc["kind"], doc["prompt"], doc["completion"]) == ("prompt_completion", "The capital of France is", " Paris.")
    assert doc["text"] == "The capital of France is\n\n Paris." and doc["messages"] is None


def test_every_kind_from_parquet_with_nested_messages(tmp_path: Path) -> None:
    pl.DataFrame({"id": ["c1"], "messages": [CHAT["messages"]]},
                 schema={"id": pl.String, "messages": pl.List(MESSAGE)}).write_parquet(tmp_path / "chat.parquet")
    pl.DataFrame({"conversations": [SHAREGPT["conversations"][:1] + [{"from": "gpt", "value": "4", "weight": None}]]}
                 ).write_parquet(tmp_path / "sharegpt.parquet")
    pl.DataFrame([ALPACA]).write_parquet(tmp_path / "alpaca.parquet")
    pl.DataFrame([PAIR]).write_parquet(tmp_path / "pc.parquet")
    got = ingest(*sorted(tmp_path.iterdir()))
    by_file = {r["input_file"]: r for r in got.docs.rows(named=True)}
    assert {n: r["kind"] for n, r in by_file.items()} == {"alpaca.parquet": "instruction", "chat.parquet": "chat",
                                                           "pc.parquet": "prompt_completion", "sharegpt.parquet": "chat"}
    assert by_file["chat.parquet"]["messages"] == CHAT["messages"]
    assert by_file["sharegpt.parquet"]["messages"] == [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]
    assert json.loads(by_file["sharegpt.parquet"]["meta"]) == {}  # a struct field that is null is no extra
    assert by_file["alpaca.parquet"]["text"] == "Add the numbers.\n\n2 and 3\n\n5"
    assert by_file["pc.parquet"]["completion"] == " Paris." and by_file["pc.parquet"]["doc_id"] == "p1"
    assert got.docs.schema["messages"] == pl.List(MESSAGE)


def test_text_ids_that_would_be_all_digits_run_to_their_first_letter(tmp_path: Path) -> None:
    got = ingest(write_jsonl(tmp_path / "a.jsonl", [{"text": "doc 4330"}, {"text": "doc 4330"}, {"text": "abc"}]))
    assert got.docs["doc_id"].to_list() == ["50528283119509417e", "50528283119509417e-2", "a9993e364706816a"]


def test_content_id_covers_every_content_field_and_role(tmp_path: Path) -> None:
    other_output = ALPACA | {"output": "6"}
    same_content_other_meta = ALPACA | {"text": "another rendering"}
    got = ingest(write_jsonl(tmp_path / "a.jsonl", [ALPACA, other_output, same_content_other_meta]))
    base = content_id("instruction", ALPACA)
    assert got.docs["doc_id"].to_list() == [base, content_id("instruction", other_output), f"{base}-2"]
    swapped = {"messages": [{"role": "assistant", "content": "Hi?"}, {"role": "user", "content": "Hello."}]}
    plain = {"messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]}
    ids = ingest(write_jsonl(tmp_path / "c.jsonl", [plain, swapped])).docs["doc_id"].to_list()
    assert ids[0] != ids[1]  # the same text, other roles: another record


def _bad(messages: object) -> dict:
    return {"messages": messages}


@pytest.mark.parametrize("record,reason,detail", [
    (_bad("hi"), "messages_not_a_list", "'messages' is a str, not a list"),
    (_bad(None), "missing_messages", "'messages' is null"),
    (_bad([]), "empty_messages", "no messages"),
    (_bad([{"role": "user", "content": " "}, {"role": "assistant", "content": ""}]), "empty_messages",
     "every message's content is empty"),
    (_bad(["hi"]), "message_not_an_object", "message 0 is a str, not an object"),
    (_bad([{"role": "user", "content": "a"}, {"content": "b"}]), "message_missing_role",
     "message 1 has no 'role' (nor ShareGPT 'from')"),
    (_bad([{"role": "wizard", "content": "a"}]), "unknown_role",
     "message 0 has role 'wizard'; accepted: system, user, assistant, tool and human, gpt, developer, function, observation"),
    (_bad([{"role": 3, "content": "a"}]), "unknown_role",
     "message 0 has role 3; accepted: system, user, assistant, tool and human, gpt, developer, function, observation"),
    (_bad([{"role": "assistant", "content": None, "tool_calls": []}]), "message_missing_content",
     "message 0 (assistant) has no 'content' (nor ShareGPT 'value')"),
    (_bad([{"role": "user", "content": [{"type": "text", "text": "a"}]}]), "content_not_string",
     "message 0 (user) content is a list"),
    (_bad([{"role": "user", "content": "a\u0000b"}]), "nul_bytes", "a content field contains NUL characters"),
    ({"conversations": [{"from": "human"}]}, "message_missing_content", "message 0 (user) has no 'content' (nor ShareGPT 'value')"),
])
def test_bad_chat_shapes(tmp_path: Path, record: dict, reason: str, detail: str) -> None:
    good = {"messages": [{"role": "user", "content": "ok"}]}
    got = ingest(write_jsonl(tmp_path / "chat.jsonl", [good, record, good | {"id": "last"}]))
    assert got.quarantine.select("input_line", "reason", "detail").rows() == [(2, reason, detail)]
    assert got.docs.height == 2


@pytest.mark.parametrize("record,reason,detail", [
    ({"instruction": "Do.", "output": None}, "missing_output", "'output' is null"),
    ({"instruction": "Do.", "result": 5}, "missing_output", "no field 'output'"),
    ({"instruction": "Do.", "output": "  \n"}, "empty_output", "'output' is empty or whitespace only"),
    ({"instruction": "", "output": "x"}, "empty_instruction", "'instruction' is empty or whitespace only"),
    ({"instruction": None, "output": "x"}, "missing_instruction", "'instruction' is null"),
    ({"instruction": "Do.", "input": ["a"], "output": "x"}, "field_not_string", "'input' is a list, not a string"),
    ({"instruction": 7, "output": "x"}, "field_not_string", "'instruction' is a int, not a string"),
    ({"instruction": "Do.", "output": "x\u0000"}, "nul_bytes", "a content field contains NUL characters"),
    ({"output": "x"}, "missing_instruction", "no field 'instruction'"),
    ({"text": "a plain text record"}, "wrong_kind",
     "a text record in a file of instruction records (detected from line 1; a file holds records of one kind)"),
    ({"messages": [{"role": "user", "content": "a"}]}, "wrong_kind",
     "a chat record in a file of instruction records (detected from line 1; a file holds records of one kind)"),
])
def test_bad_instruction_shapes(tmp_path: Path, record: dict, reason: str, detail: str) -> None:
    good = {"instruction": "Say hi.", "output": "Hi!"}
    got = ingest(write_jsonl(tmp_path / "inst.jsonl", [good, record]))
    assert got.quarantine.select("input_line", "reason", "detail").rows() == [(2, reason, detail)]


@pytest.mark.parametrize("record,reason", [
    ({"prompt": "Q", "completion": None}, "missing_completion"),
    ({"prompt": "Q", "completion": ""}, "empty_completion"),
    ({"prompt": " ", "completion": "A"}, "empty_prompt"),
    ({"completion": "A"}, "missing_prompt"),
    ({"prompt": "Q", "completion": {"a": 1}}, "field_not_string"),
])
def test_bad_prompt_completion_shapes(tmp_path: Path, record: dict, reason: str) -> None:
    got = ingest(write_jsonl(tmp_path / "pc.jsonl", [PAIR, record]))
    assert got.reasons() == [(2, reason)] and got.docs["doc_id"].to_list() == ["p1"]


def test_a_record_of_another_kind_in_a_text_file_is_wrong_kind(tmp_path: Path) -> None:
    got = ingest(write_jsonl(tmp_path / "t.jsonl", [{"text": "plain words"}, CHAT, PAIR, {"body": "x"}]))
    assert got.reasons() == [(2, "wrong_kind"), (3, "wrong_kind"), (4, "missing_text")]
    assert got.quarantine["detail"][1] == ("a prompt_completion record in a file of text records "
                                           "(detected from line 1; a file holds records of one kind)")


def test_the_kind_comes_from_the_first_object_not_from_a_broken_line(tmp_path: Path) -> None:
    got = ingest(write_jsonl(tmp_path / "c.jsonl", [], [b"not json\n", b"[1]\n", json.dumps(CHAT).encode() + b"\n"]))
    assert got.reasons() == [(1, "invalid_json"), (2, "not_an_object")] and got.docs["kind"].to_list() == ["chat"]


def test_kind_is_detected_per_file(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", [CHAT])
    write_jsonl(tmp_path / "b.jsonl", [{"text": "plain words", "id": "t1"}])
    assert ingest(tmp_path).docs.select("doc_id", "kind").rows() == [("c1", "chat"), ("t1", "text")]


def test_forced_kind(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "a.jsonl", [ALPACA, {"text": "only text"}])
    got = ingest(f, record_kind="text")  # the rendered `text` of Alpaca records, as text records
    assert got.docs["text"].to_list() == ["### Instruction: ...", "only text"] and set(got.docs["kind"]) == {"text"}
    assert json.loads(got.docs["meta"][0]) == {"input": "2 and 3", "instruction": "Add the numbers.", "output": "5"}
    got = ingest(f, record_kind="chat")
    assert got.reasons() == [(1, "wrong_kind"), (2, "wrong_kind")]
    assert got.quarantine["detail"][0] == ("an instruction record in a file of chat records "
                                           "(record_kind chat; a file holds records of one kind)")
    broken_first = write_jsonl(tmp_path / "b.jsonl", [{"id": "x"}, CHAT])
    assert ingest(broken_first, record_kind="chat").reasons() == [(1, "missing_messages")]


def test_field_map_renames_input_fields(tmp_path: Path) -> None:
    dolly = {"instruction": "Name a fruit.", "context": "", "response": "Apple.", "category": "qa", "output": "old"}
    doc = ingest(write_jsonl(tmp_path / "d.jsonl", [dolly]), field_map=("output=response", "input=context")).docs.row(0, named=True)
    assert (doc["output"], doc["input"], doc["text"]) == ("Apple.", "", "Name a fruit.\n\nApple.")
    assert json.loads(doc["meta"]) == {"category": "qa", "output": "old"}  # a displaced field stays in meta
    dialog = {"dialog": [{"role": "user", "content": "a"}], "conversations": "unrelated"}
    doc = ingest(write_jsonl(tmp_path / "c.jsonl", [dialog]), field_map=("messages=dialog",)).docs.row(0, named=True)
    assert doc["kind"] == "chat" and doc["messages"] == dialog["dialog"] and json.loads(doc["meta"]) == {"conversations": "unrelated"}
    pair = {"question": "Q?", "answer": "A."}
    doc = ingest(write_jsonl(tmp_path / "p.jsonl", [pair]), field_map=("prompt=question", "completion=answer")).docs.row(0, named=True)
    assert (doc["kind"], doc["prompt"], doc["completion"]) == ("prompt_completion", "Q?", "A.")


@pytest.mark.parametrize("value,message", [
    (("output",), "'output' is not FIELD=INPUT_FIELD (e.g. output=response)"),
    (("text=content",), ("'text' is not a record field: FIELD is one of instruction, input, output, messages, prompt, "
                        "completion, html (use text_field)")),
    (("output=a", "output=b"), "'output' is mapped twice"),
])
def test_bad_field_map_is_a_usage_error(value: tuple, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        coerce(IngestConfig, "ingest", "field_map", value)
    assert str(err.value).endswith(f"option 'field_map': {message}; got {value!r}")


def test_missing_text_hints_at_string_fields_that_exist(tmp_path: Path) -> None:
    recs = [{"id": f"r{i}", "url": "https://x.example", "content": "a long body of text " * 3, "n": 1} for i in range(3)]
    got = ingest(write_jsonl(tmp_path / "notext.jsonl", recs))
    assert got.reasons() == [(1, "missing_text"), (2, "missing_text"), (3, "missing_text")]
    assert set(got.quarantine["detail"]) == {
        "no field 'text'; this record has string field(s) 'content', 'url' — use --text-field content"}
    bare = ingest(write_jsonl(tmp_path / "bare.jsonl", [{"n": 1}]))
    assert bare.quarantine["detail"].to_list() == ["no field 'text'"]


def test_missing_output_hints_at_a_field_map(tmp_path: Path) -> None:
    dolly = {"instruction": "Name a fruit.", "context": "", "response": "Apple, the fruit.", "category": "qa"}
    got = ingest(write_jsonl(tmp_path / "dolly.jsonl", [dolly]))
    assert got.quarantine.select("reason", "detail").rows() == [
        ("missing_output", ("no field 'output'; this record has string field(s) 'response', 'category' "
                           "— use --field-map output=response"))]


def test_a_json_array_file_is_read_element_by_element(tmp_path: Path) -> None:
    items = [{"instruction": f"Task {i}.", "input": "", "output": f"Answer {i}."} for i in range(3)] + [["not", "a", "record"]]
    (tmp_path / "alpaca.json").write_text(json.dumps(items, indent=2))
    got = ingest(tmp_path / "alpaca.json")
    assert got.docs["kind"].to_list() == ["instruction"] * 3
    assert got.docs["input_line"].to_list() == [1, 2, 3] and got.docs["text"][2] == "Task 2.\n\nAnswer 2."
    assert got.reasons() == [(4, "not_an_object")]


@pytest.mark.parametrize("content,reasons", [
    ('[{"instruction": "x", "output": "y"}, {"instr', [(1, "invalid_json")]),
    ("[]", [(None, "empty_file")]),
])
def test_a_broken_or_empty_json_array_is_quarantined(tmp_path: Path, content: str, reasons: list) -> None:
    (tmp_path / "bad.json").write_text(content)
    assert ingest(tmp_path / "bad.json").reasons() == reasons


def test_real_alpaca_release_reads_as_instruction_records(shared_data: Path) -> None:
    got = ingest(shared_data / "synthetic" / "alpaca" / "alpaca_5000.json")
    assert got.docs.height + got.quarantine.height == 5000
    assert set(got.docs["kind"].to_list()) == {"instruction"} and got.docs.height > 4900
