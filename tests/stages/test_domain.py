"""domain (DSIR importance resampling): selects what looks like the seed documents, by count or
fraction, seeded and identical whatever the shard size; weights land in the ledger, the seed's hash
in the manifest."""
from __future__ import annotations

import json
import random
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from conftest import make_docs, prose, write_jsonl

from flows.execute import run_local
from flows.plan import RunOptions, make_plan
from stages import catalog, domain
from stages.base import check_result, split
from stages.domain import WEIGHT, Domain
from stages.options import ConfigError

SPORT = ["match", "goal", "striker", "league", "coach", "season", "penalty", "referee", "stadium", "keeper",
         "football", "cup", "final", "team", "scored", "minute", "half", "win", "draw", "fans"]


def sport(i: int, words: int = 80) -> str:
    rng = random.Random(i)
    return " ".join(rng.choice(SPORT) + ("." if rng.random() < 0.1 else "") for _ in range(words))


def corpus(n_sport: int = 20, n_other: int = 60) -> tuple[pl.DataFrame, set[str]]:
    texts = [sport(1000 + i) for i in range(n_sport)] + [prose(i) for i in range(n_other)]
    order = list(range(len(texts)))
    random.Random(7).shuffle(order)
    docs = make_docs([texts[i] for i in order])
    return docs, {f"d{k}" for k, i in enumerate(order) if i < n_sport}


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    write_jsonl(tmp_path / "seed" / "a.jsonl", [{"text": sport(i)} for i in range(8)])
    write_jsonl(tmp_path / "seed" / "b.jsonl", [{"text": sport(i)} for i in range(8, 12)])
    (tmp_path / "seed" / "README.txt").write_text("not data")
    return tmp_path / "seed"


def _selected(result) -> set[str]:
    return set(result.decisions.filter(pl.col("decision") == "kept")["doc_id"].to_list())


@pytest.mark.parametrize("method", ["top", "resample"])
def test_selects_the_documents_that_look_like_the_seed(seed: Path, method: str) -> None:
    docs, target = corpus()
    stage = Domain(seed=(str(seed),), count=20, method=method)
    result = stage.apply(docs)
    check_result(stage, docs, result)
    picked = _selected(result)
    assert len(picked) == 20 and len(picked & target) >= 18
    d = result.decisions.with_columns(w=pl.col("scores").str.json_path_match(f"$.{WEIGHT}").cast(pl.Float64))
    assert d["w"].null_count() == 0  # every document's weight is recorded, selected or not
    assert d.filter(pl.col("doc_id").is_in(list(target)))["w"].min() > d.filter(~pl.col("doc_id").is_in(list(target)))["w"].max()
    assert set(d.filter(pl.col("decision") == "removed")["reason"].to_list()) == {"not_selected"}


def test_hashed_ngrams_count_unigrams_and_bigrams() -> None:
    rows, buckets, counts = domain.hashed_ngrams(pl.Series(["Red fish, red FISH", "", None, "fish"]), 1 << 20)
    # red x2, fish x2, "red fish" x2, "fish red" x1 (lowercased, punctuation dropped); nothing for "" or null
    assert rows.tolist() == [0, 0, 0, 0, 3] and sorted(counts[:4].tolist()) == [1, 2, 2, 2]
    assert counts[4] == 1 and buckets[4] in buckets[:4]  # "fish" hashes to the same bucket in every document


def test_resampling_is_seeded_and_never_depends_on_the_shard_size(seed: Path) -> None:
    docs, _ = corpus(30, 30)
    stage = Domain(seed=(str(seed),), fraction=0.3, method="resample", sample_seed=3)
    res = stage._resources(None)
    whole = stage.apply(docs, res)
    for size in (1, 7, 25):
        feats = pl.concat([stage.features(docs.slice(i, size), res) for i in range(0, docs.height, size)])
        assert split(docs, stage.judge(feats.lazy(), docs.lazy(), res)).decisions.equals(whole.decisions)
    assert len(_selected(whole)) == 18
    other = Domain(seed=(str(seed),), fraction=0.3, method="resample", sample_seed=4).apply(docs, res)
    assert _selected(other) != _selected(whole)  # the seed matters: 30 equally likely sport documents, 18 drawn
    assert Domain(seed=(str(seed),), fraction=0.3, method="resample", sample_seed=3).apply(docs, res).decisions.equals(whole.decisions)


def test_gumbel_noise_depends_on_seed_and_id_only() -> None:
    a = domain.gumbel(["x", "y", "z"], 1)
    assert a.tolist() == domain.gumbel(["x", "y", "z"], 1).tolist()
    assert a[1] == domain.gumbel(["y"], 1)[0] and a[0] != domain.gumbel(["x"], 2)[0]
    big = domain.gumbel([f"d{i}" for i in range(20_000)], 0)
    assert abs(big.mean() - np.euler_gamma) < 0.05  # standard Gumbel: mean is Euler's constant


def test_count_and_fraction_are_checked(seed: Path) -> None:
    with pytest.raises(ConfigError, match="fraction or count, not both"):
        catalog.build("domain", {"seed": [str(seed)], "fraction": 0.2, "count": 3})
    with pytest.raises(ConfigError, match=r"accepts a number in \[0, 1\]|accepts a number in \(0, 1\]"):
        catalog.build("domain", {"seed": [str(seed)], "fraction": 1.5})
    docs, _ = corpus(5, 5)
    assert len(_selected(Domain(seed=(str(seed),), count=500).apply(docs))) == 10  # a count above the corpus keeps all
    assert len(_selected(Domain(seed=(str(seed),)).apply(docs))) == 1  # default: 10 %


def test_seed_without_data_files_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "seed").mkdir()
    (tmp_path / "seed" / "notes.txt").write_text("hello")
    with pytest.raises(ConfigError, match="no data files"):
        Domain(seed=(str(tmp_path / "seed"),)).apply(make_docs([prose(1)]))


def test_run_records_weights_and_seed_hash_and_re_decides_from_cached_features(seed: Path, tmp_path: Path,
                                                                              monkeypatch) -> None:
    docs, target = corpus(20, 40)
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": i, "text": t} for i, t in zip(docs["doc_id"], docs["text"], strict=True)])
    hashed: list[int] = []
    real = domain.hashed_ngrams
    monkeypatch.setattr(domain, "hashed_ngrams", lambda texts, b: hashed.append(len(texts)) or real(texts, b))

    def run(**opts):
        return run_local(RunOptions(inputs=(str(tmp_path / "in"),), out=tmp_path / "run", stages=("domain",),
                                    stage_options={"domain": {"seed": [str(seed)], **opts}}, shard_size=16, progress=False))

    first = run(count=20)
    assert sorted(hashed) == [12, 12, 16, 16, 16] and first["kept"] == 20  # 4 shards + the seed documents
    second = run(count=10, method="top")
    assert first["kept"] == 20 and second["kept"] == 10 and sum(hashed) == 60 + 12 + 12  # features reused
    assert first["inputs"]["options"]["domain.seed"][0]["kind"] == "path"
    with duckdb.connect(str(tmp_path / "run" / "ledger.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT doc_id, decision, log_weight, rank FROM domain_weights ORDER BY rank").fetchall()
    assert len(rows) == 60 and all(w is not None for _, _, w, _ in rows)
    assert {r[0] for r in rows[:10]} <= target and [r[1] for r in rows[:10]] == ["kept"] * 10


def test_unconfigured_domain_is_left_out_of_a_default_run(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"text": prose(i)} for i in range(3)])
    plan = make_plan(RunOptions(inputs=(str(tmp_path / "in"),), out=tmp_path / "run", progress=False))
    assert "--domain-seed" in dict(plan.not_configured)["domain"]
    with pytest.raises(ConfigError, match="stage 'domain' is not configured"):
        make_plan(RunOptions(inputs=(str(tmp_path / "in"),), out=tmp_path / "run", stages=("domain",), progress=False))
    assert json.dumps(dict(plan.not_configured))  # plain strings, for the manifest


def test_the_domain_classifier_way_selects_the_same_documents(seed: Path, tmp_path: Path) -> None:
    """The other method: `assay quality train` with the seeds as positives and general text as
    negatives, then fasttext_quality with that label and a top fraction."""
    from stages import fasttext_model as fm
    from stages.fasttext_quality import FasttextQuality

    docs, target = corpus(20, 60)
    general = [t for t in docs["text"].sample(20, seed=1).to_list()]
    model = tmp_path / "sport.bin"
    fm.train([sport(i) for i in range(12)], general, model, labels=("sport", "general"),
             params={"dim": 8, "bucket": 2000, "epoch": 20})
    stage = FasttextQuality(model=str(model), label="sport", fraction=0.25)
    picked = _selected(stage.apply(docs))
    assert len(picked) == 20 and len(picked & target) >= 18
    assert stage.apply(docs).decisions.equals(stage.apply(docs).decisions)  # scoring is exact and repeatable
