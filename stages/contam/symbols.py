"""Items told apart only by their symbols: BIG-Bench-Hard's `dyck_languages` (the task sentence and
a row of brackets) and `boolean_expressions` ("( False ) and not False is" / "False and not ( False )
is"). Once punctuation is folded, every such item is the same word sequence, so the word index finds
where one starts (the shared words, a generic probe) and this module compares what follows with each
candidate item, brackets and operators kept. It runs only on the few documents where such a probe
fires.

A copy that drops the round brackets (a punctuation change: "(" is punctuation in prose) is compared
with them left out on both sides, where the rest still tells the item apart (four symbols or more).
"""
from __future__ import annotations

import re
import unicodedata

SYMBOLS = "()[]{}<>+-*/=^|&~%"
_TOKEN = re.compile(r"[^\W_]+|[()\[\]{}<>+\-*/=^|&~%]")
MIN_SYMBOLS = 2  # an item needs this many symbols to be told apart by them
PREFIX = 8  # symbols in a row that identify an item even when its copy is cut short (half of it)
_ROUND = ("(", ")")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())


def count(toks: list[str]) -> int:
    return sum(len(t) == 1 and t in SYMBOLS for t in toks)


def _tokens_at(text: str, lo: int, hi: int) -> tuple[list[str], list[int], list[int]]:
    """Tokens of text[lo:hi] with their character offsets in `text` (NFKC applied per character)."""
    piece = text[lo:hi]
    if piece.isascii():
        norm, origin = piece.lower(), None
    else:
        parts, origin = [], []
        for k, ch in enumerate(piece):
            out = unicodedata.normalize("NFKC", ch).lower() if ord(ch) > 0x7F else ch.lower()
            parts.append(out)
            origin.extend([k] * len(out))
        norm = "".join(parts)
    toks, starts, ends = [], [], []
    for m in _TOKEN.finditer(norm):
        s, e = m.start(), m.end() - 1
        if origin is not None:
            s, e = origin[s], origin[e]
        toks.append(m.group())
        starts.append(lo + s)
        ends.append(lo + e + 1)
    return toks, starts, ends


def _compare(doc: list[str], j0: int, want: list[str], stem_len: int) -> int:
    """How many tokens of `want` (stem then answer) the document holds from j0 on, or 0 when that
    does not identify the item: the whole stem, or PREFIX symbols of it in a row."""
    k = 0
    while k < len(want) and j0 + k < len(doc) and doc[j0 + k] == want[k]:
        k += 1
    return k if k >= stem_len or count(want[:k]) >= PREFIX else 0


def find(text: str, at: int, stem: list[str], answer: list[str]) -> tuple[int, int] | None:
    """Character span of the item (stem + what of its answer follows) when its symbol tokens stand in
    `text` around the word that starts at character `at` (the item's first word); else None."""
    first = next((k for k, t in enumerate(stem) if not (len(t) == 1 and t in SYMBOLS)), None)
    if first is None:
        return None
    chars = sum(len(t) for t in stem + answer)
    toks, starts, ends = _tokens_at(text, max(0, at - 4 * first - 16), at + 4 * (chars + len(stem + answer)) + 64)
    if at not in starts:
        return None
    j = starts.index(at) - first
    want = stem + answer
    if j >= 0:
        k = _compare(toks, j, want, len(stem))
        if k:
            return starts[j], ends[j + k - 1]
    # the round brackets dropped or spaced out on both sides
    keep = [n for n, t in enumerate(toks) if t not in _ROUND]
    bare = [t for t in want if t not in _ROUND]
    bare_stem = [t for t in stem if t not in _ROUND]
    if count(bare_stem) < 4:
        return None
    at_k = keep.index(starts.index(at))
    first_bare = next(k for k, t in enumerate(bare_stem) if not (len(t) == 1 and t in SYMBOLS))
    j = at_k - first_bare
    if j < 0:
        return None
    k = _compare([toks[n] for n in keep], j, bare, len(bare_stem))
    return (starts[keep[j]], ends[keep[j + k - 1]]) if k else None
