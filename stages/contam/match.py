"""Finding items in documents: one kernel pass over a whole shard finds the documents with any hit;
only those are normalized again character by character, so that every hit gets character offsets
in the original text, and generic short stems are confirmed by their choices.

A hit is (doc, item, key, kind, first word, words, start char, end char). `key` identifies what
matched (an n-gram, or a whole short item) so that the judge can count how many documents share it.
"""
from __future__ import annotations

import numpy as np
import polars as pl

from stages.contam import kernels
from stages.contam import symbols
from stages.contam.index import ANCHOR, ANSWER_GAP, Index
from stages.contam.text import Words, block, mapped

HIT = pl.Struct({"item": pl.Int32(), "key": pl.UInt64(), "kind": pl.Int8(), "word": pl.Int32(), "words": pl.Int32(),
                 "start": pl.Int64(), "end": pl.Int64()})
_KS = np.array([ANCHOR], np.int64)


def _scan(ix: Index, w: Words) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    p = kernels.prefix(w.tok, len(w.tok))
    cap = max(1024, len(w.tok) // 8)
    while True:
        out = [np.empty(cap, np.int64) for _ in range(4)]
        m = kernels.scan(p, ix.pw, w.doc_tok, ix.ngram, ix.ltab[0], ix.ltab[1], ix.atab[0], ix.atab[1], ix.aptr,
                         ix.aprobe, ix.aoff, _KS, ix.plen, ix.phash, *out)
        if m >= 0:
            return tuple(o[:m] for o in out)  # type: ignore[return-value]
        cap *= 4


def candidates(ix: Index, texts: pl.Series) -> np.ndarray:
    """Positions of the documents with at least one hit (the fast pass)."""
    if ix.empty or texts.is_empty():
        return np.zeros(0, np.int64)
    doc, _, _, _ = _scan(ix, block(texts))
    return np.unique(doc)


def _follows(tok: np.ndarray, at: int, window: int, choices: list[tuple[np.ndarray, bool]]) -> tuple[list[bool], int]:
    """Which choices occur, word for word, in the `window` words after `at` (their `strong` flags);
    and where the last one ends."""
    found, end = [], at
    area = tok[at:at + window]
    for c, strong in choices:
        n = len(c)
        if n == 0 or n > len(area):
            continue
        hit = np.flatnonzero(area[: len(area) - n + 1] == c[0])
        for h in hit.tolist():
            if np.array_equal(area[h:h + n], c):
                found.append(strong)
                end = max(end, at + h + n)
                break
    return found, end


def _confirmed(ix: Index, r: int, item: int, tok: np.ndarray, i: int, window: int) -> int:
    """Where the evidence for a generic probe found at word i ends, or -1 when nothing confirms it:
    two of its choices after it, or one strong one ("Paris" alone is not enough after "What is the
    capital of France?"), or its correct answer right after it when the two are specific enough; an
    item without choices by its answer. A bare choice of a tiny stem needs that stem right before it."""
    length = int(ix.plen[r])
    found, end = _follows(tok, i + length, window, ix.confirm.get(item, []))
    if ix.needs_lead[r]:
        lead = ix.lead.get(item)
        at = max(0, i - len(lead) - ANSWER_GAP) if lead is not None else i
        if lead is None or not found or not _follows(tok, at, i - at, [(lead, True)])[0]:
            return -1
        return end
    if found and (not ix.has_choices[item] or len(found) >= 2 or any(found)):
        return end
    if item in ix.answer:
        found, end = _follows(tok, i + length, len(ix.answer[item]) + ANSWER_GAP, [(ix.answer[item], True)])
        if found:
            return end
    return -1


def doc_hits(ix: Index, text: str, window: int) -> list[dict]:
    """Every hit in one document, with character offsets (the exact pass)."""
    w, cstart, cend = mapped(text)
    if len(w.tok) == 0:
        return []
    _, pos, kind, ref = _scan(ix, w)
    rows = []
    n = ix.ngram
    for i, k, r in zip(pos.tolist(), kind.tolist(), ref.tolist(), strict=True):
        if k == 0:
            key = int(ix.lkeys[r])
            for item in ix.litem[ix.lptr[r]:ix.lptr[r + 1]].tolist():
                rows.append({"item": item, "key": key, "kind": 0, "word": i, "words": n,
                             "start": int(cstart[i]), "end": int(cend[i + n - 1])})
            continue
        length = int(ix.plen[r])
        for item in ix.pitem[ix.pptr[r]:ix.pptr[r + 1]].tolist():
            end = i + length
            chars = (int(cstart[i]), int(cend[end - 1]))
            span = symbols.find(text, chars[0], *ix.sym[item]) if item in ix.sym else None
            if span is not None:
                chars = span
            elif ix.generic[r]:
                end = _confirmed(ix, r, item, w.tok, i, window)
                if end < 0:
                    continue
                chars = (chars[0], int(cend[end - 1]))
            # a confirmed generic stem is evidence for this item only: its key says so
            key = int(ix.phash[r]) ^ ((item + 1) * 0x9E3779B97F4A7C15 & 0xFFFFFFFFFFFFFFFF if ix.generic[r] else 0)
            rows.append({"item": item, "key": key, "kind": 1, "word": i, "words": end - i,
                         "start": chars[0], "end": chars[1]})
    return rows


def hits(ix: Index, texts: pl.Series, window: int) -> pl.Series:
    """Per document, its hits (an empty list for most), built as one Arrow list array: a Python list
    per document would cost more than the scan itself."""
    import pyarrow as pa

    rows: list[dict] = []
    counts = np.zeros(len(texts), np.int32)
    for d in candidates(ix, texts).tolist():
        found = doc_hits(ix, texts[d], window)
        counts[d] = len(found)
        rows += found
    flat = pl.DataFrame(rows, schema=dict(HIT.to_schema())).to_struct("hits").to_arrow()
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    return pl.Series("hits", pa.ListArray.from_arrays(offsets, flat)).cast(pl.List(HIT))


def field_bounds(docs: pl.DataFrame) -> pl.Series:
    """[start, end) of each content field in the text of record documents (null for plain text)."""
    from schemas.render import SEP, segments

    out: list[list[list[int]] | None] = [None] * docs.height
    records = docs.with_row_index("_i").filter(~pl.col("kind").is_in(["text", "html"]))
    for row in records.iter_rows(named=True):
        spans, pos = [], 0
        for _, value in segments(row["kind"], row):
            spans.append([pos, pos + len(value)])
            pos += len(value) + len(SEP)
        out[row["_i"]] = spans
    return pl.Series("bounds", out, dtype=pl.List(pl.List(pl.Int64)))
