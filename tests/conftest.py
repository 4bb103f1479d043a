from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest

SHARED_DATA = Path(os.environ.get("ASSAY_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def make_docs(texts: list[str], ids: list[str] | None = None, meta: list[dict] | None = None) -> pl.DataFrame:
    """A document frame as stages receive it, built inline."""
    from schemas import DOCUMENT_SCHEMA

    n = len(texts)
    return pl.DataFrame(
        {
            "doc_id": ids or [f"d{i}" for i in range(n)],
            "ord": list(range(n)),
            "text": texts,
            "kind": ["text"] * n,
            "source": ["unit"] * n,
            "input_file": ["unit.jsonl"] * n,
            "input_line": list(range(1, n + 1)),
            "meta": [json.dumps(m) for m in (meta or [{}] * n)],
        },
        schema={k: v for k, v in DOCUMENT_SCHEMA.items() if k in ("doc_id", "ord", "text", "kind", "source", "input_file", "input_line", "meta")},
    ).with_columns(pl.lit(None, dtype).alias(name) for name, dtype in DOCUMENT_SCHEMA.items()
                   if name not in ("doc_id", "ord", "text", "kind", "source", "input_file", "input_line", "meta")).select(list(DOCUMENT_SCHEMA))


def prose(i: int, words: int = 120) -> str:
    """Distinct, well-formed English-like text that passes the heuristic rules."""
    nouns = ["river", "garden", "station", "planet", "kitchen", "valley", "harbour", "engine", "orchard", "comet"]
    out = []
    for j in range(words // 12 + 1):
        a, b = nouns[(i + j) % 10], nouns[(i * 7 + j * 3) % 10]
        out.append(f"The {a} number {i} and the {b} of part {j} have grown with the town over time.")
    return " ".join(out)


def write_jsonl(path: Path, records: list[dict], raw_lines: list[bytes] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        for r in records:
            f.write(json.dumps(r).encode() + b"\n")
        for line in raw_lines or []:
            f.write(line)
    return path


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (set ASSAY_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory):
    """One temporary Prefect server for the whole session (~10 s), never one per test."""
    home = tmp_path_factory.mktemp("prefect_home")
    os.environ["PREFECT_HOME"] = str(home)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
