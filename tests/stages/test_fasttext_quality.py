"""fasttext_quality: a trained model's score for every document, decided by threshold or by the top
fraction of the corpus, re-decided without rescoring; every bad model file fails with one line."""
from __future__ import annotations

import json
import pickle
import random
import struct
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from conftest import make_docs, prose, write_jsonl

from flows.cli import main
from flows.errors import InputError
from flows.execute import run_local
from flows.plan import RunOptions, make_plan
from stages import fasttext_model as fm
from stages.base import check_result
from stages.fasttext_quality import SCORE, FasttextQuality
from stages.options import ConfigError

SMALL = {"dim": 8, "bucket": 2_000, "epoch": 20}  # a model of ~100 KB, trained in milliseconds
MENU = ["home", "login", "cart", "menu", "subscribe", "cookies", "privacy", "share", "next", "prev", "click",
        "here", "buy", "now", "sign", "up", "terms", "contact", "sitemap", "©"]


def boilerplate(i: int, words: int = 60) -> str:
    rng = random.Random(i)
    return "\n".join(" | ".join(rng.choice(MENU) for _ in range(6)) for _ in range(words // 6))


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model") / "quality.bin"
    fm.train([prose(i) for i in range(60)], [boilerplate(i) for i in range(60)], out, params=SMALL)
    return out


def mixed(n: int = 20) -> pl.DataFrame:
    return make_docs([prose(100 + i) if i % 2 else boilerplate(100 + i) for i in range(n)])


def test_train_writes_model_and_sidecar_and_round_trips(model: Path, tmp_path: Path) -> None:
    meta = json.loads(fm.sidecar_path(model).read_text())
    assert meta["model"]["sha256"] == fm.file_sha256(model) and meta["model"]["bytes"] == model.stat().st_size
    assert meta["labels"] == {"positive": "hq", "negative": "other"}
    assert meta["params"]["wordNgrams"] == 2 and meta["params"]["dim"] == 8
    assert meta["holdout"]["documents"] == 12 and meta["holdout"]["auc"] > 0.9
    assert meta["fasttext"].startswith("fasttext") and meta["training"]["positive_documents"] == 54
    clf = fm.load(str(model), str(fm.sidecar_path(model)), "hq", "here")
    good, bad = clf.scores([prose(500), boilerplate(500)])
    assert good > 0.8 and bad < 0.2
    # Scoring with a saved model is exact and repeatable (training, with this fastText build, is not).
    again = fm.load(str(model), str(fm.sidecar_path(model)), "hq", "here").scores([prose(500), boilerplate(500)])
    assert again.tolist() == [good, bad]


def test_numba_forward_pass_gives_fasttexts_own_probabilities(model: Path) -> None:
    clf = fm.load(str(model), str(fm.sidecar_path(model)), "hq", "here")
    assert clf.kernel is not None
    texts = [prose(i) for i in range(5)] + [boilerplate(i) for i in range(5)] + [
        "", None, "a", "hello __label__hq world __label__x", "Ünïcödé déjà vu\twith\ttabs\r\nand\x0bmore\x00x",
        "  spaced   out  ", "river " * 3000]
    fast = clf.scores(texts)
    slow = fm.Classifier(clf.model, clf.label, clf.lower, clf.labels).scores(texts)  # fastText's predictor
    assert np.abs(fast - slow).max() < 1e-6 and len(set(fast.round(6))) > 5


def test_threshold_scores_every_document_and_removes_below(model: Path) -> None:
    docs = mixed()
    stage = FasttextQuality(model=str(model), threshold=0.5)
    assert stage.sidecar == str(fm.sidecar_path(model))  # found next to the model
    result = stage.apply(docs)
    check_result(stage, docs, result)
    d = result.decisions.with_columns(score=pl.col("scores").str.json_path_match(f"$.{SCORE}").cast(pl.Float64))
    assert d["score"].null_count() == 0  # removed documents carry their score too
    removed = d.filter(pl.col("decision") == "removed")
    assert removed["reason"].unique().to_list() == ["below_threshold"] and (removed["score"] < 0.5).all()
    assert (d.filter(pl.col("decision") == "kept")["score"] >= 0.5).all()
    assert sorted(result.kept["doc_id"].to_list()) == sorted(f"d{i}" for i in range(1, 20, 2))
    assert result.kept[SCORE].min() >= 0.5


def test_top_fraction_keeps_the_best_ranked_documents_of_the_corpus(model: Path) -> None:
    docs = mixed(20)
    result = FasttextQuality(model=str(model), fraction=0.25).apply(docs)
    d = result.decisions.with_columns(score=pl.col("scores").str.json_path_match(f"$.{SCORE}").cast(pl.Float64))
    kept = d.filter(pl.col("decision") == "kept")
    assert kept.height == 5
    assert kept["score"].min() >= d.filter(pl.col("decision") == "removed")["score"].max()
    ev = json.loads(d.filter(pl.col("decision") == "removed")["evidence"][0])
    assert ev["kept"] == 5 and ev["rank"] > 5 and ev["cutoff_score"] == pytest.approx(kept["score"].min())


def test_threshold_and_fraction_together_is_a_usage_error(model: Path) -> None:
    from stages import catalog

    with pytest.raises(ConfigError, match="threshold or fraction, not both"):
        catalog.build("fasttext_quality", {"model": str(model), "threshold": 0.4, "fraction": 0.1})
    with pytest.raises(ConfigError, match=r"accepts a number in \[0, 1\]|accepts a number in \(0, 1\]"):
        catalog.build("fasttext_quality", {"model": str(model), "fraction": 0})


def _run(tmp: Path, model: Path, **opts) -> dict:
    write_jsonl(tmp / "in" / "a.jsonl", [{"text": prose(100 + i) if i % 2 else boilerplate(100 + i)} for i in range(40)])
    return run_local(RunOptions(inputs=(str(tmp / "in"),), out=tmp / "run", stages=("fasttext_quality",),
                                stage_options={"fasttext_quality": {"model": str(model), **opts}},
                                shard_size=7, progress=False))


def test_a_new_fraction_or_threshold_re_decides_without_rescoring(model: Path, tmp_path: Path, monkeypatch) -> None:
    calls: list[int] = []
    real = fm.Classifier.scores
    monkeypatch.setattr(fm.Classifier, "scores", lambda self, texts: calls.append(len(texts)) or real(self, texts))
    first = _run(tmp_path, model, fraction=0.1)
    assert sum(calls) == 40 and len(calls) == 6  # scored once, shard by shard
    second = _run(tmp_path, model, fraction=0.3)
    third = _run(tmp_path, model, threshold=0.9)
    assert sum(calls) == 40  # cached scores, new decisions
    assert [m["kept"] for m in (first, second)] == [4, 12]
    assert third["kept"] <= 20 and third["removed_by_stage"]["fasttext_quality"] == 40 - third["kept"]
    with duckdb.connect(str(tmp_path / "run" / "ledger.duckdb"), read_only=True) as con:
        n, scored = con.execute("SELECT count(*), count(score) FROM fasttext_quality_scores").fetchone()
    assert n == scored == 40
    inputs = third["inputs"]["options"]
    assert inputs["fasttext_quality.model"][0]["sha256"] == fm.file_sha256(model)
    assert inputs["fasttext_quality.sidecar"][0]["sha256"] == fm.file_sha256(fm.sidecar_path(model))


def test_sharding_never_changes_the_top_fraction(model: Path, tmp_path: Path) -> None:
    from stages.base import split

    docs = mixed(30)
    stage = FasttextQuality(model=str(model), fraction=0.2)
    res = stage._resources(None)
    feats = pl.concat([stage.features(docs.slice(i, 7), res) for i in range(0, 30, 7)])
    assert split(docs, stage.judge(feats.lazy(), docs.lazy(), res)).decisions.equals(stage.apply(docs, res).decisions)


def test_unconfigured_stage_is_left_out_of_a_default_run(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"text": prose(i)} for i in range(3)])
    plan = make_plan(RunOptions(inputs=(str(tmp_path / "in"),), out=tmp_path / "run", progress=False))
    needs = dict(plan.not_configured)["fasttext_quality"]
    assert "--fasttext-quality-model" in needs and "fasttext_quality" not in [s.name for s in plan.stages]


def _bad_models(model: Path, tmp: Path) -> dict[str, tuple[Path, str]]:
    data = model.read_bytes()
    files = {
        "garbage": (b"not a model at all\n", "not a fastText model"),
        "pickle": (pickle.dumps({"weights": [1, 2, 3]}), "not a fastText model"),
        "truncated_header": (data[:40], "truncated"),
        "truncated_dictionary": (data[:200], "truncated"),
        "truncated_matrix": (data[: len(data) // 2], "truncated"),
        "one_byte_short": (data[:-1], "truncated or corrupt"),
        "trailing_bytes": (data + b"\0", "truncated or corrupt"),
        "unsupervised": (data[:36] + struct.pack("<i", 2) + data[40:], "unsupervised"),
    }
    out = {}
    for name, (raw, why) in files.items():
        (tmp / f"{name}.bin").write_bytes(raw)
        out[name] = (tmp / f"{name}.bin", why)
    return out


def test_every_bad_model_file_fails_the_run_with_one_line(model: Path, tmp_path: Path, capsys) -> None:
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"text": prose(i)} for i in range(3)])
    for name, (path, why) in _bad_models(model, tmp_path).items():
        with pytest.raises(fm.ModelError, match=why):
            fm.check_model_file(path, "here")
        code = main(["run", str(tmp_path / "in"), "--out", str(tmp_path / f"run-{name}"), "--quiet",
                     "--stages", "fasttext_quality", "--fasttext-quality-model", str(path)])
        err = capsys.readouterr().err.strip()
        assert code == 1 and len(err.splitlines()) == 1 and why in err and "Traceback" not in err, (name, err)
    code = main(["run", str(tmp_path / "in"), "--out", str(tmp_path / "run-missing"), "--quiet",
                 "--stages", "fasttext_quality", "--fasttext-quality-model", str(tmp_path / "absent.bin")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "absent.bin does not exist" in err and len(err.splitlines()) == 1


def test_a_label_the_model_lacks_is_a_usage_error(model: Path, tmp_path: Path, capsys) -> None:
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"text": prose(i)} for i in range(3)])
    code = main(["run", str(tmp_path / "in"), "--out", str(tmp_path / "run"), "--quiet", "--stages", "fasttext_quality",
                 "--fasttext-quality-model", str(model), "--fasttext-quality-label", "news"])
    err = capsys.readouterr().err
    assert code == 2 and "no label 'news'" in err and "hq, other" in err


def test_a_sidecar_of_another_model_or_a_damaged_one_fails(model: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.bin"
    fm.train([prose(i) for i in range(20)], [boilerplate(i) for i in range(20)], other, params=SMALL | {"seed": 3})
    copy = tmp_path / "copy.bin"
    copy.write_bytes(model.read_bytes())
    fm.sidecar_path(copy).write_text(fm.sidecar_path(other).read_text())
    with pytest.raises(fm.ModelError, match="describes another model"):
        FasttextQuality(model=str(copy)).apply(mixed(2))
    fm.sidecar_path(copy).write_text("{not json")
    with pytest.raises(fm.ModelError, match="cannot read the model's sidecar"):
        FasttextQuality(model=str(copy)).apply(mixed(2))
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"text": prose(1)}])
    with pytest.raises(InputError, match="does not exist"):
        make_plan(RunOptions(inputs=(str(tmp_path / "in"),), out=tmp_path / "run", stages=("fasttext_quality",),
                             stage_options={"fasttext_quality": {"model": str(model), "sidecar": str(tmp_path / "no.json")}}))
