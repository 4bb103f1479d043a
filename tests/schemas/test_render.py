"""Canonical text of each record kind, content ids, and edits mapped back to their field."""
from __future__ import annotations

import pytest

from schemas.render import EditError, apply_edits, content_id, hex_id, render

CHAT = {"messages": [{"role": "user", "content": "Hi 1"}, {"role": "assistant", "content": "Hello 2"}]}


def test_render_joins_content_fields_in_order_and_skips_an_empty_input() -> None:
    assert render("instruction", {"instruction": "Do", "input": "", "output": "Done"}) == "Do\n\nDone"
    assert render("instruction", {"instruction": "Do", "input": "this", "output": "Done"}) == "Do\n\nthis\n\nDone"
    assert render("chat", CHAT) == "Hi 1\n\nHello 2"
    assert render("prompt_completion", {"prompt": "Q", "completion": " A"}) == "Q\n\n A"


def test_content_id_of_text_is_the_text_hash_and_records_cover_every_field_and_role() -> None:
    assert content_id("text", {"text": "abc"}) == "a9993e364706816a"  # sha1("abc")[:16]
    other_role = {"messages": [{"role": "system", "content": "Hi 1"}, CHAT["messages"][1]]}
    assert content_id("chat", CHAT) != content_id("chat", other_role)
    a = {"instruction": "Do", "input": None, "output": "Done"}
    assert content_id("instruction", a) == content_id("instruction", a | {"input": ""})
    assert content_id("instruction", a) != content_id("instruction", a | {"output": "Done!"})


def test_a_content_id_never_is_a_plain_number() -> None:
    # sha1("doc 4330") = 50528283119509417e62...: its first 16 hex digits are all decimal
    assert content_id("text", {"text": "doc 4330"}) == "50528283119509417e"
    assert hex_id("0123456789abcdef" + "0" * 24) == "0123456789abcdef"
    assert hex_id("1" * 40) == "1" * 40  # no letter at all (~1 in 10^8): the whole digest


def test_edits_land_in_their_field_and_text_is_re_rendered() -> None:
    row = CHAT | {"text": render("chat", CHAT)}
    out = apply_edits("chat", row, [(3, 4, "<N>"), (12, 13, "<N>")])
    assert [m["content"] for m in out["messages"]] == ["Hi <N>", "Hello <N>"]
    assert out["text"] == "Hi <N>\n\nHello <N>"


@pytest.mark.parametrize("edits,message", [
    ([(2, 8, "")], "crosses a field boundary"),
    ([(0, 2, "x"), (1, 3, "y")], "overlap"),
    ([(0, 99, "")], "outside the text"),
])
def test_bad_edits_are_refused(edits: list, message: str) -> None:
    row = CHAT | {"text": render("chat", CHAT)}
    with pytest.raises(EditError, match=message):
        apply_edits("chat", row, edits)
