"""The typed plan of a run: what the user asked for (RunOptions) resolved into steps with content keys.

Planning reads every input file's bytes (SHA-256) and every file a stage option names, so a key
follows content: the same data spelled as another path reuses every cached step, and a file
rebuilt in place under the same name reruns what depends on it.
"""
from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.errors import InputError
from flows.fsutil import AUTO_LZ4_BYTES, WORK_COMPRESSIONS, files_sha256, package_versions, text_sha256
from flows.ingest.config import IngestConfig
from flows.inputs import resolve_option
from stages import catalog
from stages.base import stage_config, stage_keys
from stages.options import ConfigError, file_options, spec_of

DEFAULT_SHARD_SIZE = 20_000


@dataclass(frozen=True)
class RunOptions:
    inputs: tuple[str, ...]
    out: Path
    stages: tuple[str, ...] | None = None  # None: every available stage, in catalog.STAGE_ORDER
    stage_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    shard_size: int = DEFAULT_SHARD_SIZE
    progress: bool = True
    # Compression of the text shards in work/, a cache: "auto" is none below 1 GiB of input and LZ4
    # above. Not part of any key: it changes bytes on disk, never content.
    work_compression: str = "auto"
    write_removed: bool = False  # also publish the removed documents (RUN_DIR/removed/); no key depends on it
    compact_work: bool = False  # drop a step's text shards once the next step is done (flows/gc.drop_text); no key either


@dataclass(frozen=True)
class InputFile:
    path: str  # absolute, for reading
    name: str  # canonical name (relative to the inputs' common folder): what the ledger records
    format: str
    sha256: str
    bytes: int


@dataclass(frozen=True)
class StepPlan:
    position: int
    name: str
    scope: str  # 'ingest', 'document' or 'corpus'
    version: int
    config: dict[str, Any]
    key: str
    dir: str
    # Scores (document stages with score/choose) or features (corpus stages), cached apart from
    # the decision under a key of the scoring options only. None for stages without the split.
    score_key: str | None = None
    score_dir: str | None = None
    # Resolved file options: option -> [{"given", "kind", "sha256", "paths"}]; hashes are in the keys.
    inputs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    out: str
    inputs: tuple[InputFile, ...]
    skipped: tuple[tuple[str, str], ...]  # files inside input folders that are not data, and why
    ingest: IngestConfig
    shard_size: int
    steps: tuple[StepPlan, ...]
    config: dict[str, Any]
    config_hash: str
    progress: bool = True
    work_compression: str = "none"
    # default stages left out because they need something the user did not give (a model, benchmarks):
    # (stage, what it needs), printed by the run and kept in the manifest, never silent
    not_configured: tuple[tuple[str, str], ...] = ()
    write_removed: bool = False
    compact_work: bool = False

    @property
    def stages(self) -> tuple[StepPlan, ...]:
        return self.steps[1:]


def _hash(obj: Any) -> str:
    return text_sha256(json.dumps(obj, sort_keys=True, default=str))


def _work_compression(asked: str, inputs: tuple[InputFile, ...]) -> str:
    if asked != "auto":
        return asked
    return "lz4" if sum(i.bytes for i in inputs) > AUTO_LZ4_BYTES else "none"


# A run folder's own marker, written when a run first claims the folder and rewritten by every
# publish: it lists (path -> sizes) the files of curated/ and index/ that assay wrote there, so that a
# run replaces only what it can prove it wrote.
RUN_MARKER = ".assay-run.json"
_PART = re.compile(r"part-\d{5}\.parquet")


def read_marker(out: Path) -> dict[str, Any] | None:
    """The run folder's marker, or None when there is none (or it is not ours)."""
    try:
        marker = json.loads((out / RUN_MARKER).read_text())
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) and marker.get("assay") == "run folder" else None


def published_files(out: Path) -> dict[str, int]:
    """Every entry under out/curated and out/index (relative path -> size; -1 for what is not a
    regular file: a folder inside curated/, a link, a FIFO)."""
    found: dict[str, int] = {}
    for top in ("curated", "index", "removed"):
        root = out / top
        if not root.exists() and not root.is_symlink():
            continue
        if root.is_symlink() or not root.is_dir():
            found[top] = -1
            continue
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(out).as_posix()
            if path.is_symlink() or not (path.is_file() or path.is_dir()):
                found[rel] = -1
            elif path.is_file():
                found[rel] = path.stat().st_size
            elif top != "index" or path.parent != root:
                found[rel] = -1  # index/ holds one folder per stage, curated/ no folders
    return found


def _legacy_run(out: Path) -> bool:
    """A run folder written before the marker existed: an assay manifest or step markers."""
    try:
        manifest = json.loads((out / "manifest.json").read_text())
        if isinstance(manifest, dict) and {"config_hash", "steps", "ledger", "curated"} <= set(manifest):
            return True
    except (OSError, ValueError):
        pass
    return (out / "work").is_dir() and any((out / "work").glob("*/_done.json"))


def _legacy_published(rel: str) -> bool:
    parts = rel.split("/")
    return (parts[0] == "curated" and len(parts) == 2 and bool(_PART.fullmatch(parts[1]))) or (
        parts[0] == "index" and len(parts) == 3 and parts[2].endswith(".parquet"))


def check_out(out: Path) -> None:
    """Refuse, before any work, an --out that a run could damage: a folder assay did not create
    (it would lose its curated/ and index/), or a curated/ or index/ holding files assay did not
    write there (a run replaces both folders whole)."""
    if out.is_symlink() and not out.exists():
        raise InputError(f"--out {out} is a broken link")
    if not out.exists():
        return
    if not out.is_dir():
        raise InputError(f"--out {out} exists and is not a folder")
    try:
        entries = sorted(e.name for e in out.iterdir())
    except OSError as exc:
        raise InputError(f"--out {out}: cannot read the folder: {exc.strerror or exc}") from None
    if not entries:
        return
    marker = read_marker(out)
    legacy = marker is None and _legacy_run(out)
    if marker is None and not legacy:
        raise InputError(f"--out {out} is a folder that assay did not create (it holds {entries[0]!r}); "
                         "give a new or empty folder, or an earlier assay run's folder")
    known = marker.get("published", {}) if marker is not None else {}
    for rel, size in published_files(out).items():
        ours = size >= 0 and (size in known.get(rel, []) if marker is not None else _legacy_published(rel))
        if not ours:
            raise InputError(f"--out {out}: {out / rel} was not written by assay, and a run replaces "
                             f"{out / rel.split('/')[0]}; move it away or give another --out")


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_inputs_outside(out: Path, paths: list[tuple[str, str]]) -> None:
    """A file a run reads must not live in the run folder it writes: a run replaces curated/ and
    index/ whole, and work/ is its own cache. `paths` are (what the user gave, path)."""
    for given, raw in paths:
        for path in {Path(raw).absolute(), Path(raw).resolve()}:
            if _inside(path, out):
                raise InputError(f"input {given} lies inside this run's --out folder {out}; "
                                 "a run replaces what it writes there: move the file or give another --out")


def make_plan(opts: RunOptions) -> Plan:
    from flows.ingest.discover import discover

    if opts.work_compression not in WORK_COMPRESSIONS:
        raise ConfigError(f"work_compression accepts one of {', '.join(WORK_COMPRESSIONS)}; got {opts.work_compression!r}")
    if opts.shard_size < 1:
        raise ConfigError(f"shard_size accepts an integer >= 1; got {opts.shard_size!r}")
    out = Path(opts.out).resolve()
    check_out(out)
    found = discover(list(opts.inputs), exclude=out)
    check_inputs_outside(out, [(f.path, f.path) for f in found.files])
    digests = files_sha256([Path(f.path) for f in found.files])
    inputs = tuple(InputFile(f.path, f.name, f.format, d, Path(f.path).stat().st_size) for f, d in zip(found.files, digests, strict=True))
    names = catalog.default_stages() if opts.stages is None else tuple(opts.stages)
    if len(set(names)) != len(names):
        raise ConfigError(f"a stage is named twice in {list(names)}")
    stray = sorted(set(opts.stage_options) - set(names))
    if stray:
        raise ConfigError(f"options given for stage(s) not in this run: {', '.join(stray)} (stages: {', '.join(names)})")
    ingest_cfg = dataclasses.asdict(opts.ingest)
    # Package versions join the key (not the config): a new polars or numba may change a hash or a
    # rounding, and a rerun must never mix step outputs computed by two versions.
    key = _hash({"inputs": [[i.name, i.sha256, i.bytes] for i in inputs], "ingest": ingest_cfg,
                 "shard_size": opts.shard_size, "version": IngestConfig.version, "packages": package_versions()})
    names, not_configured = _configured(names, opts)
    steps = [StepPlan(0, "ingest", "ingest", IngestConfig.version, ingest_cfg | {"shard_size": opts.shard_size},
                      key, (out / "work" / f"00-ingest-{key[:16]}").as_posix())]
    for pos, name in enumerate(names, start=1):
        stage = catalog.build(name, dict(opts.stage_options.get(name, {})))
        score_part, decide_part = stage_keys(stage)
        resolved: dict[str, list[dict[str, Any]]] = {}
        hashes: dict[str, dict[str, list[str]]] = {"score": {}, "decide": {}}
        fields = {f.name: f for f in dataclasses.fields(stage)}
        for opt, kind in file_options(type(stage)):
            resolved[opt] = resolve_option(name, opt, kind, getattr(stage, opt), exclude=out)
            if kind != "runs":  # an earlier run is read by its manifest's hash, checked before it is read
                check_inputs_outside(out, [(f"{r['given']} (stage {name!r} option {opt!r})", q)
                                           for r in resolved[opt] for q in r["paths"]])
            hashes[spec_of(fields[opt]).role][opt] = [r["sha256"] for r in resolved[opt]]
        score_key = _hash({"prev": key, "stage": score_part, "files": hashes["score"]})
        key = _hash({"score_key": score_key, "stage": decide_part, "files": hashes["decide"]})
        split = stage.scope == "corpus" or hasattr(stage, "score")
        steps.append(StepPlan(
            pos, name, stage.scope, stage.version, stage_config(stage), key,
            (out / "work" / f"{pos:02d}-{name}-{key[:16]}").as_posix(),
            score_key if split else None,
            (out / "work" / f"{pos:02d}-{name}-scores-{score_key[:16]}").as_posix() if split else None,
            resolved))
    config = {"inputs": [i.name for i in inputs], "ingest": ingest_cfg, "shard_size": opts.shard_size,
              "stages": [{"name": s.name, "version": s.version, "config": s.config} for s in steps[1:]]}
    return Plan(out.as_posix(), inputs, tuple(found.skipped), opts.ingest, opts.shard_size, tuple(steps),
                config, _hash(config), opts.progress, _work_compression(opts.work_compression, inputs),
                tuple(not_configured), opts.write_removed, opts.compact_work)


def _configured(names: tuple[str, ...], opts: RunOptions) -> tuple[tuple[str, ...], list[tuple[str, str]]]:
    """A stage that needs a user's file to do anything (benchmarks, a model, seed documents) says
    so with `unconfigured() -> str | None`. Left out of the default set with a note; named
    explicitly (`--stages`) without what it needs, it is a usage error, never a stage that keeps all."""
    keep, skipped = [], []
    for name in names:
        need = getattr(catalog.build(name, dict(opts.stage_options.get(name, {}))), "unconfigured", lambda: None)()
        if need is None:
            keep.append(name)
        elif opts.stages is None:
            skipped.append((name, need))
        else:
            raise ConfigError(f"stage {name!r} is not configured: {need}")
    return tuple(keep), skipped
