"""Runs over every stage found in stages/ automatically: a new stage gets these checks for free."""
from __future__ import annotations

import dataclasses
import re

import polars as pl
import pytest
from conftest import make_docs, prose

from stages import catalog
from stages.base import ContractError, Stage, StageResult, check_result, decide, stage_key

STAGES = sorted(catalog.all_stages().items())


def varied_docs() -> pl.DataFrame:
    texts = [prose(i) for i in range(12)]
    texts += [texts[0], texts[1].upper(), "short text", "# # # $$$ ### @@@", "- a\n- b\n- c\n- d", texts[2].replace("river", "stream")]
    texts += ["Ünïcödé text with émojis 🚀 and the other things of the world to be seen with care. " * 8]
    return make_docs(texts, meta=[{"url": f"https://www.example{i}.org/x"} for i in range(len(texts))])


@pytest.mark.parametrize("name,cls", STAGES, ids=[n for n, _ in STAGES])
def test_stage_shape(name: str, cls: type) -> None:
    stage = cls()
    assert isinstance(stage, Stage)
    assert dataclasses.fields(cls) is not None and cls.__dataclass_params__.frozen
    assert re.fullmatch(r"[a-z][a-z0-9_]*", name) and isinstance(cls.version, int) and cls.version >= 1
    assert cls.scope in ("document", "corpus")
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", r) for r in cls.reasons)
    assert stage_key(cls()) == stage_key(cls())  # config is hashable and stable
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(stage, "x_not_a_field", 1)


@pytest.mark.parametrize("name,cls", STAGES, ids=[n for n, _ in STAGES])
def test_stage_keeps_contract(name: str, cls: type) -> None:
    stage = cls()
    docs = varied_docs()
    result = stage.apply(docs)
    check_result(stage, docs, result)  # conservation, declared reasons, schemas, order
    # Scores are recorded for kept documents too, and land as prefixed columns on them.
    added = [c for c in result.kept.columns if c not in docs.columns]
    assert all(c.startswith(f"{name}_") for c in added), added
    # Deterministic: the same input gives the same result.
    again = stage.apply(docs)
    assert again.decisions.equals(result.decisions) and again.kept.equals(result.kept)


@pytest.mark.parametrize("name,cls", STAGES, ids=[n for n, _ in STAGES])
def test_stage_handles_empty_frame(name: str, cls: type) -> None:
    stage = cls()
    docs = make_docs([])
    result = stage.apply(docs)
    check_result(stage, docs, result)
    assert result.kept.height == 0 and result.decisions.height == 0


class _Broken:
    name = "broken"
    version = 1
    reasons = frozenset({"declared"})
    scope = "document"


def test_runner_check_catches_lost_document() -> None:
    docs = make_docs([prose(0), prose(1)])
    good = decide(docs, reason=pl.lit(None, pl.String))
    lost = StageResult(good.kept.head(1), good.decisions.head(1))
    with pytest.raises(ContractError, match="decisions for 2 documents"):
        check_result(_Broken(), docs, lost)


def test_runner_check_catches_undeclared_reason() -> None:
    docs = make_docs([prose(0), prose(1)])
    result = decide(docs, reason=pl.when(pl.col("ord") == 1).then(pl.lit("not_declared")))
    with pytest.raises(ContractError, match="not declared"):
        check_result(_Broken(), docs, result)


def test_runner_check_catches_silent_text_change() -> None:
    docs = make_docs([prose(0), prose(1)])
    result = decide(docs, reason=pl.lit(None, pl.String))
    tampered = StageResult(result.kept.with_columns(text=pl.lit("changed")), result.decisions)
    with pytest.raises(ContractError, match="use 'modified'"):
        check_result(_Broken(), docs, tampered)


def test_runner_check_catches_kept_removed_mismatch() -> None:
    docs = make_docs([prose(0), prose(1)])
    result = decide(docs, reason=pl.when(pl.col("ord") == 1).then(pl.lit("declared")))
    wrong = StageResult(docs, result.decisions)  # keeps the document it says it removed
    with pytest.raises(ContractError, match="do not match"):
        check_result(_Broken(), docs, wrong)


@pytest.mark.parametrize("name,cls", [(n, c) for n, c in STAGES if c.scope == "corpus"], ids=[n for n, c in STAGES if c.scope == "corpus"])
def test_corpus_stage_is_sharded_and_apply_equals_features_then_judge(name: str, cls: type) -> None:
    from stages.base import ShardedStage, split

    stage = cls()
    assert isinstance(stage, ShardedStage)
    docs = varied_docs()
    halves = [docs.slice(0, 9), docs.slice(9)]  # features computed shard by shard, as the runner does
    features = pl.concat([stage.features(h) for h in halves]).lazy()
    judged = split(docs, stage.judge(features, docs.lazy()))
    assert judged.decisions.equals(stage.apply(docs).decisions)
