"""The benchmark index, built once per process from the loaded items (schemas.benchmarks).

- Long text (any field of `ngram` words or more: passage + question, a choice, a solution): its word
  n-grams, each mapped to the items holding it. An n-gram held by more than `max_item_freq` items is
  a template (a multiple-choice instruction, a task preamble shared by every BBH example, a passage
  quoted by several MMLU questions): it is dropped, never evidence.
- Short stems (passage + question under `ngram` words): one probe each, the whole word sequence, found
  through its rarest 3-word anchor. A probe is *generic* when it is shorter than `short_min_tokens`,
  has fewer than MIN_CONTENT words outside the most common English words, or is the stem of several
  items with different answers ("Which of the following is true?"): it counts only when the item's
  choices (or answer) follow it (`confirm`): two of them, or one holding two words that are neither
  common nor numbers (an item without choices: its answer), or its correct answer right after it when
  the two together are specific (MIN_SPECIFIC). A stem under ANCHOR words ("ice box" in PIQA) is looked
  for joined with each of its choices, and by a choice right after it followed by another choice.
- Items told apart only by symbols (BBH dyck_languages, boolean_expressions): their shared words are a
  generic probe, and what follows is compared with brackets kept (stages/contam/symbols.py).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import numpy as np

from schemas.benchmarks import BenchItem
from stages.contam import kernels, symbols
from stages.contam.text import strings

ANCHOR = 3  # words of a short probe's anchor; stems under this many words are not indexed
# A short stem that stands alone needs this many words that are not among the most common English
# words: "What is the capital of France?" has two, and is matched only with its choices.
MIN_CONTENT = 3
STOP_WORDS = ("a an the and or but if of to in on at by for with from as is are was were be been being am do does "
              "did done have has had having i you he she it we they me him her us them my your his its our their "
              "this that these those what which who whom whose when where why how there here not no yes all any "
              "some each both more most other such than then so too very can could will would shall should may "
              "might must just about into over after before up down out off again once also only own same s t "
              "following statement statements best describes example one two three first second "
              # contractions as the tokenizer joins them (kernels.tokenize): "what's" is "whats"
              "whats thats theres its dont doesnt didnt isnt arent wasnt werent cant couldnt wont wouldnt "
              "shouldnt hasnt havent hadnt im ive id youre youve youll hes shes theyre weve well ill")
# A generic stem followed at once (within ANSWER_GAP words) by its correct answer counts when the two
# hold this many uncommon words: "Force equals mass times what? Acceleration", not "What is the capital
# of France? Paris".
MIN_SPECIFIC = 4
ANSWER_GAP = 3
_NUMBER = re.compile(r"\d+(?:[.,]\d+)+")
MAX_NUMBERS = 3  # numbers of a short stem spelled both ways (2**3 probes at most)
SHORT_WORDS = 13  # stems under this many words (the default `ngram`) get those variants
_WORD = re.compile(r"[^\W_]+")
_CALC = re.compile(r"<<[^<>]*>>")  # GSM8K calculator annotations, often stripped where solutions are reposted


@dataclass
class Index:
    ngram: int
    item_ids: list[str]
    item_bench: list[str]
    item_total: np.ndarray  # distinct n-grams per item (the denominator of overlap)
    lkeys: np.ndarray  # indexed n-gram keys; lptr/litem: the items of each
    lptr: np.ndarray
    litem: np.ndarray
    ltab: tuple[np.ndarray, np.ndarray]
    plen: np.ndarray  # short probes: length in words, key, items (pptr/pitem), generic
    phash: np.ndarray
    pptr: np.ndarray
    pitem: np.ndarray
    generic: np.ndarray
    atab: tuple[np.ndarray, np.ndarray]
    aptr: np.ndarray
    aprobe: np.ndarray
    aoff: np.ndarray
    pw: np.ndarray
    confirm: dict[int, list[tuple[np.ndarray, bool]]] = field(default_factory=dict)  # item -> (choice words, strong)
    has_choices: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    stats: dict = field(default_factory=dict)
    needs_lead: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # probes that count only after their stem
    lead: dict[int, np.ndarray] = field(default_factory=dict)  # item -> its stem under ANCHOR words
    answer: dict[int, np.ndarray] = field(default_factory=dict)  # item -> its answer, which may confirm alone
    sym: dict[int, tuple[list[str], list[str]]] = field(default_factory=dict)  # item -> symbol tokens (symbols.py)

    @property
    def empty(self) -> bool:
        return len(self.item_ids) == 0


def segments(item: BenchItem) -> list[tuple[str, str]]:
    """(role, text) of an item: its stem, then every other field that a copy may hold (a stem too short
    to look for alone, "ice box" in PIQA, also joined with each choice)."""
    stem = f"{item.passage}\n{item.question}".strip()
    out = [("stem", stem)]
    seen = {stem}
    # "2.16" copied as "216" or "2 16": a short stem is looked for with each of its numbers both ways
    nums = list(_NUMBER.finditer(stem))
    if 0 < len(nums) <= MAX_NUMBERS and len(_WORD.findall(stem)) < SHORT_WORDS:
        for mask in range(1, 2 ** len(nums)):
            text, last = [], 0
            for k, m in enumerate(nums):
                text.append(stem[last:m.start()] + (m.group().replace(".", "").replace(",", "") if mask >> k & 1 else m.group()))
                last = m.end()
            out.append(("variant", "".join(text) + stem[last:]))
    extra = list(item.choices) + [item.answer, _CALC.sub("", item.answer)]
    joined = [f"{stem}\n{c}" for c in item.choices] if len(stem.split()) < ANCHOR else []
    if item.benchmark == "winogrande" and "_" in item.question:
        extra += [item.question.replace("_", c, 1) for c in item.choices]
    for k, text in enumerate(extra):
        if text.strip() and text not in seen:
            seen.add(text)
            out.append(("choice" if k < len(item.choices) else "other", text))
    return out + [("joined", text) for text in joined if text not in seen]


def _symbolic(items: list[BenchItem], seg_item: np.ndarray, roles: np.ndarray, w, p, pw, lens) -> dict:
    """Items whose stem's words are those of other items with different symbols (symbols.py)."""
    segs = np.flatnonzero((roles == "stem") & (lens > 0))
    keys = kernels.keys_at(p, pw, w.doc_tok[segs], lens[segs].astype(np.int64))
    groups: dict[int, list[int]] = {}
    for k, s in zip(keys.tolist(), segs.tolist(), strict=True):
        groups.setdefault(k, []).append(int(seg_item[s]))
    out = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        toks = {i: symbols.tokens(f"{items[i].passage}\n{items[i].question}".strip()) for i in members}
        if len({tuple(t) for t in toks.values()}) > 1:
            out.update({i: (t, symbols.tokens(items[i].answer)) for i, t in toks.items() if symbols.count(t) >= symbols.MIN_SYMBOLS})
    return out


def _csr(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.lexsort((values, keys))
    keys, values = keys[order], values[order]
    uniq, first = np.unique(keys, return_index=True)
    return uniq, np.append(first, len(keys)).astype(np.int64), values


def build(items: list[BenchItem], ngram: int = 13, max_item_freq: int = 4, short_min_tokens: int = 6) -> Index:
    t0 = time.perf_counter()
    seg_item, seg_role, texts = [], [], []
    for i, item in enumerate(items):
        for role, text in segments(item):
            seg_item.append(i)
            seg_role.append(role)
            texts.append(text)
    w = strings(texts)
    seg_item_a = np.asarray(seg_item, np.int64)
    lens = np.diff(w.doc_tok)
    pw = kernels.powers(max(ngram, int(lens.max(initial=0))) + 1)
    p = kernels.prefix(w.tok, len(w.tok))

    # long text: every n-gram of every field that has one
    long_seg = np.flatnonzero(lens >= ngram)
    counts = lens[long_seg] - ngram + 1
    starts = np.repeat(w.doc_tok[long_seg], counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
    keys = kernels.keys_at(p, pw, starts.astype(np.int64), np.full(len(starts), ngram, np.int64))
    owner = np.repeat(seg_item_a[long_seg], counts)
    order = np.lexsort((owner, keys))  # (n-gram, item) pairs, sorted and distinct
    pk, pi = keys[order], owner[order].astype(np.int64)
    new = np.ones(len(pk), bool)
    new[1:] = (pk[1:] != pk[:-1]) | (pi[1:] != pi[:-1])
    pk, pi = pk[new], pi[new]
    item_total = np.bincount(pi, minlength=len(items)).astype(np.int64)
    first = np.flatnonzero(np.r_[True, pk[1:] != pk[:-1]]) if len(pk) else np.zeros(0, np.int64)
    per_key = np.diff(np.append(first, len(pk)))
    keep = np.repeat(per_key <= max_item_freq, per_key)
    lkeys, litem = pk[first][per_key <= max_item_freq], pi[keep]
    lptr = np.concatenate([[0], np.cumsum(per_key[per_key <= max_item_freq])]).astype(np.int64)

    # short stems: one probe per distinct word sequence
    # (an item whose stem is under ANCHOR words, "ice box" in PIQA, is looked for by its choices instead)
    roles = np.asarray(seg_role)
    tiny = np.zeros(len(items), bool)
    tiny[seg_item_a[(roles == "stem") & (lens < ANCHOR)]] = True
    probe_role = np.isin(roles, ["stem", "variant"]) | (np.isin(roles, ["joined", "choice"]) & tiny[seg_item_a])
    sym = _symbolic(items, seg_item_a, roles, w, p, pw, lens)
    symbolic_stem = (roles == "stem") & np.isin(seg_item_a, list(sym)) & (lens >= ngram)
    stem_seg = np.flatnonzero((probe_role & (lens < ngram) | symbolic_stem) & (lens >= ANCHOR))
    stop = np.unique(strings(STOP_WORDS.split()).tok)  # one word each: "s" would join the word before
    content_of = {int(s): int((~np.isin(w.tok[w.doc_tok[s]:w.doc_tok[s + 1]], stop)).sum()) for s in stem_seg.tolist()}
    # a bare choice of a tiny stem counts alone only when it is specific enough ("can cut through solid
    # metal"); a less specific one only right after its stem and before another choice (`needs_lead`:
    # "soap / A. can clean mold / B. can clean a car" in a multiple-choice copy)
    alone = np.array([roles[s] != "choice" or (lens[s] >= short_min_tokens and content_of[s] >= MIN_CONTENT)
                      for s in stem_seg.tolist()], bool)
    s_len = lens[stem_seg]
    s_hash = kernels.keys_at(p, pw, w.doc_tok[stem_seg], s_len.astype(np.int64))
    phash, pptr, pitem = _csr(s_hash, seg_item_a[stem_seg])
    needs_lead = np.ones(len(phash), bool)
    np.logical_and.at(needs_lead, np.searchsorted(phash, s_hash), ~alone)
    first_seg = stem_seg[np.lexsort((seg_item_a[stem_seg], s_hash))][pptr[:-1]] if len(stem_seg) else stem_seg
    plen = lens[first_seg].astype(np.int64)
    content = np.array([content_of[s] for s in first_seg.tolist()], np.int64)
    # a tiny stem joined with a choice ("baskets can store footballs") is specific at four words already
    min_len = np.where(roles[first_seg] == "joined", min(4, short_min_tokens), short_min_tokens) if len(first_seg) else plen
    # a stem shared by items with different answers ("Which of the following is true?") says nothing alone;
    # the same item twice in a test set is still one item
    shared = np.array([len({(items[i].answer, items[i].choices) for i in pitem[pptr[q]:pptr[q + 1]].tolist()}) > 1
                       for q in range(len(plen))], bool)
    generic = shared | (plen < min_len) | (content < MIN_CONTENT) | needs_lead
    # anchors: each probe's rarest 3-word window (common openings such as "which of the" are avoided)
    n_win = plen - ANCHOR + 1
    wstart = np.repeat(w.doc_tok[first_seg], n_win) + (np.arange(n_win.sum()) - np.repeat(np.cumsum(n_win) - n_win, n_win))
    wkeys = kernels.keys_at(p, pw, wstart.astype(np.int64), np.full(len(wstart), ANCHOR, np.int64))
    _, winv, wcount = np.unique(wkeys, return_inverse=True, return_counts=True)
    freq = wcount[winv] if len(wkeys) else np.zeros(0, np.int64)
    aoff_list, akey_list = [], []
    at = 0
    for q in range(len(plen)):
        best = int(np.argmin(freq[at:at + n_win[q]]))
        aoff_list.append(best)
        akey_list.append(wkeys[at + best])
        at += n_win[q]
    akeys, aptr, aprobe = _csr(np.asarray(akey_list, np.uint64), np.arange(len(plen), dtype=np.int64))
    aoff = np.asarray(aoff_list, np.int64)[aprobe] if len(aprobe) else np.zeros(0, np.int64)

    # what must follow a generic stem: the item's choices, or its answer when it has none
    confirm: dict[int, list[tuple[np.ndarray, bool]]] = {}
    stop_set = set(STOP_WORDS.split())
    needs = set(pitem[np.repeat(generic, np.diff(pptr))].tolist()) if len(pitem) else set()
    for s in range(len(texts)):
        i = seg_item[s]
        if i in needs and (seg_role[s] == "choice" or (seg_role[s] == "other" and not items[i].choices)) and lens[s]:
            # a choice confirms alone when it holds two words that are neither common nor numbers
            strong = sum(not t.isdigit() and t not in stop_set for t in _WORD.findall(texts[s].lower())) >= 2
            confirm.setdefault(i, []).append((w.tok[w.doc_tok[s]:w.doc_tok[s + 1]].copy(), strong))
    lead = {seg_item[s]: w.tok[w.doc_tok[s]:w.doc_tok[s + 1]].copy()
            for s in np.flatnonzero((roles == "stem") & tiny[seg_item_a] & (lens > 0)).tolist() if seg_item[s] in needs}
    specific = []
    for s in np.flatnonzero(roles == "stem").tolist():
        it = items[seg_item[s]]
        if seg_item[s] in needs and it.choices and it.answer.strip():
            uncommon = {t for t in _WORD.findall(f"{texts[s]} {it.answer}".lower()) if not t.isdigit() and t not in stop_set}
            if len(uncommon) >= MIN_SPECIFIC:
                specific.append(seg_item[s])
    aw = strings([items[i].answer for i in specific])
    answer = {i: aw.tok[aw.doc_tok[k]:aw.doc_tok[k + 1]].copy() for k, i in enumerate(specific)}
    stems_short = np.zeros(len(items), bool)
    stems_short[seg_item_a[(np.asarray(seg_role) == "stem") & (lens < ngram)]] = True
    unindexed = int(((np.asarray(seg_role) == "stem") & (lens < ANCHOR)).sum())
    stats = {"items": len(items), "ngrams": int(len(lkeys)), "template_ngrams_dropped": int((per_key > max_item_freq).sum()),
             "short_items": int(stems_short.sum()), "short_probes": int(len(plen)), "generic_probes": int(generic.sum()),
             "stems_too_short_to_index": unindexed, "symbolic_items": len(sym), "seconds": round(time.perf_counter() - t0, 2)}
    return Index(ngram, [it.item_id for it in items], [it.benchmark for it in items], item_total,
                 lkeys, lptr, litem, kernels.build_table(lkeys), plen, phash, pptr, pitem, generic,
                 kernels.build_table(akeys), aptr, aprobe, aoff, pw, confirm, np.array([bool(it.choices) for it in items], bool), stats,
                 needs_lead, lead, answer, sym)
