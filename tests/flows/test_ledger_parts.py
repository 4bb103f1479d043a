"""The ledger's masking runs as units on the executor (flows/ledger_parts.py), one per step file,
and leaves nothing behind in work/."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from flows import ledger_parts
from flows.errors import RunError
from flows.execute import LocalExecutor, execute
from flows.plan import RunOptions, make_plan


class Recording(LocalExecutor):
    def __init__(self, drop_part: str | None = None) -> None:
        super().__init__(progress=False)
        self.maps: dict[str, list[tuple]] = {}
        self.drop_part, self.parts_before_finalize = drop_part, []

    def map(self, label, fn, args):
        self.maps[label] = list(args)
        return super().map(label, fn, args)

    def call(self, label, fn, *args):
        if label == "finalize":  # (plan, started, token): what the units left for finalize
            parts = ledger_parts.folder(args[0], args[2]) / "curated"
            if self.drop_part:
                (parts / self.drop_part).unlink()
            self.parts_before_finalize = sorted(p.name for p in parts.iterdir())
        return super().call(label, fn, *args)


def _corpus(path: Path) -> Path:
    rows = [{"id": f"doc-{i}", "text": f"document number {i} about {'apples' if i % 2 else 'pears'} " * 12} for i in range(30)]
    rows.append({"id": "mail-jane.doe@example.com", "text": "a document whose id holds an address " * 10})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{not json\n")
    return path


def test_curated_parts_are_written_by_the_units_and_finalize_checks_them(tmp_path):
    src = _corpus(tmp_path / "in.jsonl")
    opts = RunOptions(inputs=(str(src),), out=tmp_path / "run", stages=("quality",), shard_size=10, progress=False)
    ex = Recording()
    manifest = execute(make_plan(opts), ex)
    names = [f"part-{k:05d}.parquet" for k in range(4)]
    assert ex.parts_before_finalize == names
    assert manifest["curated"] == [f"curated/{n}" for n in names]
    assert sorted(p.name for p in (tmp_path / "run" / "curated").iterdir()) == names
    opts = RunOptions(inputs=(str(src),), out=tmp_path / "run2", stages=("quality",), shard_size=10, progress=False)
    with pytest.raises(RunError, match="curated parts missing.*part-00002"):
        execute(make_plan(opts), Recording(drop_part="part-00002.parquet"))
    assert not (tmp_path / "run2" / "manifest.json").exists()


def test_one_mask_unit_per_step_file_and_no_parts_left(tmp_path):
    src = _corpus(tmp_path / "in.jsonl")
    out = tmp_path / "run"
    opts = RunOptions(inputs=(str(src),), out=out, stages=("exact_dup", "quality"), shard_size=10, progress=False)
    execute(make_plan(opts), LocalExecutor(progress=False))
    (out / "work" / "ledger-parts-killed").mkdir(parents=True)  # what a killed finalize leaves
    (out / "work" / "ledger-parts-killed" / "00-shard-00000.parquet").write_bytes(b"stale")
    ex = Recording()
    execute(make_plan(opts), ex)  # the rerun publishes again
    assert [a[-1] for a in ex.maps["publish-parts"]] == [0, 1, 2, 3]  # one unit per shard index
    files = ledger_parts._files_by_index(make_plan(opts))
    assert files[0][:2] == [(0, "quarantine.parquet"), (0, "shard-00000.parquet")]
    assert [f for _, f in files[3]] == ["shard-00003.parquet", "decisions-00003.parquet", "decisions-00003.parquet"]
    assert not list((out / "work").glob("ledger-parts-*"))
    con = duckdb.connect(str(out / "ledger.duckdb"), read_only=True)
    ids = [r[0] for r in con.execute("SELECT doc_id FROM documents WHERE doc_id LIKE '%<EMAIL>~%'").fetchall()]
    assert len(ids) == 1 and "jane" not in ids[0]
    assert con.execute("SELECT count(*) FROM decisions WHERE doc_id = ?", [ids[0]]).fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 1
    assert con.execute("SELECT count(*) FROM documents").fetchone()[0] == 32
