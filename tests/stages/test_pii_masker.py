"""The one masker (stages/pii_engine/masker.py): metadata, ids with a keyed hash, JSON, excerpts."""
from __future__ import annotations

import json
import stat

import pytest

from stages.pii_engine import masker


def test_values_without_pii_are_written_as_they_are() -> None:
    ids = ["doc-1", "3f2a1b4c-9d8e-4f00-8a11-0123456789ab", "q-4d26fca7-3", "row 2024-01-15", "1234567", None]
    assert masker.safe_ids(ids, b"k") == ids


def test_content_ids_never_reach_the_pii_detector(monkeypatch) -> None:
    """Loading presidio costs every worker ~3 s: a ledger of content ids (hex, with a letter) must not."""
    asked: list[list[str]] = []

    class Spy:
        def detect(self, texts):
            asked.append(list(texts))
            return [[] for _ in texts]

    monkeypatch.setattr(masker, "detector", lambda urls=False: Spy())
    ids = ["50528283119509417e", "50528283119509417e-2", "a9993e364706816a"]
    assert masker.safe_ids(ids, b"k") == ids
    assert [t for batch in asked for t in batch] == []
    assert masker.safe_ids(["5052828311950941"], b"k") == ["5052828311950941"]  # a 16-digit number is checked
    assert [t for batch in asked for t in batch] == ["5052828311950941"]


def test_an_id_with_pii_is_masked_with_a_keyed_hash() -> None:
    raw = "user:jane.doe@example.com"
    written = masker.safe_id(raw, b"key one")
    masked, _, digest = written.partition("~")
    assert masked == "user:<EMAIL>" and len(digest) == 16 and "jane" not in written
    assert masker.safe_id(raw, b"key one") == written  # deterministic for one key
    assert masker.safe_id(raw, b"key two") != written  # and unguessable without it
    assert masker.safe_id("user:john.roe@example.com", b"key one") != written  # distinct raw ids stay distinct


@pytest.mark.parametrize("raw,placeholder", [
    ("crm +44 20 7946 0958", "<PHONE>"), ("https://x.org/u?mail=jane%40example.com", "<EMAIL>"),
    ("jane\\u0040example\\u002ecom", "<EMAIL>"), ("card 4111-1111-1111-1111", "<CREDIT_CARD>"),
    ("ssn 536-90-4399", "<SSN>"), ("host 10.20.30.40", "<IP>"), ("bob@intranet.corp", "<EMAIL>"),
])
def test_metadata_is_masked_eagerly(raw: str, placeholder: str) -> None:
    written = masker.safe_id(raw, b"k")
    assert placeholder in written and written.endswith(masker.keyed_hash(b"k", raw))


def test_json_strings_are_written_safely_and_stay_joinable() -> None:
    doc = "jane.doe@example.com"
    evidence = [json.dumps({"duplicate_of": doc, "jaccard": 0.912345678}), '{"a": 1}', None]
    out = masker.safe_json(evidence, b"k")
    assert json.loads(out[0]) == {"duplicate_of": masker.safe_id(doc, b"k"), "jaccard": 0.912345678}
    assert out[1:] == evidence[1:]


def test_the_key_comes_from_the_environment_or_the_users_private_file(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(masker.KEY_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    keyfile = tmp_path / "config" / "assay" / masker.KEY_FILE
    assert masker.id_key(tmp_path / "run", create=False) is None and not keyfile.exists()
    key = masker.id_key(tmp_path / "run")
    assert key and masker.id_key(tmp_path / "other run") == key  # one user, one key: same input, same ids
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600 and not (tmp_path / "run").exists()
    monkeypatch.setenv(masker.KEY_ENV, "shared secret")
    assert masker.id_key(tmp_path / "run") == b"shared secret"


def test_the_key_is_made_only_when_an_id_needs_it(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(masker.KEY_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    key = masker.key_provider(tmp_path / "run")
    masker.safe_ids(["doc-1", "70b08c5551234567", "4d26fca7a1b2c3d4-2"], key)  # content ids are hashes, not PII
    assert not (tmp_path / "assay").exists()
    masker.safe_ids(["jane.doe@example.com"], key)
    assert (tmp_path / "assay" / masker.KEY_FILE).exists()


def test_quarantine_excerpt_uses_the_one_masker() -> None:
    from flows.ingest.quarantine import excerpt

    got = excerpt('{"id": "a\\u0040example.org", "text": "ring +1 415-555-0199, card 2223003122003222", oops')
    assert got == '{"id": "<EMAIL>", "text": "ring <PHONE>, card <CREDIT_CARD>", oops'
