"""pii stage: every entity type, every policy, per-type thresholds, offsets in the ledger, never values."""
from __future__ import annotations

import json

import polars as pl
import pytest
from conftest import make_docs, prose

from stages import catalog
from stages.base import check_result
from stages.options import ConfigError
from stages.pii import Pii
from stages.pii_engine import engine

# One planted value per entity type, each in a sentence a real document could hold.
PLANTED = {
    "EMAIL_ADDRESS": ("Write to jane.doe@example.com today.", "jane.doe@example.com"),
    "PHONE_NUMBER": ("Please call me at +1 415-555-0199 after lunch.", "+1 415-555-0199"),
    "CREDIT_CARD": ("The card 2223 0031 2200 3222 was charged.", "2223 0031 2200 3222"),  # 2-series Mastercard
    "IBAN_CODE": ("Pay to GB82 WEST 1234 5698 7654 32 please.", "GB82 WEST 1234 5698 7654 32"),
    "US_SSN": ("His social security number is 536-90-4399 on file.", "536-90-4399"),
    "IP_ADDRESS": ("The server at 192.168.14.201 answered.", "192.168.14.201"),
    "CRYPTO": ("Send to 1BoatSLRHtKNngkdXEeobR76b53LETtpyT now.", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"),
}


def _run(stage: Pii, texts: list[str], **kw) -> tuple[pl.DataFrame, pl.DataFrame]:
    docs = make_docs(texts, **kw)
    result = stage.apply(docs, stage.setup())
    check_result(stage, docs, result)
    return result.kept, result.decisions


@pytest.mark.parametrize("kind", sorted(PLANTED))
def test_each_entity_type_is_redacted_with_its_typed_placeholder(kind: str) -> None:
    sentence, value = PLANTED[kind]
    text = prose(1, 40) + " " + sentence
    kept, dec = _run(Pii(), [text])
    placeholder = engine.PLACEHOLDERS[kind]
    assert kept["text"][0] == text.replace(value, placeholder)
    assert (dec["decision"][0], dec["reason"][0]) == ("modified", "pii_redacted")
    ev = json.loads(dec["evidence"][0])
    start = text.index(value)
    assert [(e["type"], e["start"], e["end"], e["action"]) for e in ev["pii"]] == [(kind, start, start + len(value), "redact")]
    assert ev["edits"] == [[start, start + len(value), start, start + len(placeholder)]]
    assert json.loads(dec["scores"][0])[f"pii_{kind.lower()}"] == 1
    assert value not in dec["evidence"][0] + dec["scores"][0]


def test_cards_presidio_misses_19_digits_and_luhn() -> None:
    texts = ["Card 4131034282458809939 on file.", "Card 630427373398 on file.", "Order 4111 1111 1111 1112 shipped."]
    kept, dec = _run(Pii(), texts)
    assert kept["text"].to_list()[:2] == ["Card <CREDIT_CARD> on file."] * 2
    assert dec["decision"][2] == "kept"  # fails the Luhn check


def test_url_is_counted_not_redacted_by_default() -> None:
    text = "Read more at https://news.example.org/story/42 for details."
    kept, dec = _run(Pii(), [text])
    assert kept["text"][0] == text and dec["decision"][0] == "kept"
    assert json.loads(dec["scores"][0])["pii_url"] == 1
    assert [e["action"] for e in json.loads(dec["evidence"][0])["pii"]] == ["count"]


def test_policies_remove_count_and_redact_per_type() -> None:
    mail, phone = PLANTED["EMAIL_ADDRESS"][0], PLANTED["PHONE_NUMBER"][0]
    texts = [mail, phone, mail + " " + phone, "Nothing to see here at all."]
    stage = Pii(policy=("EMAIL_ADDRESS=remove", "PHONE_NUMBER=count"))
    kept, dec = _run(stage, texts)
    assert dec["decision"].to_list() == ["removed", "kept", "removed", "kept"]
    assert dec["reason"].to_list() == ["contains_pii", None, "contains_pii", None]
    assert kept["text"].to_list() == [phone, "Nothing to see here at all."]  # counted: unchanged
    assert json.loads(dec["scores"][1])["pii_phone_number"] == 1
    # one flag value may hold several, comma-separated
    assert Pii(policy=("EMAIL_ADDRESS=remove,PHONE_NUMBER=count",)).actions() == stage.actions()


def test_threshold_per_type_rededicides_from_the_same_scores() -> None:
    docs = make_docs(["Reach the desk on 0123 456 789 soon.", PLANTED["EMAIL_ADDRESS"][0]])
    stage = Pii()
    scores = stage.score(docs, stage.setup())
    scored = docs.join(scores, on="doc_id")
    phone = [s["score"] for s in scores["pii_spans"][0] if s["type"] == "PHONE_NUMBER"][0]
    assert stage.choose(scored).decisions["decision"].to_list() == ["modified", "modified"]
    strict = Pii(thresholds=(f"PHONE_NUMBER={min(1.0, phone + 0.05)}",)).choose(scored)
    assert strict.decisions["decision"].to_list() == ["kept", "modified"]  # e-mail keeps its default threshold


def test_edits_land_in_the_record_field_they_fall_in() -> None:
    docs = make_docs(["x"]).with_columns(kind=pl.lit("instruction"), instruction=pl.lit("Who is at jane.doe@example.com?"),
                                         input=pl.lit(None, pl.String), output=pl.lit("Call +1 415-555-0199 to ask."))
    docs = docs.with_columns(text=pl.col("instruction") + "\n\n" + pl.col("output"))
    result = Pii().apply(docs, Pii().setup())
    check_result(Pii(), docs, result)
    row = result.kept.row(0, named=True)
    assert (row["instruction"], row["output"]) == ("Who is at <EMAIL>?", "Call <PHONE> to ask.")


def test_prices_dates_isbns_stock_codes_and_years_are_not_pii() -> None:
    texts = ["Shares rose 3.2% to 1,234.50 pence on 12/05/2004, up from 1999 and 2000.",
             "The book (ISBN 978-0-14-103614-4) sold 2,250,000 copies between 1998-2003.",
             "Vodafone (VOD.L) fell 12.5p; the FTSE 100 closed at 4,814.3 on 2004-11-23 at 16:35:00.",
             "The 2005 budget of $3.5bn covers 2005 2006 2007, a rise of 1.2 million.",
             "Seasons 1999 1998 1997 1996; set the server to 127.0.0.1 and the card field to 0000 0000 0000 0000."]
    kept, dec = _run(Pii(), texts)
    assert dec["decision"].to_list() == ["kept"] * 5 and kept["text"].to_list() == texts


def test_bad_options_are_usage_errors_naming_the_option() -> None:
    with pytest.raises(ConfigError, match="option 'policy'.*unknown entity type 'EMAIL'"):
        catalog.build("pii", {"policy": ["EMAIL=remove"]})
    with pytest.raises(ConfigError, match="option 'policy'.*must be one of redact, remove, count"):
        catalog.build("pii", {"policy": "EMAIL_ADDRESS=delete"})
    with pytest.raises(ConfigError, match=r"option 'thresholds'.*number in \[0, 1\]"):
        catalog.build("pii", {"thresholds": ["PHONE_NUMBER=1.5"]})


def test_asking_for_ner_without_a_spacy_model_is_a_clear_usage_error(capsys) -> None:
    with pytest.raises(ConfigError, match="option 'ner_model': spaCy model 'en_core_web_lg' is not installed"):
        catalog.build("pii", {"ner_model": "en_core_web_lg"})
    from flows.cli import main

    assert main(["run", "nowhere.jsonl", "--out", "/nonexistent/x", "--pii-ner-model", "en_core_web_lg"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "spaCy model 'en_core_web_lg' is not installed" in err[0]


def test_documents_without_candidates_never_reach_presidio(monkeypatch) -> None:
    det = engine.Detector()
    seen: list[str] = []
    monkeypatch.setattr(det, "_analyze", lambda text: seen.append(text) or [])
    far = prose(3, 400)
    det.detect([prose(0), prose(1), far + " call +1 415-555-0199 " + prose(2, 400)])
    assert len(seen) == 1 and "+1 415-555-0199" in seen[0] and len(seen[0]) < 200  # a window, not the document


def test_offsets_map_back_from_windows_in_long_documents() -> None:
    head, mid = prose(5, 600), prose(6, 600)
    text = head + " jane.doe@example.com " + mid + " 192.168.14.201 " + prose(7, 30)
    spans = engine.resolve(Pii().setup().detect([text])[0])
    assert [(s.type, text[s.start:s.end]) for s in spans] == [("EMAIL_ADDRESS", "jane.doe@example.com"),
                                                              ("IP_ADDRESS", "192.168.14.201")]


def test_ledger_view_counts_per_entity_type(tmp_path) -> None:
    from conftest import write_jsonl

    from flows.execute import run_local
    from flows.plan import RunOptions
    from flows.report import query

    recs = [{"text": prose(i) + " " + PLANTED[k][0]} for i, k in enumerate(["EMAIL_ADDRESS", "EMAIL_ADDRESS", "IP_ADDRESS"])]
    write_jsonl(tmp_path / "in.jsonl", recs + [{"text": prose(9)}])
    run_local(RunOptions(inputs=(str(tmp_path / "in.jsonl"),), out=tmp_path / "run", stages=("pii",), progress=False))
    _, _, rows = query(tmp_path / "run", "SELECT entity_type, action, spans, documents FROM pii_entities")
    assert rows == [("EMAIL_ADDRESS", "redact", 2, 2), ("IP_ADDRESS", "redact", 1, 1)]


@pytest.mark.slow
def test_ablation_recipe_pii_runs_the_stage_alone(tmp_path) -> None:
    import duckdb

    from eval import ablate as ab
    from eval.sources import MCItem

    recipes, notes = ab.resolve_recipes(["raw", "pii"], {}, ab.available_stages())
    assert [(r.name, r.stages) for r in recipes] == [("raw", ()), ("pii", ("pii",))] and not notes
    rows = [{"id": f"d{i}", "text": prose(i, 90) + f" Mail to person{i}@example.com or call +1 415-555-01{i % 90:02d}."}
            for i in range(40)]
    (tmp_path / "raw.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    items = [MCItem(f"q{i}", (("The river runs to the", " old town."), ("The river runs to the", f" {i} song.")), 0) for i in range(4)]
    suite = ab.EvalSuite(heldout={"toy": [prose(100 + i, 60) for i in range(3)]}, benchmarks={"toy_mc": items},
                         leaked={"toy_mc": set()}, tokenizer_texts=[prose(200 + i, 60) for i in range(50)])
    settings = ab.Settings(tokens=3000, sizes=("32x1",), seeds=2, device="cpu", block_size=32, vocab_size=300,
                           heldout_max_tokens=1000, train={"micro_batch": 8, "log_points": 3})
    ab.ablate([tmp_path / "raw.jsonl"], tmp_path / "abl", recipes, settings, suite, log=lambda _: None)
    with duckdb.connect(str(tmp_path / "abl" / "ablation.duckdb"), read_only=True) as con:
        assert sorted(r[0] for r in con.execute("SELECT DISTINCT recipe FROM ablation_runs").fetchall()) == ["pii", "raw"]
    curated = pl.read_parquet(tmp_path / "abl" / "runs" / "pii" / "curated")
    assert curated.height == 40 and curated["text"].str.contains("<EMAIL> or call <PHONE>.", literal=True).all()
