"""Runs over every stage found in stages/ automatically: a new stage gets these checks for free."""
from __future__ import annotations

import dataclasses
import re

import polars as pl
import pytest
from conftest import make_docs, prose

from stagekit import Mask, MaskCorpus

from stages import catalog
from stages.base import Inputs, Stage, check_result, stage_keys
from stages.options import ConfigError, base_type, spec_of

# Every stage in stages/, plus the test stages that modify documents (document and corpus scope).
STAGES = sorted([*catalog.all_stages().items(), (Mask.name, Mask), (MaskCorpus.name, MaskCorpus)])


def _res(stage: Stage):
    return stage.setup(Inputs()) if hasattr(stage, "setup") else None


def varied_docs() -> pl.DataFrame:
    texts = [prose(i) for i in range(12)]
    texts += [texts[0], texts[1].upper(), "short text", "# # # $$$ ### @@@", "- a\n- b\n- c\n- d", texts[2].replace("river", "stream")]
    texts += ["Ünïcödé text with émojis 🚀 and the other things of the world to be seen with care. " * 8]
    return make_docs(texts, meta=[{"url": f"https://www.example{i}.org/x"} for i in range(len(texts))])


def _other_value(cls: type, f: dataclasses.Field):
    """A different value a user could give this option (None when there is no obvious one)."""
    kind, _ = base_type(cls, f.name)
    spec, value = spec_of(f), f.default
    if spec.input:
        return None
    if spec.choices:
        return next((c for c in spec.choices if c != value), None)
    if kind is bool:
        return not value
    if kind is int:
        return (value or 0) + 1 if spec.maximum is None or (value or 0) + 1 <= spec.maximum else (value or 0) - 1
    if kind is float:
        return (value or 0.5) * 0.9
    if kind is str:
        return "longest" if value == "first" else "other"
    return None


@pytest.mark.parametrize("name,cls", STAGES, ids=[n for n, _ in STAGES])
def test_stage_shape(name: str, cls: type) -> None:
    stage = cls()
    assert isinstance(stage, Stage) and cls.__dataclass_params__.frozen
    assert re.fullmatch(r"[a-z][a-z0-9_]*", name) and isinstance(cls.version, int) and cls.version >= 1
    assert cls.scope in ("document", "corpus")
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", r) for r in cls.reasons)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(stage, "x_not_a_field", 1)


@pytest.mark.parametrize("name,cls", STAGES, ids=[n for n, _ in STAGES])
def test_every_option_is_documented_and_changes_the_right_key(name: str, cls: type) -> None:
    """Each option has help text; changing it changes the step key, and changing a 'decide' option
    leaves the scoring key alone (so thresholds re-decide without rescoring)."""
    base_score, base_all = stage_keys(cls())
    for f in dataclasses.fields(cls):
        assert spec_of(f).help, f"{name}.{f.name} has no help text (declare it with stages.options.option)"
        other = _other_value(cls, f)
        if other is None:
            continue
        try:
            changed = catalog.build(name, {f.name: other}) if name in catalog.all_stages() else cls(**{f.name: other})
        except ConfigError:
            continue  # e.g. bands without rows: refused as a usage error, as it should be
        score, whole = stage_keys(changed)
        assert whole != base_all, f"{name}.{f.name} does not change the cache key"
        if spec_of(f).role == "decide":
            assert score == base_score, f"{name}.{f.name} is a 'decide' option but changes the scoring key"
        else:
            assert score != base_score, f"{name}.{f.name} changes scores but not the scoring key"


@pytest.mark.parametrize("name,cls", STAGES, ids=[n for n, _ in STAGES])
def test_stage_keeps_contract(name: str, cls: type) -> None:
    stage = cls()
    docs = varied_docs()
    result = stage.apply(docs, _res(stage))
    check_result(stage, docs, result)  # conservation, declared reasons, schemas, order, edits
    # Scores are recorded for kept documents too, and land as prefixed columns on them.
    added = [c for c in result.kept.columns if c not in docs.columns]
    assert all(c.startswith(f"{name}_") for c in added), added
    # Deterministic: the same input gives the same result.
    again = stage.apply(docs, _res(stage))
    assert again.decisions.equals(result.decisions) and again.kept.equals(result.kept)
    if hasattr(stage, "score"):  # scoring apart from deciding gives the same result as apply
        scored = docs.join(stage.score(docs, _res(stage)), on="doc_id", how="left", maintain_order="left")
        assert stage.choose(scored, _res(stage)).decisions.equals(result.decisions)


@pytest.mark.parametrize("name,cls", STAGES, ids=[n for n, _ in STAGES])
def test_stage_handles_empty_frame(name: str, cls: type) -> None:
    stage = cls()
    docs = make_docs([])
    result = stage.apply(docs, _res(stage))
    check_result(stage, docs, result)
    assert result.kept.height == 0 and result.decisions.height == 0


@pytest.mark.parametrize("name,cls", [(n, c) for n, c in STAGES if c.scope == "corpus"], ids=[n for n, c in STAGES if c.scope == "corpus"])
def test_corpus_stage_is_sharded_and_apply_equals_features_then_judge(name: str, cls: type) -> None:
    from stages.base import ShardedStage, split

    stage = cls()
    assert isinstance(stage, ShardedStage)
    docs = varied_docs()
    halves = [docs.slice(0, 9), docs.slice(9)]  # features computed shard by shard, as the runner does
    res = _res(stage)
    features = pl.concat([stage.features(h, res) for h in halves]).lazy()
    judged = split(docs, stage.judge(features, docs.lazy(), res))
    assert judged.decisions.equals(stage.apply(docs, res).decisions)
    assert judged.kept.equals(stage.apply(docs, res).kept)
