"""Foundation v2 through the runner: modified decisions end to end, load once, scores cached apart
from thresholds, file options keyed by content, and a sharded stage that modifies."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from conftest import prose, write_jsonl

from flows.execute import run_local
from flows.plan import RunOptions
from stages import catalog
from stagekit import LOADS, SECRET, Mask, MaskCorpus

@pytest.fixture(autouse=True)
def test_stages():
    catalog.register(Mask)
    catalog.register(MaskCorpus)
    LOADS.clear()
    yield
    catalog.unregister(Mask.name)
    catalog.unregister(MaskCorpus.name)


def records(n: int = 40) -> list[dict[str, Any]]:
    out = [{"text": prose(i, 60) + f" Card {SECRET} was used." if i % 3 == 0 else prose(i, 60)} for i in range(n)]
    out.append({"instruction": "Repeat the code 1234.", "input": "", "output": "The code is 1234."})
    out.append({"messages": [{"role": "user", "content": "my pin is 9876"}, {"role": "assistant", "content": "noted"}]})
    return out


def run(tmp: Path, stages: tuple[str, ...], out: str = "run", shard_size: int = 5, **stage_options: Any) -> dict[str, Any]:
    inp = tmp / "in"
    if not inp.exists():
        write_jsonl(inp / "texts.jsonl", records()[:-2])
        write_jsonl(inp / "instr.jsonl", [records()[-2]])
        write_jsonl(inp / "chat.jsonl", [records()[-1]])
    return run_local(RunOptions(inputs=(str(inp),), out=tmp / out, stages=stages, stage_options=stage_options,
                                shard_size=shard_size, progress=False))


def test_modified_documents_reach_ledger_and_curated_output(tmp_path: Path) -> None:
    m = run(tmp_path, ("test_mask", "exact_dup"))
    assert m["records"] == 42 and m["kept"] == 42 and m["modified_by_stage"] == {"test_mask": 16, "exact_dup": 0}
    cur = pl.read_parquet(tmp_path / "run" / "curated")
    texts = cur["text"].to_list()
    assert sum("Card <X> was used." in t for t in texts) == 14 and not any(SECRET in t for t in texts)
    instr = cur.filter(pl.col("kind") == "instruction").row(0, named=True)
    assert (instr["instruction"], instr["output"]) == ("Repeat the code <X>.", "The code is <X>.")
    chat = cur.filter(pl.col("kind") == "chat").row(0, named=True)
    assert chat["messages"][0]["content"] == "my pin is <X>" and chat["text"] == "my pin is <X>\n\nnoted"
    con = duckdb.connect(str(tmp_path / "run" / "ledger.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM documents WHERE modified_by = 'test_mask'").fetchall() == [(16,)]
    ev = con.execute("SELECT evidence FROM decisions WHERE stage = 'test_mask' AND decision = 'modified' LIMIT 1").fetchall()[0][0]
    assert set(json.loads(ev)) == {"edits", "text_sha1_before", "text_sha1_after"}
    assert con.execute("SELECT count(*) FROM decisions WHERE evidence::VARCHAR LIKE '%4111%'").fetchall() == [(0,)]
    assert con.execute("SELECT count(*) FROM stages WHERE stage = 'test_mask' AND n_modified = 16").fetchall() == [(1,)]


def test_setup_loads_once_per_process_over_many_shards(tmp_path: Path) -> None:
    run(tmp_path, ("test_mask",), shard_size=3)
    assert LOADS == ["test_mask"]  # 15 shards, one load


def test_sharded_stage_modifies_identically_at_two_shard_sizes(tmp_path: Path) -> None:
    run(tmp_path, ("test_mask_corpus",), out="a", shard_size=4)
    run(tmp_path, ("test_mask_corpus",), out="b", shard_size=100)
    a, b = (pl.read_parquet(tmp_path / x / "curated") for x in ("a", "b"))
    assert a.equals(b) and sum("<X>" in t for t in a["text"].to_list()) == 16
    direct = run(tmp_path, ("test_mask",), out="c")  # the document-stage twin gives the same texts
    assert direct["kept"] == 42 and pl.read_parquet(tmp_path / "c" / "curated")["text"].equals(a["text"])


def test_a_file_option_is_keyed_by_content(tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("river\n")
    run(tmp_path, ("test_mask",), test_mask={"words": str(words)})
    first = pl.read_parquet(tmp_path / "run" / "curated")["text"].to_list()
    assert not any(re.search(r"\briver\b", t) for t in first)
    words.write_text("garden\n")  # rebuilt in place: same path, other content
    m = run(tmp_path, ("test_mask",), test_mask={"words": str(words)})
    second = pl.read_parquet(tmp_path / "run" / "curated")["text"].to_list()
    assert any(re.search(r"\briver\b", t) for t in second) and not any(re.search(r"\bgarden\b", t) for t in second)
    assert m["inputs"]["options"]["test_mask.words"][0]["sha256"] != ""
    assert len(list((tmp_path / "run" / "work").glob("01-test_mask-*"))) == 2


def test_changed_threshold_reuses_scores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stages.quality import Quality

    calls = []
    original = Quality.score
    monkeypatch.setattr(Quality, "score", lambda self, docs, res=None: calls.append(docs.height) or original(self, docs, res))
    a = run(tmp_path, ("quality",), quality={"min_words": 50})
    n_scored = len(calls)
    b = run(tmp_path, ("quality",), quality={"min_words": 700})
    assert n_scored == 9 and len(calls) == n_scored  # the second run scored nothing
    assert b["removed"] > a["removed"]
    assert len(list((tmp_path / "run" / "work").glob("01-quality-scores-*"))) == 1


def test_same_input_spelled_differently_reuses_every_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run(tmp_path, ("exact_dup",))
    before = sorted(p.name for p in (tmp_path / "run" / "work").iterdir())
    monkeypatch.chdir(tmp_path)
    m = run_local(RunOptions(inputs=("in",), out=Path("run"), stages=("exact_dup",), shard_size=5, progress=False))
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    run_local(RunOptions(inputs=("../in/",), out=Path("../run"), stages=("exact_dup",), shard_size=5, progress=False))
    assert sorted(p.name for p in (tmp_path / "run" / "work").iterdir()) == before
    assert [f["path"] for f in m["inputs"]["data"]] == ["in/chat.jsonl", "in/instr.jsonl", "in/texts.jsonl"]


def test_resources_are_released_after_the_run(tmp_path: Path) -> None:
    from flows import steps

    run(tmp_path, ("test_mask",))
    run(tmp_path, ("test_mask",), out="again")  # a second run in the same process loads again
    assert LOADS == ["test_mask", "test_mask"] and not steps._RESOURCES and not steps._STAGES
