"""From hits to contaminated items, over the whole corpus: common matches dropped, items scored,
spans merged, edits planned. Works on the hits alone (a few rows per contaminated document)."""
from __future__ import annotations

import polars as pl

from stages.base import EDITS
from stages.contam.index import Index

FOUND = {"doc_id": pl.String, "_evidence": pl.String, "_overlap": pl.Float64, "_items": pl.Int64,
         "_longest": pl.Int64, "_edits": EDITS, "_all": pl.Boolean}


def _merge(intervals: list[tuple[int, int]]) -> list[list[int]]:
    out: list[list[int]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return out


def found_items(feats: pl.DataFrame, ix: Index, max_doc_freq: int, min_overlap: float,
                window: int) -> tuple[pl.DataFrame, int]:
    """Per contaminated document: evidence JSON, scores, and the edits that excise its spans."""
    from stages.contamination import evidence_json

    h = (feats.select("doc_id", "n_chars", "text_hash", "bounds", "hits").filter(pl.col("hits").list.len() > 0)
         .explode("hits").unnest("hits"))
    if h.is_empty():
        return pl.DataFrame(schema=FOUND), 0
    # what many distinct documents share is common text (a speech, a formula), not a leak
    df = h.group_by("key").agg(pl.col("text_hash").n_unique().alias("df"))
    common = df.filter(pl.col("df") > max_doc_freq).select("key")
    h = h.join(common, on="key", how="anti")
    rows = []
    for (doc_id,), g in h.sort("doc_id", "item", "word").group_by(["doc_id"], maintain_order=True):
        n_chars = int(g["n_chars"][0])
        items, spans = [], []
        for (item,), gi in g.group_by(["item"], maintain_order=True):
            long_keys = gi.filter(pl.col("kind") == 0)["key"].n_unique()
            total = int(ix.item_total[item])
            overlap = 1.0 if (gi["kind"] == 1).any() else (long_keys / total if total else 0.0)
            if overlap < min_overlap:
                continue
            words = _merge(list(zip(gi["word"].to_list(), (gi["word"] + gi["words"]).to_list(), strict=True)))
            longest = max(e - s for s, e in words)
            items.append({"benchmark": ix.item_bench[item], "item_id": ix.item_ids[item],
                          "overlap": round(min(overlap, 1.0), 4), "longest": longest})
            spans += list(zip(gi["start"].to_list(), gi["end"].to_list(), strict=True))
        if not items:
            continue
        items.sort(key=lambda it: (-it["overlap"], -it["longest"], it["item_id"]))
        merged = _merge(spans)
        cut = _merge([(max(0, s - window), min(n_chars, e + window)) for s, e in merged])
        bounds = g["bounds"][0]
        if bounds is not None:  # a record's fields: an edit never crosses from one into the next
            cut = [[max(s, bs), min(e, be)] for s, e in cut for bs, be in bounds if s < be and bs < e]
        whole = sum(e - s for s, e in cut) >= n_chars
        rows.append({"doc_id": doc_id, "_evidence": evidence_json(items[0], items, merged),
                     "_overlap": items[0]["overlap"], "_items": len(items), "_longest": max(i["longest"] for i in items),
                     "_edits": [{"start": s, "end": e, "replacement": ""} for s, e in cut], "_all": whole})
    return pl.DataFrame(rows, schema=FOUND), int(common.height)

