"""The extractors behind the `extract` stage: HTML string in, main text (or None) out.

trafilatura runs on a tree we parse once and lighten before it sees it, in three ways that leave its
output unchanged (the same text on all 1,171 pages of eval/bench/extraction.py, in every fallback
mode; tests/stages/test_extract.py checks each against plain trafilatura.extract):
  - `parse`: trafilatura's own loading steps (`load_html`: the same repair, parser settings and
    fallbacks), but with lxml's C-level element-class lookup instead of lxml.html's Python one,
    which lxml calls back for every element object it creates (millions per thousand pages). The
    elements are still HtmlElement; only <form>/<input>/... lose lxml.html's form helpers, which
    trafilatura, readability and jusText never call. 4-5 % less CPU.
  - `strip_noise`: <script> (JSON-LD kept: trafilatura reads schema.org data from it), <style> and
    <svg> subtrees are deleted first, keeping their tail text: trafilatura deletes them too, but only
    after several passes over the whole raw tree. ~8 % less CPU.
  - `strip_cleaned` (fast pass only): <aside> and <footer> subtrees and <head> (but its JSON-LD),
    20-22 % of the benchmark pages' elements, are deleted before trafilatura's raw-tree XPath passes,
    copies, cleaning and page re-measure walk over them, since every step of its fast mode deletes
    them anyway (its tree cleaning; the baseline's and the re-measure's basic cleaning, which read
    <body> only); not on pages where that could change its text (see its docstring). 5-8 % less CPU.
    The full mode (readability, jusText) reads all of them: it always gets a freshly parsed tree.

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

from lxml import etree
from lxml.html import HtmlComment, HtmlElement, HtmlEntity, HtmlProcessingInstruction, fromstring

PACKAGES = {"trafilatura": "trafilatura", "resiliparse": "resiliparse"}
FALLBACKS = ("never", "auto", "always")
AUTO_MIN_CHARS = 250  # trafilatura's own MIN_EXTRACTED_SIZE: below it, its full mode tries jusText
AUTO_PAGE_SHARE = 0.1  # fast text under a tenth of the page's visible text: the page may be misread
_NOISE = ("script", "style", "svg")
_KW = {"include_comments": False, "include_tables": True}

# trafilatura.utils.HTML_PARSER's settings; ElementDefaultClassLookup is resolved in C, where
# lxml.html.HTMLParser's HtmlElementClassLookup is a Python method called per element object.
_PARSER = etree.HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True,
                           remove_pis=True)
_PARSER.set_element_class_lookup(etree.ElementDefaultClassLookup(
    element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity))

# trafilatura's tree cleaning deletes these (settings.MANUALLY_CLEANED less "form", which it handles
# apart), aside first and footer fourth; test_extract checks the list against the installed version.
CLEANED = ("aside", "embed", "fencedframe", "footer", "head", "iframe", "menu", "object", "script", "applet",
           "audio", "canvas", "figure", "map", "picture", "svg", "video", "area", "blink", "button", "datalist",
           "dialog", "frame", "frameset", "fieldset", "link", "input", "label", "legend", "marquee", "math",
           "menuitem", "nav", "noindex", "noscript", "optgroup", "option", "output", "param", "progress", "rp",
           "rt", "rtc", "select", "source", "style", "track", "textarea", "time", "use")
# An aside/footer holding one of these is read by a step that runs before the cleaning (forum
# detection and the baseline read JSON-LD and Discourse's preload; the infinite-scroll prune asks for
# an h1 inside its container), or makes trafilatura's deletion loop stop early (a nested aside/footer,
# or an embed/fencedframe, deleted between the two, inside a footer): such a page keeps them all.
_KEEP = {"aside": etree.XPath(".//script|.//h1|.//div[@id='data-preloaded']|.//aside"),
         "footer": etree.XPath(".//script|.//h1|.//div[@id='data-preloaded']|.//footer|.//embed|.//fencedframe")}


def version(name: str) -> str:
    return f"{name} {importlib.metadata.version(PACKAGES[name])}"


def parse(html: str) -> Any:
    """trafilatura.load_html(html) for a string, element classes resolved in C (same tree)."""
    from trafilatura.utils import repair_faulty_html

    beginning = html[:50].lower()
    html = repair_faulty_html(html, beginning)
    tree, encoded = None, False
    try:
        tree = fromstring(html, parser=_PARSER)
    except ValueError:  # a string with an encoding declaration: lxml wants bytes
        tree, encoded = _parse_bytes(html), True
    except Exception:  # noqa: BLE001 - load_html's second pass below
        pass
    if (tree is None or len(tree) < 1) and not encoded:
        tree = _parse_bytes(html)
    if tree is not None and "html" not in beginning and len(tree) < 2:
        return None  # not HTML at all: trafilatura.extract(html) returns None too
    return tree


def _parse_bytes(html: str) -> Any:
    try:
        return fromstring(html.encode("utf8", "surrogatepass"), parser=_PARSER)
    except Exception:  # noqa: BLE001 - as load_html: no tree
        return None


def _delete(elem: Any) -> None:
    """Delete an element and its subtree, its tail text joining the previous node (as trafilatura does)."""
    parent = elem.getparent()
    if parent is None:
        return
    if elem.tail:
        prev = elem.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + elem.tail
        else:
            parent.text = (parent.text or "") + elem.tail
    parent.remove(elem)


def strip_noise(tree: Any) -> Any:
    """Delete script (not JSON-LD), style and svg elements with their subtrees, keeping tail text."""
    for elem in list(tree.iter(*_NOISE)):
        if elem.tag == "script" and "ld+json" in (elem.get("type") or "").lower():
            continue
        _delete(elem)
    return tree


def strip_cleaned(tree: Any) -> Any:
    """Delete <head>'s children but JSON-LD, every <aside> and every <footer>, where trafilatura's fast
    mode would delete them all.

    Its cleaning loop (`for e in tree.iter(tag): delete(e)`) deletes all of them unless one holds
    another of its kind (lxml's iterator then ends inside the detached subtree: the rest survive), so
    a tag with such nesting, or with content read before the cleaning (_KEEP), is left whole. Its
    recall retry undoes the cleaning where no <p> would survive it, so a page without a <p> outside
    CLEANED keeps everything too. The baseline and the page re-measure delete asides and footers
    through an XPath, all of them, and read <body> only (<head> cannot nest; its JSON-LD is read
    before the cleaning). One case is left, met on no benchmark page: if trafilatura's raw-tree prunes
    (comment sections, infinite scroll) delete every such <p>, its recall retry would see a tree
    without the asides we deleted."""
    if not any(next(p.iterancestors(CLEANED), None) is None for p in tree.iter("p")):
        return tree
    head = tree.find("head")
    for child in list(head if head is not None else ()):
        if child.tag != "script":  # strip_noise left JSON-LD scripts only
            _delete(child)
    for tag, keep in _KEEP.items():
        elems = list(tree.iter(tag))
        if not any(keep(e) for e in elems):
            for elem in elems:
                _delete(elem)
    return tree


def page_text(tree: Any) -> str:
    """Text of the page's body (noise stripped): what `auto` compares the fast text with."""
    body = tree.find("body")
    return body.text_content() if body is not None else ""


def needs_fallback(text: str | None, page: str) -> bool:
    """`auto`'s trigger: the fast text is short, or under AUTO_PAGE_SHARE of the page's visible text
    (whitespace runs counted as one character)."""
    n = len(text or "")
    if n < AUTO_MIN_CHARS:
        return True
    if n >= AUTO_PAGE_SHARE * len(page):  # collapsing whitespace only shortens the page: no need to
        return False
    return n < AUTO_PAGE_SHARE * len(" ".join(page.split()))  # 2.5x a regex's speed


def trafilatura_extractor(fallback: str) -> Callable[[str], str | None]:
    import trafilatura

    if fallback not in FALLBACKS:
        raise ValueError(f"fallback must be one of {', '.join(FALLBACKS)}, not {fallback!r}")

    def run(html: str) -> str | None:
        tree = parse(html)
        if tree is None:
            return None
        strip_noise(tree)
        if fallback == "always":
            return trafilatura.extract(tree, fast=False, **_KW)
        page = page_text(tree) if fallback == "auto" else ""  # before strip_cleaned: the page as shown
        text = trafilatura.extract(strip_cleaned(tree), fast=True, **_KW)
        if fallback == "auto" and needs_fallback(text, page):
            # a fresh tree: readability and jusText read the asides and footers the fast pass lost
            return trafilatura.extract(strip_noise(parse(html)), fast=False, **_KW)
        return text
    return run


def resiliparse_extractor(fallback: str) -> Callable[[str], str | None]:
    from resiliparse.extract.html2text import extract_plain_text

    def run(html: str) -> str | None:
        return extract_plain_text(html, main_content=True, alt_texts=False, comments=False)
    return run


EXTRACTORS: dict[str, Callable[[str], Callable[[str], str | None]]] = {
    "trafilatura": trafilatura_extractor, "resiliparse": resiliparse_extractor}
