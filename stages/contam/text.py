"""Normalization shared by benchmark items and documents: NFKC here, then the kernel folds case,
punctuation, whitespace and line breaks while it hashes words (stages/contam/kernels.py).

Two paths with the same words: `block` hands a whole shard to the kernel at once (NFKC only on the
documents that are not pure ASCII, where it changes nothing); `mapped` normalizes one document
character by character so that every word keeps its character offsets in the original text (used
only for the few documents where the block scan found something).
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np
import polars as pl

from stages.minhash.core import char_tables


@dataclass(frozen=True)
class Words:
    tok: np.ndarray  # uint64 word hashes, all documents of the block concatenated
    doc_tok: np.ndarray  # int64, len docs + 1: first word of each document
    bstart: np.ndarray  # byte offsets of each word in the block's buffer
    bend: np.ndarray


def _buffer(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    arr = texts.cast(pl.String).fill_null("").rechunk().to_arrow()
    _, offs, data = arr.buffers()
    offsets = np.frombuffer(offs, np.int64)[arr.offset: arr.offset + len(arr) + 1]
    buf = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    return buf, np.ascontiguousarray(offsets)


def nfkc(texts: pl.Series) -> pl.Series:
    non_ascii = texts.str.contains(r"[^\x00-\x7F]")
    if not non_ascii.any():
        return texts
    frame = texts.to_frame("t").with_row_index("i")
    return frame.update(frame.filter(non_ascii).with_columns(pl.col("t").str.normalize("NFKC")), on="i")["t"]


def words(buf: np.ndarray, offsets: np.ndarray) -> Words:
    from stages.contam import kernels

    lower, isword = char_tables()
    n_docs = len(offsets) - 1
    size = int(offsets[-1] - offsets[0]) // 2 + n_docs + 1 if n_docs else 1
    tok = np.empty(size, np.uint64)
    bstart, bend = np.empty(size, np.int64), np.empty(size, np.int64)
    doc_tok = np.empty(n_docs + 1, np.int64)
    nt = kernels.tokenize(buf, offsets, lower, isword, tok, bstart, bend, doc_tok)
    return Words(tok[:nt], doc_tok, bstart[:nt], bend[:nt])


def block(texts: pl.Series) -> Words:
    """Words of every text of a frame, in one kernel call."""
    buf, offsets = _buffer(nfkc(texts))
    return words(buf, offsets)


def strings(texts: list[str]) -> Words:
    """Words of a few Python strings (benchmark fields), NFKC first."""
    return block(pl.Series(texts, dtype=pl.String))


def mapped(text: str) -> tuple[Words, np.ndarray, np.ndarray]:
    """Words of one document and, per word, its [start, end) character offsets in `text`."""
    if text.isascii():
        norm, origin = text, None
    else:
        parts, origin_list = [], []
        for i, ch in enumerate(text):
            out = unicodedata.normalize("NFKC", ch) if ord(ch) > 0x7F else ch
            parts.append(out)
            origin_list.extend([i] * len(out))
        norm, origin = "".join(parts), np.asarray(origin_list, np.int64)
    raw = norm.encode("utf-8", "surrogatepass")
    buf = np.frombuffer(raw, np.uint8)
    w = words(buf, np.array([0, len(raw)], np.int64))
    # byte -> character of `norm`: count the bytes that start a character
    char_of = np.cumsum((buf & 0xC0) != 0x80) - 1 if len(buf) else np.zeros(0, np.int64)
    if len(w.tok) == 0:
        return w, np.zeros(0, np.int64), np.zeros(0, np.int64)
    start, last = char_of[w.bstart], char_of[w.bend - 1]
    if origin is not None:
        start, last = origin[start], origin[last]
    return w, start.astype(np.int64), last.astype(np.int64) + 1
