"""No raw PII anywhere a run writes, but the curated text: PII planted in text, ids, `source`, URLs,
other metadata and a quarantined line; every file of the run is read (the ledger table by table, as
text), except curated/ and the step cache work/, and so is what the run printed."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb
from conftest import prose, write_jsonl

from flows.cli import main

PLANTED = ["jane.doe@example.com", "bob.roe@example.net", "carol.poe@example.org", "dan.moe@example.com",
           "+1 415-555-0199", "4155550199", "+44 20 7946 0958", "2223 0031 2200 3222", "4111111111111111",
           "+1-202-555-0143", "536-90-4399", "GB82WEST12345698765432"]


def _corpus(tmp: Path) -> Path:
    body = [prose(i, 60) for i in range(8)]
    recs = [
        {"id": "jane.doe@example.com", "text": body[0] + " Mail jane.doe@example.com or call +1 415-555-0199.",
         "source": "crm +44 20 7946 0958", "url": "https://example.org/u/jane.doe@example.com?tel=4155550199",
         "license": "owner bob.roe@example.net", "date": "2024-01-02", "author_email": "bob.roe@example.net"},
        {"id": "+1-202-555-0143", "text": body[1] + " Card 2223 0031 2200 3222, SSN 536-90-4399.",
         "url": "https://example.org/profile?email=dan.moe%40example.com"},
        # an exact copy: exact_dup's evidence names the first one's id
        {"id": "dan.moe@example.com", "text": body[0] + " Mail jane.doe@example.com or call +1 415-555-0199."},
        {"id": "doc-4", "text": body[2] + " IBAN GB82WEST12345698765432 for the refund."},
        {"id": "doc-5", "text": "call +1-202-555-0143"},  # short: near_dup indexes its normalized text
        *[{"id": f"doc-1{i}", "text": body[i]} for i in range(5, 8)],
    ]
    bad = [b'{"id": "carol.poe@example.org", "text": "card 4111111111111111 and +1 415-555-0199", broken\n']
    return write_jsonl(tmp / "in" / "people.jsonl", recs, bad)


def _ledger_as_text(path: Path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall()]
        return "\n".join(json.dumps(con.execute(f'SELECT * FROM "{n}"').fetchall(), default=str) for n in names)
    finally:
        con.close()


def test_no_planted_value_anywhere_but_the_curated_text(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("ASSAY_ID_KEY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # the user's key file, made by this run
    out = tmp_path / "run"
    assert main(["run", str(_corpus(tmp_path)), "--out", str(out), "--engine", "local"]) == 0
    printed = capsys.readouterr()
    written = {"stdout": printed.out, "stderr": printed.err, "ledger tables": _ledger_as_text(out / "ledger.duckdb")}
    files = [f for f in out.rglob("*") if f.is_file() and f.relative_to(out).parts[0] not in ("curated", "work")]
    assert {"ledger.duckdb", "manifest.json"} <= {f.name for f in files} and any("index" in f.parts for f in files)
    written |= {str(f.relative_to(out)): f.read_bytes().decode("utf-8", "replace") for f in files}
    leaks = {(where, value) for where, text in written.items() for value in PLANTED if value in text}
    assert leaks == set()

    con = duckdb.connect(str(out / "ledger.duckdb"), read_only=True)
    docs = dict(con.execute("SELECT input_line, doc_id FROM documents").fetchall())
    assert docs[1].startswith("<EMAIL>~") and docs[2].startswith("<PHONE>~") and docs[4] == "doc-4"
    assert docs[9].startswith("q-")  # the quarantined line
    twin = con.execute("SELECT count(*) FROM decisions d JOIN documents k ON k.doc_id = d.evidence->>'duplicate_of' "
                       "WHERE d.reason = 'exact_duplicate'").fetchall()
    assert twin == [(1,)]  # evidence naming another document stays joinable
    excerpt = con.execute("SELECT excerpt FROM quarantine").fetchall()[0][0]
    assert "<EMAIL>" in excerpt and "<CREDIT_CARD>" in excerpt
    con.close()
    # the user still finds a document by the id they know (and by its written form)
    assert main(["show", str(out), "jane.doe@example.com"]) == 0
    shown = capsys.readouterr().out
    assert f"doc_id: {docs[1]}" in shown and "[pii] modified: pii_redacted" in shown
    assert main(["show", str(out), docs[2]]) == 0
    assert (tmp_path / "config" / "assay" / "id-key").exists() and not list(out.glob("*key*"))
