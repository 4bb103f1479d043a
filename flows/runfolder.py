"""The run folder's housekeeping: leftovers of killed runs, and the claim a run makes on its folder
before its first write (see flows/plan.check_out for what a run refuses to touch)."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from flows.plan import Plan

_LEFTOVER = re.compile(r"\..+\.(?:tmp|old)-(\d+)")
_LEGACY_LEFTOVERS = (".curated.tmp", ".curated.old")  # staging folders of runs before the pid suffix


def _dead(pid: int) -> bool:
    """Whether no process has this id (a leftover of a live concurrent run is never touched)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by someone else
        return False
    return False


def clean_leftovers(out: Path) -> list[Path]:
    """Remove what killed runs left in the run folder: staged or replaced folders
    (`.curated.tmp-<pid>`, `.index.old-<pid>`), temporary files (`.ledger.duckdb.tmp-<pid>`,
    `.shard-00003.parquet.tmp-<pid>` in step folders) of processes that no longer exist."""
    removed: list[Path] = []
    candidates = [out / name for name in _LEGACY_LEFTOVERS]
    if out.is_dir():
        candidates += [e for e in out.iterdir() if _LEFTOVER.fullmatch(e.name)]
    work = out / "work"
    if work.is_dir():
        candidates += [f for f in work.rglob(".*") if _LEFTOVER.fullmatch(f.name)]
    for path in candidates:
        m = _LEFTOVER.fullmatch(path.name)
        if (m and not _dead(int(m.group(1)))) or not (path.exists() or path.is_symlink()):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def claim_out(plan: Plan) -> None:
    """Before the first write of a run: clean killed runs' leftovers and mark the folder as an assay
    run folder (naming what an earlier run of an older assay published there, which the plan
    checked). A run replaces only what such a marker names."""
    from flows.ledger import write_marker
    from flows.plan import published_files, read_marker

    out = Path(plan.out)
    out.mkdir(parents=True, exist_ok=True)
    clean_leftovers(out)
    if read_marker(out) is None:
        write_marker(out, {rel: [size] for rel, size in published_files(out).items() if size >= 0})
