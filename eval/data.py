"""Pre-tokenized corpora as flat memory-mapped token arrays, and the fixed, seeded order training reads them in.

A corpus is one `.bin` of uint16 (uint32 when the vocabulary needs it) with documents separated by the end
of text token, plus a `.json` with its counts. The ledger is the record of which documents went in; these
files are only a cache of their tokens.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from tokenizers import Tokenizer

from eval.tokenizer import eos_id

BATCH_DOCS = 1024


@dataclass(frozen=True)
class TokenFile:
    path: Path
    n_tokens: int
    n_bytes: int
    n_docs: int
    dtype: str

    def array(self) -> np.memmap:
        return np.memmap(self.path, dtype=self.dtype, mode="r", shape=(self.n_tokens,))


def token_dtype(vocab_size: int) -> str:
    return "uint16" if vocab_size <= 1 << 16 else "uint32"


def curated_texts(run_dir: Path) -> Iterator[str]:
    """Texts of a pipeline run's curated output, in file order (the runner's order is deterministic)."""
    parts = sorted((run_dir / "curated").glob("part-*.parquet"))
    for part in parts:
        yield from pl.read_parquet(part, columns=["text"])["text"].to_list()


def _batched(texts: Iterable[str], n: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


def tokenize_to_file(texts: Iterable[str], tok: Tokenizer, path: Path) -> TokenFile:
    """Write texts as one token stream, each document preceded by EOS so its first token is predicted too."""
    dtype = token_dtype(tok.get_vocab_size())
    eos = eos_id(tok)
    n_tokens = n_bytes = n_docs = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        for batch in _batched(texts, BATCH_DOCS):
            for enc, text in zip(tok.encode_batch(batch, add_special_tokens=False), batch):
                ids = np.asarray([eos, *enc.ids], dtype=dtype)
                fh.write(ids.tobytes())
                n_tokens += ids.size
                n_bytes += len(text.encode("utf-8"))
                n_docs += 1
    if n_tokens == 0:
        tmp.unlink()
        raise ValueError(f"no documents to tokenize for {path}")
    tmp.replace(path)
    info = TokenFile(path, n_tokens, n_bytes, n_docs, dtype)
    meta = {"n_tokens": n_tokens, "n_bytes": n_bytes, "n_docs": n_docs, "dtype": dtype}
    path.with_suffix(".json").write_text(json.dumps(meta))  # written last: its presence means the .bin is whole
    return info


def open_token_file(path: Path) -> TokenFile | None:
    meta_path = path.with_suffix(".json")
    if not (path.exists() and meta_path.exists()):
        return None
    meta = json.loads(meta_path.read_text())
    return TokenFile(path, meta["n_tokens"], meta["n_bytes"], meta["n_docs"], meta["dtype"])


class EpochSampler:
    """Windows of `block_size + 1` tokens, a fresh seeded permutation of them every epoch.

    The order depends only on the seed and the corpus, so two recipes trained with one seed differ in their
    data and nothing else; a corpus smaller than the budget is simply repeated, epoch after epoch.
    """

    def __init__(self, tokens: np.ndarray, block_size: int, seed: int):
        if tokens.size < 2:
            raise ValueError("corpus needs at least 2 tokens")
        self.tokens = tokens
        self.block_size = block_size
        # a corpus shorter than one window is tiled so that a window always exists
        self.n_windows = max(1, (tokens.size - 1) // block_size)
        self.rng = np.random.default_rng(seed)
        self.epoch = 0
        self._order = self.rng.permutation(self.n_windows)
        self._pos = 0
        self.windows_seen = 0

    def _window(self, w: int) -> np.ndarray:
        start = w * self.block_size
        end = start + self.block_size + 1
        if end <= self.tokens.size:
            return np.asarray(self.tokens[start:end], dtype=np.int64)
        return np.asarray(self.tokens[np.arange(start, end) % self.tokens.size], dtype=np.int64)

    def next_batch(self, batch_size: int) -> np.ndarray:
        rows = []
        for _ in range(batch_size):
            if self._pos == self.n_windows:
                self.epoch += 1
                self._order = self.rng.permutation(self.n_windows)
                self._pos = 0
            rows.append(self._window(int(self._order[self._pos])))
            self._pos += 1
            self.windows_seen += 1
        return np.stack(rows)

    def epochs_seen(self) -> float:
        return self.windows_seen / self.n_windows
