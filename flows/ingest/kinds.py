"""Record kinds: which kind a record is, and its content fields as typed values.

Kinds (schemas.records.RECORD_KINDS) and the input fields they are read from:

    chat               `messages`: a list of {role, content}; or ShareGPT `conversations`: a list of
                       {from, value}. Each message may use either spelling.
    instruction        `instruction`, optional `input`, `output` (Alpaca, self-instruct)
    prompt_completion  `prompt` and `completion`
    text               the text field (`text_field`, default `text`)
    html               `html`: a web page, whose main text the `extract` stage produces (a record
                       with a text field is a text record: its text was extracted upstream).
                       WARC and HTML files are html records too (flows/ingest/warc.py).

A file's kind is that of its first JSON object, tried in the order above (an Alpaca record that also
carries a rendered `text` is an instruction record), unless `record_kind` forces one. `field_map`
renames input fields first: `output=response` reads `output` from `response`.

Roles are system, user, assistant and tool. Aliases are mapped: human -> user, gpt -> assistant
(ShareGPT), developer -> system (OpenAI's newer name), function and observation -> tool (older
OpenAI and ShareGPT function-calling dumps). Anything else is quarantined as unknown_role rather than
guessed. Keys of a message other than its role and content (ShareGPT's `weight`, OpenAI's
`tool_call_id`) are kept in the record's meta as `message_fields`, one object per message.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from flows.ingest.config import MAPPABLE_FIELDS, IngestConfig, parse_field_map

ROLES = ("system", "user", "assistant", "tool")
ROLE_ALIASES = {"human": "user", "gpt": "assistant", "developer": "system", "function": "tool", "observation": "tool"}
SHAREGPT_FIELD = "conversations"


class Bad(NamedTuple):
    """Why a record cannot be read as its kind; `missing` names a required field that is absent or
    null (the reader then checks for a record of another kind and hints at a field_map)."""
    reason: str
    detail: str
    missing: str | None = None


Extracted = tuple[dict[str, Any], list[str], dict[str, Any]]  # (field values, input keys used, extra meta)


def sources(cfg: IngestConfig) -> dict[str, str]:
    """{record field: input field it is read from}, for every field of every kind but text."""
    mapped = parse_field_map(cfg.field_map)
    return {name: mapped.get(name, name) for name in MAPPABLE_FIELDS}


def _messages_key(rec: dict[str, Any], src: dict[str, str]) -> str:
    key = src["messages"]
    if key not in rec and key == "messages" and SHAREGPT_FIELD in rec:
        return SHAREGPT_FIELD
    return key


def detect(rec: dict[str, Any], src: dict[str, str], text_field: str) -> str | None:
    """The kind a record looks like, or None when it has none of the kinds' fields."""
    if _messages_key(rec, src) in rec:
        return "chat"
    if src["instruction"] in rec:
        return "instruction"
    if src["prompt"] in rec and src["completion"] in rec:
        return "prompt_completion"
    if text_field in rec:
        return "text"
    if src["html"] in rec:
        return "html"
    return None


def _string(rec: dict[str, Any], src: dict[str, str], name: str, required: bool) -> str | None | Bad:
    key = src[name]
    value = rec.get(key)
    if value is None:
        if not required:
            return None
        return Bad(f"missing_{name}", f"no field {key!r}" if key not in rec else f"{key!r} is null", name)
    if not isinstance(value, str):
        return Bad("field_not_string", f"{key!r} is a {type(value).__name__}, not a string")
    if required and (not value or value.isspace()):
        return Bad(f"empty_{name}", f"{key!r} is empty or whitespace only")
    return value


def _fields(rec: dict[str, Any], src: dict[str, str], spec: tuple[tuple[str, bool], ...]) -> Extracted | Bad:
    values: dict[str, Any] = {}
    for name, required in spec:
        value = _string(rec, src, name, required)
        if isinstance(value, Bad):
            return value
        values[name] = value
    return values, [src[name] for name, _ in spec], {}


def _chat(rec: dict[str, Any], src: dict[str, str]) -> Extracted | Bad:
    key = _messages_key(rec, src)
    value = rec.get(key)
    if value is None:
        detail = f"{key!r} is null" if key in rec else f"no field {key!r} (nor ShareGPT {SHAREGPT_FIELD!r})"
        return Bad("missing_messages", detail, "messages")
    if not isinstance(value, list):
        return Bad("messages_not_a_list", f"{key!r} is a {type(value).__name__}, not a list")
    messages, extras = [], []
    for i, msg in enumerate(value):
        if not isinstance(msg, dict):
            return Bad("message_not_an_object", f"message {i} is a {type(msg).__name__}, not an object")
        role_key, role = ("role", msg.get("role")) if msg.get("role") is not None else ("from", msg.get("from"))
        if role is None:
            return Bad("message_missing_role", f"message {i} has no 'role' (nor ShareGPT 'from')")
        canon = (role if role in ROLES else ROLE_ALIASES.get(role)) if isinstance(role, str) else None
        if canon is None:
            return Bad("unknown_role", f"message {i} has role {role!r}; accepted: {', '.join(ROLES)} "
                                       f"and {', '.join(ROLE_ALIASES)}")
        text_key, content = ("content", msg.get("content")) if msg.get("content") is not None \
            else ("value", msg.get("value"))
        if content is None:
            return Bad("message_missing_content", f"message {i} ({canon}) has no 'content' (nor ShareGPT 'value')")
        if not isinstance(content, str):
            return Bad("content_not_string", f"message {i} ({canon}) content is a {type(content).__name__}")
        messages.append({"role": canon, "content": content})
        extras.append({k: v for k, v in msg.items() if k not in (role_key, text_key) and v is not None})
    if not messages or all(not m["content"] or m["content"].isspace() for m in messages):
        return Bad("empty_messages", "no messages" if not messages else "every message's content is empty")
    extra = {"message_fields": extras} if any(extras) else {}
    return {"messages": messages}, [key], extra


_SPECS = {
    "instruction": (("instruction", True), ("input", False), ("output", True)),
    "prompt_completion": (("prompt", True), ("completion", True)),
}


def extract(kind: str, rec: dict[str, Any], src: dict[str, str]) -> Extracted | Bad:
    """A record's content fields as its kind requires them (kind is not 'text': that is the
    reader's fast path), or why it cannot be read."""
    if kind == "chat":
        return _chat(rec, src)
    if kind == "html":  # the page becomes `text` (no column of its own: schemas/records.py)
        got = _fields(rec, src, (("html", True),))
        return got if isinstance(got, Bad) else ({"text": got[0]["html"]}, *got[1:])
    return _fields(rec, src, _SPECS[kind])


def hint(rec: dict[str, Any], name: str, flag: str, skip: tuple[str, ...]) -> str:
    """"; this record has string field(s) 'content' — use --text-field content": fields that could
    hold the missing field `name` (strings, longest first; lists for messages). `flag` is the
    option that names it ("--text-field" or "--field-map output=")."""
    want = list if name == "messages" else str
    found = sorted((k for k, v in rec.items() if isinstance(v, want) and v and k not in skip),
                   key=lambda k: -len(rec[k]))[:3]
    if not found:
        return ""
    noun = "list" if want is list else "string"
    sep = "" if flag.endswith("=") else " "
    return f"; this record has {noun} field(s) {', '.join(map(repr, found))} — use {flag}{sep}{found[0]}"
