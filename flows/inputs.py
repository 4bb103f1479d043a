"""File options of stages: resolved to content hashes when the plan is made, and opened for the stage
(once per worker process) when it runs. Stages never open run folders or files themselves.

Kinds (stages.options.InputKind):
- file: one file; its SHA-256.
- path: a file or a folder; a folder hashes its sorted members' relative names and SHA-256s.
- runs: finished assay run folders (a later release deduplicated against earlier ones); the hash of
  each run's manifest.json, which is written last and names every output it vouches for.
A value may be NAME=PATH (e.g. a benchmark name and its file); the name is part of the hash.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import polars as pl

from flows.errors import InputError
from flows.fsutil import file_sha256, text_sha256
from stages.base import EarlierRun, FileInput, Inputs
from stages.options import ConfigError

_NAMED = re.compile(r"^([A-Za-z][\w.-]*)=(.+)$")


def _split(value: str) -> tuple[str | None, str]:
    m = _NAMED.match(value)
    if m and not Path(value).exists():
        return m.group(1), m.group(2)
    return None, value


def _folder_hash(folder: Path) -> tuple[str, list[str]]:
    members = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not members:
        raise InputError(f"folder holds no files: {folder}")
    h = hashlib.sha256()
    for p in members:
        h.update(p.relative_to(folder).as_posix().encode() + b"\0" + file_sha256(p).encode() + b"\n")
    return h.hexdigest(), [p.as_posix() for p in members]


def _resolve_one(stage: str, opt: str, kind: str, value: str) -> dict[str, Any]:
    name, raw = _split(value)
    path = Path(raw).expanduser()
    where = f"stage {stage!r} option {opt!r}"
    if not path.exists():
        raise InputError(f"{where}: {raw} does not exist")
    path = path.resolve()
    try:
        if kind == "runs":
            manifest = path / "manifest.json"
            if not manifest.is_file():
                raise InputError(f"{where}: {raw} is not a finished assay run (no manifest.json)")
            digest, paths = file_sha256(manifest), [path.as_posix()]
        elif path.is_dir():
            if kind == "file":
                raise InputError(f"{where}: {raw} is a folder; a file is expected")
            digest, paths = _folder_hash(path)
        else:
            digest, paths = file_sha256(path), [path.as_posix()]
    except PermissionError as exc:
        raise InputError(f"{where}: cannot read {raw}: {exc.strerror}") from None
    if name is not None:
        digest = text_sha256(f"{name}={digest}")
    return {"given": value, "name": name, "kind": kind, "sha256": digest, "paths": paths, "root": path.as_posix()}


def resolve_option(stage: str, opt: str, kind: str, value: Any, exclude: Path | None = None) -> list[dict[str, Any]]:
    if value is None or value == "" or value == ():
        return []
    values = [value] if isinstance(value, str) else list(value)
    out = []
    for v in values:
        if not isinstance(v, str):
            raise ConfigError(f"stage {stage!r} option {opt!r} names files; got {v!r}")
        r = _resolve_one(stage, opt, kind, v)
        if exclude is not None and kind == "runs" and Path(r["root"]) == exclude:
            raise ConfigError(f"stage {stage!r} option {opt!r}: {v} is this run's own --out folder")
        out.append(r)
    return out


def materialize(stage: str, inputs: dict[str, list[dict[str, Any]]]) -> Inputs:
    """What `setup` receives: file options as FileInputs, earlier runs as lazily scanned frames."""
    files: dict[str, tuple[FileInput, ...]] = {}
    runs: dict[str, tuple[EarlierRun, ...]] = {}
    for opt, items in inputs.items():
        if items and items[0]["kind"] == "runs":
            runs[opt] = tuple(_earlier(stage, r) for r in items)
        else:
            files[opt] = tuple(FileInput(opt, r["given"], tuple(r["paths"]), r["sha256"]) for r in items)
    return Inputs(files=files, runs=runs)


def _earlier(stage: str, r: dict[str, Any]) -> EarlierRun:
    root = Path(r["root"])
    if file_sha256(root / "manifest.json") != r["sha256"]:
        raise InputError(f"earlier run {r['given']} changed after this run was planned; run again")
    index_files = sorted((root / "index" / stage).glob("*.parquet"))
    curated = sorted((root / "curated").glob("*.parquet"))
    if not curated:
        raise InputError(f"earlier run {r['given']}: no curated documents in {root / 'curated'}")
    index = pl.scan_parquet(index_files, glob=False) if index_files else None
    texts = pl.scan_parquet(curated, glob=False).select(doc_id="id", text="text")
    # Its index names documents by their written (PII-safe) ids, its curated parts by the user's.
    from stages.pii_engine.masker import id_key, safe_ids

    key = id_key(root, create=False)
    texts = texts.with_columns(pl.col("doc_id").map_batches(lambda s: pl.Series(safe_ids(s.to_list(), key), dtype=pl.String),
                                                            return_dtype=pl.String))
    return EarlierRun(given=r["given"], manifest_sha256=r["sha256"], index=index, texts=texts)  # type: ignore[arg-type]
