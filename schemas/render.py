"""The canonical `text` of every record kind, and how an edit of that text maps back to the field it
came from.

Text stages (quality, dedup, PII, contamination) read one string. For instruction, chat and
prompt/completion records that string is the content fields joined by a blank line, in a fixed
order; roles and other structure are not part of it. Because the layout is fixed, a stage can edit
`text` by character offsets and the edit lands in the field it falls in: stages never need to know
record kinds. An edit that spans a field boundary cannot be mapped and is a contract error.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

SEP = "\n\n"
Address = tuple[str, int | None]  # (field, message index for chat records)


def segments(kind: str, row: Mapping[str, Any]) -> list[tuple[Address, str]]:
    """The content fields of one record in rendering order, with their values."""
    if kind in ("text", "html"):  # html: `text` holds the page, then its extracted main text
        return [(("text", None), row["text"])]
    if kind == "instruction":
        out: list[tuple[Address, str]] = [(("instruction", None), row["instruction"])]
        if row.get("input"):  # an empty input is not rendered (most Alpaca records have none)
            out.append((("input", None), row["input"]))
        out.append((("output", None), row["output"]))
        return out
    if kind == "prompt_completion":
        return [(("prompt", None), row["prompt"]), (("completion", None), row["completion"])]
    if kind == "chat":
        return [(("messages", i), m["content"]) for i, m in enumerate(row["messages"])]
    raise ValueError(f"unknown record kind {kind!r}")


def render(kind: str, row: Mapping[str, Any]) -> str:
    return SEP.join(value for _, value in segments(kind, row))


def content_id(kind: str, row: Mapping[str, Any]) -> str:
    """SHA-1 over the record's content, as `hex_id`: the text alone for text records (so
    ids of plain corpora do not depend on this module), every content field and role otherwise."""
    if kind == "text":
        blob = row["text"].encode("utf-8", "surrogatepass")
    elif kind == "html":  # tagged, so a page never shares an id with the same string read as text
        blob = b"html\n" + row["text"].encode("utf-8", "surrogatepass")
    else:
        fields: dict[str, Any] = {"kind": kind}
        for (name, idx), value in segments(kind, row):
            if idx is None:
                fields[name] = value
        if kind == "chat":
            fields["messages"] = [[m["role"], m["content"]] for m in row["messages"]]
        if kind == "instruction":
            fields["input"] = row.get("input") or ""
        blob = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
    return hex_id(hashlib.sha1(blob).hexdigest())


def hex_id(digest: str) -> str:
    """A content id from a hex digest: its first 16 digits, or, where those are all decimal digits (one
    id in ~1,850), up to and including the first letter. A 16-digit number reads as a possible card
    number to the ledger's PII masker (which then loads presidio in every worker to check it); a hex
    string with a letter it knows to be a hash."""
    head = digest[:16]
    if not head.isdigit():
        return head
    letter = next((i for i, c in enumerate(digest) if c > "9"), len(digest) - 1)
    return digest[:letter + 1]


class EditError(ValueError):
    """Edits that overlap, run outside the text or cross a field boundary."""


def apply_edits(kind: str, row: Mapping[str, Any], edits: Sequence[tuple[int, int, str]]) -> dict[str, Any]:
    """Apply (start, end, replacement) edits, given on the rendered text, to the record's fields.

    Returns the changed fields plus the new `text` (re-rendered from the fields, so text and fields
    can never disagree). Offsets are in characters (code points), as polars' `str.len_chars`."""
    text = row["text"]
    ordered = sorted(edits)
    for (s0, e0, _), (s1, _, _) in zip(ordered, ordered[1:], strict=False):
        if s1 < e0:
            raise EditError(f"edits overlap at characters {s1}..{e0}")
    spans, pos = [], 0
    for address, value in segments(kind, row):
        spans.append((address, pos, pos + len(value)))
        pos += len(value) + len(SEP)
    changed: dict[Address, list[tuple[int, int, str]]] = {}
    for start, end, repl in ordered:
        if not 0 <= start <= end <= len(text):
            raise EditError(f"edit {start}..{end} is outside the text (length {len(text)})")
        home = next((a for a, s, e in spans if s <= start and end <= e), None)
        if home is None:
            raise EditError(f"edit {start}..{end} crosses a field boundary of a {kind} record")
        base = next(s for a, s, _ in spans if a == home)
        changed.setdefault(home, []).append((start - base, end - base, repl))
    out: dict[str, Any] = {}
    messages = [dict(m) for m in row["messages"]] if kind == "chat" else None
    for (name, idx), field_edits in changed.items():
        value = messages[idx]["content"] if messages is not None and idx is not None else row[name]
        for start, end, repl in reversed(field_edits):  # from the back: earlier offsets stay valid
            value = value[:start] + repl + value[end:]
        if messages is not None and idx is not None:
            messages[idx]["content"] = value
        else:
            out[name] = value
    if messages is not None:
        out["messages"] = messages
    out["text"] = render(kind, {**row, **out})
    return out
