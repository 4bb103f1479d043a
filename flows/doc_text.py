"""The text of one document for `assay show`, from the run's own files (the ledger holds no text):
a released document's from curated/, a removed one's from the input of the stage that removed it
(RUN_DIR/work/, the step cache). Masked with the PII masker when the run had a pii stage."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _find(files: list[Path], column: str, doc_id: str) -> str | None:
    import polars as pl

    files = [f for f in files if f.exists()]
    if not files:
        return None
    hit = pl.scan_parquet(files, glob=False).filter(pl.col(column) == doc_id).select("text").head(1).collect()
    return hit["text"][0] if hit.height else None


def document_text(run_dir: Path, doc_id: str, final: str | None, final_stage: str | None) -> tuple[str | None, str]:
    """(text or None, where it came from or why it is not shown)."""
    from flows.masking import available, is_pii_stage

    manifest: dict[str, Any] = json.loads((run_dir / "manifest.json").read_text())
    steps = manifest.get("steps", [])
    names = [s["name"] for s in steps]
    if final == "kept":
        text, where = _find([run_dir / c for c in manifest.get("curated", [])], "id", doc_id), "released text (curated/)"
    elif final == "removed" and final_stage in names and names.index(final_stage) > 0:
        prev = steps[names.index(final_stage) - 1]
        folder = run_dir / prev["dir"]
        try:
            shards = [folder / s for s in json.loads((folder / "_done.json").read_text())["shards"]]
        except (OSError, ValueError, KeyError):
            return None, f"text not available: the step files of this run ({folder}) are gone; rerun to rebuild them"
        text, where = _find(shards, "doc_id", doc_id), f"text as {final_stage} saw it (work/{Path(prev['dir']).name})"
    else:
        return None, "no text: quarantined records keep only the masked excerpt above"
    if text is None:
        return None, "text not available: the run's files no longer hold this document"
    if any(is_pii_stage(n) for n in names):
        mask = available()
        if mask is None:
            return None, ("text withheld: this run had a pii stage, and the PII masker "
                          "(stages.pii_engine.masker.mask_text) is not installed")
        text, where = mask(text), where + ", PII masked"
    return text, where


def print_text(run_dir: Path, doc_id: str, doc: dict[str, Any], chars: int) -> None:
    try:
        text, where = document_text(run_dir, doc_id, doc.get("final"), doc.get("final_stage"))
    except (OSError, ValueError) as exc:
        text, where = None, f"text not available: {exc}"
    if text is None:
        print(f"\n[text] {where}")
        return
    cut = chars > 0 and len(text) > chars
    print(f"\n[text] {where}, {len(text):,} characters" + (f", first {chars:,} shown (--chars 0 shows all)" if cut else ""))
    print(text[:chars] if cut else text)
