"""The PII masker used where assay shows text (assay show, quarantine excerpts in the run report).

The pii stage's engine provides it: `stages.pii_engine.masker.mask_text(text) -> str` (typed
placeholders). Until that module is installed, `masker()` returns None from `available()` and
callers decide: the report keeps ingest's own masked excerpts, `assay show` prints a note.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable

MODULE, FUNCTION = "stages.pii_engine.masker", "mask_text"


def available() -> Callable[[str], str] | None:
    try:
        module = importlib.import_module(MODULE)
    except ImportError:
        return None
    fn = getattr(module, FUNCTION, None)
    return fn if callable(fn) else None


def masker() -> Callable[[str], str]:
    """The masker, or the identity when none is installed (for text that is masked already)."""
    return available() or (lambda s: s)


def is_pii_stage(name: str) -> bool:
    """The pii stage, or a plugin's (`*_pii`): its decisions hold PII findings (flows/gate.py) and
    a run that had one shows text only masked."""
    return name == "pii" or name.endswith("_pii")
