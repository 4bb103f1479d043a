"""The extractors behind the `extract` stage: HTML string in, main text (or None) out.

trafilatura runs on a tree we parse once with trafilatura's own loader (`load_html`: the same repair
and parser settings as `trafilatura.extract(html)`), after deleting <script> (JSON-LD kept: trafilatura
reads schema.org data from it), <style> and <svg> subtrees, keeping their tail text. trafilatura deletes
those itself (tree cleaning and its baseline), but only after several passes over the whole raw tree;
deleting them first takes ~8 % of the elements and ~60 % of the characters out of every pass, with the
same output on all 1,171 benchmark pages (eval/bench/extraction.py).

Fallback modes for trafilatura (its readability/jusText comparison, `fast=False`):
    never   trafilatura's fast mode only
    always  its full mode on every page (1.3-1.4x the CPU time)
    auto    fast mode, then the full mode only where the fast text is short for the page: shorter
            than AUTO_MIN_CHARS or than AUTO_PAGE_SHARE of the page's visible text. That is where the
            fallback mostly changes the result (readability is taken when it is >2x longer, jusText
            tried when the text is under 250 chars); on 949 of trafilatura's 990 evaluation pages both
            modes return the same text. `auto` gets the full mode's F1 on both benchmark sets while
            running the full mode on 2-6 % of pages.
"""
from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from typing import Any

PACKAGES = {"trafilatura": "trafilatura", "resiliparse": "resiliparse"}
FALLBACKS = ("never", "auto", "always")
AUTO_MIN_CHARS = 250  # trafilatura's own MIN_EXTRACTED_SIZE: below it, its full mode tries jusText
AUTO_PAGE_SHARE = 0.1  # fast text under a tenth of the page's visible text: the page may be misread
_NOISE = ("script", "style", "svg")
_KW = {"include_comments": False, "include_tables": True}


def version(name: str) -> str:
    return f"{name} {importlib.metadata.version(PACKAGES[name])}"


def strip_noise(tree: Any) -> Any:
    """Delete script (not JSON-LD), style and svg elements with their subtrees, keeping tail text."""
    for elem in list(tree.iter(*_NOISE)):
        if elem.tag == "script" and "ld+json" in (elem.get("type") or "").lower():
            continue
        parent = elem.getparent()
        if parent is None:
            continue
        if elem.tail:
            prev = elem.getprevious()
            if prev is not None:
                prev.tail = (prev.tail or "") + elem.tail
            else:
                parent.text = (parent.text or "") + elem.tail
        parent.remove(elem)
    return tree


def page_chars(tree: Any) -> int:
    """Visible text of the page's body (noise stripped), whitespace runs counted as one character."""
    body = tree.find("body")
    return len(" ".join(body.text_content().split())) if body is not None else 0  # 2.5x a regex's speed


def needs_fallback(text: str | None, chars: int) -> bool:
    """`auto`'s trigger: the fast text is short, or short for a page showing `chars` characters."""
    n = len(text or "")
    return n < AUTO_MIN_CHARS or n < AUTO_PAGE_SHARE * chars


def trafilatura_extractor(fallback: str) -> Callable[[str], str | None]:
    import trafilatura

    if fallback not in FALLBACKS:
        raise ValueError(f"fallback must be one of {', '.join(FALLBACKS)}, not {fallback!r}")

    def run(html: str) -> str | None:
        tree = trafilatura.load_html(html)
        if tree is None:  # not HTML at all: what trafilatura.extract(html) returns too
            return None
        strip_noise(tree)
        # extract() copies a tree it is given, so `tree` serves the second pass unchanged
        text = trafilatura.extract(tree, fast=fallback != "always", **_KW)
        if fallback == "auto" and needs_fallback(text, page_chars(tree)):
            return trafilatura.extract(tree, fast=False, **_KW)
        return text
    return run


def resiliparse_extractor(fallback: str) -> Callable[[str], str | None]:
    from resiliparse.extract.html2text import extract_plain_text

    def run(html: str) -> str | None:
        return extract_plain_text(html, main_content=True, alt_texts=False, comments=False)
    return run


EXTRACTORS: dict[str, Callable[[str], Callable[[str], str | None]]] = {
    "trafilatura": trafilatura_extractor, "resiliparse": resiliparse_extractor}
