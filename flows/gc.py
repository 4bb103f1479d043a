"""Keeping RUN_DIR/work small: `assay gc` and the restore that makes its compaction safe.

work/ is a cache: each step keeps a text copy of the documents it kept, so that a rerun resumes and
a changed stage reruns from the step before it. `collect` removes what the run's manifest no longer
names: the steps of earlier configurations, the per-file parts an interrupted parallel ingest left,
and temporary files of processes that no longer exist. With `compact`, it also removes the text
shards of the steps between ingest and the last one (most of work/: one copy of the corpus each).
Their decisions, stats, scores and judgements stay, so `restore` rebuilds those shards (re-deciding
from cached scores, re-splitting from the judgement) only when a later run needs them as input; a
rerun of the same command needs none of them and publishes the same bytes.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from flows import steps
from flows.errors import InputError
from flows.plan import Plan
from flows.runfolder import _LEFTOVER, _dead, clean_leftovers


def size(path: Path) -> int:
    if not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def _live_run(out: Path) -> int | None:
    """The id of a live process with temporary files in the run folder (a run in progress)."""
    for f in [*out.glob(".*"), *(out / "work").rglob(".*")]:
        m = _LEFTOVER.fullmatch(f.name)
        if m and not _dead(int(m.group(1))) and int(m.group(1)) != os.getpid():
            return int(m.group(1))
    return None


def collect(out: Path, compact: bool = False, dry_run: bool = False) -> dict[str, Any]:
    """Remove from out/work what the finished run's manifest does not reference (and, with
    `compact`, intermediate steps' text shards). Returns what was (or would be) removed and sizes."""
    manifest_path = out / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
        named = manifest["steps"]
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"{out} has no finished run (no readable manifest.json); gc removes only what a "
                         "finished run's manifest does not reference: finish or rerun the run first") from None
    if (pid := _live_run(out)) is not None:
        raise InputError(f"{out}: a run (process {pid}) is writing to this folder; run gc after it ends")
    work = out / "work"
    keep = {s["dir"] for s in named} | {s["scores"] for s in named if s.get("scores")}
    doomed = [e for e in sorted(work.iterdir()) if f"work/{e.name}" not in keep] if work.is_dir() else []
    doomed += [p for p in (out / named[0]["dir"] / "parts",) if p.exists()]
    if compact:
        for s in named[1:-1]:
            doomed += sorted((out / s["dir"]).glob("shard-*.parquet"))
    before = size(work)
    freed = sum(size(p) for p in doomed)
    if not dry_run:
        for p in doomed:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink(missing_ok=True)
        clean_leftovers(out)
    return {"removed": [p.relative_to(out).as_posix() for p in doomed], "work_before": before,
            "work_after": before - freed if dry_run else size(work)}


def drop_text(plan: Plan, position: int) -> None:
    """`--compact-work`: once the step after it is done, a step between ingest and the last one
    keeps only what `restore` rebuilds it from (decisions, scores, judgement), as `collect(compact=True)`
    leaves it: work/ then holds ~2 copies of the corpus during a run instead of one per step."""
    if 1 <= position < len(plan.steps) - 1 and steps.done(plan.steps[position]) is not None:
        for shard in steps.shards_of(plan.steps[position]):
            shard.unlink(missing_ok=True)


def restore(plan: Plan, ex: Any, position: int) -> None:
    """Rebuild the text shards of a finished step that `collect(compact=True)` removed (and, first,
    of the steps before it that it needs), through the executor like any other unit."""
    step = plan.steps[position]
    if position == 0 or steps.done(step) is None or all(p.exists() for p in steps.shards_of(step)):
        return
    restore(plan, ex, position - 1)
    units = [(plan, position, i) for i in range(len(steps.shards_of(plan.steps[position - 1])))]
    if step.scope == "document":
        ex.map(step.name, steps.run_shard, units)
    else:
        ex.map(f"{step.name}-split", steps.run_split, units)
