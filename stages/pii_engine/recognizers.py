"""Recognizers we add or tune, all through presidio's own extension points (PatternRecognizer,
Pattern, validate_result/invalidate_result, enhance_using_context). Imports presidio: loaded lazily.

Why each exists (measured with eval/bench/pii.py on the presidio-research sentences):
- e-mail: presidio's checks the domain with tldextract's default extractor, which fetches the public
  suffix list over the network; ours reads the snapshot bundled with tldextract.
- credit card: presidio's pattern cannot match 2-series Mastercard, 19-digit cards, 12-digit Maestro
  or 15-digit JCB; ours takes any 12-19 digits (grouped by 4, 4-6-5, or ungrouped) with the Luhn check,
  and refuses runs of years and one-digit placeholders ("0000 0000 0000 0000") that pass it.
- phone: presidio's (phonenumbers, leniency 1, eight regions, score 0.4) misses numbers glued to text
  and most non-US layouts; ours scores layouts: strong ones (a + country code, a parenthesised
  area code, North American 3-3-4, an extension) high, bare digit groups low unless a context word
  ("call", "phone", "tel", ...) precedes them. Dates, times and years are refused.
- IP: presidio's, with loopback/unspecified/broadcast addresses refused (config files and code in
  web text are full of 127.0.0.1, which names no one).
"""
from __future__ import annotations

import re
from typing import Any

import tldextract
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import CreditCardRecognizer, EmailRecognizer, IpRecognizer

_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)  # the bundled snapshot, never the network


class OfflineEmailRecognizer(EmailRecognizer):
    """A known public suffix scores 1.0; an unknown one (`corp.example`, but also `icon@2x.png`)
    0.35: below the text threshold, above the metadata one (stages/pii_engine/masker.py)."""

    def validate_result(self, pattern_text: str) -> None:
        return None

    def enhance_using_context(self, text: str, raw_recognizer_results: list[RecognizerResult],
                              other_raw_recognizer_results: list[RecognizerResult], nlp_artifacts: Any,
                              context: list[str] | None = None) -> list[RecognizerResult]:
        for r in raw_recognizer_results:
            r.score = 1.0 if _TLD(text[r.start:r.end].rsplit("@", 1)[-1]).fqdn else 0.35
        return raw_recognizer_results


class AnyCardRecognizer(CreditCardRecognizer):
    PATTERNS = [
        Pattern("card 12-19 digits", r"(?<![\d.,/+-])\d{12,19}(?![.,/-]\d|\d)", 0.3),
        Pattern("card groups of 4", r"(?<![\d.,/-])\d{4}(?:[ -]\d{4}){2}(?:[ -]\d{4}(?:[ -]?\d{1,3})?|[ -]\d{1,3})(?![\d.,/-]\d|\d)", 0.3),
        Pattern("card 4-6-4/5", r"(?<![\d.,/-])\d{4}[ -]\d{6}[ -]\d{4,5}(?![\d.,/-]\d|\d)", 0.3),
    ]

    def __init__(self) -> None:
        super().__init__(patterns=self.PATTERNS, name="AnyCardRecognizer")

    def invalidate_result(self, pattern_text: str) -> bool:
        digits = {c for c in pattern_text if c.isdigit()}
        # "2005 2006 2007" passes Luhn by chance; "0000 0000 0000 0000" is a placeholder
        return bool(_YEARS.match(pattern_text)) or len(digits) == 1


class NonLocalIpRecognizer(IpRecognizer):
    """Loopback, unspecified and broadcast addresses (127.0.0.1, 0.0.0.0, ::1) name no one."""

    def invalidate_result(self, pattern_text: str) -> bool:
        return pattern_text.startswith("127.") or pattern_text in ("0.0.0.0", "255.255.255.255", "::1", "::")


_CONTEXT = re.compile(r"(?i)\b(?:phone|call|tel|telephone|mobile|cell|fax|number|contact|reach|dial|text|sms"
                      r"|whatsapp|ring|hotline|no|nr|ph|desk|office|home|work|answering|messages?|registered)"
                      r"(?![a-z])[^\d]{0,24}$")
_DATE = re.compile(r"^(?:(?:19|20)\d\d[-/.]\d\d?[-/.]\d\d?|\d\d?[-/.]\d\d?[-/.](?:19|20)\d\d)$")
_YEARS = re.compile(r"^(?:(?:1[5-9]|20)\d\d[ .\-/]*){2,}$")
_SSN = re.compile(r"^\d{3}([- ]?)\d{2}\1\d{4}$")
_BEFORE = r"(?<![\w.,/:+(-])"  # not inside a longer number, word, date or URL
_GLUED = r"(?<![\d.+(-])(?<!\d[,/:])"  # strong layouts may follow a letter or a colon ("tel:", "Phone4155550199")
_AFTER = r"(?![\w,/:]|[.-]\d)"


class PhoneLayoutRecognizer(PatternRecognizer):
    """Phone numbers by layout. Strong layouts score 0.6, national ones (a trunk 0 and 9+ digits,
    pairs) 0.55, bare digit groups 0.3; a context word in the few words before raises a weak one to 0.7."""

    PATTERNS = [
        Pattern("international", r"(?<![\w+])\+\d{1,3}[ .-]?(?:\(0\)[ ]?)?\(?\d{1,4}\)?(?:[ .-]?\d{2,4}){1,4}(?:[ ]?x\d{1,6})?(?!\d)", 0.6),
        Pattern("north american", _GLUED + r"(?:001-)?(?:\(\d{3}\)[ ]?|\d{3}[ .-])\d{3}[ .-]\d{4}(?:[ ]?x\d{1,6})?(?!\w|-\d)", 0.6),
        Pattern("area code", r"(?<![\w(.-])\(\d{2,4}\)[ ]?\d{3,4}[ .-]?\d{3,4}(?!\w|-\d)", 0.6),
        Pattern("extension", r"(?<![\w.-])\d{3}[ .-]?\d{3}[ .-]?\d{4}x\d{1,6}\b", 0.6),
        Pattern("pairs", _BEFORE + r"\d{2}(?:([.-])\d{2}(?:\1\d{2}){2,3})" + _AFTER, 0.55),
        Pattern("trunk prefix", _GLUED + r"0\d{1,4}(?:[ .-]\d{2,8}){1,4}" + _AFTER, 0.55),
        Pattern("digit groups", _BEFORE + r"\d{2,8}(?:[ .-]\d{2,8}){1,4}" + _AFTER, 0.3),
        Pattern("ten digits", _GLUED + r"0?\d{10}" + _AFTER, 0.3),
    ]

    def __init__(self) -> None:
        super().__init__(supported_entity="PHONE_NUMBER", patterns=self.PATTERNS, name="PhoneLayoutRecognizer",
                         global_regex_flags=re.MULTILINE)

    def invalidate_result(self, pattern_text: str) -> bool:
        digits = sum(c.isdigit() for c in pattern_text.split("x")[0])
        low = 9 if pattern_text.startswith("0") and pattern_text[:2] != "00" else 7
        if pattern_text.startswith(("+", "(")) or "x" in pattern_text:
            low = 6
        return (not low <= digits <= 15 or bool(_DATE.match(pattern_text) or _YEARS.match(pattern_text))
                or bool(_SSN.match(pattern_text)))

    def enhance_using_context(self, text: str, raw_recognizer_results: list[RecognizerResult],
                              other_raw_recognizer_results: list[RecognizerResult], nlp_artifacts: Any,
                              context: list[str] | None = None) -> list[RecognizerResult]:
        for r in raw_recognizer_results:
            if r.score < 0.6 and _CONTEXT.search(text, max(0, r.start - 40), r.start):
                r.score = 0.7
                r.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
        return raw_recognizer_results


def ours() -> list[EntityRecognizer]:
    return [OfflineEmailRecognizer(), AnyCardRecognizer(), PhoneLayoutRecognizer(), NonLocalIpRecognizer()]
