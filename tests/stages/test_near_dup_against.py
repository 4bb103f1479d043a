"""near_dup --against streams earlier releases: batch by batch, keeping only the earlier rows that
can pair with a current document, with the decisions of reading them all at once."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import make_docs
from test_near_dup import edit, publish, words

from stages import minhash, near_dup_against
from stages.base import Inputs
from stages.near_dup import NearDup


def test_streamed_earlier_releases_give_the_same_decisions(tmp_path: Path, monkeypatch) -> None:
    bases = [words(100 + i) for i in range(40)]
    old = [" ".join(b) for b in bases] + ["short doc", "another short one"]
    r1 = NearDup().apply(make_docs(old, ids=[f"o{i}" for i in range(len(old))]))
    r2 = NearDup().apply(make_docs([" ".join(words(500 + i)) for i in range(30)] + [" ".join(edit(bases[3], [9], "x"))],
                                   ids=[f"p{i}" for i in range(31)]))
    earlier = (publish(r1, tmp_path / "r1", "r1"), publish(r2, tmp_path / "r2", "r2"))
    new = [" ".join(edit(bases[3], [50], "z")), " ".join(edit(bases[17], [5, 80], "y")), " ".join(words(900)),
           "Short, doc!", " ".join(edit(bases[3], [120], "w"))]
    stage = NearDup(against=("r1", "r2"))
    docs = make_docs(new, ids=["a", "b", "c", "d", "e"])
    res = stage.setup(Inputs(runs={"against": earlier}))
    whole = stage.apply(docs, res)
    seen = {}
    real = near_dup_against.relevant

    def spy(*args, **kw):  # three index rows per batch: many batches per release
        seen["out"] = real(*args, **kw, batch=3)
        return seen["out"]

    monkeypatch.setattr(near_dup_against, "relevant", spy)
    streamed = stage.apply(docs, res)
    assert streamed.decisions.equals(whole.decisions)
    dec = {r["doc_id"]: (r["decision"], r["evidence"]) for r in streamed.decisions.to_dicts()}
    assert [dec[i][0] for i in "abcde"] == ["removed", "removed", "kept", "removed", "removed"]
    assert '"duplicate_of":"o3"' in dec["a"][1].replace(" ", "") and '"duplicate_of":"o0"' not in dec["a"][1]
    frame, sigs, total = seen["out"]
    # of 73 earlier documents, only o3 and p30 (a's twins), o17 (b's) and the short one are kept
    assert total == 73 and sorted(frame["doc_id"].to_list()) == ["o17", "o3", "o40", "p30"]
    assert sigs.shape == (4, NearDup().num_perm) and sigs.dtype == np.uint32
    assert streamed.stats["earlier_documents"] == 73
    assert minhash.normalize_text("Short, doc!") == minhash.normalize_text("short doc")
