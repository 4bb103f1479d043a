"""Quarantine rows: why an input record did not become a document, with a bounded, PII-masked excerpt.

Every reason ingest can give, and what it means. File-level rows (input_line null) are marked [file].

Any record
    invalid_utf8        the line is not valid UTF-8
    invalid_json        the line is not valid JSON
    not_an_object       the record is a JSON array, string or number, not an object
    nul_bytes           the line or a content field holds NUL characters
    too_large           the record is larger than max_doc_bytes
    invalid_id          the id field is neither a string nor an integer
    duplicate_id        the id (given or derived from the content) was seen earlier in the run
    wrong_kind          the record is recognisably of another kind than its file (a text record in a
                        file of chat records): the kind is detected once per file, from its first record
    too_deeply_nested   the record parses but is nested too deep to be written back as JSON
    truncated_stream    a compressed stream ends early, from this line on: one row for the lost tail
    damaged_stream      a compressed stream holds corrupt data from this line on: one row for the lost
                        tail; the detail gives the compressed byte offset of the damage and the bytes lost
                        (every line decoded before the damage is kept)
    checksum_mismatch   [file] a gzip member's or zstd frame's checksum (or length) disagrees with its
                        data; everything decoded and is kept, the detail says where (line and byte)
    empty_file          [file] the file holds no records
Text records
    missing_text        no text field (the detail names string fields the records do have)
    null_text           the text field is null
    text_not_string     the text field is a number, list or object
    empty_text          the text is empty or whitespace only
Instruction and prompt/completion records
    missing_instruction, missing_output, missing_prompt, missing_completion
                        the field is absent or null (the detail suggests a --field-map)
    empty_instruction, empty_output, empty_prompt, empty_completion
                        the field is empty or whitespace only (`input` may be empty or absent)
    field_not_string    a content field (instruction, input, output, prompt, completion) is not a string
Chat records
    missing_messages    neither `messages` nor ShareGPT `conversations` is present (or it is null)
    messages_not_a_list the messages field is not a list
    empty_messages      no messages, or every message's content is empty
    message_not_an_object  a message is not an object
    message_missing_role   a message has no role (`role`, or ShareGPT `from`)
    unknown_role        a role outside system/user/assistant/tool and their aliases (see kinds.py)
    message_missing_content  a message has no content (`content`, or ShareGPT `value`), or it is null
                        (an OpenAI tool-call turn with null content cannot be represented yet)
    content_not_string  a message's content is not a string (e.g. a list of multimodal parts)
Web pages (WARC and HTML files, html records; a WARC record's line is its number in the file)
    warc_not_response   a WARC request, metadata, warcinfo, revisit or resource record (the detail
                        names its WARC-Type): counted, so every WARC record is accounted for
    http_not_ok         a response whose HTTP status is not 2xx (redirects, errors)
    not_html            a response whose MIME type is not text/html or application/xhtml+xml
    empty_html          the page (or the `html` field) is empty or whitespace only
    missing_html        an html record without its `html` field (or it is null)
    invalid_warc        the file is not a WARC file that can be read at all
"""
from __future__ import annotations

from typing import Any

QUARANTINE_REASONS = frozenset({
    "invalid_utf8", "invalid_json", "not_an_object", "nul_bytes", "too_large", "invalid_id", "duplicate_id",
    "wrong_kind", "truncated_stream", "damaged_stream", "checksum_mismatch", "too_deeply_nested", "empty_file",
    "missing_text", "null_text", "text_not_string", "empty_text",
    "missing_instruction", "missing_output", "missing_prompt", "missing_completion",
    "empty_instruction", "empty_output", "empty_prompt", "empty_completion", "field_not_string",
    "missing_messages", "messages_not_a_list", "empty_messages", "message_not_an_object",
    "message_missing_role", "unknown_role", "message_missing_content", "content_not_string",
    "warc_not_response", "http_not_ok", "not_html", "empty_html", "missing_html", "invalid_warc",
})
EXCERPT_BYTES = 160


def excerpt(raw: bytes | str) -> str:
    """A bounded excerpt of a bad record with its PII masked by the one masker (stages/pii_engine:
    typed placeholders such as <EMAIL>, <PHONE>): quarantine rows land in the ledger, which must
    never hold raw PII."""
    from stages.pii_engine.masker import mask_text

    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    # Masked before it is cut (a cut first would leave half an address unmasked), over a window a
    # little wider than the excerpt; the masker reads JSON escapes of '@' and '.' as what they are.
    text = raw[: EXCERPT_BYTES * 4].decode("utf-8", "backslashreplace").replace("\x00", "\\x00")
    return mask_text(text).encode("utf-8", "surrogatepass")[:EXCERPT_BYTES].decode("utf-8", "ignore")


def quarantine_row(name: str, line: int | None, reason: str, detail: str, raw: bytes | str) -> dict[str, Any]:
    """One QUARANTINE_SCHEMA row; the runner fills `doc_id` for record-level rows."""
    assert reason in QUARANTINE_REASONS, reason  # a new reason must be documented above first
    return {"doc_id": None, "input_file": name, "input_line": line, "reason": reason, "detail": detail,
            "excerpt": excerpt(raw)}
