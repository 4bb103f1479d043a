"""User-level run configuration (a TOML file, CLI flags, or a Prefect flow's parameters) -> RunOptions.

One function builds RunOptions for every entry point, so the CLI, `assay ablate` and a deployed flow
accept the same keys with the same checks, and defaults live only on the dataclasses.

    stages = ["provenance", "exact_dup", "quality"]   # optional; default: every available stage
    text_field = "content"                             # any IngestConfig field
    shard_size = 20000
    [stage.quality]
    min_words = 30
"""
from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flows.fsutil import WORK_COMPRESSIONS
from flows.ingest.config import IngestConfig
from flows.plan import DEFAULT_SHARD_SIZE, RunOptions
from stages.options import ConfigError, coerce

INGEST_KEYS = tuple(f.name for f in dataclasses.fields(IngestConfig))
TOP_KEYS = ("stages", "shard_size", "work_compression", "stage", "benchmarks", *INGEST_KEYS)


def load_toml(path: str | Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(TOP_KEYS))
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in {path}; known: {', '.join(TOP_KEYS)} and [stage.NAME] tables")
    if "stages" in data and (not isinstance(data["stages"], list) or not all(isinstance(s, str) for s in data["stages"])):
        raise ConfigError(f"'stages' in {path} accepts a list of stage names; got {data['stages']!r}")
    tables = data.get("stage", {})
    if not isinstance(tables, dict) or not all(isinstance(v, dict) for v in tables.values()):
        raise ConfigError(f"'stage' in {path} accepts [stage.NAME] tables of options; got {tables!r}")
    return data


def _shard_size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"'shard_size' accepts an integer >= 1; got {value!r}")
    return value


def run_options(
    inputs: list[str] | tuple[str, ...],
    out: str | Path,
    config: str | Path | None = None,
    stages: list[str] | tuple[str, ...] | None = None,
    stage_options: Mapping[str, Mapping[str, Any]] | None = None,
    ingest: Mapping[str, Any] | None = None,
    shard_size: int | None = None,
    progress: bool = True,
    work_compression: str | None = None,
) -> RunOptions:
    """Merge a config file with explicit values (explicit wins, option by option)."""
    data = load_toml(config) if config is not None else {}
    chosen = tuple(stages) if stages is not None else (tuple(data["stages"]) if "stages" in data else None)
    options: dict[str, dict[str, Any]] = {k: dict(v) for k, v in data.get("stage", {}).items()}
    if "benchmarks" in data and (chosen is None or "contamination" in chosen):  # [benchmarks] NAME = PATH
        from schemas.benchmarks import BenchmarkError, from_table

        try:
            options.setdefault("contamination", {})["benchmarks"] = from_table(data["benchmarks"], Path(config).parent)  # type: ignore[arg-type]
        except BenchmarkError as exc:
            raise ConfigError(f"config {config}: {exc}") from None
    for stage, opts in (stage_options or {}).items():
        options.setdefault(stage, {}).update(opts)
    ingest_values = {k: data[k] for k in INGEST_KEYS if k in data} | dict(ingest or {})
    unknown = sorted(set(ingest_values) - set(INGEST_KEYS))
    if unknown:
        raise ConfigError(f"unknown ingest option(s) {unknown}; known: {', '.join(INGEST_KEYS)}")
    ingest_cfg = IngestConfig(**{k: coerce(IngestConfig, "ingest", k, v) for k, v in ingest_values.items()})
    size = shard_size if shard_size is not None else data.get("shard_size", DEFAULT_SHARD_SIZE)
    compression = work_compression if work_compression is not None else data.get("work_compression", RunOptions.work_compression)
    if compression not in WORK_COMPRESSIONS:
        raise ConfigError(f"'work_compression' accepts one of {', '.join(WORK_COMPRESSIONS)}; got {compression!r}")
    return RunOptions(inputs=tuple(str(i) for i in inputs), out=Path(out), stages=chosen, stage_options=options,
                      ingest=ingest_cfg, shard_size=_shard_size(size), progress=progress, work_compression=compression)
