"""near_dup: ledger evidence, no chaining, short documents, keep policies, options, --against, real data."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import SHARED_DATA, make_docs

from stages import catalog, minhash
from stages.base import EarlierRun, Inputs, check_result, split, stage_keys
from stages.near_dup import NearDup
from stages.options import ConfigError

VOCAB = [f"tok{i}" for i in range(20_000)]


def words(seed: int, n: int = 200) -> list[str]:
    return np.random.default_rng(seed).choice(VOCAB, n).tolist()


def edit(ws: list[str], positions: list[int], tag: str) -> list[str]:
    out = list(ws)
    for p in positions:
        out[p] = f"{tag}{p}"
    return out


def true_jaccard(a: str, b: str, n: int = 5) -> float:
    def shingles(t: str) -> set[str]:
        w = [x for x in minhash.normalize_text(t).split(" ") if x]
        return {" ".join(w[i : i + n]) for i in range(len(w) - n + 1)}
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


def run(stage: NearDup, docs: pl.DataFrame, res=None):
    result = stage.apply(docs, res)
    check_result(stage, docs, result)
    rows = result.decisions.iter_rows(named=True)
    return result, {r["doc_id"]: (r["decision"], r["reason"], json.loads(r["evidence"])) for r in rows}


def test_near_dup_is_in_the_catalog_and_default_flow():
    assert catalog.all_stages()["near_dup"] is NearDup
    assert "near_dup" in catalog.default_stages()


def test_ledger_evidence_for_removed_and_kept_documents():
    base = words(1)
    texts = [" ".join(base), " ".join(edit(base, [50], "x")), " ".join(words(2)), " ".join(edit(base, [120], "y"))]
    result, dec = run(NearDup(), make_docs(texts))
    assert [dec[d][0] for d in ("d0", "d1", "d2", "d3")] == ["kept", "removed", "kept", "removed"]
    for d, twin in (("d1", 0), ("d3", 0)):
        _, reason, ev = dec[d]
        assert reason == "near_duplicate"
        assert ev["duplicate_of"] == "d0" and ev["cluster_id"] == "d0" and ev["cluster_size"] == 3
        assert ev["jaccard"] == pytest.approx(true_jaccard(texts[int(d[1])], texts[twin]), abs=1e-12)
        assert ev["jaccard"] >= 0.8
    assert dec["d0"][2]["cluster_id"] == "d0" and dec["d0"][2]["duplicate_of"] is None
    assert dec["d2"][2]["cluster_id"] == "d2" and dec["d2"][2]["cluster_size"] == 1
    assert result.kept["near_dup_cluster_id"].to_list() == ["d0", "d2"]
    assert result.kept["near_dup_cluster_size"].to_list() == [3, 1]
    art = result.artifacts["signatures"]
    assert art["doc_id"].to_list() == ["d0", "d2"] and art["signature"].dtype == pl.Array(pl.UInt32, 128)


def test_no_removal_through_chains_of_similar_documents():
    # A ~ B and B ~ C (J ~ 0.86 each), but A and C are not (J ~ 0.73): C must stay.
    a = words(3)
    b = edit(a, [20, 90, 160], "b")
    c = edit(b, [55, 125, 185], "c")
    texts = [" ".join(a), " ".join(b), " ".join(c)]
    assert true_jaccard(texts[0], texts[1]) >= 0.8 and true_jaccard(texts[1], texts[2]) >= 0.8
    assert true_jaccard(texts[0], texts[2]) < 0.8
    _, dec = run(NearDup(), make_docs(texts))
    assert dec["d0"][0] == "kept" and dec["d2"][0] == "kept"
    assert dec["d1"][0] == "removed" and dec["d1"][2]["duplicate_of"] == "d0"


def test_every_removal_names_a_kept_document_at_or_above_threshold():
    rng = np.random.default_rng(4)
    texts = []
    for s in range(30):
        base = words(100 + s, 150)
        texts.append(" ".join(base))
        for v in range(4):
            texts.append(" ".join(edit(base, sorted(rng.choice(150, int(rng.integers(1, 6)), replace=False).tolist()), f"v{v}")))
    order = np.random.default_rng(5).permutation(len(texts))
    docs = make_docs([texts[i] for i in order])
    result, dec = run(NearDup(threshold=0.8), docs)
    kept = set(result.kept["doc_id"].to_list())
    by_id = dict(zip(docs["doc_id"], docs["text"], strict=True))
    removed = [d for d, v in dec.items() if v[0] == "removed"]
    assert len(removed) > 40
    for d in removed:
        ev = dec[d][2]
        assert ev["duplicate_of"] in kept
        assert true_jaccard(by_id[d], by_id[ev["duplicate_of"]]) == pytest.approx(ev["jaccard"]) and ev["jaccard"] >= 0.8
    # and nothing was missed: no two kept documents are near-duplicates of each other
    kept_texts = result.kept["text"].to_list()
    for i, a in enumerate(kept_texts):
        for b in kept_texts[i + 1 :]:
            if a.split()[0] == b.split()[0]:  # same group (cheap pre-filter)
                assert true_jaccard(a, b) < 0.8


def test_short_documents_match_exactly_on_normalized_text():
    texts = ["Hello, World!", "hello world", "HELLO   WORLD.", "hello there", "", "   ", "one two three four five six"]
    _, dec = run(NearDup(), make_docs(texts))
    assert [dec[f"d{i}"][0] for i in range(7)] == ["kept", "removed", "removed", "kept", "kept", "removed", "kept"]
    assert dec["d2"][2] == {"duplicate_of": "d0", "jaccard": 1.0, "cluster_id": "d0", "cluster_size": 3}
    assert dec["d5"][2] == {"duplicate_of": "d4", "jaccard": 1.0, "cluster_id": "d4", "cluster_size": 2}
    assert dec["d3"][2] == {"duplicate_of": None, "jaccard": None, "cluster_id": "d3", "cluster_size": 1}


def test_keep_longest_and_keep_by_score_column():
    base = words(6)
    texts = [" ".join(base[:190]), " ".join(base), " ".join(base[:195])]
    _, dec = run(NearDup(keep="longest"), make_docs(texts))
    assert dec["d1"][0] == "kept" and dec["d0"][2]["duplicate_of"] == "d1" and dec["d2"][2]["duplicate_of"] == "d1"
    docs = make_docs(texts).with_columns(quality_score=pl.Series([0.2, 0.1, 0.9]))
    result, dec = run(NearDup(keep="score:quality_score"), docs)
    assert result.kept["doc_id"].to_list() == ["d2"] and dec["d0"][2]["duplicate_of"] == "d2"
    with pytest.raises(ConfigError, match="no column 'missing'"):
        NearDup(keep="score:missing").apply(docs)
    with pytest.raises(ConfigError, match="is String, not numeric"):
        NearDup(keep="score:source").apply(docs)


def test_output_is_deterministic_and_independent_of_input_row_layout():
    texts = []
    for s in range(20):
        base = words(200 + s, 120)
        texts += [" ".join(base), " ".join(edit(base, [7], "q")), " ".join(edit(base, [60, 61], "r"))]
    docs = make_docs(texts)
    r1, _ = run(NearDup(), docs)
    r2, _ = run(NearDup(), docs)
    shuffled = docs.sample(fraction=1.0, shuffle=True, seed=1)
    r3 = NearDup().apply(shuffled)
    assert r1.decisions.equals(r2.decisions)
    assert r1.decisions.sort("doc_id").equals(r3.decisions.sort("doc_id"))


def publish(result, run_dir, given: str, index: bool = True) -> EarlierRun:
    """What the runner hands the stage for an earlier release (flows/inputs.materialize): the index
    it published and the texts it shipped, scanned lazily from files written here."""
    (run_dir / "curated").mkdir(parents=True)
    result.kept.select(id="doc_id", text="text").write_parquet(run_dir / "curated" / "part-00000.parquet")
    if index:
        (run_dir / "index" / "near_dup").mkdir(parents=True)
        result.artifacts["signatures"].write_parquet(run_dir / "index" / "near_dup" / "signatures.parquet")
    return EarlierRun(given=given, manifest_sha256="0" * 64,
                      index=pl.scan_parquet(run_dir / "index" / "near_dup" / "*.parquet") if index else None,
                      texts=pl.scan_parquet(run_dir / "curated" / "*.parquet").select(doc_id="id", text="text"))


def against(stage: NearDup, *runs: EarlierRun):
    return stage.setup(Inputs(runs={"against": runs}))


def test_incremental_release_against_an_earlier_run(tmp_path):
    base, other = words(7), words(8)
    r1, _ = run(NearDup(), make_docs([" ".join(base), " ".join(other), "short doc"], ids=["a", "b", "s"]))
    earlier = publish(r1, tmp_path / "run1", given="releases/2024-01")

    new = [" ".join(edit(base, [33], "z")), " ".join(words(9)), "Short, doc!", " ".join(edit(base, [150], "w"))]
    stage = NearDup(against=("releases/2024-01",))
    result, dec = run(stage, make_docs(new, ids=["a", "n1", "n2", "n3"]), against(stage, earlier))
    assert dec["a"][0] == "removed" and dec["a"][2]["duplicate_of"] == "a"
    assert dec["a"][2]["duplicate_of_run"] == "releases/2024-01"  # the run as the user named it
    assert dec["n2"][2]["duplicate_of"] == "s" and dec["n2"][2]["duplicate_of_run"] == "releases/2024-01"
    assert dec["n3"][2]["duplicate_of"] == "a" and dec["n3"][2]["cluster_id"] == "releases/2024-01#a"
    assert dec["n1"][0] == "kept" and dec["n1"][2]["duplicate_of_run"] is None
    assert result.stats["removed_against_earlier_runs"] == 3 and result.stats["earlier_documents"] == 3
    assert result.artifacts["signatures"]["doc_id"].to_list() == ["n1"]  # only what this run kept


def test_two_earlier_runs_are_told_apart(tmp_path):
    t1, t2 = words(11), words(12)
    r1, _ = run(NearDup(), make_docs([" ".join(t1)], ids=["x"]))
    r2, _ = run(NearDup(), make_docs([" ".join(t2)], ids=["x"]))  # the same doc_id in another release
    e1, e2 = publish(r1, tmp_path / "r1", "r1"), publish(r2, tmp_path / "r2", "r2")
    stage = NearDup(against=("r1", "r2"))
    docs = make_docs([" ".join(edit(t2, [5], "q")), " ".join(edit(t1, [9], "q"))], ids=["m", "n"])
    _, dec = run(stage, docs, against(stage, e1, e2))
    assert (dec["m"][2]["duplicate_of_run"], dec["m"][2]["duplicate_of"]) == ("r2", "x")
    assert (dec["n"][2]["duplicate_of_run"], dec["n"][2]["duplicate_of"]) == ("r1", "x")


def test_an_unusable_earlier_run_is_an_error_naming_it(tmp_path):
    docs = make_docs([" ".join(words(10))])
    stage = NearDup(against=("old",))
    no_index = publish(NearDup().apply(docs), tmp_path / "a", "old", index=False)
    with pytest.raises(ConfigError, match="'against': old has no near_dup index"):
        against(stage, no_index)
    other_ngram = publish(NearDup(ngram=3).apply(docs), tmp_path / "b", "old")
    with pytest.raises(ConfigError, match="'against': old was built with another ngram than 5"):
        against(stage, other_ngram)
    (tmp_path / "b" / "index" / "near_dup" / "signatures.parquet").write_bytes(b"not parquet")
    corrupt = dataclasses.replace(other_ngram, index=pl.scan_parquet(tmp_path / "b" / "index" / "near_dup" / "*.parquet"))
    with pytest.raises(RuntimeError, match="--against old: cannot read its near_dup index"):
        against(stage, corrupt)


def test_earlier_runs_must_be_handed_over_never_silently_missing(tmp_path):
    docs = make_docs([" ".join(words(10))])
    earlier = publish(NearDup().apply(docs), tmp_path / "a", "old")
    with pytest.raises(RuntimeError, match="earlier runs handed over are"):
        NearDup(against=("old",)).apply(docs)  # no setup: nothing to compare against
    with pytest.raises(RuntimeError, match="earlier runs handed over are"):
        NearDup().apply(docs, (earlier,))  # runs the stage was not configured with


def test_an_index_document_missing_from_the_shipped_texts_is_an_error(tmp_path):
    base = words(13)
    r1 = NearDup().apply(make_docs([" ".join(base)], ids=["a"]))
    earlier = publish(r1, tmp_path / "r", "old")
    shipped_nothing = dataclasses.replace(earlier, texts=earlier.texts.filter(pl.lit(False)))
    stage = NearDup(against=("old",))
    with pytest.raises(RuntimeError, match="--against old: 1 documents of its near_dup index are not among"):
        stage.apply(make_docs([" ".join(edit(base, [3], "e"))]), against(stage, shipped_nothing))


@pytest.mark.parametrize(("options", "message"), [
    ({"threshold": 0}, "'threshold': accepts a number in (0, 1]"),
    ({"threshold": 2}, "'threshold': accepts a number in (0, 1]"),
    ({"ngram": 0}, "'ngram' accepts an integer >= 1"),
    ({"keep": "biggest"}, "'keep': accepts first, longest or score:<column>"),
    ({"keep": "score:"}, "'keep': accepts first, longest or score:<column>"),
    ({"bands": 4}, "set both options bands and rows"),
    ({"bands": 20, "rows": 7}, "20 x 7 does not fit num_perm = 128"),
    ({"seed": -1}, "'seed' accepts an integer >= 0"),
    ({"seed": 2**32}, "'seed': accepts an integer below 2^32"),
])
def test_bad_options_are_usage_errors_naming_the_option(options, message):
    with pytest.raises(ConfigError) as err:
        catalog.build("near_dup", options)
    assert message in str(err.value)


def test_threshold_banding_and_against_only_redecide():
    """Signatures (features) are cached under the scoring key: a new threshold, banding or set of
    earlier runs must keep that key, a new ngram, num_perm, seed or keep policy must change it."""
    base = stage_keys(NearDup())
    for same in (NearDup(threshold=0.7), NearDup(bands=16, rows=8), NearDup(against=("r",))):
        assert stage_keys(same)[0] == base[0] and stage_keys(same)[1] != base[1]
    for other in (NearDup(ngram=3), NearDup(num_perm=64), NearDup(seed=2), NearDup(keep="longest")):
        assert stage_keys(other)[0] != base[0]


def test_one_set_of_features_serves_every_threshold():
    texts = []
    for s in range(10):
        ws = words(300 + s, 150)
        texts += [" ".join(ws)] + [" ".join(edit(ws, list(range(3, 3 + 4 * k, 4)), f"e{k}")) for k in (1, 3, 6)]
    docs = make_docs(texts)
    features = NearDup().features(docs).lazy()
    removed = []
    for threshold in (0.6, 0.8, 0.9):  # the variants have J = 0.95, 0.85 and 0.72 with their original
        stage = NearDup(threshold=threshold)
        reused = split(docs, stage.judge(features, docs.lazy()))
        assert reused.decisions.equals(stage.apply(docs).decisions)
        removed.append(int((reused.decisions["decision"] == "removed").sum()))
    assert removed == [30, 20, 10]


def test_importing_the_stage_does_not_import_numba():
    """`assay run --help` imports every stage: numba (~0.5 s) loads only when signatures are computed."""
    code = "import sys, stages.near_dup; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "False"


SCHELLING = SHARED_DATA / "web" / "openai_evals_schelling"


@pytest.mark.slow
def test_quality_on_schelling_variants_precision_and_recall():
    if not SCHELLING.is_dir():
        pytest.skip(f"shared data absent: {SCHELLING} (near-dup quality integration test needs it)")
    texts: list[str] = []
    for name in ("owt_5.jsonl", "wikipedia_5.jsonl"):
        with open(SCHELLING / name, encoding="utf-8") as fh:
            for line, _ in zip(fh, range(100), strict=False):
                rec = json.loads(line)
                texts += [rec[str(k)] for k in range(11)]
    docs = make_docs(texts)
    result, dec = run(NearDup(), docs)
    by_id = dict(zip(docs["doc_id"], docs["text"], strict=True))
    kept = set(result.kept["doc_id"].to_list())
    for d, (decision, _, ev) in dec.items():
        if decision == "removed":  # precision 1.0 against the threshold
            assert ev["duplicate_of"] in kept
            assert true_jaccard(by_id[d], by_id[ev["duplicate_of"]]) >= 0.8
    # recall: a document with a kept twin at true J >= 0.8 in its group must be removed
    missed = total = 0
    for g in range(len(texts) // 11):
        ids = [f"d{g * 11 + k}" for k in range(11)]
        for d in ids:
            if dec[d][0] == "kept" and any(o in kept and o < d and true_jaccard(by_id[d], by_id[o]) >= 0.8 for o in ids if o != d):
                missed += 1
            total += 1
    assert missed / total <= 0.02
