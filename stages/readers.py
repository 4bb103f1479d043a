"""Byte-level readers for input files: they yield raw lines and report a damaged stream instead of
raising, so that one truncated file costs its tail (quarantined) and never the run."""
from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

import zstandard

CHUNK = 1 << 20
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
COMPRESSIONS = ("", ".gz", ".zst")
PARQUET_SUFFIXES = (".parquet",)


class InputError(Exception):
    """A path that does not exist, cannot be read or holds no data files: the run fails."""


def data_format(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    for suffix in JSONL_SUFFIXES:
        for comp in COMPRESSIONS:
            if name.endswith(suffix + comp):
                return "jsonl" + comp
    return None


def discover(paths: list[str], exclude: Path | None = None) -> list[Path]:
    """Expand files and folders into a sorted list of data files; fail on anything unusable.

    Files under `exclude` (the run's own output folder) are never inputs: `--out data/run` with input
    `data/` must not ingest its own curated parts on the next run."""
    skip = exclude.resolve() if exclude is not None else None
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"input does not exist: {raw}")
        if path.is_dir():
            # Earlier assay run folders inside an input folder (found by their step markers) hold
            # curated and work Parquet files: never inputs.
            runs = {m.parents[2].resolve() for m in path.rglob("work/*/_done.json")}
            if skip:
                runs.add(skip)
            files = sorted(p for p in path.rglob("*") if p.is_file() and data_format(p)
                           and not any(p.resolve().is_relative_to(r) for r in runs))
            if not files:
                raise InputError(f"no data files (.jsonl, .jsonl.gz, .jsonl.zst, .parquet) in directory: {raw}")
            found.extend(files)
        elif data_format(path) is None:
            raise InputError(f"not a data file (.jsonl, .jsonl.gz, .jsonl.zst, .parquet): {raw}")
        else:
            found.append(path)
    for path in found:
        try:
            with open(path, "rb") as fh:
                fh.read(1)
        except OSError as exc:
            raise InputError(f"cannot read input {path}: {exc.strerror or exc}") from None
    seen: set[Path] = set()
    unique = []
    for path in found:  # the same file named twice would be ingested twice: read it once
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def _chunks(path: Path, fmt: str) -> Iterator[bytes | Exception]:
    with open(path, "rb") as fh:
        if fmt == "jsonl.gz":
            # zlib directly rather than GzipFile: on a truncated stream GzipFile raises and drops
            # everything it decoded in that read; a decompressobj hands over all it could decode.
            dobj = zlib.decompressobj(wbits=31)
            while block := fh.read(CHUNK):
                while block:
                    try:
                        yield dobj.decompress(block)
                    except zlib.error as exc:
                        yield exc
                        return
                    block = dobj.unused_data  # a concatenated (multi-member) gzip file
                    if block:
                        dobj = zlib.decompressobj(wbits=31)
            if not dobj.eof:
                yield EOFError("gzip stream ended before its end-of-stream marker")
        elif fmt == "jsonl.zst":
            dobj = zstandard.ZstdDecompressor().decompressobj()
            while block := fh.read(CHUNK):
                try:
                    yield dobj.decompress(block)
                except zstandard.ZstdError as exc:
                    yield exc
                    return
            if not dobj.eof:
                yield EOFError("zstd stream ended before the end of its frame")
        else:
            while block := fh.read(CHUNK):
                yield block


def read_lines(path: Path, fmt: str) -> Iterator[tuple[int, bytes] | tuple[int, Exception]]:
    """Yield (line_number, raw_line) with line endings and a leading BOM removed.

    A damaged compressed stream ends the iteration with (line_number, exception) for the line at
    which the damage begins; the partial line before it belongs to the damaged tail.
    """
    line_no = 0
    pending = b""
    first = True
    for block in _chunks(path, fmt):
        if isinstance(block, Exception):
            yield line_no + 1, block
            return
        if first and block:
            block = block.removeprefix(b"\xef\xbb\xbf")
            first = False
        pending += block
        lines = pending.split(b"\n")
        pending = lines.pop()
        for line in lines:
            line_no += 1
            yield line_no, line.removesuffix(b"\r")
    if pending:
        yield line_no + 1, pending.removesuffix(b"\r")
