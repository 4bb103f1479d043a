"""`assay quality train`: a supervised fastText classifier (word bigrams, as DCLM's) from positive and
negative documents, with a held-out split, written with its JSON sidecar. The `fasttext_quality`
stage scores with it (`--fasttext-quality-model MODEL`); a domain classifier is the same command
with in-domain documents as positives."""
from __future__ import annotations

import argparse
from pathlib import Path

ORDER = 40
HELP = "train a fastText quality (or domain) classifier for the fasttext_quality stage"


def _fraction(value: str) -> float:
    try:
        out = float(value)
    except ValueError:
        out = -1.0
    if not 0.0 <= out < 1.0:
        raise argparse.ArgumentTypeError(f"accepts a number in [0, 1); got {value!r}")
    return out


def _positive(kind: type):
    def check(value: str):
        try:
            out = kind(value)
        except ValueError:
            out = 0
        if out <= 0:
            raise argparse.ArgumentTypeError(f"accepts a number > 0; got {value!r}")
        return out
    check.__name__ = kind.__name__
    return check


def _label(value: str) -> str:
    if not value or any(c.isspace() for c in value) or value.startswith("__label__"):
        raise argparse.ArgumentTypeError(f"accepts a word without spaces or the __label__ prefix; got {value!r}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    t = sub.add_parser("train", help="train a classifier: MODEL and MODEL.json (its sidecar)",
                       description="Train a supervised fastText classifier; print its holdout precision, recall "
                                   "and AUC; write MODEL and MODEL.json (training file hashes, parameters, "
                                   "holdout metrics, fastText version).")
    t.add_argument("--positive", nargs="+", required=True, metavar="PATH",
                   help="files or folders of positive documents (the formats 'assay run' reads)")
    t.add_argument("--negative", nargs="+", required=True, metavar="PATH", help="files or folders of negative documents")
    t.add_argument("--out", required=True, type=Path, metavar="MODEL", help="the model file to write (.bin)")
    t.add_argument("--label", type=_label, default="hq", help="label of the positives (default hq, as DCLM's model)")
    t.add_argument("--negative-label", type=_label, default="other", help="label of the negatives (default other)")
    t.add_argument("--holdout", type=_fraction, default=0.1, help="fraction of each class held out for the metrics (default 0.1)")
    t.add_argument("--epoch", type=_positive(int), default=10, help="passes over the data (default 10)")
    t.add_argument("--lr", type=_positive(float), default=0.1, help="learning rate (default 0.1)")
    t.add_argument("--dim", type=_positive(int), default=16, help="vector size (default 16: scoring speed depends on it)")
    t.add_argument("--word-ngrams", type=_positive(int), default=2, help="word n-grams (default 2: bigrams)")
    t.add_argument("--bucket", type=_positive(int), default=50_000,
                   help="hash buckets of the word n-grams (default 50,000: a small model scores faster)")
    t.add_argument("--min-count", type=_positive(int), default=5, help="drop words seen fewer times (default 5)")
    t.add_argument("--seed", type=int, default=0, help="seed of the split and of training (default 0)")
    t.add_argument("--keep-case", action="store_true", help="do not lowercase texts (scoring follows the sidecar)")
    t.add_argument("--text-field", default="text", help="input field holding the text (default text)")


def run(args: argparse.Namespace) -> int:
    from flows.errors import InputError
    from flows.ingest.config import IngestConfig
    from flows.ingest.texts import read_texts
    from stages import fasttext_model as fm
    from stages.options import ConfigError

    if args.label == args.negative_label:
        raise ConfigError(f"--label and --negative-label must differ; both are {args.label!r}")
    out = args.out
    if out.is_dir():
        raise ConfigError(f"--out accepts a file path to write the model to; {out} is a folder")
    cfg = IngestConfig(text_field=args.text_field)
    pos = read_texts(args.positive, "--positive", cfg)
    neg = read_texts(args.negative, "--negative", cfg)
    for name, part in (("--positive", pos), ("--negative", neg)):
        if args.holdout and len(part.texts) < 2:
            raise InputError(f"{name}: {len(part.texts)} document; a holdout split needs at least 2 per class")
    params = {"epoch": args.epoch, "lr": args.lr, "dim": args.dim, "wordNgrams": args.word_ngrams,
              "bucket": args.bucket, "minCount": args.min_count, "seed": args.seed}
    meta = fm.train(pos.texts, neg.texts, out, labels=(args.label, args.negative_label), holdout=args.holdout,
                    lowercase=not args.keep_case, params=params,
                    sources={"positive": pos.files, "negative": neg.files})
    h = meta["holdout"]
    print(f"trained on {meta['training']['positive_documents']:,} positive and "
          f"{meta['training']['negative_documents']:,} negative documents "
          f"({pos.quarantined + neg.quarantined:,} records quarantined)")
    if h.get("documents"):
        fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
        print(f"holdout ({h['documents']:,} documents, threshold 0.5): precision {fmt(h['precision'])}  "
              f"recall {fmt(h['recall'])}  accuracy {fmt(h['accuracy'])}  AUC {fmt(h['auc'])}")
    else:
        print("holdout: none (--holdout 0)")
    print(f"model: {out} ({meta['model']['bytes']:,} bytes)  sidecar: {fm.sidecar_path(out)}")
    return 0
