"""Documents' texts from input files and folders, read exactly as `assay run` reads them (same formats,
same record kinds, same quarantine rules), for tools that need texts rather than a run: training a
classifier (`assay quality train`) and the seed documents of the `domain` stage."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.errors import InputError
from flows.fsutil import file_sha256


@dataclass
class Texts:
    texts: list[str] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)  # name, sha256, bytes, documents, quarantined
    quarantined: int = 0


def read_texts(paths: list[str], what: str, cfg: Any = None) -> Texts:
    """Every document's text under `paths` (files or folders of data files). `what` names the
    inputs in messages ("--positive"). Files that are not data inside folders are passed over, as
    in a run; no document at all is an InputError."""
    from flows.ingest.config import IngestConfig
    from flows.ingest.discover import discover
    from flows.ingest.read import IdBook, read_file

    cfg = cfg or IngestConfig()
    try:
        found = discover(list(paths))
    except InputError as exc:
        raise InputError(f"{what}: {exc}") from None
    out, ids = Texts(), IdBook()
    for f in found.files:
        docs = quarantined = 0
        for kind, row in read_file(cfg, f, ids):
            if kind == "doc":
                out.texts.append(row["text"] or "")
                docs += 1
            elif kind == "quarantine":
                quarantined += row["input_line"] is not None
        out.quarantined += quarantined
        out.files.append({"name": f.name, "sha256": file_sha256(Path(f.path)), "bytes": Path(f.path).stat().st_size,
                          "documents": docs, "quarantined": quarantined})
    if not out.texts:
        raise InputError(f"{what}: no documents in {', '.join(paths)}")
    return out
