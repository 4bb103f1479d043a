"""Finding the input files: input paths (files and folders) -> data files with canonical names, and
the files inside input folders that are not read, with why.

A file's canonical `name` is its path relative to the common parent folder of all (resolved) inputs
(inputs `data/` and `more.jsonl.zst` give `data/a.jsonl` and `more.jsonl.zst`; one file input gives
its file name), so it does not depend on how a path is spelled (absolute or relative, from which
directory): the names are what the ledger records and what step keys hash, and the same input
spelled another way must reuse every cached step. Files come in argument order, each folder's files
sorted by path, so that "first seen" (ids, dedup) means the same on every run.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from flows.errors import InputError

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
COMPRESSIONS = ("", ".gz", ".zst")
PARQUET_SUFFIXES = (".parquet",)
# Web pages: WARC files (one document per HTML response) and HTML files (one document each).
WEB_FORMATS = {".warc": "warc", ".warc.gz": "warc.gz", ".html": "html", ".htm": "html",
               ".html.gz": "html.gz", ".htm.gz": "html.gz"}
SUPPORTED = ".jsonl, .ndjson, .json (plain, .gz or .zst), .parquet, .warc(.gz), .html/.htm(.gz)"
_OTHER_COMPRESSIONS = (".bz2", ".xz", ".lz4", ".zip", ".7z", ".br", ".tar")


@dataclass(frozen=True)
class DataFile:
    path: str  # absolute, symlinks resolved: what is opened, and what "the same file" means
    name: str  # canonical: relative to the common parent folder of all inputs (module docstring)
    format: str  # "jsonl", "jsonl.gz", "jsonl.zst", "parquet", or a WEB_FORMATS value


@dataclass(frozen=True)
class Discovery:
    files: tuple[DataFile, ...]
    skipped: tuple[tuple[str, str], ...]  # (canonical name, why) of entries in input folders not read


def data_format(name: str) -> str | None:
    name = name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    for suffix, fmt in WEB_FORMATS.items():
        if name.endswith(suffix):
            return fmt
    for suffix in JSONL_SUFFIXES:
        for comp in COMPRESSIONS:
            if name.endswith(suffix + comp):
                return "jsonl" + comp
    return None


def unsupported(name: str) -> str:
    """Why a file is not read, naming its type: 'unsupported type .warc.gz'."""
    suffixes = [s.lower() for s in Path(name).suffixes]
    if not suffixes:
        return "no file extension"
    if len(suffixes) > 1 and suffixes[-1] in _OTHER_COMPRESSIONS + (".gz", ".zst"):
        if suffixes[-2] in JSONL_SUFFIXES:
            return f"unsupported compression {suffixes[-1]} (use .gz or .zst)"
        return f"unsupported type {''.join(suffixes[-2:])}"
    return f"unsupported type {suffixes[-1]}"


def _is_run(folder: Path) -> bool:
    """An assay run folder, found by the marker a run writes first (so an interrupted run with no
    finished step counts too) or, for runs older than the marker, by its step markers: its Parquet
    files are outputs, never inputs."""
    if (folder / ".assay-run.json").is_file():
        return True
    work = folder / "work"
    return work.is_dir() and any(work.glob("*/_done.json"))


def _walk(root: Path, exclude: Path | None) -> tuple[list[Path], list[tuple[Path, str]]]:
    """(data files, skipped entries) under `root`, as paths relative to it.

    Hidden folders (.git, .cache) are not searched and symlinked folders not followed; each is
    reported once rather than file by file (a cloned dataset's .git holds thousands of objects)."""
    files: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        rel = here.relative_to(root)
        keep = []
        for sub in dirnames:
            path = here / sub
            if sub.startswith("."):
                skipped.append((rel / sub, "hidden folder, not searched"))
            elif path.is_symlink():
                skipped.append((rel / sub, "link to a folder, not followed"))
            elif exclude is not None and path.resolve() == exclude:
                continue  # this run's own output folder: not an input, and not worth a word
            elif _is_run(path):
                skipped.append((rel / sub, "an earlier assay run's folder, never an input"))
            else:
                keep.append(sub)
        dirnames[:] = keep  # os.walk descends only into what is left here
        for fname in filenames:
            path = here / fname
            if fname.startswith("."):
                skipped.append((rel / fname, "hidden file"))
            elif data_format(fname) is None:
                skipped.append((rel / fname, unsupported(fname)))
            elif not path.is_file():
                # Never opened: a FIFO or a device would block the run, a dangling link has nothing.
                what = "broken link" if path.is_symlink() and not path.exists() else "not a regular file (FIFO, socket or device)"
                skipped.append((rel / fname, what))
            else:
                files.append(rel / fname)
    # Path order (by parts, not by string) is what the previous discover used: keep ids stable.
    return sorted(files), sorted(skipped)


def _check_readable(path: str, shown: str) -> None:
    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise InputError(f"cannot read input {shown}: {exc.strerror or exc}") from None


def discover(paths: list[str], exclude: Path | None = None) -> Discovery:
    """Expand input files and folders into data files; fail on anything unusable.

    Files under `exclude` (the run's own output folder) are never inputs: `--out data/run` with
    input `data/` must not ingest its own curated parts on the next run. The same file named twice
    (or reached twice) is read once."""
    skip = exclude.resolve() if exclude is not None else None
    entries: list[tuple[str, Path, bool]] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"input does not exist: {raw}")
        is_dir = path.is_dir()
        if not is_dir and data_format(path.name) is None:
            raise InputError(f"not a data file ({SUPPORTED}): {raw} ({unsupported(path.name)})")
        # A file keeps its own name even when it is a link (a Hugging Face cache links readable
        # names to blobs named by hash); only the folders above it are resolved.
        entries.append((raw, path.resolve() if is_dir else path.parent.resolve() / path.name, is_dir))
    if not entries:
        raise InputError("no inputs given")
    base = Path(os.path.commonpath([p.parent for _, p, _ in entries]))  # a folder's own name is part of the name

    files: list[DataFile] = []
    skipped: list[tuple[str, str]] = []
    seen: set[str] = set()
    for raw, named, is_dir in entries:
        if is_dir:
            if named == skip or _is_run(named):
                raise InputError(f"input is an assay run's folder, whose files are never inputs: {raw} "
                                 "(name its curated/ folder to read the curated documents)")
            found, other = _walk(named, skip)
            prefix = named.relative_to(base)
            skipped += [((prefix / rel).as_posix() + ("/" if (named / rel).is_dir() else ""), why)
                        for rel, why in other]
            if not found:
                hint = (f"; it holds {len(other)} other entr{'y' if len(other) == 1 else 'ies'}, e.g. "
                        f"{other[0][0].as_posix()} ({other[0][1]})") if other else ""
                raise InputError(f"no data files ({SUPPORTED}) in directory: {raw}{hint}")
            items = [(named / rel, (prefix / rel).as_posix(), os.path.join(raw, rel)) for rel in found]
        else:
            items = [(named, named.relative_to(base).as_posix(), raw)]
        for path, name, shown in items:
            real = str(path.resolve())
            _check_readable(real, shown)
            if real in seen:  # the same file named twice would be ingested twice: read it once
                continue
            seen.add(real)
            files.append(DataFile(real, printable(name), data_format(name) or "jsonl"))
    return Discovery(tuple(files), tuple((printable(n), why) for n, why in skipped))


def printable(name: str) -> str:
    """A file name as valid UTF-8 for the ledger and manifest: bytes the OS allows but UTF-8 does
    not (Python keeps them as surrogates) are written as \\xNN. The file is still opened by its
    real path."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
