"""Training a supervised fastText classifier for `assay quality train`: a held-out split per class, training
in a fresh process, holdout metrics, and the JSON sidecar written next to the model."""
from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from stages.fasttext_model import PREFIX, SIDECAR_FORMAT, Classifier, _kernel, file_sha256, prepare, sidecar_path

# fastText's defaults for supervised models, with word bigrams as DCLM's classifier uses, and a small
# model: words seen fewer than 5 times dropped, 50,000 n-gram buckets. Scoring speed is bound by
# fetching a matrix row per word and bigram, so the model should fit the CPU's caches; on the quality
# benchmark this gave the same AUC as 1 and 200,000 (0.692 vs 0.692) in a model of 7 MB instead of 39.
# Four threads, not one: this build's single-thread path stops with "Encountered NaN" in about half of
# its trainings (6 of 12 on a 108-line file), four threads in none of 12 (see `_train_supervised`).
TRAIN_DEFAULTS = {"wordNgrams": 2, "dim": 16, "epoch": 10, "lr": 0.1, "minCount": 5, "bucket": 50_000,
                  "loss": "softmax", "thread": 4, "seed": 0}


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with tied ranks averaged)."""
    scores, labels = np.asarray(scores, float), np.asarray(labels, bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if not n_pos or not n_neg:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def metrics(scores: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    labels = np.asarray(labels, bool)
    pred = np.asarray(scores) >= threshold
    tp = int((pred & labels).sum())
    area = auc(scores, labels)
    # None, not NaN, where a figure is undefined (nothing predicted, one class only): JSON has no NaN
    return {"documents": int(len(labels)), "accuracy": float((pred == labels).mean()) if len(labels) else None,
            "precision": tp / int(pred.sum()) if pred.any() else None,
            "recall": tp / int(labels.sum()) if labels.any() else None, "auc": None if np.isnan(area) else area}


def split_holdout(n: int, fraction: float, rng: random.Random) -> tuple[list[int], list[int]]:
    order = list(range(n))
    rng.shuffle(order)
    k = int(round(n * fraction))
    return sorted(order[k:]), sorted(order[:k])


def train(positive: list[str], negative: list[str], out: Path, labels: tuple[str, str] = ("hq", "other"),
          holdout: float = 0.1, lowercase: bool = True, params: dict[str, Any] | None = None,
          sources: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """Train a supervised model on two classes, evaluate it on a held-out split of each, and write
    the model and its sidecar (each under a temporary name, then renamed). Returns the sidecar."""
    import fasttext

    p = TRAIN_DEFAULTS | dict(params or {})
    rng = random.Random(p["seed"])
    pos_train, pos_test = split_holdout(len(positive), holdout, rng)
    neg_train, neg_test = split_holdout(len(negative), holdout, rng)
    rows = [(labels[0], positive[i]) for i in pos_train] + [(labels[1], negative[i]) for i in neg_train]
    rng.shuffle(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".train-") as tmp:
        data = Path(tmp) / "train.txt"
        with open(data, "w", encoding="utf-8") as fh:
            lines = prepare([text for _, text in rows], lowercase)
            fh.writelines(f"{PREFIX}{lab} {line}\n" for (lab, _), line in zip(rows, lines, strict=True))
        tmp_model = Path(tmp) / "model.bin"
        attempts = _train_supervised(str(data), tmp_model, p)
        model = fasttext.load_model(str(tmp_model))
        clf = Classifier(model, labels[0], lowercase, labels, _kernel(model, labels[0]))
        test = [positive[i] for i in pos_test] + [negative[i] for i in neg_test]
        truth = np.array([True] * len(pos_test) + [False] * len(neg_test))
        held = metrics(clf.scores(test), truth) if len(test) else {"documents": 0}
        meta = {
            "assay": "fasttext model", "format": SIDECAR_FORMAT,
            "model": {"file": out.name, "sha256": file_sha256(tmp_model), "bytes": tmp_model.stat().st_size},
            "labels": {"positive": labels[0], "negative": labels[1]},
            "preprocess": {"whitespace": "collapsed to one space", "lowercase": lowercase},
            "params": p, "holdout": {"fraction": holdout, **held},
            "training": {"positive_documents": len(pos_train), "negative_documents": len(neg_train), "attempts": attempts,
                         "inputs": sources or {}},
            "fasttext": _fasttext_version(),
        }
        tmp_model.replace(out)
    tmp_side = sidecar_path(out).with_name(f".{out.name}.json.tmp")
    tmp_side.write_text(json.dumps(meta, indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")
    tmp_side.replace(sidecar_path(out))
    return meta


_CHILD = """
import json, sys
import fasttext
data, out, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
fasttext.train_supervised(input=data, verbose=0, **params).save_model(out)
"""


def _train_supervised(data: str, out: Path, p: dict[str, Any]) -> int:
    """Train in a fresh Python process; returns the number of attempts. This fastText build
    (fasttext-numpy2 0.10.4) does not train reproducibly: even with one thread, the same file and
    seed give other weights from one process to the next, and one thread often stops with
    "Encountered NaN" whatever the learning rate (seen on a two-line file at lr 0.01). A failed
    attempt is retried in a new process, at most 8 times. Scoring with a saved model is exact and
    repeatable; the sidecar (hashes of the model and its training files) is what pins a model."""
    import subprocess
    import sys

    for attempt in range(1, 9):
        done = subprocess.run([sys.executable, "-c", _CHILD, data, str(out), json.dumps(p)],
                              capture_output=True, text=True)
        if done.returncode == 0:
            return attempt
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        if "NaN" not in last or attempt == 8:
            raise RuntimeError(f"fastText training failed: {last}")
    raise AssertionError("unreachable")


def _fasttext_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("fasttext-numpy2", "fasttext-wheel", "fasttext"):
        try:
            return f"{dist} {version(dist)}"
        except PackageNotFoundError:
            continue
    return "unknown"
