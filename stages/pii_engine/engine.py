"""The detector: presidio's AnalyzerEngine, offline, run on prefilter windows only.

Offline recipe: a NoOpNlpEngine (no spaCy model to download) and the predefined recognizers loaded
for it; with `ner_model` (an installed spaCy model) a SpacyNlpEngine adds PERSON and LOCATION.
The analyzer is built on first use, once per process, and the windows of a batch of texts are
analyzed in one call (presidio's cost per call is mostly fixed)."""
from __future__ import annotations

import bisect
import logging
import os
import threading
from typing import Any, NamedTuple

from stages.pii_engine.prefilter import (
    CANDIDATE,
    CANDIDATE_NO_URL,
    RUST_CANDIDATE,
    RUST_CANDIDATE_NO_URL,
    candidates,
    windows,
)

BASE_ENTITIES = ("EMAIL_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS", "CRYPTO", "PHONE_NUMBER", "URL")
NER_ENTITIES = ("PERSON", "LOCATION")
PLACEHOLDERS = {"EMAIL_ADDRESS": "<EMAIL>", "PHONE_NUMBER": "<PHONE>", "CREDIT_CARD": "<CREDIT_CARD>",
                "IBAN_CODE": "<IBAN>", "US_SSN": "<SSN>", "IP_ADDRESS": "<IP>", "URL": "<URL>", "CRYPTO": "<CRYPTO>",
                "PERSON": "<PERSON>", "LOCATION": "<LOCATION>"}
# Score a span needs, per type, unless the user says otherwise (tuned on the presidio-research
# sentences and clean news, see eval/bench/pii.py).
DEFAULT_THRESHOLDS = {t: 0.5 for t in PLACEHOLDERS}
MIN_SCORE = 0.2  # spans below this are dropped before any threshold applies
_SEP = "\n\n\n\n"  # between windows in one analyzer call; no recognizer matches across it
_BATCH_CHARS = 16_000


class Span(NamedTuple):
    type: str
    start: int
    end: int
    score: float


class UsageError(ValueError):
    """An option the engine cannot honour (e.g. a spaCy model that is not installed)."""


def check_ner_model(name: str) -> None:
    import importlib.util

    if importlib.util.find_spec(name) is None:
        raise UsageError(f"stage 'pii' option 'ner_model': spaCy model {name!r} is not installed "
                         f"(install it, or leave ner_model unset to run the pattern recognizers only)")


class Detector:
    def __init__(self, ner_model: str | None = None, stock: bool = False, urls: bool = True) -> None:
        """`stock`: presidio's predefined recognizers untouched, on whole texts (the benchmark's
        baseline). `urls=False`: no URL entity and no URL candidates (metadata, see masker.py)."""
        if ner_model:
            check_ner_model(ner_model)
        self.ner_model, self.stock = ner_model, stock
        self.entities = tuple(e for e in BASE_ENTITIES if urls or e != "URL") + (NER_ENTITIES if ner_model else ())
        self.candidate_pattern = RUST_CANDIDATE if urls else RUST_CANDIDATE_NO_URL
        self.window_pattern = CANDIDATE if urls else CANDIDATE_NO_URL
        self._analyzer: Any = None
        self._lock = threading.Lock()

    @property
    def analyzer(self) -> Any:
        with self._lock:
            if self._analyzer is None:
                self._analyzer = self._build()
            return self._analyzer

    def _build(self) -> Any:
        # Unless PRESIDIO_DEVICE names a device, presidio probes CUDA on import (on a GPU machine it
        # opens a CUDA context in every worker); pattern recognizers use no device at all. (torch is
        # still imported, by spaCy's thinc: most of presidio's ~3 s import, paid once per process.)
        os.environ.setdefault("PRESIDIO_DEVICE", "cpu")
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NoOpNlpEngine, SpacyNlpEngine

        logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
        if self.ner_model:
            nlp: Any = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": self.ner_model}])
        else:
            nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
        registry = RecognizerRegistry(supported_languages=["en"])
        registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp)
        if self.stock:
            logging.getLogger("tldextract").setLevel(logging.CRITICAL)  # it tries the network, then its snapshot
        else:
            from stages.pii_engine.recognizers import ours

            # Replaced: the e-mail one by an offline one; presidio's phone one (phonenumbers' matcher,
            # ~85 % of presidio's time on our windows, 0.6 recall) by PhoneLayoutRecognizer.
            registry.remove_recognizer("EmailRecognizer")
            registry.remove_recognizer("PhoneRecognizer")
            registry.remove_recognizer("CreditCardRecognizer")  # AnyCardRecognizer covers its cards and more
            registry.remove_recognizer("IpRecognizer")  # NonLocalIpRecognizer: the same, loopback refused
            for r in ours():
                registry.add_recognizer(r)
        return AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=["en"])

    def _analyze(self, text: str) -> list[Span]:
        found = self.analyzer.analyze(text=text, language="en", entities=list(self.entities), score_threshold=MIN_SCORE)
        return [Span(r.entity_type, r.start, r.end, round(float(r.score), 4)) for r in found]

    def detect(self, texts: list[str]) -> list[list[Span]]:
        """Spans per text, sorted, scores >= MIN_SCORE; overlaps between types are left to `resolve`."""
        if self.stock:
            return [sorted(self._analyze(t)) if t else [] for t in texts]
        out: list[list[Span]] = [[] for _ in texts]
        batch: list[tuple[int, int, int, int]] = []  # text index, window start, offset in the joined string, length
        parts: list[str] = []
        size = 0

        def flush() -> None:
            nonlocal size
            if parts:
                offsets = [at for _, _, at, _ in batch]
                for s in self._analyze(_SEP.join(parts)):
                    k = bisect.bisect_right(offsets, s.start) - 1
                    i, w_start, at, n = batch[k]
                    if s.end <= at + n:  # within one window
                        out[i].append(Span(s.type, s.start - at + w_start, s.end - at + w_start, s.score))
            batch.clear()
            parts.clear()
            size = 0

        for i in candidates(texts, self.candidate_pattern):
            text = texts[i]
            for start, end in windows(text, self.window_pattern):
                batch.append((i, start, size, end - start))
                parts.append(text[start:end])
                size += end - start + len(_SEP)
                if size >= _BATCH_CHARS:
                    flush()
        flush()
        return [sorted(set(spans)) for spans in out]


_SHARED: dict[tuple[str | None, bool, bool], Detector] = {}
_SHARED_LOCK = threading.Lock()


def detector(ner_model: str | None = None, stock: bool = False, urls: bool = True) -> Detector:
    """The process's detector for these settings (its analyzer is built once, on first use)."""
    with _SHARED_LOCK:
        if (ner_model, stock, urls) not in _SHARED:
            _SHARED[(ner_model, stock, urls)] = Detector(ner_model, stock, urls)
        return _SHARED[(ner_model, stock, urls)]


_RANK = {t: i for i, t in enumerate(BASE_ENTITIES + NER_ENTITIES)}


def resolve(spans: list[Span], thresholds: dict[str, float] | None = None) -> list[Span]:
    """Spans at or above their type's threshold, overlaps resolved: the higher score wins, then the
    longer span, then the type listed first in BASE_ENTITIES (e-mail before URL, IP before phone)."""
    if not spans:
        return []
    th = {**DEFAULT_THRESHOLDS, **thresholds} if thresholds else DEFAULT_THRESHOLDS
    rank = _RANK
    passing = sorted((s for s in spans if s.score >= th.get(s.type, 0.5)),
                     key=lambda s: (-s.score, -(s.end - s.start), rank.get(s.type, 99), s.start))
    chosen: list[Span] = []
    for s in passing:
        if all(s.end <= c.start or c.end <= s.start for c in chosen):
            chosen.append(s)
    return sorted(chosen, key=lambda s: s.start)
