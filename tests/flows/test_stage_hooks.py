"""Hooks a stage may declare: `unconfigured()` (left out of the default set with a note, a usage
error when named) and `ledger_views` (views the ledger creates over its tables)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import polars as pl
import pytest
from conftest import prose, write_jsonl

from flows.cli import main
from flows.execute import run_local
from flows.plan import RunOptions, make_plan
from stages import catalog
from stages.base import decide
from stages.options import ConfigError, option


@dataclass(frozen=True)
class NeedsList:
    """Removes documents containing a word from a list; with no list it has nothing to do."""
    name: ClassVar[str] = "test_needs_list"
    version: ClassVar[int] = 1
    reasons: ClassVar[frozenset[str]] = frozenset({"listed"})
    scope: ClassVar[str] = "document"
    ledger_views: ClassVar[dict[str, str]] = {
        "test_listed": "SELECT doc_id, reason FROM decisions WHERE stage = '{stage}' AND decision = 'removed'"}
    word: str | None = option(None, "remove documents containing this word")

    def unconfigured(self) -> str | None:
        return None if self.word else "a word to look for (--test-needs-list-word WORD)"

    def apply(self, docs: pl.DataFrame, res: Any = None) -> Any:
        hit = pl.col("text").str.contains(self.word or "\x00", literal=True)
        return decide(docs, reason=pl.when(hit).then(pl.lit("listed")).otherwise(pl.lit(None, pl.String)))


@pytest.fixture(autouse=True)
def _registered():
    catalog.register(NeedsList)
    yield
    catalog.unregister(NeedsList.name)


def _opts(tmp: Path, **kw: Any) -> RunOptions:
    write_jsonl(tmp / "in" / "a.jsonl", [{"text": prose(i) + (" zebra" if i % 3 == 0 else "")} for i in range(12)])
    return RunOptions(inputs=(str(tmp / "in"),), out=tmp / "run", progress=False, **kw)


def test_default_run_leaves_out_an_unconfigured_stage_and_says_so(tmp_path: Path, capsys) -> None:
    p = make_plan(_opts(tmp_path))
    assert "test_needs_list" not in [s.name for s in p.stages]
    assert ("test_needs_list", "a word to look for (--test-needs-list-word WORD)") in p.not_configured
    assert main(["run", str(tmp_path / "in"), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert "note: stage test_needs_list did not run: a word to look for" in capsys.readouterr().err
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert {"stage": "test_needs_list", "needs": "a word to look for (--test-needs-list-word WORD)"} in manifest["not_configured"]


def test_naming_an_unconfigured_stage_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="stage 'test_needs_list' is not configured: a word to look for"):
        make_plan(_opts(tmp_path, stages=("test_needs_list",)))


def test_configured_stage_runs_and_its_ledger_view_exists(tmp_path: Path) -> None:
    run_local(_opts(tmp_path, stages=("exact_dup", "test_needs_list"),
                    stage_options={"test_needs_list": {"word": "zebra"}}))
    with duckdb.connect(str(tmp_path / "run" / "ledger.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT count(*), min(reason) FROM test_listed").fetchall()
        removed = con.execute("SELECT count(*) FROM documents WHERE final_stage = 'test_needs_list'").fetchall()
    assert rows == [(4, "listed")] and removed == [(4,)]


def test_stages_of_another_recipe_stay_out_of_a_plain_run(tmp_path: Path) -> None:
    @dataclass(frozen=True)
    class ValidateOnly(NeedsList):
        name: ClassVar[str] = "test_validate_only"
        recipes: ClassVar[tuple[str, ...]] = ("validate",)

        def unconfigured(self) -> str | None:
            return None

    catalog.register(ValidateOnly)
    try:
        assert "test_validate_only" not in catalog.default_stages()
        assert "test_validate_only" in catalog.default_stages("validate")
        p = make_plan(_opts(tmp_path))
        assert "test_validate_only" not in [s.name for s in p.stages] + [n for n, _ in p.not_configured]
        named = make_plan(_opts(tmp_path, stages=("test_validate_only",)))
        assert [s.name for s in named.stages] == ["test_validate_only"]
    finally:
        catalog.unregister(ValidateOnly.name)
