"""fastText classifiers shared by `assay quality train` and the stages that score with them: model
checks, safe loading, the JSON sidecar's reading, and scoring (training: stages/fasttext_train.py).

A model file is checked before fastText sees it: fastText's loader hangs on some truncated files and
silently loads others with part of their weights missing, so the whole binary layout (header,
dictionary, both matrices) is walked here and its size must match to the byte. Nothing is ever
unpickled: fastText's format is plain binary. Quantized models (.ftz) are refused, not guessed at.

The sidecar (MODEL.json) says what the model was trained on (file hashes and sizes), with which
parameters, how it did on its holdout split, which labels it has, and with which fastText build. It
holds no timestamps; it pins a model by its hash, since training is not reproducible with this
fastText build (see fasttext_train._train_supervised), while scoring with a saved model is.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MAGIC, VERSION, SUPERVISED = 793712314, 12, 3
PREFIX = "__label__"
SIDECAR_FORMAT = 1
class ModelError(RuntimeError):
    """A model file that is missing, corrupt, quantized or not a supervised fastText model."""


def sidecar_path(model: str | Path) -> Path:
    return Path(f"{model}.json")


def prepare(texts: Any, lower: bool, newline: bool = False) -> list[str]:
    """One line per text for fastText, which reads a document only up to its first newline:
    newlines become spaces (fastText splits words on any whitespace run, so nothing else changes);
    `newline` appends the line end its predictor expects. Done column-wise in polars: a Python
    split/join per document costs as much as the scoring."""
    import polars as pl

    col = pl.Series(texts, dtype=pl.String).fill_null("").str.replace_all("\n", " ", literal=True)
    col = col.str.to_lowercase() if lower else col
    return (col + "\n" if newline else col).to_list()


def check_model_file(path: str | Path, where: str) -> dict[str, int]:
    """Walk the binary layout of a dense fastText model; raise ModelError naming `where` unless the
    file is exactly one supervised model. Returns its header fields."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            head = fh.read(8 + 56 + 28)
            if len(head) < 8 or struct.unpack("<2i", head[:8]) != (MAGIC, VERSION):
                raise ModelError(f"{where}: {path} is not a fastText model (wrong magic number or version)")
            if len(head) < 92:
                raise ModelError(f"{where}: {path} is a truncated fastText model")
            (dim, _ws, _epoch, _min_count, _neg, word_ngrams, _loss, model, bucket, _minn, _maxn, _lr_rate,
             _t) = struct.unpack("<12id", head[8:64])
            n_entries, n_words, n_labels, _tokens, prune = struct.unpack("<3iqq", head[64:92])
            if model != SUPERVISED:
                raise ModelError(f"{where}: {path} is an unsupervised fastText model (word vectors), not a classifier")
            if min(dim, n_entries, n_words, n_labels, bucket) < 0 or n_entries != n_words + n_labels:
                raise ModelError(f"{where}: {path} is a corrupt fastText model (negative sizes in its header)")
            pos = _skip_dictionary(fh, n_entries, where, path)
            pos += 8 * max(prune, 0)
            fh.seek(pos)
            quant = fh.read(1)
            if quant != b"\x00":
                raise ModelError(f"{where}: {path} is a quantized fastText model (.ftz); give the full .bin model")
            rows, cols = _matrix_shape(fh, where, path)
            expect_rows = n_words + bucket if prune < 0 else n_words + prune
            if cols != dim or rows != expect_rows:
                raise ModelError(f"{where}: {path} is a corrupt fastText model (input matrix {rows}x{cols})")
            if pos + 1 + 16 + rows * cols * 4 >= size:
                raise ModelError(f"{where}: {path} is a truncated fastText model (in its input matrix)")
            fh.seek(pos + 1 + 16 + rows * cols * 4)
            if fh.read(1) != b"\x00":
                raise ModelError(f"{where}: {path} is a corrupt or quantized fastText model (output matrix)")
            out_rows, out_cols = _matrix_shape(fh, where, path)
            end = pos + 1 + 16 + rows * cols * 4 + 1 + 16 + out_rows * out_cols * 4
            if out_cols != dim or out_rows != n_labels or end != size:
                raise ModelError(f"{where}: {path} is a truncated or corrupt fastText model "
                                 f"({size:,} bytes where its header implies {end:,})")
    except FileNotFoundError:
        raise ModelError(f"{where}: {path} does not exist") from None
    except OSError as exc:
        raise ModelError(f"{where}: cannot read {path}: {exc.strerror or exc}") from None
    return {"dim": dim, "wordNgrams": word_ngrams, "bucket": bucket, "words": n_words, "labels": n_labels}


def _skip_dictionary(fh: Any, n_entries: int, where: str, path: Any) -> int:
    """Offset after the dictionary: each entry is a NUL-terminated word, an int64 count, an int8 type."""
    fh.seek(92)
    pos, left, buf = 92, n_entries, b""
    while left:
        chunk = fh.read(1 << 20)
        if not chunk:
            raise ModelError(f"{where}: {path} is a truncated fastText model (in its dictionary)")
        buf += chunk
        at = 0
        while left:
            nul = buf.find(b"\x00", at)
            if nul < 0 or nul + 10 > len(buf):
                break
            at = nul + 10
            left -= 1
        pos += at
        buf = buf[at:]
    return pos


def _matrix_shape(fh: Any, where: str, path: Any) -> tuple[int, int]:
    raw = fh.read(16)
    if len(raw) < 16:
        raise ModelError(f"{where}: {path} is a truncated fastText model")
    rows, cols = struct.unpack("<qq", raw)
    if rows < 0 or cols < 0:
        raise ModelError(f"{where}: {path} is a corrupt fastText model (negative matrix size)")
    return rows, cols


@dataclass(frozen=True)
class Classifier:
    """A loaded model, the label whose probability is the score, and how text is prepared for it."""
    model: Any
    label: str
    lower: bool
    labels: tuple[str, ...]
    kernel: dict[str, Any] | None = None  # the numba forward pass's tables (see `_kernel`), when it applies

    def scores(self, texts: Any) -> np.ndarray:
        """P(label) of each text as fastText reports it (its softmax output + 1e-5), float64."""
        if self.kernel is not None:
            return self._kernel_scores(texts)
        # Straight to the C++ batch predictor: the Python wrapper would check and copy every line again.
        lines = prepare(texts, self.lower, newline=True)
        if not lines:
            return np.zeros(0)
        names, probs = self.model.f.multilinePredict(lines, -1, 0.0, "strict")
        want = PREFIX + self.label
        out = np.array([p[list(n).index(want)] if want in n else 0.5 for n, p in zip(names, probs, strict=True)])
        return np.clip(out.astype(np.float64), 0.0, 1.0)

    def _kernel_scores(self, texts: Any) -> np.ndarray:
        import polars as pl

        from stages.fasttext_kernel import kernels as fasttext_kernel
        from stages.minhash import to_buffer

        k = self.kernel
        lines = pl.Series(prepare(texts, self.lower), dtype=pl.String)
        out = np.empty(len(lines))
        if len(lines):
            buf, offsets = to_buffer(lines)
            fasttext_kernel.probabilities(buf, offsets, k["table"], k["words"], k["offsets"], k["eos_id"], k["eos_hash"],
                                          k["nwords"], k["bucket"], k["ngrams"], k["win"], k["wout"], k["want"], out)
        return np.clip(np.nan_to_num(out, nan=0.5), 0.0, 1.0)


def _kernel(model: Any, label: str) -> dict[str, Any] | None:
    """Tables for the numba forward pass, or None where it does not apply (character n-grams,
    another loss than softmax, numba missing): fastText's own predictor then scores."""
    import importlib.util

    args = model.f.getArgs()
    if args.maxn > 0 or "softmax" not in str(args.loss) or importlib.util.find_spec("numba") is None:
        return None
    from stages.fasttext_kernel import kernels as fasttext_kernel

    words = model.get_words(on_unicode_error="strict")
    encoded = [w.encode("utf-8") for w in words]
    offsets = np.concatenate([[0], np.cumsum([len(w) for w in encoded])]).astype(np.int64)
    flat = np.frombuffer(b"".join(encoded), dtype=np.uint8) if encoded else np.zeros(0, np.uint8)
    size = 1 << max(4, (2 * len(words)).bit_length())
    eos = np.frombuffer(b"</s>", dtype=np.uint8)
    h = int(fasttext_kernel.fnv(eos, 0, len(eos)))
    return {"table": fasttext_kernel.build_table(flat, offsets, size), "words": flat, "offsets": offsets,
            "eos_id": words.index("</s>") if "</s>" in words else -1, "eos_hash": h - (1 << 32) if h >= 1 << 31 else h,
            "nwords": len(words), "bucket": int(args.bucket), "ngrams": int(args.wordNgrams),
            "win": np.ascontiguousarray(model.get_input_matrix(), dtype=np.float32),
            "wout": np.ascontiguousarray(model.get_output_matrix(), dtype=np.float32),
            "want": [x.removeprefix(PREFIX) for x in model.get_labels()].index(label)}


def load(model_path: str, sidecar: str | None, label: str, where: str, model_sha256: str | None = None) -> Classifier:
    """Check, load and describe a model. A missing/corrupt model or a sidecar that describes
    another model is a ModelError; a label the model lacks is a ValueError (a usage error)."""
    check_model_file(model_path, where)
    lower = False
    if sidecar:
        meta = read_sidecar(sidecar, where)
        digest = model_sha256 or file_sha256(model_path)
        if meta["model"]["sha256"] != digest:
            raise ModelError(f"{where}: sidecar {sidecar} describes another model (sha256 {meta['model']['sha256'][:12]}…, "
                             f"the model is {digest[:12]}…)")
        lower = bool(meta.get("preprocess", {}).get("lowercase", False))
    import fasttext

    try:
        model = fasttext.load_model(str(model_path))
    except ValueError as exc:
        raise ModelError(f"{where}: fastText cannot load {model_path}: {exc}") from None
    labels = tuple(x.removeprefix(PREFIX) for x in model.get_labels())
    if label not in labels:
        raise ValueError(f"the model has no label {label!r}; its labels are {', '.join(sorted(labels))}")
    return Classifier(model, label, lower, labels, _kernel(model, label))


def read_sidecar(path: str | Path, where: str) -> dict[str, Any]:
    try:
        meta = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{where}: cannot read the model's sidecar {path}: {exc}") from None
    if not isinstance(meta, dict) or meta.get("assay") != "fasttext model" or not isinstance(meta.get("model"), dict):
        raise ModelError(f"{where}: {path} is not a sidecar written by 'assay quality train'")
    return meta


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


from stages.fasttext_train import TRAIN_DEFAULTS, auc, metrics, train  # noqa: E402,F401  (one import for callers)
