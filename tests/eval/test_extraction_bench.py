"""eval/bench/extraction.py's own machinery: the warm-up reaches trafilatura's fallback, and --compare
runs another extract_engines.py beside the current one, in the same turns."""
from __future__ import annotations

from pathlib import Path

import pytest

from eval.bench.extraction import MODES, OLD, WARM_UP, _compared, run
from stages.extract import EXTRACTORS


def test_the_warm_up_takes_trafilatura_through_its_fallback_and_justext(monkeypatch: pytest.MonkeyPatch) -> None:
    # jusText builds its stoplists once per process: the warm-up, not the first timed page, must pay it
    import trafilatura.external
    calls = []
    real = trafilatura.external.try_justext
    monkeypatch.setattr(trafilatura.external, "try_justext", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    auto = EXTRACTORS["trafilatura"]("auto")
    for page in WARM_UP:
        auto(page)
    assert calls


def test_compare_runs_another_engines_file_in_the_same_turns(tmp_path: Path) -> None:
    engines = Path(__file__).resolve().parents[2] / "stages" / "extract_engines.py"
    old = tmp_path / "old_engines.py"
    old.write_text(engines.read_text(encoding="utf-8"), encoding="utf-8")
    compared = _compared(str(old))
    assert sorted(compared) == sorted(label + OLD for label in MODES)
    page = WARM_UP[0]
    systems = {label: EXTRACTORS["trafilatura"](mode) for label, mode in MODES.items()} | compared
    results = run(systems, [page, page, page], block=2)
    for label in MODES:
        new_out, new_seconds, new_errors = results[label]
        old_out, old_seconds, old_errors = results[label + OLD]
        assert new_out == old_out and len(new_out) == 3 and new_errors == old_errors == 0
        assert new_seconds > 0 and old_seconds > 0
