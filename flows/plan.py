"""The typed plan of a run: what the user asked for (RunOptions) resolved into steps with content keys.

Planning reads every input file's bytes (SHA-256) and every file a stage option names, so a key
follows content: the same data spelled as another path reuses every cached step, and a file
rebuilt in place under the same name reruns what depends on it.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.fsutil import AUTO_LZ4_BYTES, WORK_COMPRESSIONS, file_sha256, package_versions, text_sha256
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

    @property
    def stages(self) -> tuple[StepPlan, ...]:
        return self.steps[1:]


def _hash(obj: Any) -> str:
    return text_sha256(json.dumps(obj, sort_keys=True, default=str))


def _work_compression(asked: str, inputs: tuple[InputFile, ...]) -> str:
    if asked != "auto":
        return asked
    return "lz4" if sum(i.bytes for i in inputs) > AUTO_LZ4_BYTES else "none"


def make_plan(opts: RunOptions) -> Plan:
    from flows.ingest.discover import discover

    if opts.work_compression not in WORK_COMPRESSIONS:
        raise ConfigError(f"work_compression accepts one of {', '.join(WORK_COMPRESSIONS)}; got {opts.work_compression!r}")
    if opts.shard_size < 1:
        raise ConfigError(f"shard_size accepts an integer >= 1; got {opts.shard_size!r}")
    out = Path(opts.out).resolve()
    found = discover(list(opts.inputs), exclude=out)
    inputs = tuple(InputFile(f.path, f.name, f.format, file_sha256(Path(f.path)), Path(f.path).stat().st_size) for f in found.files)
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
                config, _hash(config), opts.progress, _work_compression(opts.work_compression, inputs))
