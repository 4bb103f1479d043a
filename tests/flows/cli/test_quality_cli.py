"""`assay quality train`: inputs read as `assay run` reads them, holdout figures printed, model and
sidecar written; then the model drives `assay run --fasttext-quality-model`."""
from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import polars as pl
from conftest import prose, write_jsonl

from flows.cli import main
from stages import fasttext_model as fm

JUNK = ["home", "login", "cart", "menu", "cookies", "privacy", "share", "click", "here", "subscribe", "sitemap"]


def junk(i: int) -> str:
    rng = random.Random(i)
    return "\n".join(" | ".join(rng.choice(JUNK) for _ in range(5)) for _ in range(8))


def _inputs(tmp: Path) -> tuple[Path, Path]:
    pos, neg = tmp / "pos", tmp / "neg"
    write_jsonl(pos / "a.jsonl", [{"text": prose(i)} for i in range(30)], raw_lines=[b"{broken\n"])
    pl.DataFrame({"text": [prose(i) for i in range(30, 50)]}).write_parquet(pos / "b.parquet")
    neg.mkdir()
    with gzip.open(neg / "c.jsonl.gz", "wt") as fh:
        fh.writelines(json.dumps({"text": junk(i)}) + "\n" for i in range(50))
    (neg / "notes.md").write_text("not data")
    return pos, neg


def test_train_prints_holdout_figures_and_writes_model_and_sidecar(tmp_path: Path, capsys) -> None:
    pos, neg = _inputs(tmp_path)
    out = tmp_path / "models" / "q.bin"
    code = main(["quality", "train", "--positive", str(pos / "a.jsonl"), str(pos / "b.parquet"), "--negative",
                 str(neg), "--out", str(out), "--dim", "8", "--bucket", "5000", "--epoch", "20"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "trained on 45 positive and 45 negative documents (1 records quarantined)" in printed
    assert "holdout (10 documents, threshold 0.5): precision" in printed and "AUC 1.000" in printed
    meta = json.loads(fm.sidecar_path(out).read_text())
    files = meta["training"]["inputs"]
    assert [f["name"] for f in files["positive"]] == ["a.jsonl", "b.parquet"]
    assert files["positive"][0]["documents"] == 30 and files["positive"][0]["quarantined"] == 1
    assert files["negative"][0]["sha256"] == fm.file_sha256(neg / "c.jsonl.gz")
    assert meta["model"]["sha256"] == fm.file_sha256(out) and meta["params"]["bucket"] == 5000

    write_jsonl(tmp_path / "in" / "x.jsonl", [{"text": prose(100 + i) if i % 2 else junk(100 + i)} for i in range(10)])
    code = main(["run", str(tmp_path / "in"), "--out", str(tmp_path / "run"), "--quiet", "--stages", "fasttext_quality",
                 "--fasttext-quality-model", str(out), "--fasttext-quality-fraction", "0.5"])
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert code == 0 and manifest["kept"] == 5
    assert manifest["inputs"]["options"]["fasttext_quality.sidecar"][0]["sha256"] == fm.file_sha256(fm.sidecar_path(out))


def test_usage_errors_are_one_line_with_exit_2(tmp_path: Path, capsys) -> None:
    pos, neg = _inputs(tmp_path)
    cases = [
        (["--positive", str(pos), "--negative", str(neg), "--out", str(tmp_path / "m.bin"), "--holdout", "1.5"], "--holdout"),
        (["--positive", str(pos), "--negative", str(neg), "--out", str(tmp_path / "m.bin"), "--label", "__label__x"], "--label"),
        (["--positive", str(pos), "--negative", str(neg), "--out", str(tmp_path / "m.bin"), "--label", "a",
          "--negative-label", "a"], "must differ"),
        (["--positive", str(pos), "--negative", str(neg), "--out", str(tmp_path)], "is a folder"),
        (["--negative", str(neg), "--out", str(tmp_path / "m.bin")], "--positive"),
    ]
    for args, needle in cases:
        assert main(["quality", "train", *args]) == 2, args
        err = capsys.readouterr().err.strip()
        assert needle in err and len(err.splitlines()) == 1, err


def test_missing_inputs_or_no_documents_fail_with_one_line(tmp_path: Path, capsys) -> None:
    pos, neg = _inputs(tmp_path)
    assert main(["quality", "train", "--positive", str(pos), "--negative", str(neg), "--out", str(tmp_path / "m.bin"),
                 "--text-field", "body"]) == 1  # no record has a 'body': all quarantined, no documents
    err = capsys.readouterr().err.strip()
    assert err.startswith("assay: error: --positive: no documents in") and len(err.splitlines()) == 1
    assert main(["quality", "train", "--positive", str(tmp_path / "nope"), "--negative", str(tmp_path),
                 "--out", str(tmp_path / "m.bin")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("assay: error: --positive: input does not exist") and len(err.splitlines()) == 1
    assert not (tmp_path / "m.bin").exists()
