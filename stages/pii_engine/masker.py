"""The one masker for everything assay writes about documents outside the curated text: ledger ids,
`source`, URLs and other metadata in scores and evidence, index files, quarantine excerpts.

Rule for identifiers (documented in the README): a value in which the engine finds no PII is written
as it is. A value with PII is written as its masked form (each PII span replaced by a typed
placeholder such as <EMAIL>) followed by `~` and a keyed hash of the whole raw value:
`user-<EMAIL>~k4f2m...`. The hash is HMAC-SHA256 with the run's id key, base32, 16 characters
(80 bits), so two raw ids never share a written id, and a user who holds the key can compute the
written id of any raw id (`assay show RUN_DIR RAW_ID` does) while someone who holds only the ledger
cannot test guesses (a phone number has few enough values to try them all, were the hash unkeyed).
The key is $ASSAY_ID_KEY when set, else a random key kept in the user's ~/.config/assay/id-key
(mode 0600), made by the first run that needs it: runs of one user write the same ids, and a run
folder holds no key (set ASSAY_ID_KEY to share one key between machines or people).

Metadata is masked more eagerly than curated text (a lower threshold, escapes decoded first): a
false mask in a ledger costs nothing, a missed one leaks.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stages.pii_engine.engine import PLACEHOLDERS, detector, resolve
from stages.pii_engine.prefilter import RUST_CANDIDATE_NO_URL, RUST_DIGITS, RUST_OTHER_NO_URL

KEY_ENV = "ASSAY_ID_KEY"
KEY_FILE = "id-key"
METADATA_THRESHOLDS = {t: 0.3 for t in PLACEHOLDERS}  # URLs are not looked for: what is inside one may be PII
# JSON escapes of '@' and '.', and their percent-encodings in URLs, read as what they stand for.
_ESCAPED = re.compile(r"\\u00(?:40|2[eE])|%40|%2[eE]")
# Content hashes (assay's content ids, text_sha1_before...) and UUIDs are never PII.
_HEX = re.compile(r"(?=[0-9a-f]*[a-f])[0-9a-f]{16,64}(?:-[0-9]+)?|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
# What makes a string worth a closer look: a candidate, or an escape that could hide one (Rust's
# regex syntax: checked over whole columns at once, never string by string in Python).
SUSPECT = RUST_CANDIDATE_NO_URL + r"|\\u00|%[0-9A-Fa-f]{2}"
# The same, inside a string value of a JSON text (numbers such as 0.8123456 are not suspects).
JSON_SUSPECT = r'^(?:[^"]|"(?:[^"\\]|\\.)*")*"(?:[^"\\]|\\.)*?(?:' + SUSPECT + ")"


def suspect_mask(col: Any, pattern: str = SUSPECT) -> Any:
    """A boolean polars Series: values worth a closer look (`pattern` matches, and what matched is
    more than a run of 6-9 plain digits, which no recognizer matches: numeric ids, counters)."""
    import polars as pl

    digits = col.str.extract_all(RUST_DIGITS).list.eval(
        pl.element().str.contains("[^0-9]") | (pl.element().str.len_chars() >= 10)).list.any()
    other = col.str.contains(RUST_OTHER_NO_URL + r"|\\u00|%[0-9A-Fa-f]{2}")
    return (col.str.contains(pattern) & (other | digits.fill_null(False))).fill_null(False)


def _suspects(values: list[str | None], pattern: str = SUSPECT) -> list[int]:
    import polars as pl

    return suspect_mask(pl.Series(values, dtype=pl.String), pattern).arg_true().to_list()


def _unescape(text: str) -> str:
    return _ESCAPED.sub(lambda m: "@" if m.group(0).endswith("40") else ".", text)


def mask_texts(texts: list[str], thresholds: dict[str, float] | None = None) -> list[str]:
    """Each text with its PII replaced by typed placeholders (escapes of '@' and '.' decoded first)."""
    th = thresholds or METADATA_THRESHOLDS
    out = list(texts)
    todo = _suspects(texts)
    plain = [_unescape(texts[i]) for i in todo]
    for i, text, spans in zip(todo, plain, detector(urls=False).detect(plain), strict=True):
        masked = text
        for s in reversed(resolve(spans, th)):
            masked = masked[: s.start] + PLACEHOLDERS[s.type] + masked[s.end:]
        out[i] = masked
    return out


def mask_text(text: str, thresholds: dict[str, float] | None = None) -> str:
    return mask_texts([text], thresholds)[0]


def _user_key_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "assay" / KEY_FILE


def _read_or_make(path: Path, create: bool) -> bytes | None:
    if not path.exists() and create:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
        except FileExistsError:
            pass  # a concurrent run made it first
        except OSError:
            return None
    try:
        return path.read_text().strip().encode() or None
    except OSError:
        return None


def id_key(run_dir: Path | None, create: bool = True) -> bytes | None:
    """The key of keyed hashes: $ASSAY_ID_KEY; else the user's key file ($XDG_CONFIG_HOME or
    ~/.config, /assay/id-key, made on first need), so that every run of one user writes the same
    ids (same input, same output) and a run folder shared with others holds no key; else, where
    that folder cannot be written, RUN_DIR/id-key."""
    if os.environ.get(KEY_ENV):
        return os.environ[KEY_ENV].encode()
    key = _read_or_make(_user_key_file(), create)
    if key is None and run_dir is not None:
        key = _read_or_make(Path(run_dir) / KEY_FILE, create)
    return key


def keyed_hash(key: bytes, value: str) -> str:
    digest = hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode().lower()


Key = bytes | Callable[[], bytes | None] | None  # a callable is asked only when a value needs a hash


def safe_ids(values: list[str | None], key: Key) -> list[str | None]:
    """The written form of identifiers and metadata values (see the module's rule)."""
    out = list(values)
    todo = [i for i in _suspects(values) if not _HEX.fullmatch(values[i])]  # type: ignore[arg-type]
    masked = mask_texts([values[i] for i in todo])  # type: ignore[misc]
    for i, m in zip(todo, masked, strict=True):
        raw = values[i]
        if m != raw:
            key = key() if callable(key) else key
            out[i] = f"{m}~{keyed_hash(key, raw)}" if key else m  # type: ignore[arg-type]
    return out


def safe_id(value: str, key: Key) -> str:
    return safe_ids([value], key)[0]  # type: ignore[return-value]


def _strings(node: Any, found: list[str]) -> None:
    if isinstance(node, str):
        found.append(node)
    elif isinstance(node, dict):
        for v in node.values():
            _strings(v, found)
    elif isinstance(node, list):
        for v in node:
            _strings(v, found)


def _replace(node: Any, table: dict[str, str]) -> Any:
    if isinstance(node, str):
        return table.get(node, node)
    if isinstance(node, dict):
        return {k: _replace(v, table) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace(v, table) for v in node]
    return node


def safe_json(values: list[str | None], key: Key) -> list[str | None]:
    """JSON objects (scores, evidence) with every string value in its written form: an id that
    another document's evidence names stays joinable with that document's written id."""
    out = list(values)
    todo = _suspects(values, JSON_SUSPECT)
    parsed = {i: json.loads(values[i]) for i in todo}  # type: ignore[arg-type]
    found: dict[int, list[str]] = {}
    for i, node in parsed.items():
        _strings(node, found.setdefault(i, []))
    uniq = sorted({x for strings in found.values() for x in strings})
    table = {raw: w for raw, w in zip(uniq, safe_ids(list(uniq), key), strict=True) if w != raw}
    for i, node in parsed.items():
        if table and any(x in table for x in found[i]):
            out[i] = json.dumps(_replace(node, table), ensure_ascii=False, separators=(",", ":"))
    return out


def mask_column(col: Any, fn: Callable[[list[str | None], Key], list[str | None]], key: Key,
                pattern: str = SUSPECT) -> Any:
    """A polars String column through `fn` (safe_ids or safe_json): values `pattern` does not
    match never leave polars (one pass of Rust's regex over the whole column first), and each
    distinct suspect value goes through `fn` once."""
    import polars as pl

    idx = suspect_mask(col, pattern).arg_true().to_list()
    if not idx:
        return col
    vals = col.to_list()
    todo = sorted({vals[i] for i in idx})
    table = dict(zip(todo, fn(todo, key), strict=True))
    for i in idx:
        vals[i] = table[vals[i]]
    return pl.Series(col.name, vals, dtype=pl.String)


def safe_frame(frame: Any, key: Key) -> Any:
    """A polars frame (an index file) with its id columns (doc_id, *_id) in written form and its
    other string columns masked."""
    import polars as pl

    cols = {}
    for name, dtype in frame.schema.items():
        if dtype == pl.String and suspect_mask(frame[name]).any():
            values = frame[name].to_list()
            new = safe_ids(values, key) if name == "doc_id" or name.endswith("_id") else mask_texts(values)
            cols[name] = pl.Series(name, new, dtype=pl.String)
    return frame.with_columns(**cols) if cols else frame


def key_provider(run_dir: Path) -> Callable[[], bytes | None]:
    """The run's key, read or made on first use only (a run with no PII in its ids makes no key)."""
    got: list[bytes | None] = []

    def get() -> bytes | None:
        if not got:
            got.append(id_key(run_dir))
        return got[0]

    return get
